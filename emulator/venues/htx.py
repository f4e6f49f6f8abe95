"""Emulated HTX spot ``market.$symbol.mbp.$levels`` on ``/feed``.

https://www.htx.com/en-us/opend/newApiPages/ ("Market By Price (incremental update)"): every
frame is gzip-compressed JSON in a binary frame (:attr:`Venue.gzip_frames`). ``sub`` is
acked with ``subbed``; the venue then pushes only changes, each with ``seqNum`` and
``prevSeqNum`` (the previous push's ``seqNum``; ids jump); ``req`` on the same connection is
answered with ``rep`` and the book (top ``$levels``) at the current ``seqNum``. A bad topic
gets ``status: error``. Numbers are JSON numbers written as Java writes a double (``710.01``,
``5.0``, ``1.58E-4``, as in the recording), a deleted level's size ``0``. The venue pings
``{"ping": ms}`` every 5 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import orjson

from emulator.market import Book, Change, MarketModel, stable_seed
from emulator.venues.base import Out, Session, Venue

_LEVELS = ("5", "20", "150", "400")
MS = 1_000_000


def java_double(units: int, decimals: int) -> str:
    """``units * 10**-decimals`` as Java's ``Double.toString`` writes it."""
    value = units / 10**decimals
    if value == 0:
        return "0"
    if 1e-3 <= value < 1e7:
        return repr(value)
    _, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    return f"{text[0]}.{text[1:] or '0'}E{exp + len(text) - 1}"


def _levels(levels: Sequence[tuple[int, int]], book: Book) -> str:
    pd, sd = book.price_decimals, book.size_decimals
    return "[" + ",".join(f"[{java_double(p, pd)},{java_double(s, sd)}]" for p, s in levels) + "]"


class Htx(Venue):
    name = "htx"
    ws_path = "/feed"
    gzip_frames = True
    seq: dict[str, int]
    """Each symbol's last ``seqNum`` (venue-wide: every connection sends the same)."""

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        first = 10**11 + stable_seed(model.config.seed, self.name, "ids")
        self.seq = {s: first + i * 10**9 for i, s in enumerate(self.symbols.values())}
        self.prev = dict(self.seq)

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "").lower()

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        for symbol, change in changes.items():
            if change.bids or change.asks:
                # one id per level changed: the ids of a symbol's pushes jump
                self.prev[symbol] = self.seq[symbol]
                self.seq[symbol] += len(change.bids) + len(change.asks)

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return HtxSession(self) if path == self.ws_path else None


class HtxSession(Session):
    def __init__(self, venue: Htx) -> None:
        self.venue = venue
        self.topics: dict[str, str] = {}  # canonical symbol -> subscribed topic
        self.beats = 0

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        if not isinstance(req, dict):
            return [self._answer(None, "error", now_ns, **{"err-msg": "invalid request"})]
        if "pong" in req:
            return []
        op = next((k for k in ("sub", "req", "unsub") if k in req), "")
        topic, ident = req.get(op), req.get("id")
        parts = topic.split(".") if isinstance(topic, str) else []
        symbol = self.venue.symbols.get(parts[1]) if len(parts) == 4 else None
        if symbol is None or parts[0] != "market" or parts[2] != "mbp" or parts[3] not in _LEVELS:
            msg = f"invalid topic {str(topic)[:60]}"
            return [
                self._answer(ident, "error", now_ns, **{"err-code": "bad-request", "err-msg": msg})
            ]
        if op == "req":
            book = self.venue.book(symbol)
            bids, asks = book.top(int(parts[3]))
            data = (
                f'{{"seqNum":{self.venue.seq[symbol]},"bids":{_levels(bids, book)},'
                f'"asks":{_levels(asks, book)}}}'
            )
            head = orjson.dumps({"id": ident, "rep": topic, "status": "ok"}).decode()
            return [Out(f'{head[:-1]},"data":{data}}}')]
        if op == "sub":
            self.topics[symbol] = str(topic)
        else:
            self.topics.pop(symbol, None)
        return [self._answer(ident, "ok", now_ns, **{op + "bed": topic})]

    def _answer(self, ident: object, status: str, now_ns: int, **fields: object) -> Out:
        obj = {"id": ident, "status": status, **fields, "ts": now_ns // MS}
        return Out(orjson.dumps(obj).decode())

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        venue = self.venue
        for symbol, topic in self.topics.items():
            change = changes.get(symbol)
            if change is None or not (change.bids or change.asks):
                continue
            book = venue.book(symbol)
            tick = (
                f'{{"seqNum":{venue.seq[symbol]},"prevSeqNum":{venue.prev[symbol]},'
                f'"bids":{_levels(change.bids, book)},"asks":{_levels(change.asks, book)}}}'
            )
            out.append(Out(f'{{"ch":"{topic}","ts":{now_ns // MS},"tick":{tick}}}', book=True))
        return out

    def heartbeat(self, now_ns: int) -> list[Out]:
        self.beats += 1
        return [Out(f'{{"ping":{now_ns // MS}}}')] if self.beats % 5 == 0 else []
