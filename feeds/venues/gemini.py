"""Gemini market data version 2 ``l2`` codec (``gemini``).

Protocol (https://docs.gemini.com/websocket/market-data/v2/level-2-data, also
https://docs.gemini.com/websocket-api/#market-data-version-2): one ``subscribe`` names ``l2``
and every symbol; per symbol the first ``l2_updates`` is the whole book (it carries the recent
``trades`` too), the later ones the changed levels ``[side, price, quantity]``, absolute,
``"0"`` deletes. Nothing numbers the messages and no checksum signs the book
(:attr:`SeqRule.NONE`): a lost update cannot show; a crossed book is resynced by unsubscribing
and subscribing again (a fresh whole book), and a new connection starts from whole books.

Proven on the recording (2021-06-24, tests/conformance/gemini.py): the subscribe request, the
whole book as each symbol's first ``l2_updates``, the updates, ``trade`` and ``heartbeat``
(every 5 s), never a crossed book. Only documented: ``unsubscribe``. The recording's books also
carry ``auction_events``, no longer documented (ignored either way). Gemini's developer site
files v2 as archived next to its newer WebSocket API
(https://developer.gemini.com/websocket/archived/v2); this codec implements v2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds import protocol as p
from feeds.codeckit import json_object
from feeds.lane import FrameShape, LevelForm
from feeds.spec import TakerFee, VenueSpec

_DOC: Final = "https://docs.gemini.com/websocket/market-data/v2/level-2-data"

SPEC: Final = VenueSpec(
    id="gemini",
    # https://developer.gemini.com/websocket/archived/v2 ("WebSocket Request"); no REST use
    endpoints=p.Endpoints(ws="wss://api.gemini.com/v2/marketdata", rest="https://api.gemini.com"),
    integrity=p.Integrity(seq=p.SeqRule.NONE, snapshot=p.SnapshotSource.IN_BAND),
    symbol_format="{base}{quote}",  # BTCUSD, ETHBTC (_DOC: "symbols")
    asset_names={},  # Gemini uses the common tickers
    depths=None,  # l2 takes no depth: the whole book, then every change
    # One subscribe may name every symbol (_DOC); no documented limit of symbols per
    # connection, of subscribe requests per hour or of client frames per second.
    max_symbols_per_connection=100,
    subscribe_batch=None,
    sends_per_s=None,
    requests_per_hour=None,
    rest_limits=None,
    # The venue sends {"type":"heartbeat"} every 5 s (the recording): no client ping needed.
    ping_interval_s=None,
    max_connection_s=None,  # no documented connection lifetime
    older_protocols=(),  # the 2021 recording speaks v2 too
    fee=TakerFee(
        40.0,
        "taker 0.40 %, API, 30-day volume under $10K",
        "https://www.gemini.com/fees/api-fee-schedule",
        "2026-12",
    ),
)


class Gemini(p.Codec):
    """Gemini v2 ``l2``: the first ``l2_updates`` of a symbol is its book, then changes."""

    spec = SPEC
    shapes = (
        FrameShape(
            match=((("type",), "l2_updates"),), absent=(("trades",),), symbol=("symbol",),
            levels=("changes",), form=LevelForm.TAGGED, tags=("buy", "sell"),
        ),
    )  # fmt: skip

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("subscribe", symbols)]

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("unsubscribe", symbols)]

    def _request(self, kind: str, symbols: Sequence[str]) -> str:
        names = [self.venue_symbol(s) for s in symbols]
        request = {"type": kind, "subscriptions": [{"name": "l2", "symbols": names}]}
        return orjson.dumps(request).decode()

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        kind = obj.get("type")
        if kind == "l2_updates":
            name = obj.get("symbol")
            symbol = self._canonical.get(name) if type(name) is str else None
            if symbol is None:
                raise p.ParseError(f"l2_updates of an unsubscribed symbol {str(name)[:40]!r}")
            bids, asks = _changes(obj.get("changes"))
            # the whole book is the l2_updates that carries the recent trades (_DOC)
            if "trades" in obj:
                return [p.BookSnapshot(symbol, bids, asks)]
            return [p.BookDelta(symbol, bids, asks)]
        if kind == "heartbeat":
            return [p.Heartbeat()]
        if kind == "trade" or (type(kind) is str and kind.startswith("candles_")):
            return []
        if type(kind) is not str:
            raise p.ParseError("not a Gemini message: no 'type'")
        return [p.Ignored(f"type {kind[:40]}")]


def _changes(raw: object) -> tuple[list[p.Level], list[p.Level]]:
    """``[["buy"|"sell", price, quantity], ...]`` split into bids and asks (the book checks
    each ``[price, quantity]``)."""
    if type(raw) is not list:
        raise p.ParseError("l2_updates: 'changes' is not a list")
    try:
        bids = [c[1:] for c in raw if c[0] == "buy"]
        asks = [c[1:] for c in raw if c[0] == "sell"]
    except (LookupError, TypeError):
        raise p.ParseError("l2_updates: a change is not a [side, price, quantity] list") from None
    if len(bids) + len(asks) != len(raw):  # another side, or a change that is no list
        raise p.ParseError("l2_updates: a change is not on side 'buy' or 'sell'")
    return bids, asks


CODECS: Final = (Gemini,)
