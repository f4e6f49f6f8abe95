"""Gate spot v4 order-book codecs (``gate``; the older ccxt id ``gateio``): ``spot.obu`` (the
default: in-band full books, ``[U, u]`` increments) and ``spot.order_book_update``
(:class:`GateBookUpdate`, over a REST snapshot; what replay uses for recordings that never
subscribed ``spot.obu``). Channels, rules and why ``spot.obu``: docs/venues.md, "Gate".

Proven on the 2021 recording: ``spot.order_book_update`` frames and acks, the REST snapshot and
the RANGE rule on every message. Only on the docs' examples: ``spot.obu``, ``"full": true``
pushes, ``spot.pong`` and error answers. Requests carry ``time`` (seconds, within 60 s of
Gate's clock): the codec's injected :attr:`Codec.clock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar, Final

import orjson

from feeds import protocol as proto
from feeds.codeckit import MS_NS, json_object, levels, millis_ns, uint
from feeds.lane import FrameShape
from feeds.protocol import BookDelta, BookSnapshot, Codec, Event, ParseError, RestRequest, SeqRule
from feeds.spec import OlderProtocol, TakerFee, VenueSpec

SPEC: Final = VenueSpec(
    id="gate", aliases=("gateio",), symbol_format="{base}_{quote}",
    integrity=proto.Integrity(seq=SeqRule.PREV_LINK, snapshot=proto.SnapshotSource.IN_BAND),
    endpoints=proto.Endpoints(ws="wss://api.gateio.ws/ws/v4/", rest="https://api.gateio.ws"),
    depths=frozenset({50, 400}), default_depth=50,
    # One stream per request, as every documented example sends it; no spot.ping interval is
    # documented: 20 s like the other venues' application pings.
    subscribe_batch=1, ping_interval_s=20.0,
    fee=TakerFee(10.0, "VIP 0, spot", "https://www.gate.com/fee", "2026-12"),
    older_protocols=(OlderProtocol("feeds.venues.gate:GateBookUpdate", unless="spot.obu"),),
)  # fmt: skip

BOOK_UPDATE_SPEC: Final = replace(
    SPEC,
    integrity=proto.Integrity(seq=SeqRule.RANGE, snapshot=proto.SnapshotSource.REST),
    depths=None, default_depth=None,
    # Public endpoints: 200 requests per 10 s per endpoint per IP; a snapshot is one request
    # of up to 100 levels (https://www.gate.com/docs/developers/apiv4/en/#frequency-limit-rule).
    rest_limits=proto.RestLimits(budget=200, window_s=10.0, tiers=((100, 1),)),
    older_protocols=(),
)  # fmt: skip


class Gate(Codec):
    """Gate spot ``spot.obu``: in-band full book, then ``[U, u]`` increments."""

    spec = SPEC
    channel: ClassVar[str] = "spot.obu"
    shapes = (
        FrameShape(
            match=((("channel",), "spot.obu"),), match_if_present=((("event",), "update"),),
            absent=(("error",), ("result", "full")), symbol=("result", "s"),
            first=("result", "U"), linked=True, last=("result", "u"), ts=("result", "t"),
            bids=("result", "b"), asks=("result", "a"),
        ),
    )  # fmt: skip

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._books = {self._stream(vid): s for vid, s in self._canonical.items()}
        self._linked = self.integrity.seq is SeqRule.PREV_LINK  # else RANGE: no prev

    def _stream(self, vid: str) -> str:
        return f"ob.{vid}.{self.depth}"

    def lane_ids(self) -> dict[str, str]:
        return self._books

    def _payload(self, symbol: str) -> list[str]:
        return [self._stream(self.venue_symbol(symbol))]

    def _request(self, event: str, symbols: Sequence[str]) -> list[str]:
        head = {"time": self._now(), "channel": self.channel, "event": event}
        return [orjson.dumps(head | {"payload": self._payload(s)}).decode() for s in symbols]

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("subscribe", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("unsubscribe", symbols)

    def ping_frame(self) -> str:
        return orjson.dumps({"time": self._now(), "channel": "spot.ping"}).decode()

    def _now(self) -> int:
        return self.clock() // 1_000_000_000

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = json_object(frame)
        channel, event, result = obj.get("channel"), obj.get("event"), obj.get("result")
        error = obj.get("error")
        if channel == self.channel and event == "update" and error is None:
            if result.__class__ is not dict:
                raise ParseError(f"{channel}: 'result' is not an object")
            return [self._book(result)]
        if error is not None:
            # {"error": {"code": 2, "message": "Alert sub ob.BTC_USDT.50"}, ...}
            if not isinstance(error, dict):
                raise ParseError("bad 'error'")
            return [proto.VenueError(f"{error.get('code')}: {str(error.get('message'))[:200]}")]
        if channel == "spot.pong":
            return [proto.Heartbeat()]
        if not isinstance(channel, str):
            raise ParseError("no 'channel'")
        if channel != self.channel:
            return []  # tickers, trades... on the same connection
        if event in ("subscribe", "unsubscribe"):
            if not isinstance(result, dict) or result.get("status") != "success":
                return [proto.VenueError(f"{event}: {str(result)[:200]}")]
            return [proto.Subscribed()] if event == "subscribe" else []
        if event not in ("update", None) or not isinstance(result, dict):
            raise ParseError(f"{channel}: bad 'event' or 'result'")
        return [self._book(result)]

    def _book(self, result: dict[str, Any]) -> BookSnapshot | BookDelta:
        """The hot path: structure only; the book validates each level's numbers."""
        try:
            stream, bids, asks, last, ts = (
                result["s"],
                result["b"],
                result["a"],
                result["u"],
                result["t"],
            )
        except KeyError as exc:
            raise ParseError(f"book update without {exc}") from None
        symbol = self._books.get(stream) if stream.__class__ is str else None
        if symbol is None:
            raise ParseError(f"book for an unsubscribed stream {str(stream)[:40]!r}")
        if bids.__class__ is not list or asks.__class__ is not list:
            raise ParseError("'b' and 'a' must be lists of levels")
        if last.__class__ is not int or last < 0:  # ``__class__ is int`` refuses bools
            raise ParseError(f"bad u {str(last)[:40]!r}")
        ts_ns = ts * MS_NS if ts.__class__ is int and ts >= 0 else millis_ns(ts, "t")
        if result.get("full") is True:
            return BookSnapshot(symbol, bids, asks, seq=last, venue_ts_ns=ts_ns)
        first = result.get("U")
        if not (first.__class__ is int and 0 < first <= last):
            raise ParseError(f"bad range U={str(first)[:40]} u={last}")
        prev = first - 1 if self._linked else None
        return BookDelta(symbol, bids, asks, first, last, prev, None, ts_ns)


