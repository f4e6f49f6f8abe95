"""Bitstamp: the 2022 recording (10 pairs, REST snapshots, diffs ordered by microtimestamp),
Bitstamp's documented control frames (https://www.bitstamp.net/websocket/v2/)."""

from __future__ import annotations

import json
from typing import Any

from feeds import protocol as p
from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Subscribed, VenueError
from feeds.venues.bitstamp import Bitstamp
from tests.conformance import FramesOut, Replay, VenueCase, delta
from tests.reference import Model

SYMBOLS = ("SGB/EUR", "ETH/USD", "XRP/EUR", "BAT/EUR", "USDT/EUR", "USDT/USD", "XLM/GBP", "ADA/EUR",
           "BAT/BTC", "GALA/EUR")  # fmt: skip
PAIRS = [s.replace("/", "").lower() for s in SYMBOLS]  # the channels' and URLs' pair ids


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Bitstamp's messages as plain json: a REST body is the whole book at its
    ``microtimestamp``; a diff is applied when its ``microtimestamp`` is after that."""
    msg = json.loads(record.data)
    if record.dir == "rest":
        symbol = SYMBOLS[PAIRS.index(record.url.rsplit("/", 1)[1])]
        return [BookSnapshot(symbol, msg["bids"], msg["asks"], venue_ts_ns=us(msg))]
    kind, pair = msg["channel"].rsplit("_", 1)
    if kind != "diff_order_book":
        return []  # live_trades
    symbol = SYMBOLS[PAIRS.index(pair)]
    if msg["event"] == "bts:subscription_succeeded":
        return [Subscribed(symbol)]
    data = msg["data"]
    return [BookDelta(symbol, data["bids"], data["asks"], venue_ts_ns=us(data))]


def us(body: dict[str, Any]) -> int:
    return int(body["microtimestamp"]) * 1000


BAT_BIDS, BAT_TS = "1.15979:993.02588113 1.14866:7758.51900928", 1_641_343_691_244_908_000
FIRST_DIFF = (
    '{"data":{"timestamp":"1641343691","microtimestamp":"1641343691244908","bids":[["1.15979",'
    '"993.02588113"],["1.14866","7758.51900928"]],"asks":[["1.16601","1200.00000000"]]},'
    '"channel":"diff_order_book_bateur","event":"data"}'
)
BAD = '{"event":"data","channel":"diff_order_book_ethusd","data":'
SAMPLES = (
    (FIRST_DIFF, (delta("BAT/EUR", BAT_BIDS, "1.16601:1200.00000000", ts=BAT_TS),)),
    ('{"event":"bts:subscription_succeeded","channel":"diff_order_book_sgbeur","data":{}}',
     (Subscribed("SGB/EUR"),)),
    ('{"event":"bts:subscription_succeeded","channel":"live_trades_sgbeur","data":{}}', ()),
    ('{"event":"bts:unsubscription_succeeded","channel":"diff_order_book_ethusd"}', ()),
    ('{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}', (Heartbeat(),)),
    ('{"event":"bts:request_reconnect","channel":"","data":""}',
     (p.PlannedClose("bts:request_reconnect"),)),
    ('{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad string."}}',
     (VenueError("None: Bad string."),)),
)  # fmt: skip
MALFORMED = (
    "", "[]", '{"event":"data"}', '{"event":5,"channel":"diff_order_book_ethusd","data":{}}',
    '{"event":"data","channel":"diff_order_book_btcusd","data":{}}',  # not subscribed
    BAD + "[]}", BAD + '{"microtimestamp":"1","bids":{},"asks":[]}}',
    BAD + '{"microtimestamp":"-1","bids":[],"asks":[]}}', BAD + '{"bids":[],"asks":[]}}',
    BAD + '{"microtimestamp":"1","bids":[]}}', BAD + '{"microtimestamp":true,"bids":[],"asks":[]}}',
    '{"event":"data","channel":["diff_order_book_ethusd"],"data":{}}',
    '{"event":"bts:subscription_succeeded","channel":"diff_order_book_xyz","data":{}}',
)  # fmt: skip
# 10 REST snapshots; 717 diffs: 102 at or before their pair's snapshot time (dropped),
# 615 after it (applied); each diff's time is checked against the snapshot's.
REPLAY = Replay(messages=625, snapshots=10, deltas=717, checks=615, older=102, tops={
    "ADA/EUR": (1.17113, 852.53713157, 1.17374, 1890.47725565),
    "BAT/BTC": (2.834e-05, 52.52866685, 2.843e-05, 2064.32304089),
    "BAT/EUR": (1.15979, 3866.0, 1.16265, 763.32097905),
    "ETH/USD": (3800.78, 0.6, 3803.58, 15.09750054),
    "GALA/EUR": (0.38057, 2623.51685867, 0.38142, 1163.70962488),
    "SGB/EUR": (0.14695, 4567.41344936, 0.14844, 4617.85577487),
    "USDT/EUR": (0.88596, 6731.50703, 0.88657, 9000.0),
    "USDT/USD": (0.99948, 3105.20768, 0.99988, 7692.64822),
    "XLM/GBP": (0.20816, 3588.26617941, 0.20868, 5855.58528256),
    "XRP/EUR": (0.7348, 6022.52500636, 0.73518, 1800.0),
})  # fmt: skip

CASE = VenueCase(
    codec=Bitstamp,
    symbols=SYMBOLS,
    subscribe=tuple(
        f'{{"event":"bts:subscribe","data":{{"channel":"diff_order_book_{x}"}}}}' for x in PAIRS
    ),
    samples=SAMPLES,
    malformed=MALFORMED,
    recording="bitstamp.ndjson.gz",
    replay=REPLAY,
    rest_errors=(
        (b'{"status":"error","reason":"Invalid pair"}', "REST error for SGB/EUR: Invalid pair"),
        (b'{"microtimestamp":"1","bids":[]}', "asks: expected a list of levels"),
        (b'{"microtimestamp":1.5,"bids":[],"asks":[]}', "bad microtimestamp"),
    ),
    model=Model(
        read,
        {"BookSnapshot": 10, "BookDelta": 717, "Subscribed": 10, "no event": 20}
        | {"dropped": 102, "applied": 615, "removed": 736},
    ),
)

# a resync fetches a REST snapshot; the heartbeat probes a quiet connection
FRAMES_OUT = FramesOut(CASE, (), '{"event":"bts:heartbeat"}')
