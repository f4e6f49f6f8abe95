"""Emulated Gate spot v4 ``spot.obu`` order book on ``/ws/v4/``.

https://www.gate.com/docs/developers/apiv4/ws/en/ and the channel's announcement
(https://www.gate.com/announcements/article/45317): ``{"time", "channel": "spot.obu", "event":
"subscribe", "payload": ["ob.BTC_USDT.50"]}`` (levels 50 or 400) is acked with ``conn_id``/
``trace_id``/``payload``/``result.status``; pushes are ``{"channel", "result", "time_ms"}``:
the full book (``"full": true``, its id ``u``), then increments ``[U, u]`` with ``U`` = the
previous ``u`` + 1 (ids jump). A second subscribe of the same stream is refused (``"Alert sub
ob.BTC_USDT.50"``). Numbers are minimal decimal strings (``"0.00010396"``, ``"30"``, ``"0"``),
as in the 2021 recording. ``spot.ping`` is answered on ``spot.pong``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import orjson

from emulator.market import Book, Change, MarketModel, stable_seed
from emulator.venues.base import Out, Session, Venue, minimal


class Gate(Venue):
    name = "gate"
    ws_path = "/ws/v4/"

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        rng = self._rng = random.Random(stable_seed(model.config.seed, self.name, "ids"))
        # per symbol, the ids [U, u] of its last increment (U is 0 before the first one)
        self.ids = {s: [0, rng.randrange(10**8, 10**10)] for s in self.symbols.values()}

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "_")

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        for ids in (self.ids[s] for s, c in changes.items() if c.bids or c.asks):
            ids[:] = [ids[1] + 1, ids[1] + self._rng.randint(1, 5)]

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return GateSession(self, f"e{conn_id:015x}") if path == self.ws_path else None


Levels = Sequence[tuple[int, int]]


def _levels(levels: Levels, book: Book) -> list[list[str]]:
    return [[minimal(p, book.price_decimals), minimal(s, book.size_decimals)] for p, s in levels]


class GateSession(Session):
    def __init__(self, venue: Gate, conn_id: str) -> None:
        self.venue, self.conn_id = venue, conn_id
        self.streams: dict[str, str] = {}  # canonical symbol -> "ob.BTC_USDT.50"

    def _out(self, now_ns: int, channel: str, event: str, ids: dict[str, str], **kw: object) -> Out:
        obj = {"time": now_ns // 10**9, "time_ms": now_ns // 10**6, **ids, "channel": channel}
        return Out(orjson.dumps({**obj, "event": event, **kw}).decode())

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        if not isinstance(req, dict):
            return [self._error(now_ns, "", "", "invalid request")]
        channel, event, payload = str(req.get("channel")), str(req.get("event")), req.get("payload")
        if channel == "spot.ping":
            return [self._out(now_ns, "spot.pong", "", {}, result=None)]
        streams = payload if isinstance(payload, list) else []
        found = {self._symbol(s): str(s) for s in streams}
        if channel != "spot.obu" or event not in ("subscribe", "unsubscribe") or not streams:
            found = {None: ""}
        if None in found:
            return [self._error(now_ns, channel, event, f"invalid argument {payload}")]
        taken = [s for s in found if s in self.streams]
        if event == "subscribe" and taken:
            return [self._error(now_ns, channel, event, f"Alert sub {found[taken[0]]}")]
        trace = f"{self.conn_id}{len(self.streams):016x}"
        ids = {"conn_id": self.conn_id, "trace_id": trace}
        ack = self._out(
            now_ns, channel, event, ids, payload=streams, result={"status": "success"},
            requestId=trace,
        )  # fmt: skip
        out = [ack]
        for symbol, stream in found.items():
            assert symbol is not None
            if event == "unsubscribe":
                self.streams.pop(symbol, None)
                continue
            self.streams[symbol] = stream
            bids, asks = self.venue.book(symbol).top(int(stream.rsplit(".", 1)[1]))
            out.append(self._push(symbol, now_ns, (bids, asks), full=True))
        return out

    def _symbol(self, stream: object) -> str | None:
        kind, _, rest = str(stream).partition(".")
        pair, _, level = rest.rpartition(".")
        return self.venue.symbols.get(pair) if kind == "ob" and level in ("50", "400") else None

    def _error(self, now_ns: int, channel: str, event: str, message: str) -> Out:
        error = {"code": 2, "message": message}
        return self._out(now_ns, channel, event, {}, error=error, result={"status": "fail"})

    def _push(self, symbol: str, now_ns: int, sides: tuple[Levels, Levels], full: bool) -> Out:
        book, (first, last) = self.venue.book(symbol), self.venue.ids[symbol]
        ms, stream = now_ns // 10**6, self.streams[symbol]
        head = {"t": ms, "full": True, "s": stream} if full else {"t": ms, "s": stream, "U": first}
        result = {**head, "u": last, "b": _levels(sides[0], book), "a": _levels(sides[1], book)}
        push = {"channel": "spot.obu", "result": result, "time_ms": ms}
        return Out(orjson.dumps(push).decode(), book=True)

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        moved = {s: c for s, c in changes.items() if s in self.streams and (c.bids or c.asks)}
        return [self._push(s, now_ns, (c.bids, c.asks), False) for s, c in moved.items()]
