"""Bybit v5: the ob500 recording (tests/fixtures/bybit.ndjson.gz), the documented control
frames (https://bybit-exchange.github.io/docs/v5/ws/connect)."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Subscribed, VenueError
from feeds.venues.bybit import Bybit
from tests.conformance import Replay, VenueCase, delta, snap
from tests.reference import Model

SNAPSHOT = (
    '{"topic":"orderbook.50.XRPUSDT","type":"snapshot","ts":1733011200693,'
    '"data":{"s":"XRPUSDT","b":[["1.9531","6203"]],"a":[["1.9532","10480"]],"u":20254869,'
    '"seq":7},"cts":1733011200691}'
)
TS = 1733011200693_000000
DELTA = (
    '{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":1733011200693,'
    '"data":{"s":"XRPUSDT","b":[["1.9531","6198"]],"a":[],"u":20254870,"seq":8},'
    '"cts":1733011200691}'
)


def push(data: str, ts: str = "1") -> str:
    return '{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":' + ts + ',"data":' + data + "}"


B2 = '{"s":"XRPUSDT","b":[["1.9","1"]],"a":[],"u":2}'
BAD_TS = ('""', '"1.5"', '"-1"', '" 1"', '"1e3"', '"\u0661"', '"1' + "0" * 20 + '"', "-1", "1.5",
          "true", "null", "[1]", '{"ms":1}')  # fmt: skip


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Bybit's pushes as plain json: a snapshot or a delta whose ``u`` is the previous + 1."""
    msg = json.loads(record.data)
    data, ts = msg["data"], msg["ts"] * 10**6
    if msg["type"] == "snapshot":
        return [BookSnapshot("XRP/USDT", data["b"], data["a"], data["u"], venue_ts_ns=ts)]
    return [BookDelta("XRP/USDT", data["b"], data["a"], last=data["u"], venue_ts_ns=ts)]


CASE = VenueCase(
    codec=Bybit,
    symbols=("XRP/USDT",),
    # The recording (ob500 of the linear category) holds no request; the documented one:
    subscribe=('{"op":"subscribe","args":["orderbook.50.XRPUSDT"]}',),
    samples=(
        (SNAPSHOT, (snap("XRP/USDT", "1.9531:6203", "1.9532:10480", seq=20254869, ts=TS),)),
        (DELTA, (delta("XRP/USDT", "1.9531:6198", "", last=20254870, ts=TS),)),
        (
            '{"success":true,"ret_msg":"pong","conn_id":"465772b1-7630-4fdc-a492-e003e6f0f260",'
            '"req_id":"","op":"ping"}',
            (Heartbeat(),),
        ),
        (
            '{"req_id":"test","op":"pong","args":["1675418560633"],"conn_id":"cfcb4"}',
            (Heartbeat(),),
        ),
        (
            '{"success":true,"ret_msg":"subscribe","conn_id":"2324d924","req_id":"",'
            '"op":"subscribe"}',
            (Subscribed(),),
        ),
        (
            '{"success":false,"ret_msg":"error:handler not found,topic:orderbook.50.NOPE",'
            '"conn_id":"c","req_id":"","op":"subscribe"}',
            (VenueError("subscribe: error:handler not found,topic:orderbook.50.NOPE"),),
        ),
        ('{"success":true,"ret_msg":"","op":"unsubscribe","conn_id":"c"}', ()),
        ('{"topic":"publicTrade.XRPUSDT","type":"snapshot","data":[]}', ()),
        # "u"=1: "a snapshot data due to the restart of the service": a full book
        (DELTA.replace("20254870", "1"), (snap("XRP/USDT", "1.9531:6198", "", seq=1, ts=TS),)),
        # ts as a JSON integer or a string of digits, both seen from Bybit
        (push(B2, '"01"'), (delta("XRP/USDT", "1.9:1", "", last=2, ts=10**6),)),
        (push(B2, '"1"'), (delta("XRP/USDT", "1.9:1", "", last=2, ts=10**6),)),
        # a bad level passes as sent: the book refuses it (feeds.book.BadLevel)
        (push(B2.replace('"1"', '"-1"')), (delta("XRP/USDT", "1.9:-1", "", last=2, ts=10**6),)),
    ),
    malformed=(
        "null",
        '{"x":1}',
        '{"topic":"orderbook.50.XRPUSDT","type":"partial","ts":1,"data":{}}',
        '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT",'
        '"b":[],"a":[],"u":2}}',
        push('{"s":"XRPUSDT","b":[],"a":[],"u":0}'),
        push('{"s":"XRPUSDT","b":{},"a":[],"u":2}'),
        *(push(B2, ts) for ts in BAD_TS),
    ),
    recording="bybit.ndjson.gz",
    # 1 snapshot + 49 deltas, each u = the previous u + 1.
    replay=Replay(
        messages=50,
        snapshots=1,
        deltas=49,
        checks=49,
        tops={"XRP/USDT": (1.9537, 10605.0, 1.9538, 6702.0)},
    ),
    model=Model(
        read, {"BookSnapshot": 1, "BookDelta": 49, "continued": 49, "applied": 49, "removed": 18}
    ),
)
