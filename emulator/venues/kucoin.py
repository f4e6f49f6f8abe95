"""Emulated KuCoin spot: the public token, ``/market/level2`` increments, REST snapshots.

https://www.kucoin.com/docs-new/websocket-api/base-info/introduction and .../3470068w0:
``POST /api/v1/bullet-public`` hands out a token (not checked) and this server as
``instanceServers`` (``pingInterval`` 18000 ms); a connection to ``/?token=...&connectId=...``
is welcomed with ``{"id": connectId, "type": "welcome"}``; ``subscribe`` /
``unsubscribe`` of ``/market/level2:A-B,C-D`` are acked ``{"id", "type": "ack"}`` when they
ask for a response; ``{"id", "type": "ping"}`` gets a ``pong``. Every change carries its own
sequence (per symbol, venue-wide), ``sequenceStart``..``sequenceEnd`` spans a message's
changes, and now and then a change with price ``"0"`` only advances the sequence, as in the
recording; the ``overlap`` fault makes a message repeat the previous one's changes (the
client applies only those above its book's sequence). Numbers are minimal decimal strings
(``"242.649"``, ``"5"``); a deleted price has size ``"0"``. ``GET
/api/v1/market/orderbook/level2_20`` / ``level2_100`` answer snapshots with the current
``sequence``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import orjson

from emulator.market import Change, MarketModel, stable_seed
from emulator.venues.base import HttpAnswer, Out, Session, Venue, minimal

_BULLET = "/api/v1/bullet-public"
_DEPTHS = {"/api/v1/market/orderbook/level2_20": 20, "/api/v1/market/orderbook/level2_100": 100}
_TOPIC = "/market/level2:"


def _json(obj: object) -> str:
    return orjson.dumps(obj).decode()


def _ok(data: object) -> HttpAnswer:
    return HttpAnswer(200, _json({"code": "200000", "data": data}))


class KuCoin(Venue):
    name = "kucoin"
    ws_path = "/"
    post_paths = frozenset({_BULLET})
    has_ranges = True
    rest_limit = (2000, 30.0)  # the public pool: 2000 weight per 30 s per IP

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        self._rng = random.Random(stable_seed(model.config.seed, self.name, "ids"))
        self.seq = {s: self._rng.randrange(10**12, 10**13) for s in self.symbols.values()}
        self.changes: dict[str, tuple[int, list[list[str]], list[list[str]]]] = {}
        self.tokens: set[str] = set()

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "-")

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        self.changes = {s: self._step(s, c) for s, c in changes.items() if c.bids or c.asks}

    def _step(self, symbol: str, change: Change) -> tuple[int, list[list[str]], list[list[str]]]:
        start = self.seq[symbol] + 1
        bids = [self._change(symbol, p, s) for p, s in change.bids]
        asks = [self._change(symbol, p, s) for p, s in change.asks]
        if self._rng.random() < 0.25:  # an order change that moves no price level
            self.seq[symbol] += 1
            bids.append(["0", "0", str(self.seq[symbol])])
        return start, bids, asks

    def _change(self, symbol: str, px: int, sz: int) -> list[str]:
        book, seq = self.book(symbol), self.seq[symbol] + 1
        self.seq[symbol] = seq
        return [minimal(px, book.price_decimals), minimal(sz, book.size_decimals), str(seq)]

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        url = urlsplit(path)  # the token is not checked: it serves any client
        if url.path != self.ws_path:
            return None
        return KuCoinSession(self, parse_qs(url.query).get("connectId", [str(conn_id)])[0])

    def rest_weight(self, path: str, query: Mapping[str, str]) -> int:
        return 10 if path == _BULLET else 4 if _DEPTHS.get(path) == 100 else 2

    def rest(self, path: str, query: Mapping[str, str], now_ns: int) -> HttpAnswer | None:
        if path == _BULLET:
            token = f"emu{self.model.config.seed}.{len(self.tokens) + 1}"
            self.tokens.add(token)
            server = {"endpoint": f"{self.origin}/", "encrypt": False, "protocol": "websocket",
                      "pingInterval": 18000, "pingTimeout": 10000}  # fmt: skip
            return _ok({"token": token, "instanceServers": [server]})
        depth, symbol = _DEPTHS.get(path), self.symbols.get(query.get("symbol", ""))
        if depth is None:
            return None
        if symbol is None:
            return HttpAnswer(400, '{"code":"400100","msg":"symbol not exists"}')
        book = self.book(symbol)
        bids, asks = book.top(depth)
        pd, sd = book.price_decimals, book.size_decimals
        return _ok({
            "time": now_ns // 1_000_000,
            "sequence": str(self.seq[symbol]),
            "bids": [[minimal(p, pd), minimal(s, sd)] for p, s in bids],
            "asks": [[minimal(p, pd), minimal(s, sd)] for p, s in asks],
        })  # fmt: skip


class KuCoinSession(Session):
    def __init__(self, venue: KuCoin, connect_id: str) -> None:
        self.venue, self.connect_id = venue, connect_id
        self.subscribed: set[str] = set()
        self.overlaps = 0
        self._last: dict[str, tuple[int, list[list[str]], list[list[str]]]] = {}

    def overlap(self, count: int) -> None:
        self.overlaps += count

    def opened(self, now_ns: int) -> list[Out]:
        return [Out(_json({"id": self.connect_id, "type": "welcome"}))]

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        if not isinstance(req, dict):
            return [self._error(None, 400, "request is not a JSON object")]
        rid, kind, topic = req.get("id"), req.get("type"), req.get("topic")
        if kind == "ping":
            return [Out(_json({"id": rid, "type": "pong"}))]
        if kind not in ("subscribe", "unsubscribe") or not isinstance(topic, str):
            return [self._error(rid, 400, f"bad request type {str(kind)[:40]!r}")]
        ids = topic.removeprefix(_TOPIC).split(",")
        symbols = [self.venue.symbols.get(i) for i in ids]
        if not topic.startswith(_TOPIC) or None in symbols:
            return [self._error(rid, 404, f"topic {topic[:80]} is not found")]
        for symbol in symbols:
            assert symbol is not None
            (self.subscribed.add if kind == "subscribe" else self.subscribed.discard)(symbol)
        return [Out(_json({"id": rid, "type": "ack"}))] if req.get("response") else []

    def _error(self, rid: object, code: int, text: str) -> Out:
        return Out(_json({"id": rid, "type": "error", "code": code, "data": text}))

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        overlapped = False
        for symbol in sorted(self.subscribed):
            step = self.venue.changes.get(symbol)
            if step is None:
                continue
            start, bids, asks = step
            previous, self._last[symbol] = self._last.get(symbol), step
            if self.overlaps and previous is not None:  # the previous message's changes too
                start, bids, asks = previous[0], previous[1] + bids, previous[2] + asks
                overlapped = True
            vid = self.venue.venue_symbol(symbol)
            data = {"changes": {"asks": asks, "bids": bids}, "sequenceEnd": self.venue.seq[symbol],
                    "sequenceStart": start, "symbol": vid, "time": now_ns // 1_000_000}  # fmt: skip
            msg = {"topic": _TOPIC + vid, "type": "message", "subject": "trade.l2update"}
            out.append(Out(_json({**msg, "data": data}), book=True))
        self.overlaps -= overlapped
        return out
