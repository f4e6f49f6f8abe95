"""Emulated Bitfinex v2 public books on ``/ws/2``.

https://docs.bitfinex.com/docs/ws-general and https://docs.bitfinex.com/reference/ws-public-books:
an ``info`` welcome on connect; ``conf`` flags acked with ``status: OK`` (SEQ_ALL 65536 appends
the connection's counter to every array frame, CHECKSUM 131072 sends ``[chanId,"cs",crc]``
after each book change); ``subscribe`` answered by ``subscribed`` with a venue-wide
``chanId``, then the snapshot ``[chanId,[[price,count,amount],...]]`` (bids best first, then
asks); each changed level is one ``[chanId,[price,count,amount]]`` frame, deletes first
(count 0, amount 1 for a bid, -1 for an ask), asks with negative amounts, numbers as JSON
numbers in plain decimal text; ``[chanId,"hb"]`` every 15 s; ``unsubscribe`` by chanId;
``ping`` gets ``pong``; errors 10000 (unknown event), 10300 (subscription failed), 10301
(already subscribed), 10400 (unsubscription failed). Every ``len`` serves the model's whole
book (it holds at most 25 levels a side).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import orjson

from emulator.market import Book, Change, MarketModel, stable_seed
from emulator.venues.base import Out, Session, Venue, minimal
from feeds.checksum import BITFINEX_P0, crc32
from feeds.venues.bitfinex import venue_pair

_SEQ_ALL, _CHECKSUM = 65536, 131072
_HB_EVERY = 15
"""Heartbeats are sent every this many heartbeat ticks (one a second)."""


class Bitfinex(Venue):
    name = "bitfinex"
    ws_path = "/ws/2"
    has_checksum = True
    body_faults = True

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        rng = random.Random(stable_seed(model.config.seed, self.name, "chans"))
        self.next_chan = rng.randrange(10_000, 500_000)
        """chanIds are venue-wide: every subscription gets a new one."""

    def venue_symbol(self, symbol: str) -> str:
        return venue_pair(symbol)

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return BitfinexSession(self) if path == self.ws_path else None


def _event(**fields: object) -> Out:
    return Out(orjson.dumps(fields).decode())


def _level(px: int, sz: int, ask: bool, book: Book) -> str:
    price = minimal(px, book.price_decimals)
    if sz == 0:
        return f"[{price},0,{-1 if ask else 1}]"
    count = 1 + (px + sz) % 23
    return f"[{price},{count},{'-' if ask else ''}{minimal(sz, book.size_decimals)}]"


class BitfinexSession(Session):
    def __init__(self, venue: Bitfinex) -> None:
        self.venue = venue
        self.flags = 0
        self.seq = 0
        self.chans: dict[str, int] = {}
        """Subscribed symbol -> its chanId."""
        self.beats = 0

    def opened(self, now_ns: int) -> list[Out]:
        platform = {"status": 1}
        return [_event(event="info", version=2, serverId="emulated", platform=platform)]

    def _frame(self, chan: int, body: str, book: bool = True) -> Out:
        if self.flags & _SEQ_ALL:
            self.seq += 1
            return Out(f"[{chan},{body},{self.seq}]", book)
        return Out(f"[{chan},{body}]", book)

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        event = req.get("event") if isinstance(req, dict) else None
        if not isinstance(req, dict) or event not in ("ping", "conf", "subscribe", "unsubscribe"):
            return [_event(event="error", msg="Unknown event", code=10000)]
        if event == "ping":
            return [_event(event="pong", ts=now_ns // 1_000_000, cid=req.get("cid"))]
        if event == "conf":
            flags = req.get("flags")
            self.flags = flags if isinstance(flags, int) else 0
            return [_event(event="conf", status="OK", flags=self.flags)]
        if event == "unsubscribe":
            chan = req.get("chanId")
            symbol = next((s for s, c in self.chans.items() if c == chan), None)
            if symbol is None:
                return [_event(event="error", msg="Unsubscription failed", code=10400)]
            del self.chans[symbol]
            return [_event(event="unsubscribed", status="OK", chanId=chan)]
        name = str(req.get("symbol"))
        symbol = self.venue.symbols.get(name)
        if req.get("channel") != "book" or symbol is None:
            fail = {"channel": req.get("channel"), "symbol": name}
            return [_event(event="error", msg="Subscription failed", code=10300, **fail)]
        if symbol in self.chans:
            return [_event(event="error", msg="Already subscribed", code=10301, symbol=name)]
        chan = self.chans[symbol] = self.venue.next_chan
        self.venue.next_chan += 1
        ack = {"prec": "P0", "freq": "F0", "len": req.get("len", "25"), "pair": name[1:]}
        out = [_event(event="subscribed", channel="book", chanId=chan, symbol=name, **ack)]
        book = self.venue.book(symbol)
        bids, asks = book.top(10**6)
        levels = [_level(p, s, False, book) for p, s in bids]
        levels += [_level(p, s, True, book) for p, s in asks]
        out.append(self._frame(chan, f"[{','.join(levels)}]"))
        return out + self._checksum(symbol, chan, False)

    def _checksum(self, symbol: str, chan: int, corrupt: bool) -> list[Out]:
        if not self.flags & _CHECKSUM:
            return []
        book = self.venue.book(symbol)
        texts = [
            [(minimal(p, book.price_decimals), minimal(s, book.size_decimals)) for p, s in side]
            for side in book.top(25)
        ]
        value = crc32(BITFINEX_P0, *texts)
        return [self._frame(chan, f'"cs",{value ^ 1 if corrupt else value}')]

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        for symbol, chan in self.chans.items():
            change = changes.get(symbol)
            if change is None or not (change.bids or change.asks):
                continue
            book = self.venue.book(symbol)
            levels = [(p, s, False) for p, s in change.bids]
            levels += [(p, s, True) for p, s in change.asks]
            levels.sort(key=lambda level: level[1] != 0)  # deletes first: never crossed between
            out += [self._frame(chan, _level(p, s, ask, book)) for p, s, ask in levels]
            out += self._checksum(symbol, chan, corrupt and not any('"cs"' in o.frame for o in out))
        return out

    def heartbeat(self, now_ns: int) -> list[Out]:
        self.beats += 1
        if self.beats % _HB_EVERY:
            return []
        return [self._frame(chan, '"hb"', book=False) for chan in self.chans.values()]

    def shutdown_notice(self, now_ns: int) -> list[Out]:
        return [_event(event="info", code=20051, msg="Stopping. Please try to reconnect")]

    def bad_body(self, out: Out) -> Out:
        frame = orjson.loads(out.frame)
        frame[1:-1] = [[None]]  # chanId and counter kept, the book content is not a level
        return Out(orjson.dumps(frame).decode(), out.book)

    def novel(self, now_ns: int) -> list[Out]:
        if not self.chans:
            return []
        chan = next(iter(self.chans.values()))
        new_kind = self._frame(chan, '"nw",[1,2]', book=False)
        return [new_kind, _event(event="notice", msg="a kind no client knows yet")]
