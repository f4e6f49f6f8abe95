"""Kraken spot WebSocket v1 order-book codec (``kraken``, the protocol of the 2021
recordings; docs/venues.md, "Kraken WebSocket v1"): array book messages naming legacy pairs
(``XBT/USD``), update sides in one or two objects, the checksum ``c`` in the last (v2's rule,
on updates only). Proven on the 2021 recording: every update's checksum (4269).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

import orjson

from feeds import protocol as proto
from feeds.codeckit import digits, levels, loads
from feeds.protocol import BookDelta, BookSnapshot, Heartbeat, ParseError, Subscribed, VenueError
from feeds.venues.kraken import SPEC as V2_SPEC

# v1 names two assets by Kraken's legacy codes, v2 by the common ones ("Symbol format XBT/USD |
# BTC/USD", https://docs.kraken.com/exchange/api-reference/spot-websocket; DOGE's v1 ``wsname``
# in REST AssetPairs is XDG/USD): the explicit table, both ways.
V1_ASSETS: Final = {"BTC": "XBT", "DOGE": "XDG"}

# v1 sends {"event":"heartbeat"} when idle; {"event":"ping"} is answered by {"event":"pong"}
# (https://docs.kraken.com/api/docs/websocket-v1/ping). Not registered: replay picks it for
# recordings without /v2 (the v2 spec's ``older_protocols``).
SPEC: Final = replace(
    V2_SPEC,
    endpoints=proto.Endpoints(ws="wss://ws.kraken.com", rest="https://api.kraken.com"),
    asset_names=V1_ASSETS,
    older_protocols=(),
)


class KrakenV1(proto.Codec):
    """Kraken spot WS v1 ``book``: in-band snapshot, CRC32 over the top 10 (updates only)."""

    spec = SPEC

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("subscribe", symbols)] if symbols else []

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("unsubscribe", symbols)] if symbols else []

    def _request(self, event: str, symbols: Sequence[str]) -> str:
        pairs = [self.venue_symbol(s) for s in symbols]
        subscription = {"name": "book", "depth": self.depth}
        return orjson.dumps({"event": event, "pair": pairs, "subscription": subscription}).decode()

    def ping_frame(self) -> str:
        return '{"event":"ping"}'

    def parse(self, frame: str | bytes) -> list[proto.Event]:
        obj = loads(frame)
        if isinstance(obj, list):
            return self._channel_message(obj)
        if not isinstance(obj, dict):
            raise ParseError("expected a JSON array or object")
        event = obj.get("event")
        if event in ("heartbeat", "pong"):
            return [Heartbeat()]
        if event == "subscriptionStatus":
            pair, sub = obj.get("pair"), obj.get("subscription")
            known = self._canonical.get(pair) if isinstance(pair, str) else None
            if obj.get("status") == "error":
                return [VenueError(f"subscribe: {str(obj.get('errorMessage'))[:200]}", known)]
            if (
                obj.get("status") == "subscribed"
                and isinstance(sub, dict)
                and sub.get("name") == "book"
            ):
                depth = sub.get("depth")
                if known is None or not (type(depth) is int and depth > 0):
                    raise ParseError("subscriptionStatus: unknown pair or bad depth")
                return [Subscribed(known, depth)]
            return []
        if event == "error":
            return [VenueError(f"error: {str(obj.get('errorMessage'))[:200]}")]
        if not isinstance(event, str):
            raise ParseError("an object without 'event'")
        return []  # systemStatus and answers we do not use

    def _channel_message(self, msg: list[object]) -> list[proto.Event]:
        # [channelID, payload..., channelName, pair]; trade/ticker arrays share the shape.
        if len(msg) < 4 or not isinstance(msg[-2], str) or not isinstance(msg[-1], str):
            raise ParseError("channel message: expected [id, payload..., name, pair]")
        if not msg[-2].startswith("book-"):
            return []
        symbol = self._canonical.get(msg[-1])
        if symbol is None:
            raise ParseError(f"book message for an unsubscribed pair {msg[-1][:40]!r}")
        parts = [p for p in msg[1:-2] if isinstance(p, dict)]
        if not 1 <= len(parts) == len(msg) - 3 <= 2:
            raise ParseError("book message: expected one or two objects")
        if "as" in parts[0] or "bs" in parts[0]:
            if len(parts) != 1:
                raise ParseError("book snapshot: expected one object")
            bids, asks = levels(parts[0].get("bs", []), "bs"), levels(parts[0].get("as", []), "as")
            return [BookSnapshot(symbol, bids, asks)]
        asks, bids = [], []
        for part in parts:
            asks += levels(part.get("a", []), "a")
            bids += levels(part.get("b", []), "b")
        checksum = digits(parts[-1].get("c"), "book update checksum 'c'")
        return [BookDelta(symbol, bids, asks, checksum=checksum)]
