"""Emulated Kraken spot WebSocket v2 ``book`` channel on ``/v2``.

https://docs.kraken.com/api/docs/websocket-v2/book, .../guides/spot-ws-book-v2, .../ping,
.../status: a ``status`` message on connect; one ack per symbol (``method``, ``req_id``,
``result`` with the depth, ``success``, ``time_in``/``time_out``); a ``snapshot`` then
``update`` messages with the CRC32 of the top 10 of the book truncated to the subscribed
depth. Prices and quantities are JSON *numbers* written with the pair's full precision
(``"qty":0.50930100``), so frames are built as text, never through a float. Levels pushed
out of the subscribed depth are not deleted (the client truncates); levels that enter it
are sent. ``{"channel":"heartbeat"}`` once a second while subscribed; ping -> pong.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from emulator.market import Change
from emulator.venues.base import Out, Session, Venue, fixed, rfc3339
from feeds.checksum import KRAKEN, crc32

DEPTHS = (10, 25, 100, 500, 1000)


class Kraken(Venue):
    name = "kraken"
    ws_path = "/v2"
    has_checksum = True

    def venue_symbol(self, symbol: str) -> str:
        return symbol

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return KrakenSession(self, conn_id) if path == self.ws_path else None


_View = tuple[dict[int, int], dict[int, int]]


class KrakenSession(Session):
    def __init__(self, venue: Kraken, conn_id: int) -> None:
        self.venue, self.conn_id = venue, conn_id
        self.depth: dict[str, int] = {}
        self.views: dict[str, _View] = {}

    def opened(self, now_ns: int) -> list[Out]:
        info = {
            "version": "2.0.0",
            "system": "online",
            "api_version": "v2",
            "connection_id": 15113583034416118705 + self.conn_id,
        }
        return [Out(orjson.dumps({"channel": "status", "type": "update", "data": [info]}).decode())]

    def _answer(self, fields: dict[str, object], now_ns: int) -> Out:
        stamp = rfc3339(now_ns, digits=6)
        return Out(orjson.dumps({**fields, "time_in": stamp, "time_out": stamp}).decode())

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [self._answer({"error": "Malformed request", "success": False}, now_ns)]
        method = req.get("method") if isinstance(req, dict) else None
        head: dict[str, object] = {"method": method}
        if isinstance(req, dict) and "req_id" in req:
            head["req_id"] = req["req_id"]
        if method == "ping":
            return [self._answer({**head, "method": "pong"}, now_ns)]
        params = req.get("params") if isinstance(req, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(params, dict):
            return [self._answer({**head, "error": "Method not found", "success": False}, now_ns)]
        depth = params.get("depth", 10)
        out: list[Out] = []
        for vid in params.get("symbol") or []:
            symbol = self.venue.symbols.get(vid) if isinstance(vid, str) else None
            error = (
                f"Currency pair not supported {vid}"
                if symbol is None
                else "Subscription depth not supported"
                if depth not in DEPTHS
                else None
            )
            if params.get("channel") != "book":
                error = "Channel not supported"
            if error is not None or symbol is None:
                fail = {"error": error, **head, "success": False, "symbol": vid}
                out.append(self._answer(fail, now_ns))
                continue
            result: dict[str, object] = {"channel": "book", "depth": depth}
            if method == "subscribe":
                result["snapshot"] = True
            result["symbol"] = vid
            out.append(self._answer({**head, "result": result, "success": True}, now_ns))
            if method == "unsubscribe":
                self.depth.pop(symbol, None)
                self.views.pop(symbol, None)
                continue
            self.depth[symbol] = int(depth)
            bids, asks = self.venue.book(symbol).top(int(depth))
            self.views[symbol] = (dict(bids), dict(asks))
            out.append(self._frame(symbol, "snapshot", bids, asks, None, False))
        return out

    def _frame(
        self,
        symbol: str,
        kind: str,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        now_ns: int | None,
        corrupt: bool,
    ) -> Out:
        book, (vb, va) = self.venue.book(symbol), self.views[symbol]
        pd, sd = book.price_decimals, book.size_decimals

        def text(levels: list[tuple[int, int]]) -> list[tuple[str, str]]:
            return [(fixed(p, pd), fixed(s, sd)) for p, s in levels]

        top_b = text(sorted(vb.items(), reverse=True)[:10])
        top_a = text(sorted(va.items())[:10])
        checksum = crc32(KRAKEN, top_b, top_a) ^ (1 if corrupt else 0)

        def side(levels: list[tuple[int, int]]) -> str:
            return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in text(levels))

        stamp = "" if now_ns is None else f',"timestamp":"{rfc3339(now_ns, digits=6)}"'
        frame = (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":'
            f'{orjson.dumps(symbol).decode()},"bids":[{side(bids)}],"asks":[{side(asks)}],'
            f'"checksum":{checksum}{stamp}}}]}}'
        )
        return Out(frame, book=True)

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        for symbol, depth in self.depth.items():
            if symbol not in changes:
                continue
            book = self.venue.book(symbol)
            new_b, new_a = book.top(depth)
            old_b, old_a = self.views[symbol]
            bids = _diff(old_b, dict(new_b), book.bids, reverse=True)
            asks = _diff(old_a, dict(new_a), book.asks, reverse=False)
            self.views[symbol] = (dict(new_b), dict(new_a))
            if bids or asks:
                out.append(self._frame(symbol, "update", bids, asks, now_ns, corrupt and not out))
        return out

    def heartbeat(self, now_ns: int) -> list[Out]:
        return [Out('{"channel":"heartbeat"}')] if self.depth else []


def _diff(
    old: dict[int, int], new: dict[int, int], book: dict[int, int], *, reverse: bool
) -> list[tuple[int, int]]:
    """Levels of ``new`` that differ from ``old``, plus deletions of levels gone from the
    venue book (a level merely pushed below the depth is left to the client's truncation)."""
    out = [(p, s) for p, s in new.items() if old.get(p) != s]
    out += [(p, 0) for p in old if p not in new and p not in book]
    return sorted(out, reverse=reverse)
