"""Emulated Upbit WebSocket ``orderbook`` on ``/websocket/v1``, and Bithumb's public stream
(the same protocol on its own path): the whole top-N book per message (``stream_type``
SNAPSHOT first, REALTIME after), in binary UTF-8 frames with the recording's number text;
``PING`` answered ``{"status":"UP"}``, a bad request ``{"error":{...}}``
(https://docs.upbit.com/reference/websocket-orderbook, .../connection).
"""

from __future__ import annotations

import orjson

from emulator.market import VenueProfile
from emulator.venues.base import Out, minimal
from emulator.venues.kit import Adapter, KitSession, Levels, Request, Sub
from feeds.venues.upbit import DEFAULT, SIMPLE

_KEYS = {"SIMPLE": SIMPLE, "DEFAULT": DEFAULT}
_STREAM = {"SIMPLE": "st", "DEFAULT": "stream_type"}


def number(units: int, decimals: int) -> str:
    """The venue's JSON number: the shortest decimal with at least one fraction digit, in
    scientific notation below 1e-6 (``127.0``, ``0.00012221``, ``9.9E-7``)."""
    text = minimal(units, decimals)
    exponent = len(str(units)) - 1 - decimals
    if units and exponent < -6:
        digits = str(units).rstrip("0")
        return f"{digits[0]}{'.' + digits[1:] if digits[1:] else ''}E{exponent}"
    return text if "." in text else text + ".0"


def _error(name: str, message: str) -> list[Out]:
    return [Out(orjson.dumps({"error": {"name": name, "message": message}}).decode())]


class Upbit(Adapter):
    name = "upbit"
    profile = VenueProfile(lag_steps=1, spread_bps=2.5, size_decimals=8)
    binary_frames = True

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        if text == "PING":
            return [Out('{"status":"UP"}')]
        try:
            fields = {k: v for part in orjson.loads(text) for k, v in part.items()}
        except (orjson.JSONDecodeError, TypeError, AttributeError):
            return _error("WRONG_FORMAT", "요청 형식이 올바르지 않습니다.")
        fmt, codes = fields.get("format", "DEFAULT"), fields.get("codes")
        if "ticket" not in fields:
            return _error("NO_TICKET", "티켓이 존재하지 않습니다.")
        if fields.get("type") != "orderbook" or fmt not in _KEYS or not isinstance(codes, list):
            return _error("INVALID_PARAM", "지원하지 않는 값입니다.")
        subs = [self._sub(str(code), str(fmt)) for code in codes]
        if None in subs:
            return _error("INVALID_PARAM", f"지원하지 않는 코드입니다. {codes}")
        return Request(True, [s for s in subs if s is not None])

    def _sub(self, code: str, fmt: str) -> Sub | None:
        pair, _, count = code.partition(".")
        symbol = self.symbols.get(pair)
        depths = self.spec.depths
        depth = int(count) if count.isdigit() else self.spec.default_depth or 30
        if symbol is None or (depths is not None and depth not in depths) or (count and not depths):
            return None
        return Sub(symbol, fmt, depth)

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        return self._book(sub, now_ns, "SNAPSHOT")

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out | None:
        return self._book(sub, now_ns, "REALTIME")

    def _book(self, sub: Sub, now_ns: int, stream: str) -> Out:
        ty, cd, tms, tas, tbs, obu, ap, as_, bp, bs = _KEYS[sub.topic]
        book = self.book(sub.symbol)
        pd, sd = book.price_decimals, book.size_decimals
        bids, asks = book.top(sub.depth)
        rows = ",".join(
            f'{{"{ap}":{number(a, pd)},"{bp}":{number(b, pd)},'
            f'"{as_}":{number(a_size, sd)},"{bs}":{number(b_size, sd)}}}'
            for (a, a_size), (b, b_size) in zip(asks, bids, strict=False)
        )
        rows_shown = min(len(asks), len(bids))
        total_ask = number(sum(s for _, s in asks[:rows_shown]), sd)
        total_bid = number(sum(s for _, s in bids[:rows_shown]), sd)
        head = (
            f'"{ty}":"orderbook","{cd}":"{self.venue_symbol(sub.symbol)}","{tms}":{now_ns // 10**6}'
        )
        totals = f'"{tas}":{total_ask},"{tbs}":{total_bid}'
        return Out(f'{{{head},{totals},"{obu}":[{rows}],"{_STREAM[sub.topic]}":"{stream}"}}', True)


class Bithumb(Upbit):
    name = "bithumb"
    profile = VenueProfile(lag_steps=2, spread_bps=3.0, size_decimals=8)


ADAPTERS = (Upbit, Bithumb)
