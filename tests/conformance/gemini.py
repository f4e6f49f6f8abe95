"""Gemini: the 2021 recording (v2 ``l2``, 10 symbols), the documented frames
(https://docs.gemini.com/websocket/market-data/v2/level-2-data)."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Ignored
from feeds.venues.gemini import Gemini
from tests.conformance import Replay, VenueCase, delta, snap
from tests.reference import Model

SYMBOLS = (
    "BTC/GBP", "LINK/ETH", "FIL/USD", "ZEC/LTC", "BAT/BTC",
    "ETH/EUR", "LTC/ETH", "GRT/USD", "ANKR/USD", "ALCX/USD",
)  # fmt: skip
L2 = '{"type":"l2_updates","symbol":"BTCGBP","changes":'
DOCS_BOOK = (  # the documented first l2_updates and update (on BTCGBP, trades cut to one)
    '{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","9122.04","0.00121425"],'
    '["sell","9122.07","0.98942292"]],"trades":[{"type":"trade","symbol":"BTCUSD",'
    '"eventid":169841458,"timestamp":1560976400428,"price":"9122.04","quantity":"0.0073173",'
    '"side":"sell","tid":2840140800042677}]}'
)
DOCS_UPDATE = L2 + '[["sell","9160.20","0.1921229751"]]}'
UPDATE = L2 + (  # recorded
    '[["buy","24084.23","0"],["buy","24087.07","0.04"],["sell","24113.49","0"],'
    '["sell","24117.80","0.91"]]}'
)
HEARTBEAT = '{"type":"heartbeat","timestamp":1624493666869}'
TRADE = (
    '{"type":"trade","symbol":"ANKRUSD","event_id":45465818387,"timestamp":1624493670759,'
    '"price":"0.07946","quantity":"1020.482111","side":"buy"}'
)


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Gemini's v2 ``l2`` as plain json: a symbol's first ``l2_updates`` (the one with
    ``trades``) is its whole book, each later one sets absolute quantities; no sequence,
    so the only check is that no book crosses."""
    msg = json.loads(record.data)
    if msg["type"] == "heartbeat":
        return [Heartbeat()]
    if msg["type"] != "l2_updates":
        return []  # trades
    symbol = {s.replace("/", ""): s for s in SYMBOLS}[msg["symbol"]]
    bids = [c[1:] for c in msg["changes"] if c[0] == "buy"]
    asks = [c[1:] for c in msg["changes"] if c[0] == "sell"]
    if "trades" in msg:
        assert symbol not in memo, "a second whole book"
        memo[symbol] = True
        return [BookSnapshot(symbol, bids, asks)]
    assert symbol in memo, "an update before the book"
    return [BookDelta(symbol, bids, asks)]


CASE = VenueCase(
    codec=Gemini,
    symbols=SYMBOLS,
    subscribe=(
        '{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["BTCGBP","LINKETH",'
        '"FILUSD","ZECLTC","BATBTC","ETHEUR","LTCETH","GRTUSD","ANKRUSD","ALCXUSD"]}]}',
    ),
    samples=(
        (DOCS_BOOK, (snap("BTC/GBP", "9122.04:0.00121425", "9122.07:0.98942292"),)),
        (UPDATE, (delta("BTC/GBP", "24084.23:0 24087.07:0.04", "24113.49:0 24117.80:0.91"),)),
        (L2 + "[]}", (delta("BTC/GBP", "", ""),)),
        (HEARTBEAT, (Heartbeat(),)),
        (TRADE, ()),
        ('{"type":"candles_1m_updates","symbol":"BTCGBP","changes":[]}', ()),
        ('{"type":"l3_updates","symbol":"BTCGBP"}', (Ignored("type l3_updates"),)),
    ),
    malformed=(
        "",
        "[]",
        "{}",
        '{"type":5}',
        L2 + "{}}",
        L2 + "[5]}",
        L2 + '[""]}',
        L2 + '["buy"]}',
        L2 + '[["bid","1","2"]]}',
        L2 + '["buy","1","2"]}',
        '{"type":"l2_updates","symbol":"BTCUSD","changes":[]}',  # not subscribed
        '{"type":"l2_updates","symbol":["BTCGBP"],"changes":[]}',
        '{"type":"l2_updates","changes":[]}',
    ),
    recording="gemini.ndjson.gz",
    # Per symbol the first l2_updates is the whole book (10), then 645 updates; the only
    # check the venue allows, that the book is not crossed, holds after every one.
    replay=Replay(
        messages=655,
        snapshots=10,
        deltas=645,
        checks=645,
        tops={
            "ALCX/USD": (302.75, 1e-05, 303.33, 10.554763),
            "ANKR/USD": (0.08, 14300.0, 0.08027, 249.0),
            "BAT/BTC": (1.613e-05, 65678.127884, 1.758e-05, 1431.750532),
            "BTC/GBP": (24175.82, 0.14802333, 24204.04, 0.04),
            "ETH/EUR": (1648.98, 2.537003, 1661.57, 1.261),
            "FIL/USD": (58.6448, 56.0, 58.7256, 56.0),
            "GRT/USD": (0.6173, 89.99, 0.6201, 4044.792361),
            "LINK/ETH": (0.0093213, 54.210659, 0.0093512, 54.189994),
            "LTC/ETH": (0.0655, 7.77054, 0.0658, 7.74742),
            "ZEC/LTC": (0.858, 7.023773, 0.897, 13.94996),
        },
    ),
    # The recording's whole books also carry ``auction_events``, no longer documented: the
    # emulated frames are compared with the documented shapes.
    wire=(DOCS_BOOK, UPDATE, HEARTBEAT),
    model=Model(
        read,
        {"BookSnapshot": 10, "BookDelta": 645, "Heartbeat": 7, "no event": 16}
        | {"applied": 645, "removed": 903, "absent": 34},
    ),
)
