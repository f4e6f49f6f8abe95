"""Upbit WebSocket ``orderbook`` codec (``upbit``; docs/venues.md, "Upbit and Bithumb"):
every message a whole top-N book (:attr:`SeqRule.SNAPSHOT_ONLY`), in the SIMPLE (abbreviated)
or DEFAULT keys; a book whose totals are not the sums of its units is dropped (``ParseError``).
Bithumb (:mod:`feeds.venues.bithumb`) speaks the same protocol with its own spec.

Proven on the recording (2021-04-17, tests/conformance/upbit.py): the SIMPLE keys, binary
UTF-8 JSON frames, 15-unit books, totals equal to the sums, timestamps that never go back,
never a crossed book; its request (camelCase ``isOnlyRealtime``, no count) predates today's.
Only on the documentation: the count suffix and 30-unit default, the ``PING`` text frame
answered ``{"status":"UP"}``, the ``{"error": {"name", "message"}}`` replies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import orjson

from feeds import protocol as p
from feeds.codeckit import json_object, millis_ns
from feeds.spec import TakerFee, VenueSpec

SIMPLE: Final = ("ty", "cd", "tms", "tas", "tbs", "obu", "ap", "as", "bp", "bs")
DEFAULT: Final = (
    "type", "code", "timestamp", "total_ask_size", "total_bid_size", "orderbook_units",
    "ask_price", "ask_size", "bid_price", "bid_size",
)  # fmt: skip
"""The message keys in each format (https://docs.upbit.com/reference/websocket-orderbook)."""

SPEC: Final = VenueSpec(
    id="upbit",
    # "시세(Quotation): wss://api.upbit.com/websocket/v1" (https://docs.upbit.com/reference/connection)
    endpoints=p.Endpoints(ws="wss://api.upbit.com/websocket/v1", rest="https://api.upbit.com"),
    integrity=p.Integrity(seq=p.SeqRule.SNAPSHOT_ONLY),
    symbol_format="{quote}-{base}",  # KRW-BTC, BTC-XRP, USDT-ETH: quote market first
    # "지원하는 unit 값은 1, 5, 15, 30이며, 별도로 지정하지 않으면 30개"
    # (https://docs.upbit.com/reference/websocket-orderbook)
    depths=frozenset({1, 5, 15, 30}),
    default_depth=30,
    # WebSocket data requests: 5 per second and 100 per minute per connection
    # (https://docs.upbit.com/reference/rate-limits); one request names every code (a new
    # one replaces the subscription), no documented limit of codes nor lifetime.
    sends_per_s=5.0,
    # An idle connection is closed after about 120 s; a "PING" text frame is answered
    # {"status":"UP"} (https://docs.upbit.com/reference/connection).
    ping_interval_s=60.0,
    fee=TakerFee(5.0, "0.05 % KRW market, maker and taker",
                 "https://upbit.com/service_center/guide", "2026-12"),
)  # fmt: skip


class Upbit(p.Codec):
    """Upbit ``orderbook``: every message a whole top-N book, in the format of :attr:`keys`."""

    spec = SPEC
    format: ClassVar[str] = "SIMPLE"
    keys: ClassVar[tuple[str, ...]] = SIMPLE

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        count = "" if self.depth is None else f".{self.depth}"
        codes = [self.venue_symbol(s) + count for s in symbols]
        request = [{"ticket": "arbscan"}, {"type": "orderbook", "codes": codes}]
        return [orjson.dumps([*request, {"format": self.format}]).decode()]

    def ping_frame(self) -> str | None:
        return "PING" if self.ping_interval_s is not None else None

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        ty, cd, tms, tas, tbs, obu, ap, as_, bp, bs = self.keys
        kind = obj.get(ty)
        if kind == "orderbook":
            units: Any = obj.get(obu)
            try:
                asks = [(u[ap], u[as_]) for u in units]
                bids = [(u[bp], u[bs]) for u in units]
            except (KeyError, TypeError):
                raise p.ParseError(f"{obu}: expected a list of units") from None
            _total(asks, obj.get(tas), tas)
            _total(bids, obj.get(tbs), tbs)
            when = millis_ns(obj.get(tms), tms)
            return [p.BookSnapshot(self._symbol(obj.get(cd)), bids, asks, venue_ts_ns=when)]
        if obj.get("status") == "UP":  # the answer to "PING"
            return [p.Heartbeat()]
        error = obj.get("error")
        if type(error) is dict:  # {"error": {"name": "NO_TICKET", "message": ...}}
            return [p.VenueError(f"{error.get('name')}: {str(error.get('message'))[:200]}")]
        if type(kind) is str:
            return []  # ticker, trade: not subscribed here
        raise p.ParseError("not an Upbit message")

    def _symbol(self, code: object) -> str:
        if type(code) is str:
            symbol = self._canonical.get(code) or self._canonical.get(code.partition(".")[0])
            if symbol is not None:
                return symbol
        raise p.ParseError(f"book for an unsubscribed code {str(code)[:40]!r}")


def _total(side: list[Any], total: object, what: str) -> None:
    """``total`` must be the sum of the side's sizes (to the last bits of a double)."""
    if type(total) is not float and type(total) is not int:
        raise p.ParseError(f"bad {what} {str(total)[:40]!r}")
    try:
        found = math.fsum(size for _, size in side)
    except TypeError:
        raise p.ParseError(f"{what}: a size is not a number") from None
    if abs(found - total) > 1e-9 * abs(total) + 1e-12:
        raise p.ParseError(f"{what} {total!r} is not the sum of the units ({found!r})")


CODECS: Final = (Upbit,)
