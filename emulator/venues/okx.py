"""Emulated OKX v5 public ``books`` channel on ``/ws/v5/public``.

https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel:
``subscribe``/``unsubscribe`` acks carry ``connId``; a ``snapshot`` (``prevSeqId`` -1) then
``update`` pushes linked by ``prevSeqId`` == previous ``seqId`` (ids jump), each with the
signed CRC32 of the top 25 levels over the sent text. Numbers are minimal decimal strings
(``"30316"``, ``"0.00029527"``); a level is ``[px, sz, "0", orders]`` and a deleted level
``[px, "0", "0", "0"]`` (as in the 2022 recording). Option ``okx_checksum_zero`` sends
``checksum: 0`` like OKX production from 2026-06-23. The text frame ``ping`` gets ``pong``.
A connection may send ``okx_requests_per_hour`` (480) subscribe/unsubscribe requests in any
hour (https://www.okx.com/docs-v5/en/#overview-websocket-connect); one more is refused with
error 60014 "Requests too frequent." and changes nothing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping

import orjson

from emulator.market import Book, Change, MarketModel, stable_seed
from emulator.venues.base import Out, Session, Venue, minimal
from feeds.checksum import OKX, crc32


class Okx(Venue):
    name = "okx"
    ws_path = "/ws/v5/public"
    has_checksum = True

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        self._rng = random.Random(stable_seed(model.config.seed, self.name, "ids"))
        self.seq = {s: self._rng.randrange(10**9, 10**10) for s in self.symbols.values()}
        self.prev = dict.fromkeys(self.symbols.values(), -1)
        self.checksum_zero = bool(options.get("okx_checksum_zero", False))
        budget = options.get("okx_requests_per_hour", 480)
        self.requests_per_hour = budget if isinstance(budget, int) else 480
        self.refused = 0
        """Requests refused over the budget, on every connection."""

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "-")

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        for symbol, change in changes.items():
            if change.bids or change.asks:
                self.prev[symbol] = self.seq[symbol]
                self.seq[symbol] += self._rng.randint(1, 100)

    def checksum(self, symbol: str, corrupt: bool) -> int:
        if self.checksum_zero:
            return 0
        book = self.book(symbol)
        bids, asks = book.top(25)
        pd, sd = book.price_decimals, book.size_decimals
        value = crc32(
            OKX,
            [(minimal(p, pd), minimal(s, sd)) for p, s in bids],
            [(minimal(p, pd), minimal(s, sd)) for p, s in asks],
        )
        return value ^ 1 if corrupt else value

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return OkxSession(self, f"{conn_id:08x}") if path == self.ws_path else None


def _text(px: int, sz: int, book: Book) -> list[str]:
    if sz == 0:
        return [minimal(px, book.price_decimals), "0", "0", "0"]
    orders = 1 + (px + sz) % 23
    return [minimal(px, book.price_decimals), minimal(sz, book.size_decimals), "0", str(orders)]


class OkxSession(Session):
    def __init__(self, venue: Okx, conn_id: str) -> None:
        self.venue, self.conn_id = venue, conn_id
        self.subscribed: set[str] = set()
        self.requests: deque[int] = deque()  # times of the requests of the last hour

    def received(self, text: str, now_ns: int) -> list[Out]:
        if text == "ping":
            return [Out("pong")]
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [self._error("60012", f"Invalid request: {text[:60]}")]
        op = req.get("op") if isinstance(req, dict) else None
        args = req.get("args") if isinstance(req, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return [self._error("60012", f"Invalid request: {text[:60]}")]
        requests = self.requests
        while requests and requests[0] <= now_ns - 3_600_000_000_000:
            requests.popleft()
        if len(requests) >= self.venue.requests_per_hour:
            self.venue.refused += 1
            return [self._error("60014", "Requests too frequent.")]
        requests.append(now_ns)
        out: list[Out] = []
        for arg in args:
            inst = arg.get("instId") if isinstance(arg, dict) else None
            symbol = self.venue.symbols.get(inst) if isinstance(inst, str) else None
            channel = arg.get("channel") if isinstance(arg, dict) else None
            if channel != "books" or symbol is None:
                msg = f"Wrong URL or channel:{channel},instId:{inst} doesn't exist."
                out.append(self._error("60018", msg))
                continue
            ack = {"event": op, "arg": {"channel": "books", "instId": inst}, "connId": self.conn_id}
            out.append(Out(orjson.dumps(ack).decode()))
            if op == "subscribe":
                self.subscribed.add(symbol)
                out.append(self._snapshot(symbol, now_ns))
            else:
                self.subscribed.discard(symbol)
        return out

    def _error(self, code: str, msg: str) -> Out:
        obj = {"event": "error", "code": code, "msg": msg, "connId": self.conn_id}
        return Out(orjson.dumps(obj).decode())

    def _snapshot(self, symbol: str, now_ns: int) -> Out:
        book = self.venue.book(symbol)
        bids, asks = book.top(400)
        data = {
            "asks": [_text(p, s, book) for p, s in asks],
            "bids": [_text(p, s, book) for p, s in bids],
            "ts": str(now_ns // 1_000_000),
            "checksum": self.venue.checksum(symbol, corrupt=False),
            "prevSeqId": -1,
            "seqId": self.venue.seq[symbol],
        }
        return self._push(symbol, "snapshot", data)

    def _push(self, symbol: str, action: str, data: dict[str, object]) -> Out:
        arg = {"channel": "books", "instId": self.venue.venue_symbol(symbol)}
        return Out(orjson.dumps({"arg": arg, "action": action, "data": [data]}).decode(), True)

    def shutdown_notice(self, now_ns: int) -> list[Out]:
        # https://www.okx.com/docs-v5/en/#overview-websocket-notification-of-websocket-disconnection
        notice = {
            "event": "notice",
            "code": "64008",
            "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
            "connId": self.conn_id,
        }
        return [Out(orjson.dumps(notice).decode())]

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        for symbol in sorted(self.subscribed):
            change = changes.get(symbol)
            if change is None or not (change.bids or change.asks):
                continue
            book = self.venue.book(symbol)
            data = {
                "asks": [_text(p, s, book) for p, s in change.asks],
                "bids": [_text(p, s, book) for p, s in change.bids],
                "ts": str(now_ns // 1_000_000),
                "checksum": self.venue.checksum(symbol, corrupt and not out),
                "prevSeqId": self.venue.prev[symbol],
                "seqId": self.venue.seq[symbol],
            }
            out.append(self._push(symbol, "update", data))
        return out
