"""Gate spot v4: ``spot.obu`` on the documentation's examples (what the emulator speaks) and
``spot.order_book_update`` on the 2021 recording (10 pairs, REST snapshots)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Subscribed, VenueError
from feeds.venues.gate import Gate, GateBookUpdate
from tests.conformance import FramesOut, Replay, Top, VenueCase, delta, snap
from tests.reference import Model


class DocsGate(Gate):
    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self.clock = lambda: 1748572393_500_000_000  # the docs' subscribe example


class RecordedGate(GateBookUpdate):
    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        super().__init__(symbols, depth=depth)
        self.clock = lambda: 1619093532_770_000_000  # when the recording subscribed


# https://www.gate.com/announcements/article/45317 (spot.obu): the ack as published; the full
# push cut to its first levels; the increments written in the shape the page describes.
OBU_ACK = (
    '{"time":1748572394,"time_ms":1748572394271,"conn_id":"b61f70b2e6bcca91",'
    '"trace_id":"d2e2d92c3a7eabc3d5be52514ef508d2","channel":"spot.obu","event":"subscribe",'
    '"payload":["ob.BTC_USDT.50"],"result":{"status":"success"},'
    '"requestId":"d2e2d92c3a7eabc3d5be52514ef508d2"}'
)
FULL_BIDS, FULL_ASKS = (
    "105958.9:0.00908 105953.2:0.02426 105942.6:0.02074",
    "105959:0.76098 105961.3:0.0124",
)
OBU_FULL = (
    '{"channel":"spot.obu","result":{"t":1748572394325,"full":true,"s":"ob.BTC_USDT.50",'
    '"u":28606981,"b":[["105958.9","0.00908"],["105953.2","0.02426"],["105942.6","0.02074"]],'
    '"a":[["105959","0.76098"],["105961.3","0.0124"]]},"time_ms":1748572394326}'
)


def obu(first: int, last: int, bids: str, asks: str) -> str:
    return (
        f'{{"channel":"spot.obu","result":{{"t":1748572394382,"s":"ob.BTC_USDT.50","U":{first},'
        f'"u":{last},"b":{bids},"a":{asks}}},"time_ms":1748572394383}}'
    )


OBU_UPDATE = obu(28606982, 28606984, '[["105958.9","0"]]', '[["105959","0.5"]]')
OBU_STREAM = (
    OBU_ACK, OBU_FULL, OBU_UPDATE, obu(28606985, 28606985, '[["105955.5","0.1"]]', "[]"),
    obu(28606986, 28606990, "[]", '[["105961.3","0"],["105962","1.5"]]'),
    obu(28606991, 28606991, '[["105953.2","0.03"]]', "[]"),
    OBU_FULL.replace("28606981", "28606995"),  # a full push replaces the book and its id
    obu(28606996, 28606996, "[]", '[["105959","0.2"]]'),
)  # fmt: skip

OBU = VenueCase(
    codec=DocsGate,
    symbols=("BTC/USDT",),
    subscribe=(
        '{"time":1748572393,"channel":"spot.obu","event":"subscribe","payload":["ob.BTC_USDT.50"]}',
    ),
    samples=(
        (OBU_ACK, (Subscribed(),)),
        (OBU_FULL, (snap("BTC/USDT", FULL_BIDS, FULL_ASKS, seq=28606981,
                         ts=1748572394325_000000),)),
        (OBU_UPDATE, (delta("BTC/USDT", "105958.9:0", "105959:0.5", first=28606982, last=28606984,
                            prev=28606981, ts=1748572394382_000000),)),
        ('{"time":1,"time_ms":1001,"channel":"spot.pong","event":"","result":null}',
         (Heartbeat(),)),
        ('{"time":1,"channel":"spot.obu","event":"subscribe",'
         '"error":{"code":2,"message":"Alert sub ob.BTC_USDT.50"},"result":{"status":"fail"}}',
         (VenueError("2: Alert sub ob.BTC_USDT.50"),)),
        ('{"time":1,"channel":"spot.obu","event":"unsubscribe","result":{"status":"success"}}', ()),
        ('{"time":1,"channel":"spot.trades","event":"update","result":{}}', ()),
    ),
    malformed=(
        "", "[]", '{"time":1}', '{"channel":"spot.obu","error":"x"}',
        '{"channel":"spot.obu","event":"update","result":[]}',
        '{"channel":"spot.obu","event":"snapshot","result":{}}',
        OBU_FULL.replace('"u":28606981', '"u":"28606981"'),
        *(OBU_UPDATE.replace(*r) for r in (
            ("ob.BTC_USDT.50", "ob.ETH_USDT.50"), ("ob.BTC_USDT.50", "ob.BTC_USDT.400"),  # depth
            ('"U":28606982', '"U":28606985'), ('"U":28606982', '"U":true'), ('"U":28606982,', ""),
            ('"t":1748572394382', '"t":-1'), ('"b":[["105958.9","0"]]', '"b":{}'),
        )),
    ),
    frames=OBU_STREAM,
    # 2 full pushes + 5 increments, each continuing the one before (U == previous u + 1)
    replay=Replay(7, 2, 5, 5, tops={"BTC/USDT": (105958.9, 0.00908, 105959.0, 0.2)}),
)  # fmt: skip
# requests carry the time in seconds; depth 400 names its stream so
UNSUB = (
    '{"time":1748572393,"channel":"spot.obu","event":"unsubscribe","payload":["ob.BTC_USDT.%d"]}'
)
PING = '{"time":1748572393,"channel":"spot.ping"}'
FRAMES_OUT = (
    FramesOut(OBU, (UNSUB % 50,), PING),
    FramesOut(replace(OBU, depth=400, samples=()), (UNSUB % 400,), PING),
)

PAIRS = (
    "INK_USDT HAI_ETH BTC_USDC NANO_USDT QTUM3S_USDT DIS_USDT NEO_BTC FAST_USDT ZKS_ETH OMG_USDT"
)
GOLDEN_TOPS: dict[str, Top] = {
    "HAI/ETH": (0.00010324, 5997.415, 0.00010397, 5885.172),
    "QTUM3S/USDT": (0.22759, 1860.2968, 0.228407, 7344.33),
    "FAST/USDT": (10.21, 36.50154112, 10.62, 25.96795888),
    "OMG/USDT": (7.899, 288.0, 7.927, 316.6),
    "ZKS/ETH": (0.001005, 88.613, 0.001038, 453.60214),
    "NEO/BTC": (0.0018659, 0.5, 0.001873, 5.24738),
    "INK/USDT": (0.0028144, 64918.872, 0.0029543, 70737.25),
    "DIS/USDT": (121.5, 0.148, 122.23, 0.00896999),
    "BTC/USDC": (54272.19, 0.0589, 55070.74, 0.05822),
    "NANO/USDT": (8.7411, 0.197, 8.8542, 51.62831),
}
"""Each pair's best bid, its size, best ask, its size after the whole recording, from the
plain-dict model (tests/test_reference.py)."""
ZKS, ZKS_TS = "0.001038:453.60214", 1619093533031_000000
RECORDED_UPDATE = (
    '{"time":1619093533,"channel":"spot.order_book_update","event":"update","result":'
    '{"t":1619093533031,"e":"depthUpdate","E":1619093533,"s":"ZKS_ETH","U":11077662,'
    '"u":11077662,"b":[],"a":[["0.001038","453.60214"]]}}'
)


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Gate's 2021 messages as plain json: a REST body is the book at ``id``; an update is
    the range ``U``..``u`` (https://www.gate.com/docs/developers/apiv4/ws/en/, "Changed
    order book": drop ``u < id + 1``, bridge ``U <= id + 1 <= u``, then ``U == u + 1``)."""
    msg = json.loads(record.data)
    if record.dir == "rest":
        pair = record.url.split("currency_pair=")[1].split("&")[0]
        return [BookSnapshot(pair.replace("_", "/"), msg["bids"], msg["asks"], seq=msg["id"])]
    if msg["channel"] != "spot.order_book_update":
        return []  # tickers
    if msg["event"] == "subscribe":
        return [Subscribed()]
    r, ts = msg["result"], msg["result"]["t"] * 10**6
    return [BookDelta(r["s"].replace("_", "/"), r["b"], r["a"], r["U"], r["u"], venue_ts_ns=ts)]


