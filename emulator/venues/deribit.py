"""Emulated Deribit API v2 ``book.{instrument}.100ms`` on ``/ws/api/v2`` (JSON-RPC 2.0).

``100ms`` or ``agg2`` (``raw`` needs authorisation, refused here); each level's action is
``new`` for a level the subscriber's book lacks, ``change`` for one it holds, ``delete``
(amount 0) to remove it. Numbers are JSON numbers (prices whole when they are, amounts always
with a fraction: ``["new", 30316, 2.0]``), as in the recording. ``public/set_heartbeat``
(interval >= 10 s) makes the server send ``test_request`` every interval.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues import kit
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub

_INTERVALS = ("100ms", "agg2")


class Deribit(Adapter):
    name = "deribit"
    profile = VenueProfile(lag_steps=1, spread_bps=1.0, size_decimals=4)

    def setup(self) -> None:
        self.links = self.track(kit.PrevLinks(self.symbols.values(), self.rng, (10**9, 10**11), 40))

    def _answer(self, rid: object, now_ns: int, **result: object) -> Out:
        us = now_ns // 1000
        meta = {"usIn": us, "usOut": us + 42, "usDiff": 42, "testnet": False}
        return Out(kit.dumps({"jsonrpc": "2.0", "id": rid, **result, **meta}))

    def _error(self, rid: object, now_ns: int, code: int, message: str) -> list[Out]:
        return [self._answer(rid, now_ns, error={"message": message, "code": code})]

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = kit.json_object(text) or {}
        method, rid, params = req.get("method"), req.get("id"), req.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "public/test":
            return [self._answer(rid, now_ns, result={"version": "1.2.26"})]
        if method == "public/set_heartbeat":
            interval = params.get("interval")
            if not isinstance(interval, int) or interval < 10:
                return self._error(rid, now_ns, -32602, "Invalid params")
            session.channels = {f"heartbeat.{interval}"}
            return [self._answer(rid, now_ns, result="ok")]
        if method not in ("public/subscribe", "public/unsubscribe"):
            return self._error(rid, now_ns, -32601, "Method not found")
        channels = params.get("channels") or [None]
        subs = [self._sub(c) for c in channels] if isinstance(channels, list) else [None]
        if None in subs:
            return self._error(rid, now_ns, -32602, "Invalid params")
        return Request(method == "public/subscribe", [s for s in subs if s], {"id": rid})

    def _sub(self, channel: object) -> Sub | None:
        kind, _, rest = str(channel).partition(".")
        instrument, _, interval = rest.rpartition(".")
        symbol = self.symbols.get(instrument)
        if kind != "book" or symbol is None or interval not in _INTERVALS:
            return None
        return Sub(symbol, str(channel))

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        channels = [s.topic for s in req.items if isinstance(s, Sub)]
        return [self._answer(req.meta["id"], now_ns, result=channels)]

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        session.beats += 1
        every = [int(c.split(".")[1]) for c in session.channels if c.startswith("heartbeat.")]
        if not every or session.beats % every[0]:
            return []
        beat = {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
        return [Out(kit.dumps(beat))]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        bids, asks = self.book(sub.symbol).top(10**6)
        sub.bids, sub.asks = {}, {}  # every level is new to the subscriber
        return self._push(sub, "snapshot", bids, asks, None, now_ns)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._push(sub, "change", bids, asks, self.links.prev[sub.symbol], now_ns)

    def _push(
        self, sub: Sub, kind: str, bids: Levels, asks: Levels, prev: int | None, now_ns: int
    ) -> Out:
        book = self.book(sub.symbol)
        pd, sd = book.price_decimals, book.size_decimals
        sides = []
        for levels, held in ((bids, sub.bids), (asks, sub.asks)):
            side = []
            for p, s in levels:
                action = "new" if p not in held else "delete" if s == 0 else "change"
                if s == 0 and held.pop(p, None) is None:
                    continue  # the subscriber never had it
                if s:
                    held[p] = s
                price = minimal(p, pd)
                side.append([action, float(price) if "." in price else int(price), s / 10**sd])
            sides.append(side)
        link = {} if prev is None else {"prev_change_id": prev}
        data = {"type": kind, "timestamp": now_ns // 10**6, **link}
        data |= {"instrument_name": self.venue_symbol(sub.symbol)}
        data |= {"change_id": self.links.last[sub.symbol], "bids": sides[0], "asks": sides[1]}
        params = {"channel": sub.topic, "data": data}
        return Out(kit.dumps({"jsonrpc": "2.0", "method": "subscription", "params": params}), True)


ADAPTERS = (Deribit,)
