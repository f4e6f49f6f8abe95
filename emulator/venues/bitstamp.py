"""Emulated Bitstamp WebSocket v2 ``diff_order_book`` on ``/`` + REST ``/api/v2/order_book``
(the protocol: feeds/venues/bitstamp.py). A diff carries the step's changed levels at the
model's time (``timestamp`` in s, ``microtimestamp`` in µs, strings); the REST snapshot is
the whole book then. Prices carry the pair's decimals and amounts 8 (``["3800.71",
"1.76200000"]``), as in the recording; ``bts:request_reconnect`` is the shutdown notice.
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.market import VenueProfile
from emulator.venues.base import HttpAnswer, Out, fixed
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object

_CHANNEL = "diff_order_book_"
_REST = "/api/v2/order_book/"
_BAD = {"code": None, "message": "Bad subscription string."}


def _event(event: str, channel: str = "", data: object = None) -> Out:
    return Out(dumps({"event": event, "channel": channel, "data": {} if data is None else data}))


class Bitstamp(Adapter):
    name = "bitstamp"
    profile = VenueProfile(lag_steps=1, spread_bps=2.0, size_decimals=8)

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        event, data = req.get("event"), req.get("data")
        if event == "bts:heartbeat":
            return [_event("bts:heartbeat", data={"status": "success"})]
        channel = data.get("channel") if isinstance(data, dict) else None
        pair = channel.removeprefix(_CHANNEL) if isinstance(channel, str) else ""
        symbol = self.symbols.get(pair) if pair != channel else None
        if event not in ("bts:subscribe", "bts:unsubscribe") or symbol is None:
            return [_event("bts:error", data=_BAD)]
        return Request(event == "bts:subscribe", [Sub(symbol, str(channel))])

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        done = "subscription" if req.subscribe else "unsubscription"
        return [_event(f"bts:{done}_succeeded", sub.topic)]

    def notice(self, session: KitSession, now_ns: int) -> list[Out]:
        return [_event("bts:request_reconnect", data="")]

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        data = self._book(sub.symbol, bids, asks, now_ns)
        return Out(dumps({"data": data, "channel": sub.topic, "event": "data"}), book=True)

    def rest(self, path: str, query: Mapping[str, str], now_ns: int) -> HttpAnswer | None:
        if not path.startswith(_REST):
            return None
        symbol = self.symbols.get(path.removeprefix(_REST).strip("/"))
        if symbol is None:
            return HttpAnswer(404, '{"status":"error","reason":"Invalid pair.","code":"404"}')
        return HttpAnswer(200, dumps(self._book(symbol, *self.book(symbol).top(10**6), now_ns)))

    def _book(self, symbol: str, bids: Levels, asks: Levels, now_ns: int) -> dict[str, object]:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        b, a = ([[fixed(p, pd), fixed(s, sd, 8)] for p, s in side] for side in (bids, asks))
        return {"timestamp": str(now_ns // 10**9), "microtimestamp": str(now_ns // 1000),
                "bids": b, "asks": a}  # fmt: skip


ADAPTERS = (Bitstamp,)
