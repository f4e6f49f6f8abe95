"""Emulated Binance spot: diff depth streams + REST depth snapshots (docs/venues.md).

Raw streams on ``/ws`` (subscribed by ``SUBSCRIBE`` requests) and combined streams on
``/stream?streams=a/b`` (events wrapped as ``{"stream","data"}``). Update ids ``U``..``u`` are
per symbol and venue-wide and jump. Prices and quantities have 8 decimals, like the
recordings. The ``overlap`` fault makes an event start at the previous event's ``U`` and carry
both events' levels: its range overlaps the book's id, which the client must apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from emulator.market import VenueProfile
from emulator.venues.base import HttpAnswer, Out, fixed
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, UpdateRanges, dumps
from emulator.venues.kit import json_object as loads

_KINDS = ("depth", "depth@100ms", "depth@1000ms")


class Binance(Adapter):
    name = "binance"
    profile = VenueProfile(lag_steps=0, spread_bps=0.8, extra_price_decimals=1, size_decimals=5)
    ws_path = "/ws"

    # REST budget, depth weights and the used-weight header: the spec's rest_limits
    def setup(self) -> None:
        ids = self.track(UpdateRanges(self.symbols.values(), self.rng, (10**9, 10**10), 6))
        self.last_id = ids.last

    def _subs(self, streams: list[object]) -> list[Sub]:
        # Binance accepts unknown streams and sends nothing for them
        parts = [(s, *s.partition("@")) for s in streams if isinstance(s, str)]
        found = [(self.symbols.get(v.upper()), s) for s, v, _, k in parts if k in _KINDS]
        return [Sub(symbol, stream) for symbol, stream in found if symbol is not None]

    def accept(self, path: str) -> list[Sub] | None:
        url = urlsplit(path)
        if url.path != "/stream":
            return [] if url.path == "/ws" else None
        return self._subs(list("/".join(parse_qs(url.query).get("streams", [])).split("/")))

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = loads(text)
        if req is None:
            return [Out('{"error":{"code":3,"msg":"Invalid JSON: expected value"},"id":null}')]
        method, rid, params = req.get("method"), req.get("id"), req.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE") and isinstance(params, list):
            return Request(method == "SUBSCRIBE", [*self._subs(params)], {"id": rid})
        if method == "LIST_SUBSCRIPTIONS":
            return [Out(dumps({"result": [s.topic for s in session.subs.values()], "id": rid}))]
        # https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#error-messages
        error = {"code": 2, "msg": f"Invalid request: unknown method {str(method)[:40]!r}"}
        return [Out(dumps({"error": error, "id": rid}))]

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        return [Out(dumps({"result": None, "id": req.meta["id"]}))]

    def notice(self, session: KitSession, now_ns: int) -> list[Out]:
        # https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/connection-events
        return [Out(dumps({"event": {"e": "serverShutdown", "E": now_ns // 1_000_000}}))]

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        symbol = sub.symbol
        event = {"e": "depthUpdate", "E": now_ns // 1_000_000, "s": self.venue_symbol(symbol),
                 "U": sub.session.starts[symbol], "u": self.last_id[symbol],
                 "b": self._levels(symbol, bids), "a": self._levels(symbol, asks)}  # fmt: skip
        combined = urlsplit(sub.session.path).path == "/stream"
        return Out(dumps({"stream": sub.topic, "data": event} if combined else event), True)

    def _levels(self, symbol: str, levels: Levels) -> list[list[str]]:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        return [[fixed(p, pd, 8), fixed(s, sd, 8)] for p, s in levels]

    def rest_weight(self, path: str, query: Mapping[str, str]) -> int:
        limit, limits = query.get("limit", "100"), self.spec.rest_limits
        if path != "/api/v3/depth" or limits is None:
            return 1
        return limits.snapshot_weight(int(limit) if limit.isdigit() else 100)

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
        bids, asks = self.book(symbol).top(limit)
        body = {"lastUpdateId": self.last_id[symbol], "bids": self._levels(symbol, bids),
                "asks": self._levels(symbol, asks)}  # fmt: skip
        return HttpAnswer(200, dumps(body))


class BinanceUS(Binance):
    """Binance.US: the same protocol on other hosts, with its own book (its own profile)."""

    name = "binanceus"
    profile = VenueProfile(lag_steps=2, spread_bps=3.0, extra_price_decimals=1, size_decimals=5)


ADAPTERS = (Binance, BinanceUS)
