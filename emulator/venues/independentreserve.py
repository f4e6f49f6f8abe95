"""Emulated Independent Reserve aggregated order book on ``/orderbook[/{depth}]`` (10), as
https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md describes
it: ``Subscriptions``, then per pair an ``OrderBookSnapshot`` and ``OrderBookChange`` messages
(a changed level deleted then inserted, a level pushed below the depth deleted), each with
``Crc32``; JSON numbers with the minimal digits; ``Heartbeat`` every tick while subscribed.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object


class IndependentReserve(Adapter):
    name = "independentreserve"
    profile = VenueProfile(lag_steps=2, spread_bps=6.0, noise_bps=0.5, size_decimals=8)

    def accept(self, path: str) -> list[Sub] | None:
        return [] if _depth(path) else None

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        event, tokens, depth = req.get("Event"), req.get("Data"), _depth(session.path)
        if event not in ("Subscribe", "Unsubscribe") or not isinstance(tokens, list):
            return [Out(dumps({"Event": "Error", "Data": "Invalid request"}))]
        pairs = [t for t in tokens if isinstance(t, str) and t in self.symbols]
        return Request(event == "Subscribe", [Sub(self.symbols[t], t, depth) for t in pairs])

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        pairs = [sub.topic for sub in session.subs.values()]
        return [Out(dumps({"Event": "Subscriptions", "Data": pairs, "Time": now_ns // 10**6}))]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        bids, asks = self.book(sub.symbol).top(sub.depth)
        sub.bids, sub.asks = dict(bids), dict(asks)
        return self._frame(sub, "OrderBookSnapshot", bids, asks, now_ns, False)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        new_b, new_a = (dict(side) for side in self.book(sub.symbol).top(sub.depth))
        bids, asks = _changes(sub.bids, new_b, True), _changes(sub.asks, new_a, False)
        sub.bids, sub.asks = new_b, new_a
        if not (bids or asks):
            return None
        return self._frame(sub, "OrderBookChange", bids, asks, now_ns, corrupt)

    def _frame(
        self, sub: Sub, event: str, bids: Levels, asks: Levels, now_ns: int, corrupt: bool
    ) -> Out:
        book = self.book(sub.symbol)
        pd, sd = book.price_decimals, book.size_decimals
        view = sorted(sub.bids.items(), reverse=True), sorted(sub.asks.items())
        crc = self.book_checksum(view, minimal, sub.symbol, corrupt)

        def side(levels: Levels) -> str:
            return ",".join(
                f'{{"Price":{minimal(p, pd)},"Volume":{minimal(s, sd)}}}' for p, s in levels
            )

        channel = "orderbook/{}/{}/{}".format(sub.depth, *sub.topic.split("-"))
        data = f'{{"Bids":[{side(bids)}],"Offers":[{side(asks)}],"Crc32":{crc}}}'
        time = now_ns // 10**6
        return Out(f'{{"Channel":"{channel}","Data":{data},"Time":{time},"Event":"{event}"}}', True)

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        return [Out(f'{{"Time":{now_ns // 10**6},"Event":"Heartbeat"}}')] if session.subs else []


def _depth(path: str) -> int:
    """The depth a path asks for (10 when it names none); 0 for another path."""
    if path == "/orderbook":
        return 10
    depth = path.removeprefix("/orderbook/")
    return int(depth) if depth.isascii() and depth.isdigit() and path != depth else 0


def _changes(old: dict[int, int], new: dict[int, int], reverse: bool) -> list[tuple[int, int]]:
    """The atomic change from the top ``old`` to the top ``new`` (bids: ``reverse``): levels
    gone or changed are deleted, then changed and new levels inserted."""
    out = [(p, 0) for p in sorted(old, reverse=reverse) if new.get(p) != old[p]]
    out += [(p, s) for p, s in sorted(new.items(), reverse=reverse) if old.get(p) != s]
    return out


ADAPTERS = (IndependentReserve,)
