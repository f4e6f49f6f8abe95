"""Bybit v5 spot order-book codec (``bybit``).

Protocol (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook): subscribe
``orderbook.{depth}.{SYMBOL}``; the venue pushes a ``snapshot`` then ``delta`` messages whose
update id ``u`` grows by exactly one per message (:attr:`SeqRule.COUNTER`, applied by the
session). Sizes are absolute; ``"0"`` deletes the level. The timestamp ``ts`` (ms) is taken
as a JSON integer or a string of digits, both seen from Bybit; anything else is a malformed
frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds import protocol as proto
from feeds.codeckit import json_object, levels, millis_ns
from feeds.protocol import BookDelta, BookSnapshot, Heartbeat, ParseError, Subscribed, VenueError
from feeds.spec import TakerFee, VenueSpec

SPEC: Final = VenueSpec(
    id="bybit",
    integrity=proto.Integrity(seq=proto.SeqRule.COUNTER),
    endpoints=proto.Endpoints(
        ws="wss://stream.bybit.com/v5/public/spot", rest="https://api.bybit.com"
    ),
    symbol_format="{base}{quote}",
    depths=frozenset({1, 50, 200, 1000}),
    default_depth=50,
    # Spot accepts at most 10 topics per subscribe request
    # (https://bybit-exchange.github.io/docs/v5/ws/connect, "How to Subscribe to Topics").
    subscribe_batch=10,
    # Bybit drops connections without an application heartbeat; its docs recommend
    # {"op":"ping"} every 20 s (https://bybit-exchange.github.io/docs/v5/ws/connect).
    ping_interval_s=20.0,
    # No documented connection lifetime and no close notice on the public streams
    # (https://bybit-exchange.github.io/docs/v5/ws/connect): a close reconnects as usual.
    max_connection_s=None,
    fee=TakerFee(
        10.0, "non-VIP, spot", "https://www.bybit.com/en/announcement-info/fee-rate/", "2026-11"
    ),
)
_ARGS_PER_REQUEST: Final = SPEC.subscribe_batch or 1


class Bybit(proto.Codec):
    """Bybit v5 spot: in-band snapshot + deltas with a per-symbol update counter ``u``."""

    spec = SPEC

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._requests("subscribe", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._requests("unsubscribe", symbols)

    def _requests(self, op: str, symbols: Sequence[str]) -> list[str]:
        topics = [f"orderbook.{self.depth}.{self.venue_symbol(s)}" for s in symbols]
        return [
            orjson.dumps({"op": op, "args": topics[i : i + _ARGS_PER_REQUEST]}).decode()
            for i in range(0, len(topics), _ARGS_PER_REQUEST)
        ]

    def ping_frame(self) -> str:
        return '{"op":"ping"}'

    def parse(self, frame: str | bytes) -> list[proto.Event]:
        obj = json_object(frame)
        topic = obj.get("topic")
        if isinstance(topic, str):
            return [self._book(obj)] if topic.startswith("orderbook.") else []
        op = obj.get("op")
        if not isinstance(op, str):
            raise ParseError("neither a topic message nor an op response")
        if obj.get("success") is False:
            return [VenueError(message=f"{op}: {str(obj.get('ret_msg'))[:200]}")]
        # Public pong: {"success":true,"ret_msg":"pong","op":"ping",...}; the private
        # streams answer {"op":"pong",...} (https://bybit-exchange.github.io/docs/v5/ws/connect).
        if op == "pong" or obj.get("ret_msg") == "pong":
            return [Heartbeat()]
        # {"success":true,"ret_msg":"subscribe","op":"subscribe",...}: the ack names no topic.
        return [Subscribed()] if op == "subscribe" else []

    def _book(self, obj: dict[str, object]) -> BookSnapshot | BookDelta:
        data, kind, ts = obj.get("data"), obj.get("type"), obj.get("ts")
        if not isinstance(data, dict) or kind not in ("snapshot", "delta"):
            raise ParseError("orderbook message: bad 'data' or 'type'")
        vid = data.get("s")
        symbol = self._canonical.get(vid) if isinstance(vid, str) else None
        if symbol is None:
            raise ParseError(f"orderbook message for an unsubscribed symbol {vid!r}")
        u = data.get("u")
        if not isinstance(u, int) or isinstance(u, bool) or u < 1:
            raise ParseError(f"orderbook message: bad update id u={str(u)[:40]!r}")
        ts_ns = millis_ns(ts, "'ts'")
        bids, asks = levels(data.get("b"), "b"), levels(data.get("a"), "a")
        # u == 1 means the service restarted: the message is a full book whatever its type
        # ("u" in the response parameters of the orderbook page linked above).
        if kind == "snapshot" or u == 1:
            return BookSnapshot(symbol, bids, asks, seq=u, venue_ts_ns=ts_ns)
        return BookDelta(symbol, bids, asks, last=u, venue_ts_ns=ts_ns)


CODECS: Final = (Bybit,)
