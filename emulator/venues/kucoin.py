"""Emulated KuCoin spot: the public token, ``/market/level2`` increments, REST snapshots.

``POST /api/v1/bullet-public`` hands out a token (not checked) and this server; a connection
is welcomed, subscriptions acked when they ask for a response, pings ponged. Every change
carries its own sequence, and now and then a change with price ``"0"`` only advances it, as
in the recording. The ``overlap`` fault repeats the previous message's changes with their own
sequences (the client applies only those above its book's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from random import Random
from urllib.parse import parse_qs, urlsplit

from emulator.market import Change
from emulator.venues import kit
from emulator.venues.base import HttpAnswer, Out, minimal
from emulator.venues.kit import Adapter, KitSession, Request, Sub, dumps

_BULLET = "/api/v1/bullet-public"
_DEPTHS = {"/api/v1/market/orderbook/level2_20": 20, "/api/v1/market/orderbook/level2_100": 100}
_TOPIC = "/market/level2:"
Numbered = dict[tuple[str, int], int]
"""(side, price) -> the sequence of its change."""


class _PerChange(kit.UpdateRanges):
    """One sequence per change: a step moves ``last`` by its number of changes."""

    def __init__(self, symbols: Iterable[str], rng: Random) -> None:
        super().__init__(symbols, rng, (10**12, 10**13))
        self.count: dict[str, int] = {}

    def advance(self, symbol: str) -> None:
        self.prev[symbol] = self.last[symbol]
        self.last[symbol] += self.count[symbol]


class KuCoin(Adapter):
    name = "kucoin"
    post_paths = frozenset({_BULLET})

    def setup(self) -> None:
        self.seqs = self.track(_PerChange(self.symbols.values(), self.rng))
        self.numbered: dict[str, tuple[Numbered, Numbered]] = {}
        """Per symbol: the sequences of this step's changes, and of the step before."""
        self.idle: dict[str, int | None] = {}
        """Per symbol: this step's sequence-only change (an order that moved no level)."""
        self.tokens: set[str] = set()

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        moved = {s: c for s, c in changes.items() if c.bids or c.asks}
        idle = {s: self.rng.random() < 0.25 for s in moved}
        self.seqs.count = {s: len(c.bids) + len(c.asks) + idle[s] for s, c in moved.items()}
        super().advance(changes, now_ns)
        for symbol, change in moved.items():
            keys = [("b", p) for p, _ in change.bids] + [("a", p) for p, _ in change.asks]
            first = self.seqs.first(symbol)
            previous = self.numbered.get(symbol, ({}, {}))[0]
            self.numbered[symbol] = ({k: first + i for i, k in enumerate(keys)}, previous)
            self.idle[symbol] = self.seqs.last[symbol] if idle[symbol] else None

    def accept(self, path: str) -> list[Sub] | None:
        return [] if urlsplit(path).path == self.ws_path else None  # any token

    def opened(self, session: KitSession, now_ns: int) -> list[Out]:
        cid = parse_qs(urlsplit(session.path).query).get("connectId", [str(session.conn_id)])
        return [Out(dumps({"id": cid[0], "type": "welcome"}))]

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = kit.json_object(text) or {}
        rid, kind, topic = req.get("id"), req.get("type"), req.get("topic")
        if kind == "ping":
            return [Out(dumps({"id": rid, "type": "pong"}))]
        if kind not in ("subscribe", "unsubscribe") or not str(topic).startswith(_TOPIC):
            return [_error(rid, 404, f"topic {str(topic)[:80]} is not found")]
        ids = str(topic).removeprefix(_TOPIC).split(",")
        subs = [Sub(self.symbols[i], _TOPIC + i) if i in self.symbols else _error(rid, 404, i)
                for i in ids]  # fmt: skip
        return Request(kind == "subscribe", subs, {"id": rid, "ack": req.get("response")})

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        return [Out(dumps({"id": req.meta["id"], "type": "ack"}))] if req.meta["ack"] else []

    def delta(
        self, sub: Sub, bids: kit.Levels, asks: kit.Levels, now_ns: int, corrupt: bool
    ) -> Out | None:
        symbol, book = sub.symbol, self.book(sub.symbol)
        now, before = self.numbered[symbol]

        def changes(side: str, levels: kit.Levels) -> list[list[str]]:
            return [[minimal(p, book.price_decimals), minimal(s, book.size_decimals),
                     str(now.get((side, p)) or before[(side, p)])] for p, s in levels]  # fmt: skip

        b, a, idle = changes("b", bids), changes("a", asks), self.idle[symbol]
        b += [] if idle is None else [["0", "0", str(idle)]]
        data = {"changes": {"asks": a, "bids": b}, "sequenceEnd": self.seqs.last[symbol],
                "sequenceStart": sub.session.starts[symbol],
                "symbol": self.venue_symbol(symbol), "time": now_ns // 1_000_000}  # fmt: skip
        msg = {"topic": sub.topic, "type": "message", "subject": "trade.l2update"}
        return Out(dumps({**msg, "data": data}), book=True)

    def rest_weight(self, path: str, query: Mapping[str, str]) -> int:
        return 10 if path == _BULLET else 4 if _DEPTHS.get(path) == 100 else 2

    def rest(self, path: str, query: Mapping[str, str], now_ns: int) -> HttpAnswer | None:
        if path == _BULLET:
            self.tokens.add(token := f"emu{self.model.config.seed}.{len(self.tokens) + 1}")
            server = {"endpoint": f"{self.origin}/", "encrypt": False, "protocol": "websocket",
                      "pingInterval": 18000, "pingTimeout": 10000}  # fmt: skip
            return _ok({"token": token, "instanceServers": [server]})
        depth, symbol = _DEPTHS.get(path), self.symbols.get(query.get("symbol", ""))
        if depth is None:
            return None
        if symbol is None:
            return HttpAnswer(400, '{"code":"400100","msg":"symbol not exists"}')
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        bids, asks = ([[minimal(p, pd), minimal(s, sd)] for p, s in x] for x in book.top(depth))
        data = {"time": now_ns // 1_000_000, "sequence": str(self.seqs.last[symbol])}
        return _ok(data | {"bids": bids, "asks": asks})


def _ok(data: object) -> HttpAnswer:
    return HttpAnswer(200, dumps({"code": "200000", "data": data}))


def _error(rid: object, code: int, text: str) -> Out:
    return Out(dumps({"id": rid, "type": "error", "code": code, "data": text}))


ADAPTERS = (KuCoin,)
