"""Emulated bitFlyer Lightning Realtime API on ``/json-rpc`` (JSON-RPC 2.0; the protocol:
feeds/venues/bitflyer.py). A request is answered ``result: true`` only when it has an ``id``;
the whole board (300 levels a side at most) comes on subscribing and every 5 s, each step's
changes on ``lightning_board_{product}``, with JSON numbers and the ``mid_price`` as in the
2021 recording. Other channels and unknown products are answered with an error.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object

_SNAPSHOT, _BOARD = "lightning_board_snapshot_", "lightning_board_"
_SNAPSHOT_EVERY, _DEPTH = 5, 300  # heartbeat ticks of 1 s; levels a side


class Bitflyer(Adapter):
    name = "bitflyer"
    profile = VenueProfile(lag_steps=1, spread_bps=3.0, size_decimals=8)

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        method, rid, params = req.get("method"), req.get("id"), req.get("params")
        channel = params.get("channel") if isinstance(params, dict) else None
        name = channel if isinstance(channel, str) else ""
        snapshot = name.startswith(_SNAPSHOT)
        product = name.removeprefix(_SNAPSHOT if snapshot else _BOARD)
        symbol = self.symbols.get(product) if product != name else None
        if method not in ("subscribe", "unsubscribe") or symbol is None:
            error = {"code": -32602, "message": "Invalid params"}
            return [Out(dumps({"jsonrpc": "2.0", "id": rid, "error": error}))]
        answer = [] if rid is None else [Out(dumps({"jsonrpc": "2.0", "id": rid, "result": True}))]
        if not snapshot:
            return Request(method == "subscribe", [Sub(symbol, name)], {"answer": answer})
        if method == "unsubscribe":
            session.channels.discard(symbol)
            return answer
        session.channels.add(symbol)
        return [*answer, self._board(_SNAPSHOT, symbol, *self.book(symbol).top(_DEPTH))]

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        return list(req.meta["answer"])

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        session.beats += 1
        symbols = [] if session.beats % _SNAPSHOT_EVERY else sorted(session.channels)
        return [self._board(_SNAPSHOT, s, *self.book(s).top(_DEPTH)) for s in symbols]

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._board(_BOARD, sub.symbol, bids, asks)

    def _board(self, channel: str, symbol: str, bids: Levels, asks: Levels) -> Out:
        book = self.book(symbol)
        pd, sd = book.price_decimals, book.size_decimals
        best_bids, best_asks = book.top(1)
        mid = (best_bids[0][0] + best_asks[0][0]) // 2 if best_bids and best_asks else 0
        message: dict[str, object] = {"mid_price": float(minimal(mid, pd))}
        for side, levels in (("bids", bids), ("asks", asks)):
            message[side] = [{"price": float(minimal(p, pd)), "size": float(minimal(s, sd))}
                             for p, s in levels]  # fmt: skip
        params = {"channel": channel + self.venue_symbol(symbol), "message": message}
        frame = {"jsonrpc": "2.0", "method": "channelMessage", "params": params}
        return Out(dumps(frame), book=True)


ADAPTERS = (Bitflyer,)
