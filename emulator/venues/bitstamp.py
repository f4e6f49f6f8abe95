"""Emulated Bitstamp WebSocket v2 ``diff_order_book`` on ``/`` + REST ``/api/v2/order_book``.

https://www.bitstamp.net/websocket/v2/: one ``bts:subscribe`` per channel, acked with
``bts:subscription_succeeded`` (``bts:unsubscribe`` with ``bts:unsubscription_succeeded``),
a request it cannot serve with ``bts:error``; ``{"event":"bts:heartbeat"}`` is answered with
status ``success``; ``bts:request_reconnect`` is the shutdown notice. A diff carries the
step's changed levels with ``timestamp`` (s) and ``microtimestamp`` (µs, the model's time)
as strings; the REST snapshot is the whole book at the model's time. Prices carry the pair's
decimals and amounts 8 (``["3800.71", "1.76200000"]``, ``"0.00000000"`` deletes), as in the
recording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from emulator.market import Book, Change
from emulator.venues.base import HttpAnswer, Out, Session, Venue, fixed

_CHANNEL = "diff_order_book_"
_REST = "/api/v2/order_book/"


class Bitstamp(Venue):
    name = "bitstamp"
    ws_path = "/"

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "").lower()

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        return BitstampSession(self) if path in ("", "/") else None

    def rest(self, path: str, query: Mapping[str, str], now_ns: int) -> HttpAnswer | None:
        if not path.startswith(_REST):
            return None
        symbol = self.symbols.get(path.removeprefix(_REST).strip("/"))
        if symbol is None:
            return HttpAnswer(404, '{"status":"error","reason":"Invalid pair.","code":"404"}')
        book = self.book(symbol)
        bids, asks = book.top(10**6)
        return HttpAnswer(200, orjson.dumps(_times(now_ns) | _sides(book, bids, asks)).decode())


def _times(now_ns: int) -> dict[str, object]:
    return {"timestamp": str(now_ns // 10**9), "microtimestamp": str(now_ns // 1000)}


def _sides(
    book: Book, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]
) -> dict[str, object]:
    pd, sd = book.price_decimals, book.size_decimals
    return {
        "bids": [[fixed(p, pd), fixed(s, sd, 8)] for p, s in bids],
        "asks": [[fixed(p, pd), fixed(s, sd, 8)] for p, s in asks],
    }


def _event(event: str, channel: str = "", data: object = None) -> Out:
    frame = {"event": event, "channel": channel, "data": {} if data is None else data}
    return Out(orjson.dumps(frame).decode())


class BitstampSession(Session):
    def __init__(self, venue: Bitstamp) -> None:
        self.venue = venue
        self.subscribed: set[str] = set()

    def received(self, text: str, now_ns: int) -> list[Out]:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        event = req.get("event") if isinstance(req, dict) else None
        if event == "bts:heartbeat":
            return [_event("bts:heartbeat", data={"status": "success"})]
        data = req.get("data") if isinstance(req, dict) else None
        channel = data.get("channel") if isinstance(data, dict) else None
        symbol = None
        if isinstance(channel, str) and channel.startswith(_CHANNEL):
            symbol = self.venue.symbols.get(channel.removeprefix(_CHANNEL))
        if event not in ("bts:subscribe", "bts:unsubscribe") or symbol is None:
            return [_event("bts:error", data={"code": None, "message": "Bad subscription string."})]
        if event == "bts:subscribe":
            self.subscribed.add(symbol)
            return [_event("bts:subscription_succeeded", str(channel))]
        self.subscribed.discard(symbol)
        return [_event("bts:unsubscription_succeeded", str(channel))]

    def shutdown_notice(self, now_ns: int) -> list[Out]:
        return [_event("bts:request_reconnect", data="")]

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        frames = []
        for symbol in sorted(self.subscribed & changes.keys()):
            bids, asks = changes[symbol].bids, changes[symbol].asks
            if bids or asks:
                data = _times(now_ns) | _sides(self.venue.book(symbol), bids, asks)
                channel = _CHANNEL + self.venue.venue_symbol(symbol)
                frame = {"data": data, "channel": channel, "event": "data"}
                frames.append(Out(orjson.dumps(frame).decode(), book=True))
        return frames
