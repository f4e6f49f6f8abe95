"""HitBTC and Bequant API v3 ``orderbook/full`` codecs (``hitbtc``, the older ccxt id
``hitbtc2``; ``bequant``: the same platform and protocol on another host): in-band
snapshots, updates counted by ``s`` per symbol: docs/venues.md, "HitBTC and Bequant".

Proven on the 2021 recordings (tests/fixtures/hitbtc.ndjson.gz, bequant.ndjson.gz), which are
of API v2 (:class:`HitBTCV2`, chosen by replay for recordings without ``/api/3/``): the
counter rule on every message, snapshots resent mid-stream at the last sequence, the level
text and the book built from it. Only on the docs' examples and the emulator: the v3 frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import count
from operator import itemgetter
from typing import ClassVar, Final

import orjson

from feeds import protocol as p
from feeds.codeckit import json_object, levels, millis_ns, rfc3339_ns, uint
from feeds.lane import FrameShape, LevelForm, TimeUnit
from feeds.spec import OlderProtocol, TakerFee, VenueSpec

SPEC: Final = VenueSpec(
    id="hitbtc", aliases=("hitbtc2",),
    # https://api.hitbtc.com/#socket-api-reference ("wss://api.hitbtc.com/api/3/ws/public");
    # symbols in the default format: "ETHBTC", "BTCUSDT" (https://api.hitbtc.com/#symbols)
    endpoints=p.Endpoints(ws="wss://api.hitbtc.com/api/3/ws/public", rest="https://api.hitbtc.com"),
    integrity=p.Integrity(seq=p.SeqRule.COUNTER, snapshot=p.SnapshotSource.IN_BAND),
    # Accounts outside the tier schedule pay a fixed 0.2 % taker fee (upgraded accounts under
    # 10 BTC a month 0.07 %): the higher one, so no opportunity relies on an upgrade.
    fee=TakerFee(20.0, "fixed rate", "https://support.hitbtc.com/en/support/solutions/articles/"
                 "63000224917-trading-fees", "2026-12"),
    older_protocols=(OlderProtocol("feeds.venues.hitbtc:HitBTCV2", unless="/api/3/"),),
)  # fmt: skip
BEQUANT_SPEC: Final = replace(
    SPEC, id="bequant", aliases=(),
    # https://api.bequant.io/#socket-api-reference
    endpoints=p.Endpoints(ws="wss://api.bequant.io/api/3/ws/public", rest="https://api.bequant.io"),
    fee=TakerFee(10.0, "taker", "https://bequant.io/fees-and-limits", "2026-12"),
    older_protocols=(OlderProtocol("feeds.venues.hitbtc:BequantV2", unless="/api/3/"),),
)  # fmt: skip

_CH: Final = "orderbook/full"


class HitBTC(p.Codec):
    """HitBTC API v3 ``orderbook/full``: in-band snapshot, then updates counted by ``s``."""

    spec = SPEC
    shapes: ClassVar[tuple[FrameShape, ...]] = tuple(
        FrameShape(
            match=((("ch",), _CH),), absent=(("update",),) if whole else (), whole=whole,
            symbol=(kind, "*"), last=(kind, "*", "s"), ts=(kind, "*", "t"),
            bids=(kind, "*", "b"), asks=(kind, "*", "a"),
        )
        for kind, whole in (("update", False), ("snapshot", True))
    )  # fmt: skip

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._ids = count(1)
        self._unsubscribes: set[object] = set()
        """Ids of unsubscribes not answered yet (their answer is no subscription)."""

    def _request(self, method: str, symbols: Sequence[str]) -> list[str]:
        rid, ids = next(self._ids), [self.venue_symbol(s) for s in symbols]
        if method == "unsubscribe":
            self._unsubscribes.add(rid)
        body = {"method": method, "ch": _CH, "params": {"symbols": ids}, "id": rid}
        return [orjson.dumps(body).decode()]

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("subscribe", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("unsubscribe", symbols)

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        ch = obj.get("ch")
        if ch == _CH:
            for kind in ("update", "snapshot"):
                books = obj.get(kind)
                if type(books) is dict:
                    return [self._book(kind, vid, b) for vid, b in books.items()]
            raise p.ParseError("orderbook/full: no 'snapshot' or 'update' object")
        if type(ch) is str:
            return []  # ticker, trades, candles...
        if "error" in obj:
            return [_error(obj.get("error"))]
        result = obj.get("result")
        if type(result) is dict and result.get("ch") == _CH:
            rid = obj.get("id")
            if type(rid) is int and rid in self._unsubscribes:
                self._unsubscribes.discard(rid)
                return []
            return [p.Subscribed()]
        raise p.ParseError("not a HitBTC v3 frame")

    _fields: ClassVar = ("s", "t", "b", "a")
    """Where a book has its sequence, time, bids and asks."""
    _time = staticmethod(millis_ns)
    _levels = staticmethod(levels)

    def _book(self, kind: str, vid: object, book: object) -> p.BookSnapshot | p.BookDelta:
        symbol = self._canonical.get(vid) if type(vid) is str else None
        if symbol is None or type(book) is not dict:
            raise p.ParseError(f"bad book for {str(vid)[:40]!r}")
        s, t, b, a = self._fields
        seq, ts = uint(book.get(s), s), self._time(book.get(t), t)
        bids, asks = self._levels(book.get(b), b), self._levels(book.get(a), a)
        if kind == "snapshot":
            return p.BookSnapshot(symbol, bids, asks, seq=seq, venue_ts_ns=ts)
        return p.BookDelta(symbol, bids, asks, last=seq, venue_ts_ns=ts)


class Bequant(HitBTC):
    """Bequant: HitBTC's API v3 on its own host."""

    spec = BEQUANT_SPEC


