"""OKX v5 public order-book codec (``okx``; the older ccxt ids ``okex``/``okex3``).

Protocol (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel):
subscribe the ``books`` channel (400 levels, 100 ms); the venue pushes ``action:"snapshot"``
then ``action:"update"`` messages. Each carries ``seqId`` and ``prevSeqId``; ``prevSeqId``
names the previous message's ``seqId`` (:attr:`SeqRule.PREV_LINK`, applied by the session),
and a ``checksum`` (CRC32 of the top 25 levels interleaved, over the original strings). Sizes
are absolute; ``"0"`` deletes the level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds import checksum
from feeds import protocol as proto
from feeds.codeckit import MS_NS, digits, json_object, levels, uint
from feeds.protocol import BookDelta, BookSnapshot, ParseError
from feeds.spec import TakerFee, VenueSpec

_CHANNEL: Final = "books"

SPEC: Final = VenueSpec(
    id="okx",
    aliases=("okex", "okex3"),
    integrity=proto.Integrity(proto.SeqRule.PREV_LINK, checksum.OKX, keep_text=True),
    # Port 443: 8443 was retired on 2026-10-31 (https://siebly.hashnode.dev, "OKX WebSocket
    # port 8443 is retired"). EEA and US accounts use their own hosts (docs/venues.md, OKX).
    endpoints=proto.Endpoints(ws="wss://ws.okx.com:443/ws/v5/public", rest="https://www.okx.com"),
    symbol_format="{base}-{quote}",
    # The connection drops after 30 s without data; OKX asks for the text frame "ping" when
    # nothing arrived for N < 30 s and answers "pong"
    # (https://www.okx.com/docs-v5/en/#overview-websocket-connect).
    ping_interval_s=20.0,
    # "The total number of 'subscribe'/'unsubscribe'/'login' requests per connection is
    # limited to 480 times per hour" (https://www.okx.com/docs-v5/en/#overview-websocket-connect):
    # a resync by unsubscribe + subscribe spends two; the session reconnects when it cannot.
    requests_per_hour=480,
    # No documented connection lifetime (max_connection_s): a service upgrade is announced
    # by a notice (below).
    fee=TakerFee(10.0, "Regular Lv1, spot", "https://www.okx.com/fees", "2026-11"),
)


class Okx(proto.Codec):
    """OKX v5 ``books``: in-band snapshot, ``prevSeqId`` links, CRC32 over the top 25."""

    spec = SPEC

    def venue_symbol(self, symbol: str) -> str:
        """``BTC/USDT`` -> ``BTC-USDT`` (spot). Derivatives use ccxt's unified form:
        ``BTC/USDT:USDT`` -> ``BTC-USDT-SWAP``, ``BTC/USD:BTC-220527`` -> ``BTC-USD-220527``."""
        pair, _, contract = symbol.partition(":")
        base, quote = proto.split_symbol(pair)
        if not contract:
            return self.spec.symbol(base, quote)
        settle, _, expiry = contract.partition("-")
        yymmdd = len(expiry) == 6 and expiry.isascii() and expiry.isdigit()
        if settle not in (base, quote) or not (expiry == "" or yymmdd):
            raise ValueError(f"not an OKX swap or future: {symbol!r}")
        return f"{base}-{quote}-{expiry or 'SWAP'}"

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("subscribe", symbols)] if symbols else []

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("unsubscribe", symbols)] if symbols else []

    def _request(self, op: str, symbols: Sequence[str]) -> str:
        args = [{"channel": _CHANNEL, "instId": self.venue_symbol(s)} for s in symbols]
        return orjson.dumps({"op": op, "args": args}).decode()

    def ping_frame(self) -> str:
        return "ping"

    def parse(self, frame: str | bytes) -> list[proto.Event]:
        if frame in ("pong", b"pong"):
            return [proto.Heartbeat()]
        obj = json_object(frame)
        arg = obj.get("arg")
        channel = arg.get("channel") if isinstance(arg, dict) else None
        inst = arg.get("instId") if isinstance(arg, dict) else None
        event = obj.get("event")
        if event is not None:
            if event == "notice" and obj.get("code") == "64008":
                # "The connection will soon be closed for a service upgrade", 30 s before:
                # https://www.okx.com/docs-v5/en/#overview-websocket-notification-of-websocket-disconnection
                return [proto.PlannedClose("notice 64008")]
            if event in ("error", "notice"):
                message = f"{event} {obj.get('code')}: {str(obj.get('msg'))[:200]}"
                known = self._canonical.get(inst) if isinstance(inst, str) else None
                return [proto.VenueError(message, known)]
            if event == "subscribe" and channel == _CHANNEL:
                return [proto.Subscribed(symbol=self._symbol(inst))]
            return []
        if channel != _CHANNEL:
            if channel is None:
                raise ParseError("neither an event nor a channel push")
            return []  # tickers, trades... on the same connection
        symbol, action, data = self._symbol(inst), obj.get("action"), obj.get("data")
        if action not in ("snapshot", "update") or not isinstance(data, list):
            raise ParseError("books push: bad 'action' or 'data'")
        return [self._book(symbol, action == "snapshot", item) for item in data]

    def _symbol(self, inst: object) -> str:
        symbol = self._canonical.get(inst) if isinstance(inst, str) else None
        if symbol is None:
            raise ParseError(f"book message for an unsubscribed instrument {str(inst)[:40]!r}")
        return symbol

    def _book(self, symbol: str, snapshot: bool, item: object) -> BookSnapshot | BookDelta:
        if not isinstance(item, dict):
            raise ParseError("books push: 'data' item is not an object")
        bids, asks = levels(item.get("bids"), "bids"), levels(item.get("asks"), "asks")
        # 0 is "no checksum" (always 0 from 2026-06-23); no seqId/prevSeqId before 2023 (the
        # recording): no link. Keep-alives and resets link as they stand (docs/venues.md).
        checksum = uint(item.get("checksum", 0), "checksum", signed=True) or None
        seq = uint(item["seqId"], "seqId") if "seqId" in item else None
        prev = uint(item["prevSeqId"], "prevSeqId", signed=True) if "prevSeqId" in item else None
        ts_ns = digits(item.get("ts"), "'ts'") * MS_NS  # a string of ms
        if snapshot:
            return BookSnapshot(symbol, bids, asks, seq=seq, checksum=checksum, venue_ts_ns=ts_ns)
        if (seq is None) != (prev is None):
            raise ParseError("books update: seqId without prevSeqId or the reverse")
        return BookDelta(symbol, bids, asks, None, seq, prev, checksum, ts_ns)


CODECS: Final = (Okx,)
