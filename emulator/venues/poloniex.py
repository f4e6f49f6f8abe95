"""Emulated Poloniex spot v3 ``book_lv2`` on ``/ws/public``
(https://api-docs.poloniex.com/spot/websocket/market-data, "Book Level 2").

The subscribe request is acked, then each pair gets a snapshot of its top 20 levels and
updates of the levels of that window that changed, those leaving it with size ``"0"`` (as
recorded in 2022), each with its ``id`` and ``lastId`` (the previous push's ``id``). Numbers are
minimal decimal strings (``"0.9998"``, ``"1"``). ``{"event":"ping"}`` gets ``{"event":"pong"}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.market import Change, VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object

DEPTH = 20


class Poloniex(Adapter):
    name = "poloniex"
    profile = VenueProfile(lag_steps=1, spread_bps=1.5, size_decimals=6)

    def setup(self) -> None:
        self.window = {s: self._view(s) for s in self.symbols.values()}
        self.last_id = {s: self.rng.randrange(10**5, 10**7) for s in self.symbols.values()}
        self.changed: dict[str, tuple[Levels, Levels]] = {}

    def _view(self, symbol: str) -> list[dict[int, int]]:
        return [dict(side) for side in self.book(symbol).top(DEPTH)]

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        """A push per symbol whose top 20 changed: the changed levels, 0 for those that left."""
        self.changed = {}
        for symbol in changes:
            old, new = self.window[symbol], self._view(symbol)
            self.window[symbol] = new
            bids, asks = _diff(old[0], new[0], True), _diff(old[1], new[1], False)
            if bids or asks:
                self.last_id[symbol] += 1
                self.changed[symbol] = (bids, asks)

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        event, channel, symbols = req.get("event"), req.get("channel"), req.get("symbols")
        if event == "ping":
            return [Out('{"event":"pong"}')]
        names = symbols if isinstance(symbols, list) and channel == ["book_lv2"] else []
        subs = [Sub(self.symbols[v], v, DEPTH) for v in names if v in self.symbols]
        if event not in ("subscribe", "unsubscribe") or not names or len(subs) != len(names):
            return [Out(dumps({"event": "error", "message": f"Invalid request: {text[:60]}"}))]
        return Request(event == "subscribe", list(subs), {"event": event, "symbols": names})

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        ack = {"event": req.meta["event"], "channel": "book_lv2", "symbols": req.meta["symbols"]}
        return [Out(dumps(ack))]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        return self._push(sub.symbol, "snapshot", *self.book(sub.symbol).top(DEPTH), now_ns)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        changed = self.changed.get(sub.symbol)
        return None if changed is None else self._push(sub.symbol, "update", *changed, now_ns)

    def _push(self, symbol: str, action: str, bids: Levels, asks: Levels, now_ns: int) -> Out:
        book, ms, last = self.book(symbol), now_ns // 1_000_000, self.last_id[symbol]
        pd, sd = book.price_decimals, book.size_decimals
        a, b = ([[minimal(p, pd), minimal(s, sd)] for p, s in side] for side in (asks, bids))
        data = {"symbol": self.venue_symbol(symbol), "createTime": ms - 5, "asks": a, "bids": b}
        data |= {"lastId": last - 1, "id": last, "ts": ms}
        return Out(dumps({"channel": "book_lv2", "data": [data], "action": action}), book=True)


def _diff(was: dict[int, int], now: dict[int, int], reverse: bool) -> Levels:
    changed = [(p, s) for p, s in now.items() if was.get(p) != s]
    return sorted(changed + [(p, 0) for p in was if p not in now], reverse=reverse)


ADAPTERS = (Poloniex,)