class GateBookUpdate(Gate):
    """Gate spot ``spot.order_book_update``: ``[U, u]`` increments over a REST snapshot."""

    spec = BOOK_UPDATE_SPEC
    channel = "spot.order_book_update"
    shapes = (replace(Gate.shapes[0], match=((("channel",), channel),), linked=False),)
    rest_limits: ClassVar[proto.RestLimits]

    def _stream(self, vid: str) -> str:
        return vid

    def _payload(self, symbol: str) -> list[str]:
        return [self.venue_symbol(symbol), "100ms"]

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> RestRequest:
        limit = self.rest_limits.snapshot_limit(levels)
        base = (rest_base or self.endpoints.rest).rstrip("/")
        pair = self.venue_symbol(symbol)
        url = f"{base}/api/v4/spot/order_book?currency_pair={pair}&limit={limit}&with_id=true"
        return RestRequest(url, symbol, self.rest_limits.snapshot_weight(limit))

    def parse_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        obj = json_object(body)
        if "label" in obj and "id" not in obj:  # {"label": "INVALID_CURRENCY", "message": ...}
            raise ParseError(f"REST error for {symbol}: {str(obj.get('message'))[:200]}")
        bids, asks = levels(obj.get("bids"), "bids"), levels(obj.get("asks"), "asks")
        return BookSnapshot(symbol, bids, asks, seq=uint(obj.get("id"), "id"))


CODECS: Final = (Gate,)
