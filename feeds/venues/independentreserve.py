"""Independent Reserve aggregated order-book codec (``independentreserve``; docs/venues.md):
``OrderBookSnapshot`` then ``OrderBookChange`` per pair, each signed by ``Crc32``
(:data:`feeds.checksum.INDEPENDENT_RESERVE`, the only integrity signal; the client truncates
to the depth, which is the URL's last segment). Protocol: the order book snapshot protocol,
https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md ("_DOC").

Proven on the documentation's examples (tests/conformance/independentreserve.py): the snapshot
and change frames and their checksums, the subscribe request, the heartbeat; the emulator
round trip. The 2022 recording speaks the older order-level channel (not replayed); on every
message of a slice of it: the ``Event``/``Data``/``Time`` envelope, the lower-case pair
naming, JSON numbers of at most 8 decimals (which the checksum's text writes exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds import checksum
from feeds import protocol as p
from feeds.codeckit import json_object, millis_ns, uint
from feeds.spec import TakerFee, VenueSpec

_DOC: Final = "https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md"

SPEC: Final = VenueSpec(
    id="independentreserve",
    # wss://{server}/orderbook[/{depth}] (_DOC, "Initial subscription"); the REST base of
    # https://www.independentreserve.com/features/api (no REST use: snapshots are in-band)
    endpoints=p.Endpoints(ws="wss://websockets.independentreserve.com/orderbook",
                          rest="https://api.independentreserve.com"),
    integrity=p.Integrity(seq=p.SeqRule.NONE, checksum=checksum.INDEPENDENT_RESERVE,
                          snapshot=p.SnapshotSource.IN_BAND),
    fee=TakerFee(50.0, "0.50 %, 30-day volume under A$50,000",
                 "https://www.independentreserve.com/fees", "2026-12"),
    # "{primary}-{secondary}" in lower case: btc-aud, eth-usd, doge-nzd (_DOC, "Usage")
    symbol_format="{base}-{quote}",
    lower_case=True,
    # Any positive depth is served, 10 by default (_DOC, "Initial subscription"); these are
    # the ones offered here, 50 by default (deeper than the top 10 the checksum covers).
    depths=frozenset({5, 10, 50, 100}),
    default_depth=50,
    # No documented limit of pairs, requests or frames, nor connection lifetime; no ping: the
    # venue sends Heartbeat messages (_DOC, "Heartbeat message").
)  # fmt: skip


class IndependentReserve(p.Codec):
    """``OrderBookSnapshot`` then ``OrderBookChange`` per pair, each signed by ``Crc32``."""

    spec = SPEC

    def ws_url(self, base: str) -> str:
        return f"{base.rstrip('/')}/{self.depth}"  # the depth is the last path segment (_DOC)

    def subscribe_frames(self, symbols: Sequence[str], event: str = "Subscribe") -> list[str]:
        pairs = [self.venue_symbol(s) for s in symbols]
        return [orjson.dumps({"Event": event, "Data": pairs}).decode()] if pairs else []

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self.subscribe_frames(symbols, "Unsubscribe")

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        event = obj.get("Event")
        if event == "OrderBookChange" or event == "OrderBookSnapshot":
            return [self._book(event == "OrderBookSnapshot", obj)]
        if event == "Heartbeat":
            return [p.Heartbeat()]
        if event == "Subscriptions":
            return []  # the current subscriptions; the snapshot follows (_DOC)
        if event == "Error":
            return [p.VenueError(f"Error: {str(obj.get('Data'))[:200]}")]
        if type(event) is not str:
            raise p.ParseError("not an Independent Reserve message: no 'Event'")
        return [p.Ignored(f"Event {event[:40]}")]

    def _book(self, snapshot: bool, obj: dict[str, object]) -> p.BookSnapshot | p.BookDelta:
        channel, data = obj.get("Channel"), obj.get("Data")
        # "orderbook/{depth}/{primary}/{secondary}" (_DOC, "OrderBookSnapshot message")
        parts = channel.split("/") if isinstance(channel, str) else []
        symbol = self._canonical.get("-".join(parts[2:])) if len(parts) == 4 else None
        if symbol is None or parts[0] != "orderbook":
            raise p.ParseError(f"book message of an unsubscribed channel {str(channel)[:40]!r}")
        if type(data) is not dict:
            raise p.ParseError("book message: 'Data' is not an object")
        bids, asks = _levels(data.get("Bids"), "Bids"), _levels(data.get("Offers"), "Offers")
        crc, ts = uint(data.get("Crc32"), "Crc32"), millis_ns(obj.get("Time"), "Time")
        kind = p.BookSnapshot if snapshot else p.BookDelta
        return kind(symbol, bids, asks, checksum=crc, venue_ts_ns=ts)


def _levels(raw: object, what: str) -> list[p.Level]:
    """``[{"Price": p, "Volume": v}, ...]`` -> ``[[p, v], ...]`` (the book checks the numbers)."""
    if type(raw) is not list:
        raise p.ParseError(f"{what}: expected a list of levels")
    try:
        return [[level["Price"], level["Volume"]] for level in raw]
    except (KeyError, TypeError):
        raise p.ParseError(f"{what}: a level is not a {{Price, Volume}} object") from None


CODECS: Final = (IndependentReserve,)