RECORDED_SAMPLES = (
    (RECORDED_UPDATE, (delta("ZKS/ETH", "", ZKS, first=11077662, last=11077662, ts=ZKS_TS),)),
    ('{"time":1619093532,"channel":"spot.order_book_update","event":"subscribe",'
     '"result":{"status":"success"}}', (Subscribed(),)),
    ('{"time":1619093534,"channel":"spot.tickers","event":"update","result":'
     '{"currency_pair":"NEO_BTC","last":"0.0018716"}}', ()),
    # since 2025 a full book may come on this channel too (announcement 44678)
    (RECORDED_UPDATE.replace('"U":11077662,', '"full":true,'),
     (snap("ZKS/ETH", "", ZKS, seq=11077662, ts=ZKS_TS),)),
)  # fmt: skip

BOOK_UPDATE = VenueCase(
    name="gate-book-update",
    codec=RecordedGate,
    symbols=tuple(pair.replace("_", "/") for pair in PAIRS.split()),
    subscribe=tuple(
        f'{{"time":1619093532,"channel":"spot.order_book_update","event":"subscribe",'
        f'"payload":["{pair}","100ms"]}}'
        for pair in PAIRS.split()
    ),  # as recorded
    samples=RECORDED_SAMPLES,
    malformed=tuple(RECORDED_UPDATE.replace(*r) for r in (
        ("ZKS_ETH", "ob.ZKS_ETH.50"), ('"U":11077662', '"U":11077663'),
        ('"u":11077662', '"u":null'),
    )),
    recording="gate.ndjson.gz",
    # 10 REST snapshots; 172 updates: 4 below their snapshot dropped, 9 whose u is the
    # snapshot's id applied (Gate's procedure drops them: they repeat its sizes), 8 bridge it,
    # 151 continue (tests/test_reference.py proves Gate's rule on every message).
    replay=Replay(178, 10, 172, 168, GOLDEN_TOPS, older=4),
    # QTUM3S/USDT's update 69526952-69526959 (its second one after the snapshot is the no-op
    # ending at the snapshot's id, whose loss is no gap)
    gap=45,
    emulated=False,
    rest_errors=((b'{"label":"INVALID_CURRENCY","message":"Invalid currency"}',
                  "Invalid currency"),),
    # 13 updates end at or before their snapshot's id (Gate drops them); each of the other
    # 159 starts right after the book's id (the first ones bridge: U == id + 1 <= u)
    model=Model(read, {"BookSnapshot": 10, "BookDelta": 172, "Subscribed": 10, "no event": 57}
                | {"dropped": 13, "continued": 159, "applied": 159, "removed": 150},
                drop_at_id=True),
)  # fmt: skip

CASES = (OBU, BOOK_UPDATE)
