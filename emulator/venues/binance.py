"""Emulated Binance spot: diff depth streams + REST depth snapshots.

https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams and
.../rest-api/market-data-endpoints#order-book. Raw streams on ``/ws`` (subscribed by
``SUBSCRIBE`` requests, acked ``{"result":null,"id":N}``) and combined streams on
``/stream?streams=a/b`` (events wrapped as ``{"stream","data"}``). Update ids ``U``..``u``
are per symbol and venue-wide; one event may cover several ids (they jump). Prices and
quantities are strings with 8 decimals, like the recordings (``"0.35130000"``). The
``overlap`` fault makes an event start at the previous event's ``U`` and carry both events'
levels (latest size wins): its range overlaps the book's id, which the client must apply.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import orjson

from emulator.market import Change, MarketModel, stable_seed
from emulator.venues.base import HttpAnswer, Out, Session, Venue, fixed

Levels = tuple[tuple[int, int], ...]


class Binance(Venue):
    name = "binance"
    ws_path = "/ws"
    has_ranges = True
    # REQUEST_WEIGHT 6000 per minute per IP; GET /api/v3/depth weighs 5 / 25 / 50 / 250 for
    # limits up to 100 / 500 / 1000 / 5000 (rest-api/limits, market-data-endpoints#order-book).
    rest_limit = (6000, 60.0)
    used_weight_header = "X-MBX-USED-WEIGHT-1M"
    depth_weights: ClassVar[tuple[int, int, int, int]] = (5, 25, 50, 250)

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        self._rng = random.Random(stable_seed(model.config.seed, self.name, "ids"))
        self.last_id = {s: self._rng.randrange(10**9, 10**10) for s in self.symbols.values()}
        self.first_id: dict[str, int] = {}

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        self.first_id = {}
        for symbol, change in changes.items():
            if change.bids or change.asks:
                self.first_id[symbol] = self.last_id[symbol] + 1
                self.last_id[symbol] += self._rng.randint(1, 6)

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        url = urlsplit(path)
        if url.path == "/ws":
            return BinanceSession(self, combined=False, streams=[])
        if url.path == "/stream":
            streams = "/".join(parse_qs(url.query).get("streams", [])).split("/")
            return BinanceSession(self, combined=True, streams=[s for s in streams if s])
        return None

    def rest_weight(self, path: str, query: Mapping[str, str]) -> int:
        if path != "/api/v3/depth":
            return 1
        try:
            limit = int(query.get("limit", "100"))
        except ValueError:
            limit = 100
        small, medium, large, full = self.depth_weights
        return (
            small if limit <= 100 else medium if limit <= 500 else large if limit <= 1000 else full
        )

    def rest(self, path: str, query: Mapping[str, str], now_ns: int) -> HttpAnswer | None:
        if path != "/api/v3/depth":
            return None
        symbol = self.symbols.get(query.get("symbol", ""))
        if symbol is None:
            return HttpAnswer(400, '{"code":-1121,"msg":"Invalid symbol."}')
        try:
            limit = min(5000, max(1, int(query.get("limit", "100"))))
        except ValueError:
            return HttpAnswer(400, '{"code":-1100,"msg":"Illegal characters found in limit."}')
        book = self.book(symbol)
        bids, asks = book.top(limit)
        body = {
            "lastUpdateId": self.last_id[symbol],
            "bids": [_level(p, s, book.price_decimals, book.size_decimals) for p, s in bids],
            "asks": [_level(p, s, book.price_decimals, book.size_decimals) for p, s in asks],
        }
        return HttpAnswer(200, orjson.dumps(body).decode())


def _level(px: int, sz: int, pd: int, sd: int) -> list[str]:
    return [fixed(px, pd, 8), fixed(sz, sd, 8)]


class BinanceUS(Binance):
    """Binance.US: the same protocol on other hosts, with its own book (its own profile)."""

    name = "binanceus"
    # Binance.US: 1200 per minute; depth weighs 1 / 5 / 10 / 50 (docs.binance.us)
    rest_limit = (1200, 60.0)
    depth_weights = (1, 5, 10, 50)


class BinanceSession(Session):
    def __init__(self, venue: Binance, *, combined: bool, streams: list[str]) -> None:
        self.venue, self.combined = venue, combined
        self.streams: dict[str, str] = {}  # canonical symbol -> stream name
        self._set(streams, subscribe=True)
        self.overlaps = 0
        # per symbol, the last event sent: its U and its levels (price -> size)
        self._last: dict[str, tuple[int, Levels, Levels]] = {}

    def overlap(self, count: int) -> None:
        self.overlaps += count

    def _set(self, streams: list[str], *, subscribe: bool) -> None:
        for stream in streams:
            vid, _, kind = stream.partition("@")
            symbol = self.venue.symbols.get(vid.upper())
            if symbol is None or kind not in ("depth", "depth@100ms", "depth@1000ms"):
                continue  # Binance accepts unknown streams and sends nothing for them
            if subscribe:
                self.streams[symbol] = stream
            else:
                self.streams.pop(symbol, None)

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [Out('{"error":{"code":3,"msg":"Invalid JSON: expected value"},"id":null}')]
        method = req.get("method") if isinstance(req, dict) else None
        rid = req.get("id") if isinstance(req, dict) else None
        params = req.get("params", []) if isinstance(req, dict) else None
        if method in ("SUBSCRIBE", "UNSUBSCRIBE") and isinstance(params, list):
            self._set([p for p in params if isinstance(p, str)], subscribe=method == "SUBSCRIBE")
            return [Out(orjson.dumps({"result": None, "id": rid}).decode())]
        if method == "LIST_SUBSCRIPTIONS":
            return [Out(orjson.dumps({"result": list(self.streams.values()), "id": rid}).decode())]
        # https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#error-messages
        error = {"code": 2, "msg": f"Invalid request: unknown method {str(method)[:40]!r}"}
        return [Out(orjson.dumps({"error": error, "id": rid}).decode())]

    def shutdown_notice(self, now_ns: int) -> list[Out]:
        # https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/connection-events
        event = {"event": {"e": "serverShutdown", "E": now_ns // 1_000_000}}
        return [Out(orjson.dumps(event).decode())]

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        overlapped = False
        for symbol, stream in self.streams.items():
            first = self.venue.first_id.get(symbol)
            change = changes.get(symbol)
            if first is None or change is None:
                continue
            bids, asks = change.bids, change.asks
            previous = self._last.get(symbol)
            if self.overlaps and previous is not None:
                first = previous[0]
                bids = tuple(sorted((dict(previous[1]) | dict(bids)).items(), reverse=True))
                asks = tuple(sorted((dict(previous[2]) | dict(asks)).items()))
                overlapped = True
            self._last[symbol] = (first, bids, asks)
            book = self.venue.book(symbol)
            pd, sd = book.price_decimals, book.size_decimals
            event = {
                "e": "depthUpdate",
                "E": now_ns // 1_000_000,
                "s": self.venue.venue_symbol(symbol),
                "U": first,
                "u": self.venue.last_id[symbol],
                "b": [_level(p, s, pd, sd) for p, s in bids],
                "a": [_level(p, s, pd, sd) for p, s in asks],
            }
            obj = {"stream": stream, "data": event} if self.combined else event
            out.append(Out(orjson.dumps(obj).decode(), book=True))
        if overlapped:
            self.overlaps -= 1
        return out
