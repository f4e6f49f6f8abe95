"""Poloniex spot v3 ``book_lv2``: the 2022 recording (11 pairs) is of today's protocol."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Subscribed, VenueError
from feeds.venues.poloniex import Poloniex
from tests.conformance import Replay, Top, VenueCase, delta, snap
from tests.reference import Model

# Each pair's best bid, its size, best ask, its size after the whole recording (in the
# recorded subscribe order), from the independent model (``read``).
GOLDEN_TOPS: dict[str, Top] = {
    "BCH/USDT": (119.88, 48.449936, 120.24, 14.101117),
    "EFI/USDT": (0.1003, 296.2622, 0.1499, 13.3422),
    "USDJ/USDT": (0.9996, 67.2095, 0.9998, 264.0257),
    "DYP/USDT": (0.2002, 140.8591, 0.2999, 30.01),
    "SOL/USDT": (36.64, 23.416953, 36.776, 353.838425),
    "MDT/BTC": (0.000001119, 4959.0, 0.000001368, 64.0),
    "GRT/USDT": (0.1078, 1466.641, 0.109, 876.928),
    "GF/USDT": (0.2303, 8.6843, 0.2999, 10.0033),
    "BCH/BTC": (0.005532, 9.73, 0.00555, 0.01),
    "ZEC/USDT": (64.55, 1.839317, 65.99, 0.409002),
    "BTC/USDT": (21599.85, 0.68, 21602.02, 0.68),
}
SUBSCRIBE = (
    '{"event":"subscribe","channel":["book_lv2"],"symbols":["BCH_USDT","EFI_USDT","USDJ_USDT",'
    '"DYP_USDT","SOL_USDT","MDT_BTC","GRT_USDT","GF_USDT","BCH_BTC","ZEC_USDT","BTC_USDT"]}'
)  # as recorded
# The recorded DYP_USDT snapshot cut to its first levels, and a recorded update.
SNAPSHOT = (
    '{"channel":"book_lv2","data":[{"symbol":"DYP_USDT","createTime":1661110273720,'
    '"asks":[["0.2999","30.01"],["0.3999","22.5056"]],"bids":[["0.2002","140.8591"]],'
    '"lastId":8553,"id":8554,"ts":1661123517823}],"action":"snapshot"}'
)
UPDATE = (
    '{"channel":"book_lv2","data":[{"symbol":"SOL_USDT","createTime":1661123517872,'
    '"asks":[["36.842","353.838425"],["47","0"]],"bids":[],"lastId":1838395,"id":1838396,'
    '"ts":1661123517876}],"action":"update"}'
)
SAMPLES = (
    (SNAPSHOT, (snap("DYP/USDT", "0.2002:140.8591", "0.2999:30.01 0.3999:22.5056", seq=8554,
                     ts=1661123517823_000000),)),
    (UPDATE, (delta("SOL/USDT", "", "36.842:353.838425 47:0", last=1838396, prev=1838395,
                    ts=1661123517876_000000),)),
    (SUBSCRIBE.replace('["book_lv2"]', '"book_lv2"'), (Subscribed(),)),  # the recorded ack
    (SUBSCRIBE.replace('["book_lv2"]', '"trades"'), ()),
    # https://api-docs.poloniex.com/spot/websocket: pong, error, unsubscribe answers
    ('{"event":"pong"}', (Heartbeat(),)),
    ('{"event":"error","message":"Subscription Failed"}',
     (VenueError("error: Subscription Failed"),)),
    ('{"event":"unsubscribe","channel":"book_lv2","symbols":["BTC_USDT"]}', ()),
    ('{"channel":"trades","data":[{"symbol":"BTC_USDT","price":"21614.59"}]}', ()),
)  # fmt: skip


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """https://api-docs.poloniex.com/spot/websocket/market-data ("Book Level 2") as plain
    json: a snapshot per pair, then updates whose ``lastId`` is the pair's previous ``id``;
    the venue itself deletes the levels that leave its top 20."""
    msg = json.loads(record.data)
    if msg.get("event") == "subscribe":
        return [Subscribed()] if msg["channel"] == "book_lv2" else []
    if msg["channel"] != "book_lv2":
        return []  # trades
    events: list[Event] = []
    for item in msg["data"]:
        pair, ts = item["symbol"].replace("_", "/"), item["ts"] * 10**6
        if msg["action"] == "snapshot":
            events.append(BookSnapshot(pair, item["bids"], item["asks"], item["id"], None, ts))
        else:
            prev = item["lastId"]
            events.append(
                BookDelta(pair, item["bids"], item["asks"], None, item["id"], prev, None, ts)
            )
    return events


CASE = VenueCase(
    codec=Poloniex,
    symbols=tuple(GOLDEN_TOPS),
    subscribe=(SUBSCRIBE,),
    samples=SAMPLES,
    malformed=(
        "",
        "[]",
        "{}",
        '{"event":"login"}',
        '{"channel":"book_lv2","data":{},"action":"update"}',
        '{"channel":"book_lv2","data":[[]],"action":"update"}',
        UPDATE.replace('"update"', '"diff"'),
        UPDATE.replace("SOL_USDT", "ETH_USDT"),
        UPDATE.replace('"lastId":1838395', '"lastId":"1838395"'),
        UPDATE.replace('"id":1838396,', ""),
        UPDATE.replace('"ts":1661123517876', '"ts":-1'),
        UPDATE.replace('"bids":[]', '"bids":{}'),
        SNAPSHOT.replace('"id":8554', '"id":true'),
    ),
    recording="poloniex.ndjson.gz",
    # 11 snapshots + 283 updates, each naming the previous id of its pair (lastId == id)
    replay=Replay(messages=294, snapshots=11, deltas=283, checks=283, tops=GOLDEN_TOPS),
    model=Model(
        read,
        {"BookSnapshot": 11, "BookDelta": 283, "Subscribed": 1, "no event": 7}
        | {"applied": 283, "linked": 283, "removed": 234},
    ),
)
