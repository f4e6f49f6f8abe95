"""Emulated Gate spot v4 ``spot.obu`` order book on ``/ws/v4/``
(https://www.gate.com/announcements/article/45317): acks, a full book, then increments
``[U, u]`` with ``U`` = the previous ``u`` + 1 (ids jump). A second subscribe of the same
stream is refused (``"Alert sub ob.BTC_USDT.50"``). Numbers are minimal decimal strings, as in
the 2021 recording. ``spot.ping`` is answered on ``spot.pong``.
"""

from __future__ import annotations

from emulator.market import Book
from emulator.venues import kit
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub


class Gate(Adapter):
    name = "gate"

    def setup(self) -> None:
        self.u = self.track(kit.UpdateRanges(self.symbols.values(), self.rng, (10**8, 10**10), 5))

    def _reply(
        self, now_ns: int, channel: str, event: str, ids: dict[str, str] | None = None, **kw: object
    ) -> Out:
        head = {"time": now_ns // 10**9, "time_ms": now_ns // 10**6, **(ids or {})}
        return Out(kit.dumps({**head, "channel": channel, "event": event, **kw}))

    def _error(self, now_ns: int, channel: str, event: str, message: str) -> list[Out]:
        error = {"code": 2, "message": message}
        return [self._reply(now_ns, channel, event, error=error, result={"status": "fail"})]

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = kit.json_object(text) or {}
        channel, event, payload = str(req.get("channel")), str(req.get("event")), req.get("payload")
        if channel == "spot.ping":
            return [self._reply(now_ns, "spot.pong", "", result=None)]
        streams = payload if isinstance(payload, list) and payload else [None]
        subs = [self._sub(stream) for stream in streams]
        if channel != "spot.obu" or event not in ("subscribe", "unsubscribe") or None in subs:
            return self._error(now_ns, channel, event, f"invalid argument {payload}")
        taken = [s for s in subs if s is not None and s.symbol in session.subs]
        if event == "subscribe" and taken:
            return self._error(now_ns, channel, event, f"Alert sub {taken[0].topic}")
        return Request(event == "subscribe", [s for s in subs if s is not None], {"p": streams})

    def _sub(self, stream: object) -> Sub | None:
        kind, _, rest = str(stream).partition(".")
        pair, _, level = rest.rpartition(".")
        symbol = self.symbols.get(pair)
        if kind != "ob" or level not in ("50", "400") or symbol is None:
            return None
        return Sub(symbol, str(stream), int(level))

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        conn, trace = f"e{session.conn_id:015x}", f"f{len(session.subs):031x}"
        event = "subscribe" if req.subscribe else "unsubscribe"
        ids, ok = {"conn_id": conn, "trace_id": trace}, {"status": "success"}
        fields = {"payload": req.meta["p"], "result": ok, "requestId": trace}
        return [self._reply(now_ns, "spot.obu", event, ids, **fields)]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        ms, book = now_ns // 10**6, self.book(sub.symbol)
        head = {"t": ms, "full": True, "s": sub.topic, "u": self.u.last[sub.symbol]}
        return _push(head, book, *book.top(sub.depth), ms)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        ms, symbol = now_ns // 10**6, sub.symbol
        head = {"t": ms, "s": sub.topic, "U": self.u.first(symbol), "u": self.u.last[symbol]}
        return _push(head, self.book(symbol), bids, asks, ms)


def _push(head: dict[str, object], book: Book, bids: Levels, asks: Levels, ms: int) -> Out:
    pd, sd = book.price_decimals, book.size_decimals
    b, a = ([[minimal(p, pd), minimal(s, sd)] for p, s in side] for side in (bids, asks))
    result = {**head, "b": b, "a": a}
    return Out(kit.dumps({"channel": "spot.obu", "result": result, "time_ms": ms}), book=True)


ADAPTERS = (Gate,)
