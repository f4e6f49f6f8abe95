"""Bitfinex v2 ``book`` codec (``bitfinex``; the older ccxt id ``bitfinex2``; docs/venues.md).

Protocol (https://docs.bitfinex.com/docs/ws-general, https://docs.bitfinex.com/reference/ws-public-books):
``{"event":"conf","flags":196608}`` once per connection (SEQ_ALL: one counter on every frame,
read first as :class:`ConnectionSeq`, a gap reconnects; CHECKSUM: ``cs`` frames, checked by
the session), then one ``subscribe`` per book; its ``subscribed`` answer names the ``chanId``
that every later frame of that book carries instead of the symbol (the codec keeps the table).

Proven on cryptofeed's 2021 recording (P0/F0 len 100, SEQ_ALL only): the frame layout, the
counter on all 1670 frames, the deletes and sides. Proven only on the docs' examples and the
published checksum vectors: the ``cs`` frame and its checksum, ``unsubscribe``, the info
codes, ``pong``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from feeds import checksum, protocol
from feeds.codeckit import loads, uint
from feeds.lane import FrameShape, LevelForm
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    ConnectionSeq,
    Event,
    Heartbeat,
    Ignored,
    Level,
    Malformed,
    ParseError,
    PlannedClose,
    Resumed,
    Subscribed,
    Suspended,
    VenueError,
    split_symbol,
)
from feeds.spec import TakerFee, VenueSpec

SEQ_ALL_CHECKSUM: Final = 65536 | 131072

_RENAMES: Final = (
    "USDT=UST USDC=UDC TUSD=TSD GUSD=GSD EURT=EUT DASH=DSH IOTA=IOT QTUM=QTM MANA=MNA ALGO=ALG "
    "ATOM=ATO DATA=DAT STORJ=STJ SNGLS=SNG QASH=QSH YOYOW=YYW MDOGE=DOG XCHF=XCH"
)

SPEC: Final = VenueSpec(
    id="bitfinex",
    aliases=("bitfinex2",),
    integrity=protocol.Integrity(
        seq=protocol.SeqRule.NONE,
        checksum=checksum.BITFINEX_P0,
        snapshot=protocol.SnapshotSource.IN_BAND,
        connection_counter=True,
    ),
    endpoints=protocol.Endpoints(
        ws="wss://api-pub.bitfinex.com/ws/2", rest="https://api-pub.bitfinex.com"
    ),
    # "t" + the pair; a pair with an asset longer than 3 letters is "tBASE:QUOTE"
    # (Codec.venue_symbol below). Bitfinex's own asset codes, from its currency map
    # https://api-pub.bitfinex.com/v2/conf/pub:map:currency:sym.
    symbol_format="t{base}{quote}",
    asset_names=dict(pair.split("=") for pair in _RENAMES.split()),
    depths=frozenset({1, 25, 100, 250}),
    default_depth=25,
    # "You can subscribe to 25 channels at the same time on the same connection"
    # (https://docs.bitfinex.com/docs/ws-public); one subscribe event names one channel.
    max_symbols_per_connection=25,
    subscribe_batch=1,
    # No application ping needed: each channel heartbeats every 15 s; the session's probe of
    # a quiet connection sends {"event":"ping"} (answered by "pong"). No documented lifetime.
    ping_interval_s=None,
    max_connection_s=None,
    # The recording's subscriptions were answered up to 13 s after they were sent (their
    # heartbeats even came first): a snapshot is given 30 s before the book subscribes again.
    snapshot_timeout_s=30.0,
    fee=TakerFee(
        0.0,
        "0.00 % taker for every account, spot, since 2025-12",
        "https://www.bitfinex.com/fees",
        "2026-12",
    ),
)


def venue_pair(symbol: str) -> str:
    """``BTC/USDT`` -> ``tBTCUST``; ``AVAX/USD`` -> ``tAVAX:USD`` (an asset longer than 3)."""
    base, quote = (SPEC.asset_names.get(a, a) for a in split_symbol(symbol))
    return f"t{base}{quote}" if len(base) == len(quote) == 3 else f"t{base}:{quote}"


# Info codes (ws-general page above): what each means for the books of the connection.
_RESTART, _MAINTENANCE, _MAINTENANCE_END = 20051, 20060, 20061


class Bitfinex(Codec):
    """Bitfinex v2 ``book`` P0: channel ids, one counter per connection, ``cs`` checksums."""

    spec = SPEC
    shapes = (FrameShape(symbol=(0,), level=(1,), counter=(2,), form=LevelForm.COUNTED),)

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self._books: dict[int, str] = {}
        """chanId -> canonical symbol, from the ``subscribed`` events of this connection."""
        self._others: set[int] = set()
        """chanIds of the connection's other channels (tickers, trades...): not ours."""
        self._configured = False

    def venue_symbol(self, symbol: str) -> str:
        return venue_pair(symbol)

    def lane_ids(self) -> dict[int, str]:
        return self._books

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        # The flags are set once per connection, before its first subscription.
        frames = [] if self._configured else [f'{{"event":"conf","flags":{SEQ_ALL_CHECKSUM}}}']
        self._configured = True
        length = str(self.depth)
        for s in symbols:
            request = {"event": "subscribe", "channel": "book", "symbol": self.venue_symbol(s)}
            request |= {"prec": "P0", "freq": "F0", "len": length}
            frames.append(orjson.dumps(request).decode())
        return frames

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        # By chanId: none known yet (not subscribed) means no way to ask (the session reconnects).
        chans = [c for c, s in self._books.items() if s in symbols]
        return [f'{{"event":"unsubscribe","chanId":{c}}}' for c in chans]

    def ping_frame(self) -> str:
        return '{"event":"ping","cid":1}'

    def parse(self, frame: str | bytes) -> list[Event]:
        msg = loads(frame)
        if type(msg) is dict:
            return self._event(msg)
        if type(msg) is not list or len(msg) < 3:
            raise ParseError("expected an event object or a [chanId, ..., seq] array")
        seq = msg[-1]
        if seq.__class__ is not int or seq < 0:  # ``__class__ is int`` refuses bools
            raise ParseError(f"bad sequence number {str(seq)[:40]!r}")
        out: list[Event] = [ConnectionSeq(seq)]
        chan, body = msg[0], msg[1]
        symbol = self._books.get(chan) if type(chan) is int else None
        if symbol is None:
            if type(chan) is not int:  # it may have been any of our books
                out.append(Malformed(f"bad chanId {str(chan)[:40]!r}", None))
            elif chan not in self._others:
                out.append(Ignored(f"channel {chan}, not subscribed here"))
            return out
        try:
            out.append(self._book(symbol, body, msg))
        except ParseError as exc:
            out.append(Malformed(f"{symbol}: {exc}", (symbol,)))
        return out

    def _book(self, symbol: str, body: object, msg: list[Any]) -> Event:
        if body == "hb":
            return Heartbeat()
        if body == "cs":
            value = uint(msg[2], "checksum", signed=True) if len(msg) == 4 else None
            if value is None:
                raise ParseError("cs frame without a checksum")
            return BookDelta(symbol, [], [], checksum=value)
        if type(body) is not list:
            return Ignored(f"book message kind {str(body)[:20]!r}")
        bids: list[Level] = []
        asks: list[Level] = []
        if body and type(body[0]) is list:  # a snapshot: a list of levels
            for level in body:
                _side(level, bids, asks)
            return BookSnapshot(symbol, bids, asks)
        _side(body, bids, asks)
        return (
            BookDelta(symbol, bids, asks, None, None, None, None, None)
            if body
            else BookSnapshot(symbol, [], [])
        )

    def _event(self, msg: dict[str, Any]) -> list[Event]:
        event = msg.get("event")
        if event == "subscribed":
            chan = uint(msg.get("chanId"), "chanId")
            if msg.get("channel") != "book":
                self._others.add(chan)
                return []
            symbol = self._named(msg)
            if symbol is None:
                raise ParseError(f"book subscribed for {str(msg.get('symbol'))[:40]!r}")
            self._books[chan] = symbol
            return [Subscribed(symbol)]
        if event == "unsubscribed":
            self._books.pop(uint(msg.get("chanId"), "chanId"), None)
            return []
        if event == "info":
            code = msg.get("code")
            if code == _RESTART:  # "Stop/Restart Websocket Server (please reconnect)"
                return [PlannedClose("info 20051")]
            if code == _MAINTENANCE:  # "pause any activity ... until 20061"
                return [Suspended("info 20060: maintenance")]
            if code == _MAINTENANCE_END:  # "unsubscribe/subscribe again all channels"
                return [Resumed("info 20061: maintenance ended")]
            if code is None and "version" in msg:  # the welcome: platform status 0 = maintenance
                platform = msg.get("platform")
                status = platform.get("status") if type(platform) is dict else None
                return [VenueError("platform in maintenance")] if status == 0 else []
            return [Ignored(f"info {str(code)[:20]}")]
        if event == "pong":
            return [Heartbeat()]
        if event == "conf":
            return [] if msg.get("status") == "OK" else [VenueError(f"conf: {str(msg)[:200]}")]
        if event == "error":
            message = f"error {str(msg.get('code'))[:20]}: {str(msg.get('msg'))[:200]}"
            return [VenueError(message, self._named(msg))]
        if isinstance(event, str):
            return [Ignored(f"event {event[:40]!r}")]
        raise ParseError("an object without an event")

    def _named(self, msg: dict[str, Any]) -> str | None:
        name = msg.get("symbol")
        return self._canonical.get(name) if type(name) is str else None


def _side(level: object, bids: list[Level], asks: list[Level]) -> None:
    """``[price, count, amount]`` into ``bids`` or ``asks`` as ``(price, size)``."""
    if type(level) is not list or len(level) != 3:
        raise ParseError(f"bad level {str(level)[:60]}")
    price, count, amount = level
    if type(amount) is not float and type(amount) is not int:
        raise ParseError(f"bad amount {str(amount)[:40]!r}")
    if count.__class__ is not int or count < 0:
        raise ParseError(f"bad count {str(count)[:40]!r}")
    if count == 0:  # a delete: amount 1 names the bid side, -1 the ask side
        if amount == 1 or amount == -1:
            (bids if amount == 1 else asks).append((price, 0))
            return
        raise ParseError(f"bad delete amount {str(amount)[:40]!r}")
    if amount > 0:
        bids.append((price, amount))
    elif amount < 0:
        asks.append((price, -amount))
    else:
        raise ParseError("amount 0 with a count")


CODECS: Final = (Bitfinex,)
