"""Emulated Gemini market data v2 ``l2`` on ``/v2/marketdata``.

https://docs.gemini.com/websocket/market-data/v2/level-2-data: ``{"type": "subscribe"|
"unsubscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD", ...]}]}``, not acked;
per symbol the first ``l2_updates`` is the whole book with the recent ``trades`` (none here),
then each step's changed levels as ``[side, price, quantity]``, ``"0"`` deletes; unknown
symbols and other channels are not served. ``{"type":"heartbeat","timestamp":ms}`` every 5 s.
Prices carry the pair's decimals and quantities are minimal (``["24087.07", "0.04"]``), as in
the 2021 recording.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues.base import Out, fixed, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object

_HEARTBEAT_EVERY = 5
"""Heartbeats are sent every 5 s (the emulator's heartbeat tick is 1 s)."""


class Gemini(Adapter):
    name = "gemini"
    profile = VenueProfile(lag_steps=1, spread_bps=2.5, size_decimals=6)

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        session.beats += 1
        if session.beats % _HEARTBEAT_EVERY:
            return []
        return [Out(dumps({"type": "heartbeat", "timestamp": now_ns // 10**6}))]

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        kind, subscriptions = req.get("type"), req.get("subscriptions")
        if kind not in ("subscribe", "unsubscribe") or not isinstance(subscriptions, list):
            return []
        subs = [
            Sub(self.symbols[vid])
            for sub in subscriptions
            if isinstance(sub, dict) and sub.get("name") == "l2"
            for vid in sub.get("symbols") or ()
            if isinstance(vid, str) and vid in self.symbols
        ]
        return Request(kind == "subscribe", list(subs))

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        return self._l2(sub.symbol, *self.book(sub.symbol).top(10**6), trades=[])

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._l2(sub.symbol, bids, asks)

    def _l2(self, symbol: str, bids: Levels, asks: Levels, **more: object) -> Out:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        changes = [
            [side, fixed(p, pd), minimal(s, sd)]
            for side, levels in (("buy", bids), ("sell", asks))
            for p, s in levels
        ]
        frame = {"type": "l2_updates", "symbol": self.venue_symbol(symbol), "changes": changes}
        return Out(dumps(frame | more), book=True)


ADAPTERS = (Gemini,)
