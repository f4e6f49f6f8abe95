"""Emulated AscendEX Pro v1 ``depth:<symbol>`` on ``/1/api/pro/v1/stream``.

https://ascendex.github.io/ascendex-pro-api/ ("WebSocket"): the venue greets with
``{"m":"connected","type":"unauth"}``; ``{"op":"sub","ch":"depth:A/B,C/D"}`` is acked once
per symbol (``{"m":"sub","ch":"depth:A/B","code":0}``) and sends no snapshot: ``{"op":"req",
"action":"depth-snapshot","args":{"symbol":"A/B"}}`` is answered with the book at its
``seqnum``, and each ``depth`` push of a symbol carries ``seqnum`` + 1. Numbers are the
shortest decimal text (``"95.134"``, ``"0.63"``, ``"5799"``, a deleted level ``"0"``), as
recorded; a push's ``"symbol"`` is followed by ``, "data"`` with a space, as recorded. A bad
request gets ``{"m":"error"}``; ``{"op":"ping"}`` a ``pong``; the venue pings every 15 s.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, Counter, KitSession, Levels, Request, Sub, dumps
from emulator.venues.kit import json_object as loads


class AscendEx(Adapter):
    name = "ascendex"
    profile = VenueProfile(lag_steps=1, spread_bps=2.5, size_decimals=4)

    def setup(self) -> None:
        self.seq = self.track(Counter(self.symbols.values(), self.rng, (10**10, 10**11)))

    def opened(self, session: KitSession, now_ns: int) -> list[Out]:
        return [Out('{"m":"connected","type":"unauth"}')]

    def _error(self, ident: object, info: str) -> Out:
        fields = {"m": "error", "id": ident, "code": 100005, "reason": "INVALID_WS_REQUEST_DATA"}
        return Out(dumps({**fields, "info": info[:80]}))

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = loads(text) or {}
        op, ch, ident = req.get("op"), req.get("ch"), req.get("id")
        if op == "pong":
            return []
        if op == "ping":
            return [Out(dumps({"m": "pong", "code": 0, "ts": now_ns // 10**6}))]
        if op == "req":
            args = req.get("args")
            vid = args.get("symbol") if isinstance(args, dict) else None
            symbol = self.symbols.get(vid) if isinstance(vid, str) else None
            if req.get("action") != "depth-snapshot" or symbol is None:
                return [self._error(ident, f"Invalid request: {text}")]
            return [self._book(symbol, "depth-snapshot", *self.book(symbol).top(500), now_ns)]
        kind, _, names = ch.partition(":") if isinstance(ch, str) else ("", "", "")
        symbols = [self.symbols.get(n) for n in names.split(",")]
        if op not in ("sub", "unsub") or kind != "depth" or None in symbols:
            return [self._error(ident, f"Invalid channel: {ch}")]
        subs: list[Sub | Out] = [Sub(s, f"depth:{self.venue_symbol(s)}") for s in symbols if s]
        return Request(op == "sub", subs, {"op": op})

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        return [Out(dumps({"m": req.meta["op"], "ch": sub.topic, "code": 0}))]

    def _book(self, symbol: str, kind: str, bids: Levels, asks: Levels, now_ns: int) -> Out:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        a, b = ([[minimal(p, pd), minimal(s, sd)] for p, s in side] for side in (asks, bids))
        data = dumps({"ts": now_ns // 10**6, "seqnum": self.seq.last[symbol], "asks": a, "bids": b})
        vid = self.venue_symbol(symbol)
        return Out(f'{{"m":"{kind}","symbol":"{vid}", "data":{data}}}', book=True)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._book(sub.symbol, "depth", bids, asks, now_ns)

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        session.beats += 1
        return [Out('{"m":"ping","hp":3}')] if session.beats % 15 == 0 else []


ADAPTERS = (AscendEx,)
