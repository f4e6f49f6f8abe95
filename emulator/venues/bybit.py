"""Emulated Bybit v5 public spot order book on ``/v5/public/spot``.

https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook and .../v5/ws/connect:
``{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}`` is acked with ``success``/``ret_msg``/
``conn_id``/``req_id``/``op``, then a ``snapshot`` and ``delta`` messages whose ``u`` grows by
one per message per symbol, plus a cross-sequence ``seq``. Prices carry the tick's decimals
and sizes the lot's (``"1.9530"``, ``"0.006"``), as in the recordings. ``{"op":"ping"}`` is
answered with the public pong. Every depth of the spec (1, 50, 200, 1000) serves the model's
whole book (the model holds fewer levels than 50 by default). Option ``ts_text`` sends ``ts``
as a string of digits rather than a number.
"""

from __future__ import annotations

import orjson

from emulator.market import VenueProfile
from emulator.venues.base import Out, fixed
from emulator.venues.kit import Adapter, Counter, KitSession, Levels, Request, Sub, SymbolIds, dumps


class Bybit(Adapter):
    name = "bybit"
    profile = VenueProfile(lag_steps=1, spread_bps=1.2, extra_price_decimals=1, size_decimals=6)
    option_names = frozenset({"ts_text"})

    def setup(self) -> None:
        symbols = self.symbols.values()
        self.u = self.track(Counter(symbols, self.rng, (10**6, 10**8)))
        self.seq = self.track(SymbolIds(symbols, self.rng, (10**10, 10**11), 500))
        self.ts_text = bool(self.options.get("ts_text", False))

    def _reply(self, session: KitSession, op: str, ok: bool, msg: str, req_id: object) -> Out:
        conn_id = f"emu-{self.model.config.seed}-{session.conn_id}"
        req_id = req_id if isinstance(req_id, str) else ""
        return Out(
            dumps({"success": ok, "ret_msg": msg, "conn_id": conn_id, "req_id": req_id, "op": op})
        )

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [self._reply(session, "", False, "error:invalid json", "")]
        if not isinstance(req, dict):
            return [self._reply(session, "", False, "error:invalid request", "")]
        op, args, req_id = req.get("op"), req.get("args"), req.get("req_id")
        if op == "ping":
            return [self._reply(session, "ping", True, "pong", req_id)]
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return [self._reply(session, str(op), False, "error:invalid op", req_id)]
        depths, found = {str(d) for d in self.spec.depths or ()}, dict[str, Sub | Out]()
        for topic in args:
            kind, _, rest = str(topic).partition(".")
            depth, _, vid = rest.partition(".")
            symbol = self.symbols.get(vid)
            if kind != "orderbook" or depth not in depths or symbol is None:
                msg = f"error:handler not found,topic:{topic}"
                return [self._reply(session, op, False, msg, req_id)]
            found[symbol] = Sub(symbol, str(topic), int(depth))
        return Request(op == "subscribe", list(found.values()), {"op": op, "id": req_id})

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        op = req.meta["op"]
        return [
            self._reply(session, op, True, "subscribe" if req.subscribe else "", req.meta["id"])
        ]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        return self._message(sub, "snapshot", *self.book(sub.symbol).top(sub.depth), now_ns)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._message(sub, "delta", bids, asks, now_ns)

    def _message(self, sub: Sub, kind: str, bids: Levels, asks: Levels, now_ns: int) -> Out:
        book, ms, symbol = self.book(sub.symbol), now_ns // 1_000_000, sub.symbol
        pd, sd = book.price_decimals, book.size_decimals
        # a deleted level's size is "0", not "0.000000" (the recording)
        b, a = ([[fixed(p, pd), fixed(s, sd) if s else "0"] for p, s in x] for x in (bids, asks))
        data: dict[str, object] = {"s": self.venue_symbol(symbol), "b": b, "a": a}
        data |= {"u": self.u.last[symbol], "seq": self.seq.last[symbol]}
        ts = str(ms) if self.ts_text else ms
        # cts: the matching engine's time, a little before ts (the push time)
        obj = {"topic": sub.topic, "type": kind, "ts": ts, "data": data, "cts": ms - 8}
        return Out(dumps(obj), book=True)


ADAPTERS = (Bybit,)
