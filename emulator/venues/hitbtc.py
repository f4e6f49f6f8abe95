"""Emulated HitBTC and Bequant API v3 ``orderbook/full`` on ``/api/3/ws/public``
(https://api.hitbtc.com/#subscribe-to-full-order-book). Prices carry the tick's decimals and
sizes the lot's, a deleted level's size is ``"0"`` (as in the 2021 recordings). An unknown
symbol is error 2001 ``Symbol not found``, any other bad request 10001 ``Validation error``
(https://api.hitbtc.com/#error-codes).
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues import kit
from emulator.venues.base import Out, fixed
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub

_CH = "orderbook/full"


def _error(code: int, message: str, description: str, rid: object) -> list[Out]:
    error = {"code": code, "message": message, "description": description}
    return [Out(kit.dumps({"error": error, "id": rid}))]


class HitBTC(Adapter):
    name = "hitbtc"
    profile = VenueProfile(lag_steps=2, spread_bps=2.5, size_decimals=5)

    def setup(self) -> None:
        self.s = self.track(kit.Counter(self.symbols.values(), self.rng, (10**6, 10**9)))

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = kit.json_object(text) or {}
        method, params, rid = req.get("method"), req.get("params"), req.get("id")
        names = params.get("symbols") if isinstance(params, dict) else None
        if method not in ("subscribe", "unsubscribe") or req.get("ch") != _CH:
            return _error(10001, "Validation error", f"unknown method or channel {text[:80]}", rid)
        if not isinstance(names, list) or not names:
            return _error(10001, "Validation error", "params.symbols is required", rid)
        unknown = [n for n in names if self.symbols.get(str(n)) is None]
        if unknown:
            return _error(2001, "Symbol not found", f"{unknown[0]}", rid)
        subs: list[Sub | Out] = [Sub(self.symbols[str(n)], str(n)) for n in names]
        return Request(method == "subscribe", subs, {"id": rid})

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        result = {"ch": _CH, "subscriptions": [sub.topic for sub in session.subs.values()]}
        return [Out(kit.dumps({"result": result, "id": req.meta["id"]}))]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        return self._push("snapshot", sub, *self.book(sub.symbol).top(10**6), now_ns)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._push("update", sub, bids, asks, now_ns)

    def _push(self, kind: str, sub: Sub, bids: Levels, asks: Levels, now_ns: int) -> Out:
        book, symbol = self.book(sub.symbol), sub.symbol
        pd, sd = book.price_decimals, book.size_decimals
        b, a = ([[fixed(p, pd), fixed(s, sd) if s else "0"] for p, s in x] for x in (bids, asks))
        body = {"t": now_ns // 1_000_000, "s": self.s.last[symbol], "a": a, "b": b}
        return Out(kit.dumps({"ch": _CH, kind: {sub.topic: body}}), book=True)


class Bequant(HitBTC):
    """Bequant: the same protocol on its own host, with its own book (its own profile)."""

    name = "bequant"
    profile = VenueProfile(lag_steps=3, spread_bps=3.0, size_decimals=5)


ADAPTERS = (Bequant, HitBTC)
