"""Upbit ``orderbook`` on the 2021 recording (SIMPLE format, KRW-WAVES and BTC-XTZ, binary
UTF-8 frames); the count suffix, PING and errors from the documentation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookSnapshot, Event, Heartbeat, VenueError
from feeds.venues.upbit import Upbit
from tests.conformance import FramesOut, Replay, VenueCase
from tests.reference import Model

SYMBOLS = ("WAVES/KRW", "XTZ/BTC")
# The first recorded BTC-XTZ book cut to two rows, its totals those of the two rows.
BOOK = (
    b'{"ty":"orderbook","cd":"BTC-XTZ","tms":1618678266975,"tas":356.96613289,'
    b'"tbs":263.9000666,"obu":[{"ap":0.00012221,"bp":0.00011802,"as":300.0,"bs":75.05997935},'
    b'{"ap":0.00012222,"bp":0.00011725,"as":56.96613289,"bs":188.84008725}],"st":"REALTIME"}'
)
TRADE = b'{"ty":"trade","cd":"KRW-WAVES","tms":1618678275409,"tp":20230.0,"tv":1.205185}'  # cut
HEAD = '{"ty":"orderbook","cd":"KRW-WAVES","tms":1,"tas":1.0,"tbs":1.0,'
ROW = '{"ap":2.0,"bp":1.0,"as":1.0,"bs":1.0}'
SAMPLES = (
    (BOOK, (BookSnapshot("XTZ/BTC", [(0.00011802, 75.05997935), (0.00011725, 188.84008725)],
                         [(0.00012221, 300.0), (0.00012222, 56.96613289)],
                         venue_ts_ns=1_618_678_266_975_000_000),)),
    ('{"ty":"orderbook","cd":"BTC-XTZ.30","tms":7,"tas":1,"tbs":2,'  # the count suffix echoed
     '"obu":[{"ap":3,"bp":2,"as":1,"bs":2}]}',
     (BookSnapshot("XTZ/BTC", [(2, 2)], [(3, 1)], venue_ts_ns=7_000_000),)),
    (TRADE, ()),
    ('{"status":"UP"}', (Heartbeat(),)),
    ('{"error":{"name":"NO_TICKET","message":"no ticket"}}', (VenueError("NO_TICKET: no ticket"),)),
)  # fmt: skip
MALFORMED = (
    "", "[]", "{}", '{"status":"DOWN"}', HEAD + '"obu":{}}',
    HEAD + '"obu":[{"ap":2.0,"bp":1.0,"as":1.0}]}',  # a unit without bid_size
    HEAD + '"obu":[' + ROW + "," + ROW + "]}",  # totals are not the sums
    HEAD + '"obu":[{"ap":2.0,"bp":1.0,"as":"1.0","bs":1.0}]}',  # a size as text
    HEAD.replace('"tms":1', '"tms":-1') + '"obu":[' + ROW + "]}",
    HEAD.replace('"tas":1.0', '"tas":"1.0"') + '"obu":[' + ROW + "]}",
    HEAD.replace("KRW-WAVES", "KRW-BTC") + '"obu":[' + ROW + "]}",  # not subscribed
)  # fmt: skip
# 42 whole books (26 KRW-WAVES, 16 BTC-XTZ), nothing to sequence; 3 trades skipped.
REPLAY = Replay(42, 42, 0, 0, tops={
    "WAVES/KRW": (20230.0, 23.55726098, 20240.0, 50.0),
    "XTZ/BTC": (0.00011806, 539.57666926, 0.00012221, 300.0),
})  # fmt: skip


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Upbit's SIMPLE ``orderbook`` as plain json: every push is the whole 15-row book of its
    code, its totals the exact sums of its rows; trades are skipped."""
    assert isinstance(record.data, bytes)  # binary UTF-8 JSON, as Upbit sends
    msg = json.loads(record.data)
    if msg["ty"] != "orderbook":
        return []
    units, exact = msg["obu"], json.loads(record.data, parse_float=Decimal)
    assert len(units) == 15
    assert exact["tas"] == sum(u["as"] for u in exact["obu"]), "total ask size"
    assert exact["tbs"] == sum(u["bs"] for u in exact["obu"]), "total bid size"
    bids, asks = [(u["bp"], u["bs"]) for u in units], [(u["ap"], u["as"]) for u in units]
    symbol = {"KRW-WAVES": "WAVES/KRW", "BTC-XTZ": "XTZ/BTC"}[msg["cd"]]
    return [BookSnapshot(symbol, bids, asks, venue_ts_ns=msg["tms"] * 10**6)]


CASE = VenueCase(
    codec=Upbit,
    symbols=SYMBOLS,
    subscribe=(
        '[{"ticket":"arbscan"},{"type":"orderbook","codes":["KRW-WAVES.30","BTC-XTZ.30"]},'
        '{"format":"SIMPLE"}]',
    ),
    samples=SAMPLES,
    malformed=MALFORMED,
    recording="upbit.ndjson.gz",
    replay=REPLAY,
    model=Model(read, {"BookSnapshot": 42, "no event": 3}),
)

FRAMES_OUT = FramesOut(CASE, (), "PING")  # one request names every code: none to unsubscribe