def _error(error: object) -> p.VenueError:
    if type(error) is not dict:
        raise p.ParseError("bad 'error'")
    detail = f"{error.get('message')} {error.get('description') or ''}".strip()
    return p.VenueError(f"{error.get('code')}: {detail[:200]}")


def _v2(spec: VenueSpec) -> VenueSpec:
    """API v2 on the host of ``spec``."""
    ws = spec.endpoints.ws.replace("/api/3/", "/api/2/")
    return replace(spec, endpoints=replace(spec.endpoints, ws=ws), older_protocols=())


class HitBTCV2(HitBTC):
    """API v2 (``/api/2/ws/public``, JSON-RPC), for recordings of it: ``subscribeOrderbook``
    per symbol, ``snapshotOrderbook`` / ``updateOrderbook`` with ``params.sequence`` (+1 per
    symbol) and ``{"price", "size"}`` levels."""

    spec = _v2(SPEC)
    shapes = tuple(
        FrameShape(
            match=((("method",), method),), symbol=("params", "symbol"), whole=whole,
            last=("params", "sequence"), ts=("params", "timestamp"), ts_unit=TimeUnit.RFC3339,
            bids=("params", "bid"), asks=("params", "ask"), form=LevelForm.OBJECT,
        )
        for method, whole in (("updateOrderbook", False), ("snapshotOrderbook", True))
    )  # fmt: skip

    def _request(self, method: str, symbols: Sequence[str]) -> list[str]:
        name = "subscribeOrderbook" if method == "subscribe" else "unsubscribeOrderbook"
        bodies = [{"method": name, "params": {"symbol": self.venue_symbol(s)}} for s in symbols]
        return [orjson.dumps(body | {"id": next(self._ids)}).decode() for body in bodies]

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        method, params = obj.get("method"), obj.get("params")
        if method in ("snapshotOrderbook", "updateOrderbook"):
            vid = params.get("symbol") if type(params) is dict else None
            return [self._book(method.removesuffix("Orderbook"), vid, params)]
        if type(method) is str:
            return []  # ticker, trades, candles...
        if "error" in obj:
            return [_error(obj.get("error"))]
        if obj.get("result") is True:
            return [p.Subscribed()]
        raise p.ParseError("not a HitBTC v2 frame")

    _fields = ("sequence", "timestamp", "bid", "ask")

    @staticmethod
    def _time(value: object, what: str) -> int:
        ts = rfc3339_ns(value)
        if ts is None:
            raise p.ParseError(f"bad {what}")
        return ts

    @staticmethod
    def _levels(raw: object, what: str) -> list[p.Level]:
        """``[{"price": "1.5", "size": "2"}, ...]`` -> ``[("1.5", "2"), ...]``."""
        try:
            return list(map(_PRICE_SIZE, levels(raw, what)))
        except (TypeError, KeyError):
            raise p.ParseError(f"{what}: expected price/size objects") from None


_PRICE_SIZE: Final = itemgetter("price", "size")


class BequantV2(HitBTCV2):
    """Bequant's API v2, for recordings of it."""

    spec = _v2(BEQUANT_SPEC)


CODECS: Final = (Bequant, HitBTC)
