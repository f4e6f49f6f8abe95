"""Binance spot diff-depth codec (``binance``) and Binance.US (``binanceus``: same protocol,
other hosts). Protocol, seeding, REST budget and gap rule: docs/venues.md, "Binance and
Binance.US".

Proven on the 2021 recordings of both (combined streams, REST snapshots): the frames, the
snapshot body and the RANGE rule on every message. Only on the docs' examples: acks, errors
and ``serverShutdown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import count
from typing import ClassVar, Final
from urllib.parse import urlsplit

import orjson

from feeds import protocol as proto
from feeds.codeckit import json_object, levels, uint
from feeds.lane import FrameShape
from feeds.protocol import BookDelta, ParseError
from feeds.spec import TakerFee, VenueSpec

_DEPTH_STREAM = "@depth@100ms"  # diff depth every 100 ms; "@depth" alone is every 1000 ms

_USED_WEIGHT: Final = "x-mbx-used-weight-1m"  # the REST weight used this minute (both venues)

SPEC: Final = VenueSpec(
    id="binance",
    integrity=proto.Integrity(seq=proto.SeqRule.RANGE, snapshot=proto.SnapshotSource.REST),
    endpoints=proto.Endpoints(ws="wss://stream.binance.com:9443", rest="https://api.binance.com"),
    # Defaults: ids "{base}{quote}", 100 streams a connection, no ping_interval_s (pings are
    # WebSocket control frames, answered by the library).
    # "only valid for 24 hours", and "serverShutdown" before a shutdown (web-socket-streams;
    # the event's shape: websocket-api/connection-events)
    max_connection_s=24 * 3600.0,
    sends_per_s=5.0,  # "a limit of 5 incoming messages per second", pings and pongs included
    # GET /api/v3/depth weights since 2025-10-24 (sources: docs/venues.md, Binance)
    rest_limits=proto.RestLimits(
        6000, 60.0, ((100, 5), (500, 25), (1000, 50), (5000, 250)), used_weight_header=_USED_WEIGHT
    ),
    fee=TakerFee(10.0, "VIP 0, spot", "https://www.binance.com/en/fee/schedule", "2026-11"),
)

# Binance.US: the same protocol, connection lifetime and send rate (docs.binance.us gives no
# other), on its own hosts with its own REST budget (https://docs.binance.us/#order-book, "Limits")
US_SPEC: Final = replace(
    SPEC,
    id="binanceus",
    endpoints=proto.Endpoints(ws="wss://stream.binance.us:9443", rest="https://api.binance.us"),
    rest_limits=proto.RestLimits(
        1200, 60.0, ((100, 1), (500, 5), (1000, 10), (5000, 50)), used_weight_header=_USED_WEIGHT
    ),
    fee=TakerFee(60.0, "Tier 0", "https://www.binance.us/fees", "2026-11"),
)


_RAW: Final = FrameShape(
    match=((("e",), "depthUpdate"),), symbol=("s",), first=("U",), last=("u",), ts=("E",),
    bids=("b",), asks=("a",),
)  # fmt: skip


class Binance(proto.Codec):
    """Binance spot: diff depth over WebSocket, books seeded by REST snapshots."""

    spec = SPEC
    shapes = (
        _RAW,
        replace(  # combined streams: the same event under "data"
            _RAW, contains=((("stream",), "@depth"),), match=((("data", "e"), "depthUpdate"),),
            symbol=("data", "s"), first=("data", "U"), last=("data", "u"), ts=("data", "E"),
            bids=("data", "b"), asks=("data", "a"),
        ),
    )  # fmt: skip
    rest_limits: ClassVar[proto.RestLimits]

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._ids = count(1)

    def ws_url(self, base: str) -> str:
        """The raw-stream endpoint ``<base>/ws`` unless ``base`` already names a path."""
        base = base or self.endpoints.ws
        return base if urlsplit(base).path not in ("", "/") else base.rstrip("/") + "/ws"

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        # Stream names are lower case; one request may name many streams
        # (web-socket-streams.md, "Live Subscribing/Unsubscribing to streams").
        params = [self.venue_symbol(s).lower() + _DEPTH_STREAM for s in symbols]
        if not params:
            return []
        request = {"method": "SUBSCRIBE", "params": params, "id": next(self._ids)}
        return [orjson.dumps(request).decode()]

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> proto.RestRequest:
        limit = self.rest_limits.snapshot_limit(levels)
        base = (rest_base or self.endpoints.rest).rstrip("/")
        url = f"{base}/api/v3/depth?symbol={self.venue_symbol(symbol)}&limit={limit}"
        return proto.RestRequest(url, symbol, self.rest_limits.snapshot_weight(limit))

    def parse_snapshot(self, symbol: str, body: bytes) -> proto.BookSnapshot:
        obj = json_object(body)
        if "code" in obj and "lastUpdateId" not in obj:
            raise ParseError(f"REST error for {symbol}: {str(obj.get('msg'))[:200]}")
        bids, asks = levels(obj.get("bids"), "bids"), levels(obj.get("asks"), "asks")
        return proto.BookSnapshot(symbol, bids, asks, uint(obj.get("lastUpdateId"), "lastUpdateId"))

    def parse(self, frame: str | bytes) -> list[proto.Event]:
        obj = json_object(frame)
        if "stream" in obj and "data" in obj:
            # Combined streams (/stream?streams=...) wrap each event as {"stream","data"}.
            stream, obj = obj["stream"], obj["data"]
            if stream.__class__ is not str or obj.__class__ is not dict:
                raise ParseError("combined-stream wrapper: bad 'stream' or 'data'")
            if "@depth" not in stream:
                return []  # bookTicker, aggTrade, kline...: not used
            if obj.get("e") != "depthUpdate":
                raise ParseError(f"{stream[:40]!r} without a depthUpdate event")
            return [self._delta(obj)]
        event = obj.get("e")
        if event == "depthUpdate":
            return [self._delta(obj)]
        wrapped = obj.get("event")  # the event alone, or inside {"event": {...}}
        if "serverShutdown" in (event, wrapped.get("e") if isinstance(wrapped, dict) else None):
            return [proto.PlannedClose("serverShutdown")]
        if isinstance(event, str) or {"u", "s", "b", "a", "B", "A"} <= obj.keys():
            return []  # another event type, or a raw bookTicker (the only one without "e")
        if "result" in obj and "id" in obj:
            # {"result": null, "id": N} acknowledges a SUBSCRIBE (the only request we send).
            return [proto.Subscribed()] if obj["result"] is None else []
        error = obj.get("error", obj)
        if isinstance(error, dict) and "code" in error and "msg" in error:
            # Request errors: {"code": 0, "msg": "Unknown property", "id": N} or the same
            # object nested under "error" (web-socket-streams.md, "Error Messages").
            return [proto.VenueError(message=f"{error['code']}: {str(error['msg'])[:200]}")]
        raise ParseError("not a Binance market-stream frame")

    def _delta(self, obj: dict[str, object]) -> BookDelta:
        """The hot path: structure only; the book validates each level's numbers."""
        try:
            vid, first, last, ts = obj["s"], obj["U"], obj["u"], obj["E"]
            bids, asks = obj["b"], obj["a"]
        except KeyError as exc:
            raise ParseError(f"depthUpdate without {exc}") from None
        symbol = self._canonical.get(vid) if vid.__class__ is str else None
        if symbol is None:
            raise ParseError(f"depthUpdate for an unsubscribed symbol {str(vid)[:40]!r}")
        # ``__class__ is int`` refuses bools; U <= u is the update-id range.
        if not (
            first.__class__ is last.__class__ is ts.__class__ is int and ts >= 0 <= first <= last
        ):
            raise ParseError(f"depthUpdate: bad U={first!r:.40} u={last!r:.40} E={ts!r:.40}")
        if bids.__class__ is not list or asks.__class__ is not list:
            raise ParseError("depthUpdate: 'b' and 'a' must be lists of levels")
        return BookDelta(symbol, bids, asks, first, last, None, None, ts * 1_000_000)


class BinanceUS(Binance):
    """Binance.US: the Binance spot protocol on its own hosts (https://docs.binance.us/)."""

    spec = US_SPEC


CODECS: Final = (Binance, BinanceUS)
