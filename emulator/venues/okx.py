"""Emulated OKX v5 public ``books`` channel on ``/ws/v5/public``
(https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel): acks
with ``connId``; a ``snapshot`` then ``update`` pushes linked by ``prevSeqId`` (ids jump),
each with the CRC32 of the top 25; minimal decimal strings, a deleted level ``[px, "0", "0",
"0"]`` (as in the 2022 recording); ``ping`` gets ``pong``. Option ``checksum_zero`` sends 0
(OKX production from 2026-06-23). A request over the spec's ``requests_per_hour`` is refused
with error 60014 "Requests too frequent." and changes nothing.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, PrevLinks, Request, Sub, dumps
from emulator.venues.kit import json_object as loads


class Okx(Adapter):
    name = "okx"
    profile = VenueProfile(lag_steps=1, spread_bps=1.0, size_decimals=8)
    publish_sorted = True

    def setup(self) -> None:
        self.links = self.track(PrevLinks(self.symbols.values(), self.rng, (10**9, 10**10), 100))

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        if text == "ping":
            return [Out("pong")]
        req = loads(text) or {}
        op, args = req.get("op"), req.get("args")
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return [self._error(session, "60012", f"Invalid request: {text[:60]}")]
        items: list[Sub | Out] = []
        for arg in args:
            inst = arg.get("instId") if isinstance(arg, dict) else None
            symbol = self.symbols.get(inst) if isinstance(inst, str) else None
            channel = arg.get("channel") if isinstance(arg, dict) else None
            if channel != "books" or symbol is None:
                msg = f"Wrong URL or channel:{channel},instId:{inst} doesn't exist."
                items.append(self._error(session, "60018", msg))
            else:
                items.append(Sub(symbol, str(inst)))
        return Request(op == "subscribe", items, {"op": op})

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        arg = {"channel": "books", "instId": sub.topic}
        return [Out(dumps({"event": req.meta["op"], "arg": arg, "connId": _cid(session)}))]

    def refusal(self, session: KitSession, now_ns: int) -> Out:
        return self._error(session, "60014", "Requests too frequent.")

    def _error(self, session: KitSession, code: str, msg: str, event: str = "error") -> Out:
        return Out(dumps({"event": event, "code": code, "msg": msg, "connId": _cid(session)}))

    def notice(self, session: KitSession, now_ns: int) -> list[Out]:
        # https://www.okx.com/docs-v5/en/#overview-websocket-notification-of-websocket-disconnection
        msg = "The connection will soon be closed for a service upgrade. Please reconnect."
        return [self._error(session, "64008", msg, "notice")]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        bids, asks = self.book(sub.symbol).top(400)
        return self._push(sub.symbol, "snapshot", bids, asks, now_ns, False)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._push(sub.symbol, "update", bids, asks, now_ns, corrupt)

    def _push(
        self, symbol: str, action: str, bids: Levels, asks: Levels, now_ns: int, corrupt: bool
    ) -> Out:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        text = [[[minimal(p, pd), "0", "0", "0"] if s == 0
                 else [minimal(p, pd), minimal(s, sd), "0", str(1 + (p + s) % 23)] for p, s in side]
                for side in (asks, bids)]  # fmt: skip
        data = {"asks": text[0], "bids": text[1], "ts": str(now_ns // 1_000_000),
                "checksum": self.book_checksum(book.top(25), minimal, symbol, corrupt),
                "prevSeqId": -1 if action == "snapshot" else self.links.prev[symbol],
                "seqId": self.links.last[symbol]}  # fmt: skip
        arg = {"channel": "books", "instId": self.venue_symbol(symbol)}
        return Out(dumps({"arg": arg, "action": action, "data": [data]}), True)


def _cid(session: KitSession) -> str:
    return f"{session.conn_id:08x}"


ADAPTERS = (Okx,)
