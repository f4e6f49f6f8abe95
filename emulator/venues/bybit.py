"""Emulated Bybit v5 public spot order book on ``/v5/public/spot``.

https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook and .../v5/ws/connect:
``{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}`` is acked with ``success``/``ret_msg``/
``conn_id``/``req_id``/``op``, then a ``snapshot`` and ``delta`` messages whose ``u`` grows by
one per message per symbol, plus a cross-sequence ``seq``. Prices carry the tick's decimals
and sizes the lot's (``"1.9530"``, ``"0.006"``), as in the recordings. ``{"op":"ping"}`` is
answered with the public pong. Every depth (1, 50, 200, 1000) serves the model's whole book
(the model holds fewer levels than 50 by default). Option ``bybit_ts_text`` sends ``ts`` as a
string of digits rather than a number.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import orjson

from emulator.market import Book, Change, MarketModel, stable_seed
from emulator.venues.base import Out, Session, Venue, fixed

_DEPTHS = ("1", "50", "200", "1000")


class Bybit(Venue):
    name = "bybit"
    ws_path = "/v5/public/spot"

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        self._rng = random.Random(stable_seed(model.config.seed, self.name, "ids"))
        self.u = {s: self._rng.randrange(10**6, 10**8) for s in self.symbols.values()}
        self.seq = {s: self._rng.randrange(10**10, 10**11) for s in self.symbols.values()}
        self.ts_text = bool(options.get("bybit_ts_text", False))

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        for symbol, change in changes.items():
            if change.bids or change.asks:
                self.u[symbol] += 1
                self.seq[symbol] += self._rng.randint(1, 500)

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        if path != self.ws_path:
            return None
        return BybitSession(self, f"emu-{self.model.config.seed}-{conn_id}")


def _levels(levels: Sequence[tuple[int, int]], book: Book) -> list[list[str]]:
    # a deleted level's size is "0", not "0.000000" (the recording)
    return [
        [fixed(p, book.price_decimals), fixed(s, book.size_decimals) if s else "0"]
        for p, s in levels
    ]


class BybitSession(Session):
    def __init__(self, venue: Bybit, conn_id: str) -> None:
        self.venue, self.conn_id = venue, conn_id
        self.topics: dict[str, str] = {}  # canonical symbol -> topic

    def _reply(self, op: str, ok: bool, msg: str, req_id: object) -> Out:
        obj = {
            "success": ok,
            "ret_msg": msg,
            "conn_id": self.conn_id,
            "req_id": req_id if isinstance(req_id, str) else "",
            "op": op,
        }
        return Out(orjson.dumps(obj).decode())

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [self._reply("", False, "error:invalid json", "")]
        if not isinstance(req, dict):
            return [self._reply("", False, "error:invalid request", "")]
        op, args, req_id = req.get("op"), req.get("args"), req.get("req_id")
        if op == "ping":
            return [self._reply("ping", True, "pong", req_id)]
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return [self._reply(str(op), False, "error:invalid op", req_id)]
        found: dict[str, str] = {}
        for topic in args:
            kind, _, rest = str(topic).partition(".")
            depth, _, vid = rest.partition(".")
            symbol = self.venue.symbols.get(vid)
            if kind != "orderbook" or depth not in _DEPTHS or symbol is None:
                return [self._reply(op, False, f"error:handler not found,topic:{topic}", req_id)]
            found[symbol] = str(topic)
        if op == "unsubscribe":
            for symbol in found:
                self.topics.pop(symbol, None)
            return [self._reply(op, True, "", req_id)]
        self.topics.update(found)
        out = [self._reply(op, True, "subscribe", req_id)]
        for symbol in found:
            bids, asks = self.venue.book(symbol).top(int(self.topics[symbol].split(".")[1]))
            out.append(self._message(symbol, "snapshot", bids, asks, now_ns))
        return out

    def _message(
        self,
        symbol: str,
        kind: str,
        bids: Sequence[tuple[int, int]],
        asks: Sequence[tuple[int, int]],
        now_ns: int,
    ) -> Out:
        book, ms = self.venue.book(symbol), now_ns // 1_000_000
        data = {
            "s": self.venue.venue_symbol(symbol),
            "b": _levels(bids, book),
            "a": _levels(asks, book),
            "u": self.venue.u[symbol],
            "seq": self.venue.seq[symbol],
        }
        # cts: the matching engine's time, a little before ts (the push time)
        ts = str(ms) if self.venue.ts_text else ms
        obj = {"topic": self.topics[symbol], "type": kind, "ts": ts, "data": data, "cts": ms - 8}
        return Out(orjson.dumps(obj).decode(), book=True)

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        for symbol in list(self.topics):
            change = changes.get(symbol)
            if change is not None and (change.bids or change.asks):
                out.append(self._message(symbol, "delta", change.bids, change.asks, now_ns))
        return out
