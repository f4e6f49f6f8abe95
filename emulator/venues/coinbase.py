"""Emulated Coinbase Advanced Trade market data (``level2`` + ``heartbeats``) on ``/`` (the
protocol: feeds/venues/coinbase.py). Every message carries the connection's ``sequence_num``
(0, 1, 2...); a ``subscriptions`` message answers each (un)subscribe; levels are minimal
decimal text; ``heartbeats`` sends one message a second with an integer ``heartbeat_counter``
(the AsyncAPI spec, verified against production); timestamps are RFC 3339 with nanoseconds
trimmed like Go's RFC3339Nano. A subscription to ``BTC-USDC`` is served the ``BTC-USD``
product, so named (websocket-endpoints page): the model's ``BTC/USD`` book, or its
``BTC/USDC`` book when the market has no ``BTC/USD``. Faults: ``bad_body`` keeps a book
frame's envelope and counter and breaks its updates; ``novel`` sends an event type and a
side no client knows yet, changing no book.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from emulator.market import VenueProfile
from emulator.venues.base import Out, minimal, rfc3339
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object

_OWN_USDC_BOOK = frozenset({"USDT", "EURC"})
_FAILED = Out('{"type":"error","message":"Failure to subscribe"}')


def _usd_product(product: str) -> str:
    """``BTC-USDC`` -> ``BTC-USD`` (same data); ``USDT-USDC``, ``BTC-USD`` unchanged."""
    base, _, quote = product.partition("-")
    return f"{base}-USD" if quote == "USDC" and base not in _OWN_USDC_BOOK else product


class Coinbase(Adapter):
    name = "coinbase"
    profile = VenueProfile(lag_steps=2, spread_bps=1.5, extra_price_decimals=1)
    body_faults = True

    def setup(self) -> None:
        # A product is served by its own-quote book: BTC-USD by BTC/USD when both exist.
        for symbol in self.model.config.symbols:
            if not symbol.endswith("/USDC") and self.model.config.lists(self.name, symbol):
                self.symbols[self.venue_symbol(symbol)] = symbol

    def venue_symbol(self, symbol: str) -> str:
        return _usd_product(super().venue_symbol(symbol))

    def _message(
        self,
        session: KitSession,
        channel: str,
        events: list[object],
        now_ns: int,
        book: bool = False,
    ) -> Out:
        obj = {
            "channel": channel,
            "client_id": "",
            "timestamp": rfc3339(now_ns, trim=True),
            "sequence_num": session.seq.next(),
            "events": events,
        }
        return Out(dumps(obj), book=book)

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text)
        if req is None:
            return [Out('{"type":"error","message":"failure to unmarshal request"}')]
        kind, channel = req.get("type"), req.get("channel")
        if kind not in ("subscribe", "unsubscribe") or channel not in ("level2", "heartbeats"):
            return [_FAILED]
        subscribe = kind == "subscribe"
        if channel == "heartbeats":
            (session.channels.add if subscribe else session.channels.discard)(channel)
            return self.answer(session, Request(subscribe, []), now_ns)
        products = req.get("product_ids")
        found = [self.symbols.get(_usd_product(p)) for p in products or [] if isinstance(p, str)]
        if not products or any(s is None for s in found):
            return [_FAILED]
        symbols = dict.fromkeys(s for s in found if s is not None)  # one book per product
        return Request(subscribe, [Sub(s) for s in symbols if (s in session.subs) != subscribe])

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        subs: dict[str, list[str]] = {}
        if session.subs:
            subs["level2"] = [self.venue_symbol(s) for s in session.subs]
        if "heartbeats" in session.channels:
            subs["heartbeats"] = ["heartbeats"]
        return [self._message(session, "subscriptions", [{"subscriptions": subs}], now_ns)]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        bids, asks = self.book(sub.symbol).top(10**6)
        return self._l2(sub.session, sub.symbol, "snapshot", bids, asks, now_ns)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._l2(sub.session, sub.symbol, "update", bids, asks, now_ns)

    def _l2(
        self, session: KitSession, symbol: str, kind: str, bids: Levels, asks: Levels, now_ns: int
    ) -> Out:
        book = self.book(symbol)
        # The documented snapshot carries the zero event_time; updates carry the real time.
        when = "1970-01-01T00:00:00Z" if kind == "snapshot" else rfc3339(now_ns, trim=True)
        updates = [
            {
                "side": side,
                "event_time": when,
                "price_level": minimal(px, book.price_decimals),
                "new_quantity": minimal(sz, book.size_decimals),
            }
            for side, levels in (("bid", bids), ("offer", asks))
            for px, sz in levels
        ]
        event = {"type": kind, "product_id": self.venue_symbol(symbol), "updates": updates}
        return self._message(session, "l2_data", [event], now_ns, True)

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        if "heartbeats" not in session.channels:
            return []
        session.beats += 1
        seconds, ns = divmod(now_ns, 1_000_000_000)
        wall = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
        mono = (now_ns - session.opened_ns) / 1e9
        current = f"{wall}.{ns:09d} +0000 UTC m=+{mono:.9f}"
        event = {"current_time": current, "heartbeat_counter": session.beats}
        return [self._message(session, "heartbeats", [event], now_ns)]

    def bad_body(self, session: KitSession, out: Out) -> Out:
        obj = orjson.loads(out.frame)
        obj["events"][0]["updates"] = [{"side": "bid"}]  # no price_level, no new_quantity
        return Out(dumps(obj), book=out.book)

    def novel(self, session: KitSession, now_ns: int) -> list[Out]:
        if not session.subs:
            return []
        product = self.venue_symbol(next(iter(session.subs)))
        level = {"event_time": rfc3339(now_ns, trim=True), "price_level": "1", "new_quantity": "1"}
        events: list[object] = [
            {"type": "summary", "product_id": product, "updates": [{**level, "side": "bid"}]},
            {"type": "update", "product_id": product, "updates": [{**level, "side": "mid"}]},
        ]
        return [self._message(session, "l2_data", events, now_ns)]


ADAPTERS = (Coinbase,)
