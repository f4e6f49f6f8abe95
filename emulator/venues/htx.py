"""Emulated HTX spot ``market.$symbol.mbp.$levels`` on ``/feed``: gzip-compressed binary
frames (:attr:`Venue.gzip_frames`), pushes linked by ``prevSeqNum`` (ids jump), ``req``
answered with the book at the current ``seqNum``. Numbers are written as Java writes a double
(``710.01``, ``5.0``, ``1.58E-4``, as in the recording). The venue pings every 5 s.
"""

from __future__ import annotations

from decimal import Decimal

from emulator.market import VenueProfile
from emulator.venues.base import Out
from emulator.venues.kit import Adapter, KitSession, Levels, PrevLinks, Request, Sub, dumps
from emulator.venues.kit import json_object as loads

_LEVELS = ("5", "20", "150", "400")


def java_double(units: int, decimals: int) -> str:
    """``units * 10**-decimals`` as Java's ``Double.toString`` writes it."""
    value = units / 10**decimals
    if value == 0:
        return "0"
    if 1e-3 <= value < 1e7:
        return repr(value)
    _, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    return f"{text[0]}.{text[1:] or '0'}E{exp + len(text) - 1}"


class Htx(Adapter):
    name = "htx"
    profile = VenueProfile(lag_steps=2, spread_bps=2.0, size_decimals=6)
    gzip_frames = True

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = loads(text) or {}
        if "pong" in req:
            return []
        op = next((k for k in ("sub", "req", "unsub") if k in req), "")
        topic, ident = req.get(op), req.get("id")
        parts = topic.split(".") if isinstance(topic, str) else []
        symbol = self.symbols.get(parts[1]) if len(parts) == 4 else None
        if symbol is None or parts[0] != "market" or parts[2] != "mbp" or parts[3] not in _LEVELS:
            error = {"err-code": "bad-request", "err-msg": f"invalid topic {str(topic)[:60]}"}
            return [self._answer(ident, "error", now_ns, error)]
        if op == "req":
            head = dumps({"id": ident, "rep": topic, "status": "ok"})[:-1]
            bids, asks = self.book(symbol).top(int(parts[3]))
            return [Out(f'{head},"data":{self._book(symbol, bids, asks, "")}}}')]
        return Request(op == "sub", [Sub(symbol, str(topic), int(parts[3]))], {"id": ident})

    def _answer(self, ident: object, status: str, now_ns: int, fields: dict[str, str]) -> Out:
        return Out(dumps({"id": ident, "status": status, **fields, "ts": now_ns // 10**6}))

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        key = "subbed" if req.subscribe else "unsubbed"
        return [self._answer(req.meta["id"], "ok", now_ns, {key: sub.topic})]

    def _book(self, symbol: str, bids: Levels, asks: Levels, prev: str) -> str:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        bid, ask = (
            ",".join(f"[{java_double(p, pd)},{java_double(s, sd)}]" for p, s in side)
            for side in (bids, asks)
        )
        return f'{{"seqNum":{self.links.last[symbol]},{prev}"bids":[{bid}],"asks":[{ask}]}}'

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        prev = f'"prevSeqNum":{self.links.prev[sub.symbol]},'
        tick = self._book(sub.symbol, bids, asks, prev)
        return Out(f'{{"ch":"{sub.topic}","ts":{now_ns // 10**6},"tick":{tick}}}', book=True)

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        session.beats += 1
        return [Out(f'{{"ping":{now_ns // 10**6}}}')] if session.beats % 5 == 0 else []

    def setup(self) -> None:
        self.links = self.track(PrevLinks(self.symbols.values(), self.rng, (10**11, 10**12), 50))


ADAPTERS = (Htx,)
