"""HTX spot order-book codec (``htx``; the older ccxt ids ``huobipro``/``huobi``): gzip
frames, ``mbp`` pushes linked by ``prevSeqNum``, the book asked with ``req`` on the same
connection, the venue's pings answered: docs/venues.md, "HTX".

Proven on the 2021 recording (tests/fixtures/htx.ndjson.gz): the gunzip, acks, pings and the
level format, through :class:`HtxStep0` (``depth.step0``: a whole book in every push). Only
on the documentation's examples and the emulator: the ``mbp`` pushes, the ``rep`` snapshot
and their ``seqNum`` links.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar, Final

import orjson

from feeds import protocol
from feeds.codeckit import json_object, levels, millis_ns, uint
from feeds.protocol import BookDelta, BookSnapshot, Codec, Event, ParseError
from feeds.spec import OlderProtocol, TakerFee, VenueSpec

MAX_FRAME: Final = 16 << 20
"""Largest decompressed frame accepted (a gzip bomb is refused, not inflated)."""

SPEC: Final = VenueSpec(
    id="htx",
    aliases=("huobipro", "huobi"),
    integrity=protocol.Integrity(
        seq=protocol.SeqRule.PREV_LINK, snapshot=protocol.SnapshotSource.REQUEST
    ),
    # mbp is served on /feed (the docs' "Market By Price" section); /ws serves depth.step0.
    endpoints=protocol.Endpoints(ws="wss://api.huobi.pro/feed", rest="https://api.huobi.pro"),
    lower_case=True,  # the default "{base}{quote}", in lower case
    depths=frozenset({5, 20, 150, 400}),
    default_depth=150,
    subscribe_batch=1,  # one topic per "sub"; no ping_interval_s: the venue pings, we answer
    fee=TakerFee(20.0, "regular user, spot", "https://www.htx.com/fee/", "2026-12"),
    older_protocols=(OlderProtocol("feeds.venues.htx:HtxStep0", unless="/feed"),),
)


def gunzip(frame: str | bytes) -> str | bytes:
    """A gzip frame's text (bounded by :data:`MAX_FRAME`); any other frame as it is."""
    if isinstance(frame, str) or frame[:2] != b"\x1f\x8b":
        return frame
    inflate = zlib.decompressobj(wbits=31)
    try:
        text = inflate.decompress(frame, MAX_FRAME)
    except zlib.error as exc:
        raise ParseError(f"bad gzip frame: {exc}") from None
    if inflate.unconsumed_tail or not inflate.eof:
        raise ParseError("gzip frame cut short or too large")
    return text


class Htx(Codec):
    """HTX spot ``mbp``: pushes linked by ``prevSeqNum``, seeded by a ``req`` snapshot."""

    spec = SPEC
    channel: ClassVar[str] = "mbp.{depth}"

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._suffix = "." + self.channel.format(depth=self.depth)
        self._topics = {self._topic(s): s for s in self.symbols}

    def _topic(self, symbol: str) -> str:
        return f"market.{self.venue_symbol(symbol)}{self._suffix}"

    def _request(self, op: str, symbol: str) -> str:
        return orjson.dumps({op: self._topic(symbol), "id": self.venue_symbol(symbol)}).decode()

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("sub", s) for s in symbols]

    def snapshot_frame(self, symbol: str) -> str:
        return self._request("req", symbol)

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = json_object(gunzip(frame))
        if "ping" in obj:
            return [protocol.Reply(f'{{"pong":{uint(obj["ping"], "ping")}}}')]
        ch = obj.get("ch")
        if ch is not None:
            symbol = self._symbol(ch)
            tick = obj.get("tick")
            if symbol is None:
                return []  # trades, tickers... on the same connection
            if type(tick) is not dict:
                raise ParseError("push without a 'tick' object")
            return [self._book(symbol, tick, millis_ns(obj.get("ts"), "ts"))]
        status = obj.get("status")
        if status == "error":
            # {"status":"error","err-code":"bad-request","err-msg":"invalid topic ...","id":..}
            ident = obj.get("id")
            known = self._canonical.get(ident) if type(ident) is str else None
            message = f"{obj.get('err-code')}: {str(obj.get('err-msg'))[:200]}"
            return [protocol.VenueError(message, known)]
        if status != "ok":
            raise ParseError("neither a push, a ping nor an answer")
        if "subbed" in obj:
            symbol = self._symbol(obj["subbed"])
            return [] if symbol is None else [protocol.Subscribed(symbol)]
        if "unsubbed" in obj:
            return []
        symbol, data = self._symbol(obj.get("rep")), obj.get("data")
        if symbol is None:
            return []  # the answer to another request
        if type(data) is not dict:
            raise ParseError("snapshot answer without a 'data' object")
        bids, asks = levels(data.get("bids"), "bids"), levels(data.get("asks"), "asks")
        return [BookSnapshot(symbol, bids, asks, seq=uint(data.get("seqNum"), "seqNum"))]

    def _symbol(self, topic: object) -> str | None:
        """The symbol of one of our book topics; None for another channel."""
        if type(topic) is not str:
            raise ParseError(f"bad topic {str(topic)[:40]!r}")
        symbol = self._topics.get(topic)
        if symbol is None and topic.endswith(self._suffix):
            raise ParseError(f"book topic not subscribed {topic[:60]!r}")
        return symbol

    def _book(self, symbol: str, tick: dict[str, object], ts_ns: int) -> BookSnapshot | BookDelta:
        # A 150/400-level push carries both sides (one may be empty); a 5/20-level push only
        # the side that changed.
        bids, asks = levels(tick.get("bids", []), "bids"), levels(tick.get("asks", []), "asks")
        last, prev = uint(tick.get("seqNum"), "seqNum"), uint(tick.get("prevSeqNum"), "prevSeqNum")
        # It holds every change after prevSeqNum up to seqNum (sizes absolute): first is
        # prevSeqNum + 1, so a requested snapshot whose seqNum falls inside it is bridged.
        return BookDelta(symbol, bids, asks, prev + 1, last, prev, venue_ts_ns=ts_ns)


STEP0_SPEC: Final = replace(
    SPEC,
    integrity=protocol.Integrity(seq=protocol.SeqRule.SNAPSHOT_ONLY),
    endpoints=protocol.Endpoints(ws="wss://api.huobi.pro/ws", rest=SPEC.endpoints.rest),
    older_protocols=(),
)


class HtxStep0(Htx):
    """HTX spot ``depth.step0`` (the 2021 recording): every push is the whole book (150
    levels a side), its ``version`` only ever grows. Not registered: replay picks it for
    recordings of connections to another path than ``/feed`` (:attr:`SPEC` ``older_protocols``)."""

    spec = STEP0_SPEC
    channel = "depth.step0"

    def _book(self, symbol: str, tick: dict[str, object], ts_ns: int) -> BookSnapshot | BookDelta:
        bids, asks = levels(tick.get("bids"), "bids"), levels(tick.get("asks"), "asks")
        seq = uint(tick.get("version"), "version")
        return BookSnapshot(symbol, bids, asks, seq=seq, venue_ts_ns=ts_ns)


CODECS: Final = (Htx,)
