"""KuCoin spot ``/market/level2`` codec (``kucoin``). Connecting (the bullet token), seeding
and the per-change sequence rule: docs/venues.md, "KuCoin".

Proven on the 2021 recording (tests/fixtures/kucoin.ndjson.gz): the message shapes, the
sequence rule on every message, the snapshot body (then from the full-depth endpoint, now
keyed). Proven only on the docs' examples: the bullet answer, the ``time`` field (absent in
2021), the per-change filter of an overlapping message, acks, pongs and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count
from typing import Any, Final

import orjson

from feeds import protocol as p
from feeds.codeckit import digits, json_object, levels, millis_ns, uint
from feeds.lane import FrameShape, ZeroPrice
from feeds.spec import OlderProtocol, TakerFee, VenueSpec

_TOPIC: Final = "/market/level2:"
_OK: Final = "200000"
_LIMITS: Final = p.RestLimits(budget=2000, window_s=30.0, tiers=((100, 4),))

SPEC: Final = VenueSpec(
    id="kucoin",
    integrity=p.Integrity(seq=p.SeqRule.RANGE, snapshot=p.SnapshotSource.REST, level_seq=True),
    # The WebSocket endpoint comes from the bullet answer; this one is what it names today.
    endpoints=p.Endpoints(ws="wss://ws-api-spot.kucoin.com", rest="https://api.kucoin.com"),
    symbol_format="{base}-{quote}",
    # ccxt's names (left) of KuCoin's assets (right) where they differ.
    asset_names={
        "BIFIF": "BIFI",
        "VAIOT": "VAI",
        "WAXP": "WAX",
        "APTOSLAUNCHTOKEN": "ALT",
        "ALT": "KALT",
    },
    # 100 symbols per session and per topic, 100 messages per 10 s (docs/venues.md, KuCoin)
    max_symbols_per_connection=100,
    subscribe_batch=100,
    sends_per_s=10.0,
    # 2000 weight / 30 s per IP; level2_100 weighs 4 (level2_20 is not used: a book seeded
    # deeper than it is kept stays exact when its top levels go), the bullet 10.
    rest_limits=_LIMITS,
    # pingInterval of the bullet answer (18000 ms in the docs); the answer's own value wins.
    ping_interval_s=18.0,
    # No connection lifetime is documented (the token matters only when connecting).
    max_connection_s=None,
    # Today's subscribe request names no "privateChannel" (the 2021 recording's did).
    older_protocols=(OlderProtocol("feeds.venues.kucoin:KuCoin2021", unless='","response":true}'),),
    fee=TakerFee(10.0, "LV0, class A", "https://www.kucoin.com/vip/privilege", "2026-12"),
)


class KuCoin(p.Codec):
    """KuCoin spot: level2 increments over WebSocket, books seeded by REST snapshots."""

    spec = SPEC
    shapes = (FrameShape(
        match=((("type",), "message"), (("subject",), "trade.l2update")),
        symbol=("data", "symbol"), first=("data", "sequenceStart"), last=("data", "sequenceEnd"),
        ts=("data", "time"), ts_optional=True, skip_zero=ZeroPrice.TEXT,
        bids=("data", "changes", "bids"), asks=("data", "changes", "asks"),
    ),)  # fmt: skip

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._ids = count(1)  # connectId and request ids

    def connect_request(self, rest_base: str) -> p.RestRequest:
        base = (rest_base or self.endpoints.rest).rstrip("/")
        return p.RestRequest(f"{base}/api/v1/bullet-public", "", 10, "POST")

    def connect_url(self, body: bytes) -> str:
        data = _data(json_object(body), "bullet-public")
        servers, token = data.get("instanceServers"), data.get("token")
        if not (type(servers) is list and servers and type(servers[0]) is dict):
            raise p.ParseError("bullet-public: no instanceServers")
        endpoint, ping = servers[0].get("endpoint"), servers[0].get("pingInterval")
        if type(endpoint) is not str or type(token) is not str or not token:
            raise p.ParseError("bullet-public: no endpoint or token")
        self.ping_interval_s = uint(ping, "pingInterval") / 1000 or self.spec.ping_interval_s
        return f"{endpoint.rstrip('/')}/?token={token}&connectId={next(self._ids)}"

    def _request(self, kind: str, symbols: Sequence[str]) -> list[str]:
        ids = [self.venue_symbol(s) for s in symbols]
        return [
            orjson.dumps(
                {"id": next(self._ids), "type": kind, "topic": _TOPIC + ",".join(ids[i : i + 100]),
                 "response": True}
            ).decode()
            for i in range(0, len(ids), 100)
        ]  # fmt: skip

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("subscribe", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("unsubscribe", symbols)

    def ping_frame(self) -> str:
        return f'{{"id":"{next(self._ids)}","type":"ping"}}'

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> p.RestRequest:
        limit = _LIMITS.snapshot_limit(levels)
        base = (rest_base or self.endpoints.rest).rstrip("/")
        url = f"{base}/api/v1/market/orderbook/level2_{limit}?symbol={self.venue_symbol(symbol)}"
        return p.RestRequest(url, symbol, _LIMITS.snapshot_weight(limit))

    def parse_snapshot(self, symbol: str, body: bytes) -> p.BookSnapshot:
        data = _data(json_object(body), f"REST {symbol}")
        ts = data.get("time")
        return p.BookSnapshot(
            symbol=symbol,
            bids=levels(data.get("bids"), "bids"),
            asks=levels(data.get("asks"), "asks"),
            seq=digits(data.get("sequence"), "sequence"),
            venue_ts_ns=None if ts is None else millis_ns(ts, "time"),
        )

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        kind = obj.get("type")
        if kind == "message":
            if obj.get("subject") == "trade.l2update":
                return [self._delta(obj.get("data"))]
            if type(obj.get("topic")) is str:
                return []  # ticker, match, candles...: not used
        elif kind == "ack":
            return [p.Subscribed()]
        elif kind in ("welcome", "pong"):
            return [p.Heartbeat()]
        elif kind == "error":
            return [p.VenueError(f"{obj.get('code')}: {str(obj.get('data'))[:200]}")]
        raise p.ParseError("not a KuCoin frame")

    def _delta(self, data: object) -> p.BookDelta:
        """The hot path: structure only; the book validates each level's numbers."""
        if type(data) is not dict:
            raise p.ParseError("trade.l2update: no data")
        try:
            changes, vid = data["changes"], data["symbol"]
            first, last = data["sequenceStart"], data["sequenceEnd"]
        except KeyError as exc:
            raise p.ParseError(f"trade.l2update without {exc}") from None
        symbol = self._canonical.get(vid) if vid.__class__ is str else None
        if symbol is None or changes.__class__ is not dict:
            raise p.ParseError(f"trade.l2update: bad symbol or changes {str(vid)[:40]!r}")
        # ``__class__ is int`` refuses bools
        if not (first.__class__ is int and last.__class__ is int and 0 <= first <= last):
            uint(first, "sequenceStart")  # names a bad one
            uint(last, "sequenceEnd")
            raise p.ParseError(f"trade.l2update: sequenceStart {first} > sequenceEnd {last}")
        ts = data.get("time")
        ts_ns = None if ts is None else millis_ns(ts, "time")
        bids, asks = _changes(changes.get("bids"), "bids"), _changes(changes.get("asks"), "asks")
        return p.BookDelta(symbol, bids, asks, first, last, None, None, ts_ns)


