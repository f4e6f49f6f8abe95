"""Coinbase Advanced Trade ``level2`` codec (``coinbase``).

Protocol (https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels):
one subscribe request per channel; ``l2_data`` messages carry a ``snapshot`` then ``update``
events of absolute ``new_quantity`` per ``price_level``. No per-product sequence: the check is
``sequence_num``, ONE counter per connection across every channel, emitted first as
:class:`ConnectionSeq`. It is read from the envelope before the body, so one bad frame never
breaks it: a malformed part still counts and is dropped (:class:`Malformed`), its product
resyncing (every book, by reconnecting, when the product cannot be read); a frame whose
counter cannot be read raises :class:`ParseError`, a loss only if the next counter skips a
number; new channels, event types and sides are skipped (:class:`Ignored`): "Clients are
expected to ignore messages they do not support" (.../websocket/websocket-overview).

Proven only on the documentation's examples and a stream written to them: no recording of
this protocol exists (the public Coinbase captures are of the retired Coinbase Pro feed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds.codeckit import json_object, rfc3339_ns
from feeds.lane import FrameShape, LevelForm, TimeUnit
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    ConnectionSeq,
    Endpoints,
    Event,
    Heartbeat,
    Ignored,
    Integrity,
    Level,
    Malformed,
    ParseError,
    SeqRule,
    SnapshotSource,
    Subscribed,
    VenueError,
    split_symbol,
)
from feeds.spec import TakerFee, VenueSpec

# "-USDC product IDs other than USDT-USDC and EURC-USDC return the same data as the matching
# -USD product." https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-endpoints
_OWN_USDC_BOOK = frozenset({"USDT", "EURC"})

SPEC: Final = VenueSpec(
    id="coinbase",
    integrity=Integrity(seq=SeqRule.NONE, snapshot=SnapshotSource.IN_BAND, connection_counter=True),
    endpoints=Endpoints(ws="wss://advanced-trade-ws.coinbase.com", rest="https://api.coinbase.com"),
    symbol_format="{base}-{quote}",
    # No application ping: the "heartbeats" channel (one message a second) keeps every
    # subscription open; without it most channels close after 60-90 s of silence
    # (websocket-channels page above, "Heartbeats Channel").
    ping_interval_s=None,
    # No documented connection lifetime and no close notice on the market-data feed
    # (https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/guides/websocket).
    max_connection_s=None,
    # One lost message resyncs every product of its connection: keep connections small.
    max_symbols_per_connection=10,
    fee=TakerFee(
        120.0,
        "$0–1K tier",
        "https://help.coinbase.com/en/coinbase/trading-and-funding/advanced-trade/advanced-trade-fees",
        "2026-11",
    ),
)


class Coinbase(Codec):
    """Coinbase Advanced Trade: in-band level2 snapshot + updates, per-connection counter."""

    spec = SPEC
    shapes = (
        FrameShape(
            match=((("channel",), "l2_data"), (("events", 0, "type"), "update")),
            counter=("sequence_num",), symbol=("events", 0, "product_id"),
            ts=("timestamp",), ts_unit=TimeUnit.RFC3339, levels=("events", 0, "updates"),
            form=LevelForm.OBJECT, keys=("price_level", "new_quantity", "side"),
            tags=("bid", "offer"),
        ),
    )  # fmt: skip

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._names: dict[str, tuple[str, ...]] = {}
        """Product id -> every canonical symbol it serves (``BTC/USD`` and ``BTC/USDC``)."""
        for symbol in self.symbols:
            vid = self.venue_symbol(symbol)
            self._names[vid] = (*self._names.get(vid, ()), symbol)

    def lane_ids(self) -> dict[str, str]:
        """The products that serve one symbol (a USD and a USDC leg go the codec's way)."""
        return {vid: names[0] for vid, names in self._names.items() if len(names) == 1}

    def venue_symbol(self, symbol: str) -> str:
        """``BTC/USD`` -> ``BTC-USD``; ``BTC/USDC`` -> ``BTC-USD`` too (same data, see
        ``_OWN_USDC_BOOK``); ``USDT/USDC`` -> ``USDT-USDC``."""
        base, quote = split_symbol(symbol)
        return self.spec.symbol(base, "USD" if self.same_product(symbol) else quote)

    def same_product(self, symbol: str) -> bool:
        base, _, quote = symbol.partition("/")
        return quote == "USDC" and base not in _OWN_USDC_BOOK

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        # One channel per request (websocket-overview, "Subscribing"). Re-sending "heartbeats"
        # with an in-band resync is harmless: subscriptions are kept per channel (the
        # "subscriptions" message lists each channel once).
        return [self._request("subscribe", symbols), '{"type":"subscribe","channel":"heartbeats"}']

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("unsubscribe", symbols)]

    def _request(self, kind: str, symbols: Sequence[str]) -> str:
        ids = list(dict.fromkeys(self.venue_symbol(s) for s in symbols))  # each product once
        return orjson.dumps({"type": kind, "product_ids": ids, "channel": "level2"}).decode()

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = json_object(frame)
        seq = obj.get("sequence_num")
        if seq.__class__ is not int or seq < 0:  # ``__class__ is int`` refuses bools
            if obj.get("type") == "error":  # errors carry no counter
                return [VenueError(message=str(obj.get("message"))[:200])]
            raise ParseError(f"bad sequence_num {str(seq)[:40]!r}")
        out: list[Event] = [ConnectionSeq(seq)]
        channel, events = obj.get("channel"), obj.get("events")
        if channel == "l2_data":
            if events.__class__ is not list:
                out.append(Malformed("l2_data: expected a list of events", None))
                return out
            ts = rfc3339_ns(obj.get("timestamp"))
            for event in events:
                self._book(event, ts, out)
        elif channel == "heartbeats":
            out.append(Heartbeat())
        elif channel == "subscriptions":
            out += [Subscribed(symbol=s) for s in self._subscribed(events)]
        elif channel.__class__ is str:
            out.append(Ignored(f"channel {str(channel)[:40]!r}"))
        elif obj.get("type") == "error":  # an error that carries the counter
            out.append(VenueError(message=str(obj.get("message"))[:200]))
        else:  # it may have been l2_data for any of our products
            out.append(Malformed(f"bad channel {channel!r:.40}", None))
        return out

    def _book(self, event: object, ts: int | None, out: list[Event]) -> None:
        """One l2_data event into ``out``: a snapshot or delta per symbol of its product."""
        vid = event.get("product_id") if isinstance(event, dict) else None
        if not isinstance(vid, str) or not isinstance(event, dict):
            out.append(Malformed(f"l2_data event without a product: {str(event)[:80]}", None))
            return
        names = self._names.get(vid)
        if names is None:
            out.append(Ignored(f"l2_data for {vid[:40]!r}, not subscribed here"))
            return
        kind = event.get("type")
        if kind == "update":
            cls: type[BookDelta | BookSnapshot] = BookDelta
        elif kind == "snapshot":
            cls = BookSnapshot
        else:
            out.append(Ignored(f"l2_data event type {str(kind)[:40]!r}"))
            return
        bids: list[Level] = []
        asks: list[Level] = []
        try:
            for update in event["updates"]:
                # Price and size pass as sent; the book validates them (feeds.book.BadLevel).
                level = (update["price_level"], update["new_quantity"])
                side = update["side"]
                # Sides are "bid" and "offer" (not "ask") in Advanced Trade level2.
                if side == "bid":
                    bids.append(level)
                elif side == "offer":
                    asks.append(level)
                elif side.__class__ is str:
                    out.append(Ignored(f"l2_data side {side[:20]!r}"))
                else:
                    raise TypeError(side)
        except (KeyError, TypeError):  # not a list of objects with the three fields
            out.append(Malformed(f"l2_data {vid}: bad updates in {str(event)[:80]}", names))
            return
        for symbol in names:  # one, or a USD and a USDC symbol
            out.append(cls(symbol, bids, asks, venue_ts_ns=ts))  # noqa: PERF401 - faster

    def _subscribed(self, events: object) -> list[str]:
        # {"subscriptions": {"level2": ["BTC-USD"], "heartbeats": ["heartbeats"]}}
        symbols: list[str] = []
        for event in events if isinstance(events, list) else ():
            subs = event.get("subscriptions") if isinstance(event, dict) else None
            level2 = subs.get("level2") if isinstance(subs, dict) else None
            if not isinstance(level2, list):
                continue
            for product in level2:
                symbols += self._names.get(product, ()) if isinstance(product, str) else ()
        return symbols


CODECS: Final = (Coinbase,)
