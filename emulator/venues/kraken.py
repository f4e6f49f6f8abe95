"""Emulated Kraken spot WebSocket v2 ``book`` channel on ``/v2`` (docs/venues.md): ``status``
on connect, one ack per symbol, a ``snapshot`` then ``update`` messages with the CRC32 of the
top 10 of the book truncated to the subscribed depth; numbers written as text with the pair's
full precision, never through a float. Levels pushed out of the depth are not deleted (the
client truncates); ``{"channel":"heartbeat"}`` once a second while subscribed; ping -> pong.
"""

from __future__ import annotations

from emulator.market import VenueProfile
from emulator.venues.base import Out, fixed, rfc3339
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub, dumps, json_object


class Kraken(Adapter):
    name = "kraken"
    profile = VenueProfile(lag_steps=3, spread_bps=2.0, noise_bps=0.4, size_decimals=8)

    def opened(self, session: KitSession, now_ns: int) -> list[Out]:
        info = {
            "version": "2.0.0",
            "system": "online",
            "api_version": "v2",
            "connection_id": 15113583034416118705 + session.conn_id,
        }
        return [Out(dumps({"channel": "status", "type": "update", "data": [info]}))]

    def _answer(self, fields: dict[str, object], now_ns: int) -> Out:
        stamp = rfc3339(now_ns, digits=6)
        return Out(dumps({**fields, "time_in": stamp, "time_out": stamp}))

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text)
        if req is None:
            return [self._answer({"error": "Malformed request", "success": False}, now_ns)]
        method, params = req.get("method"), req.get("params")
        head: dict[str, object] = {"method": method}
        if "req_id" in req:
            head["req_id"] = req["req_id"]
        if method == "ping":
            return [self._answer({**head, "method": "pong"}, now_ns)]
        if method not in ("subscribe", "unsubscribe") or not isinstance(params, dict):
            return [self._answer({**head, "error": "Method not found", "success": False}, now_ns)]
        depth, items = params.get("depth", 10), list[Sub | Out]()
        for vid in params.get("symbol") or []:
            symbol = self.symbols.get(vid) if isinstance(vid, str) else None
            error = (
                f"Currency pair not supported {vid}"
                if symbol is None
                else "Subscription depth not supported"
                if depth not in (self.spec.depths or ())
                else None
            )
            if params.get("channel") != "book":
                error = "Channel not supported"
            if error is not None or symbol is None:
                fail = {"error": error, **head, "success": False, "symbol": vid}
                items.append(self._answer(fail, now_ns))
            else:
                items.append(Sub(symbol, vid, int(depth)))
        return Request(method == "subscribe", items, {"head": head, "depth": depth})

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        result: dict[str, object] = {"channel": "book", "depth": req.meta["depth"]}
        if req.subscribe:
            result["snapshot"] = True
        result["symbol"] = sub.topic
        return [self._answer({**req.meta["head"], "result": result, "success": True}, now_ns)]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        bids, asks = self.book(sub.symbol).top(sub.depth)
        sub.bids, sub.asks = dict(bids), dict(asks)
        return self._frame(sub, "snapshot", bids, asks, None, False)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        book = self.book(sub.symbol)
        new_b, new_a = book.top(sub.depth)
        bids = _diff(sub.bids, dict(new_b), book.bids, reverse=True)
        asks = _diff(sub.asks, dict(new_a), book.asks, reverse=False)
        sub.bids, sub.asks = dict(new_b), dict(new_a)
        return self._frame(sub, "update", bids, asks, now_ns, corrupt) if bids or asks else None

    def _frame(
        self, sub: Sub, kind: str, bids: Levels, asks: Levels, now_ns: int | None, corrupt: bool
    ) -> Out:
        book = self.book(sub.symbol)
        pd, sd = book.price_decimals, book.size_decimals
        view = (sorted(sub.bids.items(), reverse=True), sorted(sub.asks.items()))
        checksum = self.book_checksum(view, fixed, sub.symbol, corrupt)

        def side(levels: Levels) -> str:
            return ",".join(f'{{"price":{fixed(p, pd)},"qty":{fixed(s, sd)}}}' for p, s in levels)

        stamp = "" if now_ns is None else f',"timestamp":"{rfc3339(now_ns, digits=6)}"'
        return Out(
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":{dumps(sub.symbol)},'
            f'"bids":[{side(bids)}],"asks":[{side(asks)}],"checksum":{checksum}{stamp}}}]}}',
            book=True,
        )

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        return [Out('{"channel":"heartbeat"}')] if session.subs else []


def _diff(
    old: dict[int, int], new: dict[int, int], book: dict[int, int], *, reverse: bool
) -> list[tuple[int, int]]:
    """Levels of ``new`` that differ from ``old``, plus deletions of levels gone from the
    venue book (a level merely pushed below the depth is left to the client's truncation)."""
    out = [(p, s) for p, s in new.items() if old.get(p) != s]
    out += [(p, 0) for p in old if p not in new and p not in book]
    return sorted(out, reverse=reverse)


ADAPTERS = (Kraken,)