def _changes(raw: object, what: str) -> list[p.Level]:
    """``[price, size, sequence]`` changes without the price-"0" ones (they only advance the
    sequence: "if the price is 0, ignore the messages and update the sequence"); the list
    as sent when it holds none (the common case: no copy)."""
    if raw.__class__ is not list:
        raise p.ParseError(f"{what}: expected a list of levels")
    for change in raw:
        if change.__class__ is list and change and change[0] == "0":
            return [c for c in raw if not (type(c) is list and c[:1] == ["0"])]
    return raw


def _data(obj: dict[str, Any], what: str) -> dict[str, Any]:
    """The ``data`` of a REST answer ``{"code": "200000", "data": {...}}``."""
    data = obj.get("data")
    if obj.get("code") != _OK or type(data) is not dict:
        raise p.ParseError(f"{what}: {obj.get('code')!r:.20} {str(obj.get('msg'))[:200]}")
    return data


class KuCoin2021(KuCoin):
    """Replays recordings whose snapshots came from the full-depth ``GET
    /api/v3/market/orderbook/level2`` (keyed today): their requests are answered by the
    recorded ones. The same frames otherwise."""

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> p.RestRequest:
        base = (rest_base or self.endpoints.rest).rstrip("/")
        url = f"{base}/api/v3/market/orderbook/level2?symbol={self.venue_symbol(symbol)}"
        return p.RestRequest(url, symbol)


CODECS: Final = (KuCoin,)
