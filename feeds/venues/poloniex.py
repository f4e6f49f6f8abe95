"""Poloniex spot v3 WebSocket ``book_lv2`` codec (``poloniex``).

Protocol (https://api-docs.poloniex.com/spot/websocket/market-data, "Book Level 2"; envelope:
https://api-docs.poloniex.com/spot/websocket): ``{"event":"subscribe","channel":["book_lv2"],
"symbols":[...]}``, acked with ``"channel":"book_lv2"``, refused with ``{"event":"error",
"message":...}``. Per pair an ``action:"snapshot"`` of the top 20 levels, then ``"update"``s of
``[price, size]`` strings (absolute sizes, ``"0"`` deletes) whose ``lastId`` is the previous
message's ``id``, else the client must subscribe again (:attr:`SeqRule.PREV_LINK`). The server
drops a connection silent for 30 s: ``{"event":"ping"}`` gets ``{"event":"pong"}``.

Proven on the 2022 recording (tests/test_venue_poloniex.py; the same v3 protocol as today):
request and ack, snapshots, updates, the ``lastId`` rule on all 283 updates, and that the venue
deletes the levels leaving its top 20 itself. Only on the docs: ping, error, unsubscribe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import orjson

from feeds import protocol as proto
from feeds.codeckit import MS_NS, json_object, millis_ns
from feeds.lane import FrameShape
from feeds.protocol import BookDelta, BookSnapshot, Codec, Event, ParseError, SeqRule
from feeds.spec import TakerFee, VenueSpec

_CHANNEL: Final = "book_lv2"

SPEC: Final = VenueSpec(
    id="poloniex",
    integrity=proto.Integrity(seq=SeqRule.PREV_LINK, snapshot=proto.SnapshotSource.IN_BAND),
    # https://api-docs.poloniex.com/spot/websocket and https://api-docs.poloniex.com/spot/api/
    endpoints=proto.Endpoints("wss://ws.poloniex.com/ws/public", "https://api.poloniex.com"),
    symbol_format="{base}_{quote}",
    # https://api-docs.poloniex.com/spot/websocket: "each connection is limited to 500 requests
    # per second"; "The WebSockets server expects a message or a ping every 30 seconds"
    sends_per_s=500.0,
    ping_interval_s=20.0,
    # Level 1 (30-day volume < $50K): maker 0.1450 %, taker 0.1550 %
    fee=TakerFee(15.5, "0.1550 % Level 1, spot", "https://poloniex.com/fee-schedule", "2026-12"),
)

_UPDATE: Final = FrameShape(
    match=((("channel",), _CHANNEL), (("action",), "update")), absent=(("event",),),
    symbol=("data", 0, "symbol"), last=("data", 0, "id"), prev=("data", 0, "lastId"),
    ts=("data", 0, "ts"), bids=("data", 0, "bids"), asks=("data", 0, "asks"),
)  # fmt: skip


class Poloniex(Codec):
    """Poloniex spot ``book_lv2``: in-band top-20 snapshot, updates linked by ``lastId``."""

    spec = SPEC
    shapes = (
        _UPDATE,
        replace(_UPDATE, match=(_UPDATE.match[0], (("action",), "snapshot")), prev=(), whole=True),
    )

    def _request(self, event: str, symbols: Sequence[str]) -> list[str]:
        if not symbols:
            return []
        vids = [self.venue_symbol(s) for s in symbols]
        return [orjson.dumps({"event": event, "channel": [_CHANNEL], "symbols": vids}).decode()]

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("subscribe", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("unsubscribe", symbols)

    def ping_frame(self) -> str:
        return '{"event":"ping"}'

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = json_object(frame)
        event, channel = obj.get("event"), obj.get("channel")
        if event is not None:
            if event == "pong":
                return [proto.Heartbeat()]
            if event == "error":  # {"event":"error","message":"..."}
                return [proto.VenueError(f"error: {str(obj.get('message'))[:200]}")]
            if event not in ("subscribe", "unsubscribe", "unsubscribe_all", "list_subscriptions"):
                raise ParseError(f"unknown event {str(event)[:40]!r}")
            return [proto.Subscribed()] if event == "subscribe" and channel == _CHANNEL else []
        if channel != _CHANNEL:
            if not isinstance(channel, str):
                raise ParseError("neither an event nor a channel push")
            return []  # trades, tickers... on the same connection
        action, data = obj.get("action"), obj.get("data")
        if action not in ("snapshot", "update") or type(data) is not list:
            raise ParseError("book_lv2 push: bad 'action' or 'data'")
        return [self._book(action == "snapshot", item) for item in data]

    def _book(self, snapshot: bool, item: Any) -> BookSnapshot | BookDelta:
        """The hot path: structure only; the book validates each level's numbers."""
        try:  # a KeyError names the missing field, or the symbol not subscribed here
            symbol = self._canonical[item["symbol"]]
            bids, asks, last, ts = item["bids"], item["asks"], item["id"], item["ts"]
            prev = None if snapshot else item["lastId"]
        except (KeyError, TypeError) as exc:
            raise ParseError(f"book_lv2 item: bad or unknown {str(exc)[:40]}") from None
        if bids.__class__ is not list or asks.__class__ is not list:
            raise ParseError("book_lv2 item: 'bids' and 'asks' must be lists of levels")
        if last.__class__ is not int or last < 0:  # ``__class__ is int`` refuses bools
            raise ParseError(f"bad id {str(last)[:40]!r}")
        ts_ns = ts * MS_NS if ts.__class__ is int and ts >= 0 else millis_ns(ts, "ts")
        if prev is None:
            return BookSnapshot(symbol, bids, asks, seq=last, venue_ts_ns=ts_ns)
        if prev.__class__ is not int or prev < 0:
            raise ParseError(f"bad lastId {str(prev)[:40]!r}")
        return BookDelta(symbol, bids, asks, None, last, prev, None, ts_ns)


CODECS: Final = (Poloniex,)
