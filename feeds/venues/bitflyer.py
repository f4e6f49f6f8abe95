"""bitFlyer Lightning Realtime API codec (``bitflyer``), JSON-RPC 2.0 (the API has no version).

https://bf-lightning-api.readme.io/docs/endpoint-json-rpc: ``subscribe`` / ``unsubscribe``
one channel (``params: {channel}``; ``true`` answers a request with an ``id``), messages as
``channelMessage``. Per product, ``lightning_board_snapshot_{product}`` sends the whole board
at a limited rate, levels in no guaranteed order (.../docs/realtime-board-snapshot), and
``lightning_board_{product}`` the changed levels, absolute, size 0 deletes; a market order
executed at the auction comes as a change at price 0, not a level (.../docs/realtime-board).
Nothing numbers the messages (:attr:`SeqRule.NONE`): each whole board sent again is compared
with the book the changes built (:attr:`Integrity.verify_snapshots`), then replaces it.

Proven on the recording (2021-12-12, tests/test_venue_bitflyer.py): the requests, changes
before a product's first board (ignored), boards every ~5 s of at most 300 levels a side,
``executions`` and ``ticker`` beside them, never a crossed book; 10 of the slice's 15 boards
sent again differ from the changes' book (the two channels are not ordered). Only
documented: ``unsubscribe``, the JSON-RPC answers, the price-0 change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Final

import orjson

from feeds import protocol as p
from feeds.codeckit import json_object
from feeds.lane import FrameShape, LevelForm, ZeroPrice
from feeds.spec import TakerFee, VenueSpec

_DOC: Final = "https://bf-lightning-api.readme.io/docs/endpoint-json-rpc"
_BOARD: Final = "lightning_board_"
_SNAPSHOT: Final = _BOARD + "snapshot_"
_PRICE_SIZE: Final = itemgetter("price", "size")
_PRICE: Final = itemgetter(0)

SPEC: Final = VenueSpec(
    id="bitflyer",
    endpoints=p.Endpoints(ws="wss://ws.lightstream.bitflyer.com/json-rpc",
                          rest="https://api.bitflyer.com"),  # _DOC; no REST use
    # the lowest tier of Lightning Spot (one rate for maker and taker)
    fee=TakerFee(15.0, "Lightning Spot 0.15 %, 30-day volume under 100,000 JPY",
                 "https://bitflyer.com/en-jp/commission", "2026-12"),
    integrity=p.Integrity(p.SeqRule.NONE, snapshot=p.SnapshotSource.IN_BAND,
                          verify_snapshots=True),
    # product codes BTC_JPY, ETH_BTC: https://bf-lightning-api.readme.io/docs/market-list
    symbol_format="{base}_{quote}",
    subscribe_batch=1,  # one channel per request (_DOC: params.channel)
    # the defaults, as _DOC sets them: the board channels take no depth; no limit of channels
    # per connection, requests per hour or frames per second; no application ping (WebSocket
    # pings keep it alive); no connection lifetime. The 2021 recording speaks the same channels.
)  # fmt: skip

_CHANGES: Final = FrameShape(
    match=((("method",), "channelMessage"),), symbol=("params", "channel"), symbol_prefix=_BOARD,
    bids=("params", "message", "bids"), asks=("params", "message", "asks"),
    form=LevelForm.OBJECT, skip_zero=ZeroPrice.NUMBER,
)  # fmt: skip


class Bitflyer(p.Codec):
    """bitFlyer Lightning: whole boards on one channel, their changes on another."""

    spec = SPEC
    shapes = (
        _CHANGES,
        replace(_CHANGES, symbol_prefix=_SNAPSHOT, whole=True, skip_zero=ZeroPrice.REFUSED),
    )

    def subscribe_frames(self, symbols: Sequence[str], method: str = "subscribe") -> list[str]:
        return [
            orjson.dumps({"method": method, "params": {"channel": prefix + vid}}).decode()
            for vid in map(self.venue_symbol, symbols)
            for prefix in (_SNAPSHOT, _BOARD)
        ]

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self.subscribe_frames(symbols, "unsubscribe")

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        params = obj.get("params")
        if type(params) is not dict or obj.get("method") != "channelMessage":
            if "error" in obj:  # the answer to a request with an id (JSON-RPC 2.0)
                return [p.VenueError(str(obj["error"])[:200])]
            if "result" in obj:
                return []
            raise p.ParseError("not a bitFlyer channelMessage")
        channel = params.get("channel")
        if type(channel) is not str:
            raise p.ParseError("channelMessage without a channel")
        if not channel.startswith(_BOARD):
            known = channel.startswith(("lightning_executions_", "lightning_ticker_"))
            return [] if known else [p.Ignored(f"channel {channel[:40]}")]
        whole = channel.startswith(_SNAPSHOT)
        symbol = self._canonical.get(channel.removeprefix(_SNAPSHOT if whole else _BOARD))
        message = params.get("message")
        if symbol is None or type(message) is not dict:
            raise p.ParseError(f"{channel[:60]}: an unsubscribed product or no 'message' object")
        bids, asks = _levels(message, "bids"), _levels(message, "asks")
        if whole:
            return [p.BookSnapshot(symbol, bids, asks)]
        if 0 in map(_PRICE, bids) or 0 in map(_PRICE, asks):  # an auction fill (module doc)
            bids, asks = [lv for lv in bids if lv[0] != 0], [lv for lv in asks if lv[0] != 0]
        return [p.BookDelta(symbol, bids, asks)]


def _levels(message: dict[str, object], side: str) -> list[p.Level]:
    """``[{"price": 2534500.0, "size": 0.01}, ...]`` as ``(price, size)``: the book checks."""
    raw = message.get(side)
    if type(raw) is not list:
        raise p.ParseError(f"board: '{side}' is not a list")
    try:
        return list(map(_PRICE_SIZE, raw))
    except (KeyError, TypeError):
        raise p.ParseError(f"board: a level of '{side}' has no price and size") from None


CODECS: Final = (Bitflyer,)
