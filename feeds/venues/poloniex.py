"""Poloniex spot v3 WebSocket ``book_lv2`` codec (``poloniex``).

Protocol (https://api-docs.poloniex.com/spot/websocket/market-data, "Book Level 2", and
https://api-docs.poloniex.com/spot/websocket for the envelope): on ``wss://ws.poloniex.com/
ws/public`` send ``{"event":"subscribe","channel":["book_lv2"],"symbols":["BTC_USDT"]}``
(acked as ``{"event":"subscribe","channel":"book_lv2","symbols":[...]}``, refused as
``{"event":"error","message":...}``). The venue pushes ``action:"snapshot"`` (the top 20 levels
per side) then ``action:"update"`` messages, each ``data`` item carrying ``symbol``, ``bids``/
``asks`` (``[price, size]`` strings, size ``"0"`` deletes), ``id`` and ``lastId``: an update's
``lastId`` names the previous message's ``id`` of the symbol, else the client lost messages
and must subscribe again (:attr:`SeqRule.PREV_LINK`, applied by the session). Sizes are
absolute. The server closes a connection silent for 30 s: the client sends
``{"event":"ping"}`` and gets ``{"event":"pong"}``.

Proven on the 2022 recording (tests/test_venue_poloniex.py, the same v3 protocol as today):
the subscribe request and ack, snapshots and updates, the ``lastId`` rule on every message
(283/283) and that the venue keeps the book at 20 levels per side itself (it deletes the
levels leaving the top 20). Only on the docs: ping/pong, error and unsubscribe answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from feeds import protocol as proto
from feeds.codeckit import json_object, levels, millis_ns, uint
from feeds.protocol import BookDelta, BookSnapshot, Codec, Event, ParseError, SeqRule
from feeds.spec import TakerFee, VenueSpec

_CHANNEL: Final = "book_lv2"

SPEC: Final = VenueSpec(
    id="poloniex",
    integrity=proto.Integrity(seq=SeqRule.PREV_LINK, snapshot=proto.SnapshotSource.IN_BAND),
    # https://api-docs.poloniex.com/spot/websocket ("Public API"); REST:
    # https://api-docs.poloniex.com/spot/api/ (base URL)
    endpoints=proto.Endpoints(
        ws="wss://ws.poloniex.com/ws/public", rest="https://api.poloniex.com"
    ),
    symbol_format="{base}_{quote}",
    # "each connection is limited to 500 requests per second"
    # (https://api-docs.poloniex.com/spot/websocket, "Restrictions")
    sends_per_s=500.0,
    # "The WebSockets server expects a message or a ping every 30 seconds"
    # (https://api-docs.poloniex.com/spot/websocket, "General Description")
    ping_interval_s=20.0,
    # Level 1 (30-day volume < $50K): maker 0.1450 %, taker 0.1550 %
    fee=TakerFee(15.5, "0.1550 % Level 1, spot", "https://poloniex.com/fee-schedule", "2026-12"),
)


class Poloniex(Codec):
    """Poloniex spot ``book_lv2``: in-band top-20 snapshot, updates linked by ``lastId``."""

    spec = SPEC

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
            if event == "subscribe" and channel == _CHANNEL:
                return [proto.Subscribed()]
            if event in ("subscribe", "unsubscribe", "unsubscribe_all", "list_subscriptions"):
                return []  # other channels' acks; unsubscribe answers
            raise ParseError(f"unknown event {str(event)[:40]!r}")
        if channel != _CHANNEL:
            if not isinstance(channel, str):
                raise ParseError("neither an event nor a channel push")
            return []  # trades, tickers... on the same connection
        action, data = obj.get("action"), obj.get("data")
        if action not in ("snapshot", "update") or type(data) is not list:
            raise ParseError("book_lv2 push: bad 'action' or 'data'")
        return [self._book(action == "snapshot", item) for item in data]

    def _book(self, snapshot: bool, item: Any) -> BookSnapshot | BookDelta:
        if type(item) is not dict:
            raise ParseError("book_lv2 push: 'data' item is not an object")
        vid = item.get("symbol")
        symbol = self._canonical.get(vid) if isinstance(vid, str) else None
        if symbol is None:
            raise ParseError(f"book for an unsubscribed symbol {str(vid)[:40]!r}")
        bids, asks = levels(item.get("bids"), "bids"), levels(item.get("asks"), "asks")
        last, prev = uint(item.get("id"), "id"), uint(item.get("lastId"), "lastId")
        ts = millis_ns(item.get("ts"), "ts")
        if snapshot:
            return BookSnapshot(symbol, bids, asks, seq=last, venue_ts_ns=ts)
        return BookDelta(symbol, bids, asks, last=last, prev=prev, venue_ts_ns=ts)


CODECS: Final = (Poloniex,)
