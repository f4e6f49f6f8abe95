"""Emulated Coinbase Advanced Trade market data (``level2`` + ``heartbeats``) on ``/``.

https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels:
one subscribe request per channel; every message, whatever its channel, carries the
connection's ``sequence_num`` (0, 1, 2...). A ``subscriptions`` message answers each
(un)subscribe; ``level2`` sends an ``l2_data`` ``snapshot`` event then ``update`` events of
absolute ``new_quantity`` per ``price_level`` (sides ``bid``/``offer``, minimal decimal text);
``heartbeats`` sends one message a second with an integer ``heartbeat_counter`` (the AsyncAPI
spec, verified against production, says integer). Timestamps are RFC 3339 with nanoseconds
trimmed like Go's RFC3339Nano.

"-USDC product IDs other than USDT-USDC and EURC-USDC return the same data as the matching
-USD product" (https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-endpoints):
a subscription to ``BTC-USDC`` is served the ``BTC-USD`` product, named ``BTC-USD`` in every
message; the book is the model's ``BTC/USD`` book, or its ``BTC/USDC`` book when the market
has no ``BTC/USD``.

Faults of this venue (``Emulator.inject``): ``bad_body`` keeps a book frame's envelope and
counter and breaks its updates; ``novel`` sends a frame of an event type and a side no client
knows yet, changing no book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import orjson

from emulator.market import Change, MarketModel
from emulator.venues.base import Out, Session, Venue, minimal, rfc3339

_OWN_USDC_BOOK = frozenset({"USDT", "EURC"})


def _usd_product(product: str) -> str:
    """``BTC-USDC`` -> ``BTC-USD`` (same data); ``USDT-USDC``, ``BTC-USD`` unchanged."""
    base, _, quote = product.partition("-")
    return f"{base}-USD" if quote == "USDC" and base not in _OWN_USDC_BOOK else product


class Coinbase(Venue):
    name = "coinbase"
    ws_path = "/"
    body_faults = True

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        # A product is served by its own-quote book: BTC-USD by BTC/USD when both exist.
        for symbol in model.config.symbols:
            if not symbol.endswith("/USDC"):
                self.symbols[self.venue_symbol(symbol)] = symbol

    def venue_symbol(self, symbol: str) -> str:
        return _usd_product(symbol.replace("/", "-"))

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return CoinbaseSession(self, now_ns) if path in ("", "/") else None


class CoinbaseSession(Session):
    def __init__(self, venue: Coinbase, now_ns: int) -> None:
        self.venue, self.started_ns = venue, now_ns
        self.seq = -1
        self.level2: list[str] = []  # canonical symbols, subscription order
        self.heartbeats = False
        self.counter = 0

    def _message(self, channel: str, events: list[object], now_ns: int, book: bool) -> Out:
        self.seq += 1
        obj = {
            "channel": channel,
            "client_id": "",
            "timestamp": rfc3339(now_ns, trim=True),
            "sequence_num": self.seq,
            "events": events,
        }
        return Out(orjson.dumps(obj).decode(), book=book)

    def _subscriptions(self, now_ns: int) -> Out:
        subs: dict[str, list[str]] = {}
        if self.level2:
            subs["level2"] = [self.venue.venue_symbol(s) for s in self.level2]
        if self.heartbeats:
            subs["heartbeats"] = ["heartbeats"]
        return self._message("subscriptions", [{"subscriptions": subs}], now_ns, False)

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [Out('{"type":"error","message":"failure to unmarshal request"}')]
        kind = req.get("type") if isinstance(req, dict) else None
        channel = req.get("channel") if isinstance(req, dict) else None
        if kind not in ("subscribe", "unsubscribe") or channel not in ("level2", "heartbeats"):
            return [Out('{"type":"error","message":"Failure to subscribe"}')]
        subscribe = kind == "subscribe"
        if channel == "heartbeats":
            self.heartbeats = subscribe
            return [self._subscriptions(now_ns)]
        products = req.get("product_ids")
        found = [
            self.venue.symbols.get(_usd_product(p)) for p in products or [] if isinstance(p, str)
        ]
        if not products or any(s is None for s in found):
            return [Out('{"type":"error","message":"Failure to subscribe"}')]
        symbols = dict.fromkeys(s for s in found if s is not None)  # one book per product
        new = [s for s in symbols if (s in self.level2) != subscribe]
        if subscribe:
            self.level2 += new
        else:
            self.level2 = [s for s in self.level2 if s not in new]
        out = [self._subscriptions(now_ns)]
        for symbol in new if subscribe else []:
            bids, asks = self.venue.book(symbol).top(10**6)
            out.append(self._l2(symbol, "snapshot", bids, asks, now_ns))
        return out

    def _l2(
        self,
        symbol: str,
        kind: str,
        bids: Sequence[tuple[int, int]],
        asks: Sequence[tuple[int, int]],
        now_ns: int,
    ) -> Out:
        book = self.venue.book(symbol)
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
        event = {"type": kind, "product_id": self.venue.venue_symbol(symbol), "updates": updates}
        return self._message("l2_data", [event], now_ns, True)

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        for symbol in self.level2:
            change = changes.get(symbol)
            if change is not None and (change.bids or change.asks):
                out.append(self._l2(symbol, "update", change.bids, change.asks, now_ns))
        return out

    def heartbeat(self, now_ns: int) -> list[Out]:
        if not self.heartbeats:
            return []
        self.counter += 1
        seconds, ns = divmod(now_ns, 1_000_000_000)
        wall = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
        mono = (now_ns - self.started_ns) / 1e9
        current = f"{wall}.{ns:09d} +0000 UTC m=+{mono:.9f}"
        event = {"current_time": current, "heartbeat_counter": self.counter}
        return [self._message("heartbeats", [event], now_ns, False)]

    def bad_body(self, out: Out) -> Out:
        obj = orjson.loads(out.frame)
        obj["events"][0]["updates"] = [{"side": "bid"}]  # no price_level, no new_quantity
        return Out(orjson.dumps(obj).decode(), book=out.book)

    def novel(self, now_ns: int) -> list[Out]:
        if not self.level2:
            return []
        product = self.venue.venue_symbol(self.level2[0])
        level = {"event_time": rfc3339(now_ns, trim=True), "price_level": "1", "new_quantity": "1"}
        events: list[object] = [
            {"type": "summary", "product_id": product, "updates": [{**level, "side": "bid"}]},
            {"type": "update", "product_id": product, "updates": [{**level, "side": "mid"}]},
        ]
        return [self._message("l2_data", events, now_ns, False)]
