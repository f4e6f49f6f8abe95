"""Emulated Bitfinex v2 public books on ``/ws/2`` (docs/venues.md, Bitfinex): an ``info``
welcome; ``conf`` flags kept per connection (SEQ_ALL's counter, CHECKSUM's ``cs`` frame after
each change); ``subscribed`` with a venue-wide ``chanId``; the snapshot, then one frame per
changed level, deletes first; ``hb`` every 15 s; ``ping`` gets ``pong``; errors 10000, 10300,
10301, 10400. Every ``len`` serves the model's whole book (at most 25 levels a side). The
``bad_body`` fault keeps a frame's chanId and counter and breaks its level; ``novel`` sends a
message kind and an event no client knows.
"""

from __future__ import annotations

import orjson

from emulator.market import Book, VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object

_SEQ_ALL, _CHECKSUM = 65536, 131072
_HB_EVERY = 15
"""Heartbeat ticks (one a second) between two ``hb`` frames of a channel."""


def _event(**fields: object) -> Out:
    return Out(dumps(fields))


def _level(px: int, sz: int, ask: bool, book: Book) -> str:
    price = minimal(px, book.price_decimals)
    if sz == 0:
        return f"[{price},0,{-1 if ask else 1}]"
    count = 1 + (px + sz) % 23
    return f"[{price},{count},{'-' if ask else ''}{minimal(sz, book.size_decimals)}]"


class Bitfinex(Adapter):
    name = "bitfinex"
    profile = VenueProfile(lag_steps=2, spread_bps=1.5, size_decimals=8)
    body_faults = True

    def setup(self) -> None:
        self.next_chan = self.rng.randrange(10_000, 500_000)
        """chanIds are venue-wide: every subscription gets a new one."""

    def _frame(self, session: KitSession, chan: str, body: str, book: bool = True) -> Out:
        # The conf flags a connection set are kept among its channels.
        if "seq_all" in session.channels:
            return Out(f"[{chan},{body},{session.seq.next()}]", book)
        return Out(f"[{chan},{body}]", book)

    def opened(self, session: KitSession, now_ns: int) -> list[Out]:
        platform = {"status": 1}
        return [_event(event="info", version=2, serverId="emulated", platform=platform)]

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        event = req.get("event")
        if event == "ping":
            return [_event(event="pong", ts=now_ns // 1_000_000, cid=req.get("cid"))]
        if event == "conf":
            flags = req.get("flags")
            flags = flags if isinstance(flags, int) else 0
            session.channels |= {"seq_all"} if flags & _SEQ_ALL else set()
            session.channels |= {"checksum"} if flags & _CHECKSUM else set()
            return [_event(event="conf", status="OK", flags=flags)]
        if event == "unsubscribe":
            chan = str(req.get("chanId"))
            subs: list[Sub | Out] = [s for s in session.subs.values() if s.topic == chan]
            failed = _event(event="error", msg="Unsubscription failed", code=10400)
            return Request(False, subs) if subs else [failed]
        if event != "subscribe":
            return [_event(event="error", msg="Unknown event", code=10000)]
        name = str(req.get("symbol"))
        symbol = self.symbols.get(name)
        if req.get("channel") != "book" or symbol is None:
            fail = {"channel": req.get("channel"), "symbol": name}
            return [_event(event="error", msg="Subscription failed", code=10300, **fail)]
        if symbol in session.subs:
            return [_event(event="error", msg="Already subscribed", code=10301, symbol=name)]
        self.next_chan += 1
        return Request(True, [Sub(symbol, str(self.next_chan))], {"len": req.get("len", "25")})

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        chan = int(sub.topic)
        if not req.subscribe:
            return [_event(event="unsubscribed", status="OK", chanId=chan)]
        name = self.venue_symbol(sub.symbol)
        ack = {"prec": "P0", "freq": "F0", "len": req.meta["len"], "pair": name[1:]}
        return [_event(event="subscribed", channel="book", chanId=chan, symbol=name, **ack)]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        book = self.book(sub.symbol)
        bids, asks = book.top(10**6)
        levels = [_level(p, s, False, book) for p, s in bids]
        levels += [_level(p, s, True, book) for p, s in asks]
        return self._frame(sub.session, sub.topic, f"[{','.join(levels)}]")

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> list[Out]:
        book = self.book(sub.symbol)
        levels = [(p, s, False) for p, s in bids] + [(p, s, True) for p, s in asks]
        levels.sort(key=lambda level: level[1] != 0)  # deletes first: never crossed between
        out = [self._frame(sub.session, sub.topic, _level(p, s, a, book)) for p, s, a in levels]
        if "checksum" in sub.session.channels:
            crc = self.book_checksum(book.top(25), minimal, sub.symbol, corrupt)
            out.append(self._frame(sub.session, sub.topic, f'"cs",{crc}'))
        return out

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        session.beats += 1
        subs = session.subs.values() if session.beats % _HB_EVERY == 0 else ()
        return [self._frame(session, sub.topic, '"hb"', False) for sub in subs]

    def notice(self, session: KitSession, now_ns: int) -> list[Out]:
        return [_event(event="info", code=20051, msg="Stopping. Please try to reconnect")]

    def bad_body(self, session: KitSession, out: Out) -> Out:
        frame = orjson.loads(out.frame)
        frame[1:-1] = [[None]]  # chanId and counter kept, the book content is not a level
        return Out(dumps(frame), out.book)

    def novel(self, session: KitSession, now_ns: int) -> list[Out]:
        if not session.subs:
            return []
        chan = next(iter(session.subs.values())).topic
        new_kind = self._frame(session, chan, '"nw",[1,2]', False)
        return [new_kind, _event(event="notice", msg="a kind no client knows yet")]


ADAPTERS = (Bitfinex,)
