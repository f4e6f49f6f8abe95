"""Deribit API v2 order books (``deribit``): JSON-RPC 2.0 ``book.{instrument}.{interval}``,
``prev_change_id`` links and level actions checked against the book, heartbeats answered
with ``public/test``, options in ccxt's unified form: docs/venues.md, "Deribit".

Proven on the 2021 recording of ten options on ``raw`` (:class:`DeribitRaw`): notifications,
the subscribe answer, the chain and the level actions on every message. Only on the docs'
examples: the ``100ms`` spot channel (same notifications), heartbeats, ``public/test`` and
error answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar, Final

import orjson

from feeds import protocol as proto
from feeds.codeckit import json_object, levels, millis_ns, uint
from feeds.lane import FrameShape, LevelForm, Path
from feeds.protocol import BookDelta, BookSnapshot, Codec, Event, ParseError, SeqRule
from feeds.spec import OlderProtocol, TakerFee, VenueSpec

_SUPPORT: Final = "https://support.deribit.com/hc/en-us/articles"
SPEC: Final = VenueSpec(
    id="deribit",
    endpoints=proto.Endpoints(ws="wss://www.deribit.com/ws/api/v2", rest="https://www.deribit.com"),
    integrity=proto.Integrity(seq=SeqRule.PREV_LINK, level_actions=True),
    symbol_format="{base}_{quote}",
    # Non-matching-engine requests, heartbeat answers included: 20 per second, bursts of 100
    # (https://docs.deribit.com/articles/rate-limits). No channel count per request documented.
    sends_per_s=20.0,
    # Spot: 0 % maker, 0 % taker.
    fee=TakerFee(0.0, "spot, 0 % taker", f"{_SUPPORT}/25944746248989-Fees", "2026-12"),
    older_protocols=(OlderProtocol("feeds.venues.deribit:DeribitRaw", unless=".100ms"),),
)
HEARTBEAT_S: Final = 10
_IDS: Final = {"public/set_heartbeat": 1, "public/subscribe": 2, "public/unsubscribe": 3,
               "public/test": 4}  # fmt: skip
"""One JSON-RPC id per method (Deribit echoes it): an answer says what it answers."""
_MONTHS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                  "DEC")  # fmt: skip


def _match(kind: str) -> tuple[tuple[Path, str], ...]:
    return (("method",), "subscription"), (("params", "data", "type"), kind)


_CHANGE: Final = FrameShape(
    match=_match("change"), symbol=("params", "channel"), last=("params", "data", "change_id"),
    prev=("params", "data", "prev_change_id"), ts=("params", "data", "timestamp"),
    ts_optional=True, bids=("params", "data", "bids"), asks=("params", "data", "asks"),
    form=LevelForm.ACTION,
)  # fmt: skip


class Deribit(Codec):
    """Deribit ``book.{instrument}.100ms``: in-band snapshot, ``prev_change_id`` links."""

    spec = SPEC
    interval: ClassVar[str] = "100ms"
    shapes = (_CHANGE, replace(_CHANGE, match=_match("snapshot"), prev=(), whole=True))

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._books = {f"book.{v}.{self.interval}": s for v, s in self._canonical.items()}
        self._beating = False

    def lane_ids(self) -> dict[str, str]:
        return self._books

    def venue_symbol(self, symbol: str) -> str:
        pair, _, contract = symbol.partition(":")
        base, quote = proto.split_symbol(pair)
        if not contract:
            return self.spec.symbol(base, quote)
        settle, day, strike, kind = [*contract.split("-"), "", "", ""][:4]
        month = int(day[2:4]) if len(day) == 6 and day.isdigit() else 0
        if settle != base or not 1 <= month <= 12 or not strike.isdigit() or kind not in ("C", "P"):
            raise ValueError(f"not a Deribit option: {symbol!r}")
        return f"{base}-{int(day[4:])}{_MONTHS[month - 1]}{day[:2]}-{strike}-{kind}"

    def _request(self, method: str, params: dict[str, Any]) -> str:
        body = {"jsonrpc": "2.0", "id": _IDS[method], "method": method, "params": params}
        return orjson.dumps(body).decode()

    def _channels(self, method: str, symbols: Sequence[str]) -> list[str]:
        channels = [f"book.{self.venue_symbol(s)}.{self.interval}" for s in symbols]
        return [self._request(method, {"channels": channels})] if symbols else []

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """The first call (on opening) sets the heartbeat up too."""
        beat = [] if self._beating else [self._request("public/set_heartbeat",
                                                       {"interval": HEARTBEAT_S})]  # fmt: skip
        self._beating = True
        return beat + self._channels("public/subscribe", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._channels("public/unsubscribe", symbols)

    def ping_frame(self) -> str:
        return self._request("public/test", {})

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = json_object(frame)
        params = obj.get("params")
        if type(params) is dict and obj.get("method") == "subscription":  # most frames
            channel, data = params.get("channel"), params.get("data")
            symbol = self._books.get(channel) if type(channel) is str else None
            if symbol is not None and type(data) is dict:
                return [_book(symbol, data)]
            if type(channel) is str and not channel.startswith("book."):
                return []  # tickers, trades... on the same connection
            raise ParseError(f"bad book notification on {str(channel)[:60]!r}")
        method = obj.get("method")
        if method == "heartbeat" and type(params) is dict:
            kind = params.get("type")
            if kind == "test_request":
                return [proto.Heartbeat(), proto.Reply(self.ping_frame())]
            if kind != "heartbeat":
                raise ParseError(f"bad heartbeat type {str(kind)[:40]!r}")
            return [proto.Heartbeat()]
        error, result = obj.get("error"), obj.get("result")
        if method is not None or "id" not in obj or (result is None) == (type(error) is not dict):
            raise ParseError("not a Deribit notification or answer")
        if type(error) is dict:
            # {"jsonrpc":"2.0","id":2,"error":{"message":"Invalid params","code":-32602}}
            return [proto.VenueError(f"{error.get('code')}: {str(error.get('message'))[:200]}")]
        if type(result) is not list:  # set_heartbeat "ok", public/test {"version": ...}
            return [proto.Heartbeat()]
        if obj["id"] == _IDS["public/unsubscribe"]:
            return []
        books = self._books
        return [proto.Subscribed(books[c]) for c in result if type(c) is str and c in books]


def _book(symbol: str, data: dict[str, Any]) -> BookSnapshot | BookDelta:
    change_id, ts = uint(data.get("change_id"), "change_id"), data.get("timestamp")
    ts_ns = None if ts is None else millis_ns(ts, "timestamp")
    bids, asks = levels(data.get("bids"), "bids"), levels(data.get("asks"), "asks")
    try:  # [action, price, amount] -> [price, amount, action]
        bids = [[price, amount, action] for action, price, amount in bids]
        asks = [[price, amount, action] for action, price, amount in asks]
    except (TypeError, ValueError):
        raise ParseError("expected [action, price, amount] levels") from None
    kind = data.get("type")
    if kind == "snapshot":
        return BookSnapshot(symbol, bids, asks, seq=change_id, venue_ts_ns=ts_ns)
    if kind != "change":
        raise ParseError(f"bad book type {str(kind)[:40]!r}")
    prev = uint(data.get("prev_change_id"), "prev_change_id")
    return BookDelta(symbol, bids, asks, last=change_id, prev=prev, venue_ts_ns=ts_ns)


class DeribitRaw(Deribit):
    """``book.{instrument}.raw``, public until authorisation was required for it: recordings."""

    interval = "raw"


CODECS: Final = (Deribit,)
