"""Bitstamp WebSocket v2 order-book codec (``bitstamp``; the older ccxt id ``bitstamp1``).

Protocol (https://www.bitstamp.net/websocket/v2/): one ``bts:subscribe`` per channel
``diff_order_book_<pair>`` ("full order book": the bids and asks changed since the last
broadcast, absolute amounts, ``"0.00000000"`` deletes); the book is seeded by the REST snapshot
``GET /api/v2/order_book/<pair>`` (https://www.bitstamp.net/api/#tag/Order-book). Nothing
numbers the messages: the snapshot and the diffs are ordered by ``microtimestamp`` alone, and
diffs at or before the snapshot's are dropped (:attr:`SeqRule.TIME`, applied by the
session). A lost diff cannot be detected; only a crossed book reveals a wrong one.

Proven on the recording (2022-01-05, tests/conformance/bitstamp.py): the channel, subscribe
request and acknowledgement, diff and REST snapshot shapes, the time rule on every message.
Only on the documentation's examples: ``bts:heartbeat`` (the client's heartbeat and its
answer), ``bts:request_reconnect``, ``bts:error``, ``bts:unsubscription_succeeded``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds import protocol as p
from feeds.codeckit import json_object, levels, micros_ns
from feeds.lane import FrameShape, TimeUnit
from feeds.spec import TakerFee, VenueSpec

_CHANNEL: Final = "diff_order_book_"

SPEC: Final = VenueSpec(
    id="bitstamp",
    aliases=("bitstamp1",),
    integrity=p.Integrity(seq=p.SeqRule.TIME, snapshot=p.SnapshotSource.REST),
    endpoints=p.Endpoints(ws="wss://ws.bitstamp.net", rest="https://www.bitstamp.net"),
    lower_case=True,  # pair ids in channels and URLs: btcusd, xrpeur, 1incheur
    # Defaults: no depth (every changed level; the REST snapshot is the whole book); no limit
    # documented of channels per connection, subscribe requests per hour or client messages per
    # second; the 2022 recording speaks today's protocol (no older protocols).
    subscribe_batch=1,  # one channel per bts:subscribe message
    # "All clients can make 400 requests per second ... a default limit threshold of 10,000
    # requests per 10 minutes" (https://www.bitstamp.net/api/#section/Request-limits). The
    # order book takes no limit parameter: every snapshot is the whole book, one request.
    rest_limits=p.RestLimits(budget=10_000, window_s=600.0, tiers=((100_000, 1),)),
    # No idle timeout is documented (no ping_interval_s); {"event":"bts:heartbeat"} is the
    # liveness probe of a quiet connection (sent when nothing arrived for half stale_after_s).
    # "Maximum connection age is 90 days", and bts:request_reconnect warns before a server
    # goes into maintenance (https://www.bitstamp.net/websocket/v2/): both make-before-break.
    max_connection_s=90 * 86_400.0,
    fee=TakerFee(40.0, "taker 0.40 %, 30-day volume up to $10K",
                 "https://www.bitstamp.net/fee-schedule/", "2026-12"),
)  # fmt: skip


class Bitstamp(p.Codec):
    """Bitstamp ``diff_order_book``: REST snapshot, diffs ordered by ``microtimestamp``."""

    spec = SPEC
    shapes = (
        FrameShape(
            match=((("event",), "data"),), symbol=("channel",), ts=("data", "microtimestamp"),
            ts_unit=TimeUnit.US, ts_as_text=True, bids=("data", "bids"), asks=("data", "asks"),
        ),
    )  # fmt: skip

    def lane_ids(self) -> dict[str, str]:
        return self._channels

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._channels = {_CHANNEL + vid: s for vid, s in self._canonical.items()}
        """Our channels as Bitstamp names them -> symbol."""

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        channels = [{"channel": _CHANNEL + self.venue_symbol(s)} for s in symbols]
        return [orjson.dumps({"event": "bts:subscribe", "data": c}).decode() for c in channels]

    def ping_frame(self) -> str:
        return '{"event":"bts:heartbeat"}'

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> p.RestRequest:
        base = (rest_base or self.endpoints.rest).rstrip("/")
        return p.RestRequest(f"{base}/api/v2/order_book/{self.venue_symbol(symbol)}", symbol)

    def parse_snapshot(self, symbol: str, body: bytes) -> p.BookSnapshot:
        obj = json_object(body)
        if obj.get("status") == "error":  # {"status": "error", "reason": ..., "code": ...}
            raise p.ParseError(f"REST error for {symbol}: {str(obj.get('reason'))[:200]}")
        bids, asks = levels(obj.get("bids"), "bids"), levels(obj.get("asks"), "asks")
        ts_ns = micros_ns(obj.get("microtimestamp"), "microtimestamp")
        return p.BookSnapshot(symbol, bids, asks, venue_ts_ns=ts_ns)

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        event, channel, data = obj.get("event"), obj.get("channel"), obj.get("data")
        if event.__class__ is not str or channel.__class__ is not str:
            raise p.ParseError("not a Bitstamp event: bad 'event' or 'channel'")
        book = channel.startswith(_CHANNEL)
        if event == "data" and book:  # a diff, checked field by field
            symbol = self._symbol(channel)
            try:
                diff = obj["data"]
                bids, asks, ts = diff["bids"], diff["asks"], diff["microtimestamp"]
            except (KeyError, TypeError) as exc:
                raise p.ParseError(f"diff_order_book: bad 'data' ({str(exc)[:40]})") from None
            if bids.__class__ is not list or asks.__class__ is not list:
                raise p.ParseError("diff_order_book: 'bids' and 'asks' must be lists")
            ts_ns = micros_ns(ts, "microtimestamp")
            return [p.BookDelta(symbol, bids, asks, None, None, None, None, ts_ns)]
        if event == "bts:subscription_succeeded":
            return [p.Subscribed(self._symbol(channel))] if book else []
        if event == "bts:heartbeat":  # the answer to ours, "data": {"status": "success"}
            return [p.Heartbeat()]
        if event == "bts:request_reconnect":
            return [p.PlannedClose(event)]
        if event == "bts:error":  # "data": {"code": null, "message": "Bad subscription string."}
            error = data if type(data) is dict else {}
            return [p.VenueError(f"{error.get('code')}: {str(error.get('message'))[:200]}")]
        return []  # live_trades, bts:unsubscription_succeeded, other channels

    def _symbol(self, channel: str) -> str:
        symbol = self._channels.get(channel)
        if symbol is None:
            raise p.ParseError(f"book message for an unsubscribed channel {channel[:60]!r}")
        return symbol


CODECS: Final = (Bitstamp,)
