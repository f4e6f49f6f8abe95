"""HTX: today's ``mbp`` feed from the documented messages
(https://www.htx.com/en-us/opend/newApiPages/, "Market By Price (incremental update)") in a
stream written to them (pushes buffered, the ``req`` answer bridged, then ``prevSeqNum``
links), which the emulator speaks; and the 2021 ``depth.step0`` recording (gzip frames, a
whole book in every push), read by its own codec."""

from __future__ import annotations

import gzip
import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Reply, Subscribed, VenueError
from feeds.venues.htx import Htx, HtxStep0
from tests.conformance import Replay, VenueCase
from tests.reference import Model

ACK = '{"id":"id1","status":"ok","subbed":"market.btcusdt.mbp.150","ts":1489474081631}'
BIDS = [[618.37, 71.594], [423.33, 77.726], [223.18, 47.997], [219.34, 24.82], [210.34, 94.463]]
# Sample A of the req answer: its seqNum and first five bids; one ask added.
DATA = {"seqNum": 100020142010, "bids": BIDS, "asks": [[645.14, 26.755973959140652]]}
REP = json.dumps({"id": "id21", "rep": "market.btcusdt.mbp.150", "status": "ok", "data": DATA})
TS = 1573199608679
Side = list[list[float]]


def push(seq: int, prev: int, bids: Side, asks: Side) -> str:
    tick = {"seqNum": seq, "prevSeqNum": prev, "bids": bids, "asks": asks}
    return json.dumps({"ch": "market.btcusdt.mbp.150", "ts": TS, "tick": tick})


def delta(seq: int, prev: int, bids: Side, asks: Side) -> BookDelta:
    return BookDelta("BTC/USDT", bids, asks, prev + 1, seq, prev, venue_ts_ns=TS * 10**6)


PUSHES: tuple[tuple[int, int, Side, Side], ...] = (  # the first is in the answer already
    (100020142008, 100020142001, [[618.37, 1.0]], []),
    (100020142012, 100020142008, [], [[645.14, 2.0]]),
    (100020142020, 100020142012, [[618.37, 0]], []),
    (100020142030, 100020142020, [], [[640.0, 1.5]]),
    (100020142031, 100020142030, [[500.0, 3.0]], []),
)
CH = '{"ch":"market.btcusdt.mbp.150",'
ERROR = (
    '{"id":"btcusdt","status":"error","err-code":"bad-request",'
    '"err-msg":"invalid topic market.btcusdt.mbp.7","ts":1494301904959}'
)

MBP = VenueCase(
    codec=Htx,
    symbols=("BTC/USDT",),
    subscribe=('{"sub":"market.btcusdt.mbp.150","id":"btcusdt"}',),
    samples=(
        (ACK, (Subscribed("BTC/USDT"),)),
        (REP, (BookSnapshot("BTC/USDT", BIDS, [[645.14, 26.755973959140652]], 100020142010),)),
        (push(*PUSHES[1]), (delta(*PUSHES[1]),)),
        ('{"ping":1492420473027}', (Reply('{"pong":1492420473027}'),)),
        (gzip.compress(b'{"ping":1492420473027}', mtime=0), (Reply('{"pong":1492420473027}'),)),
        (ERROR, (VenueError("bad-request: invalid topic market.btcusdt.mbp.7", "BTC/USDT"),)),
        ('{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{}}', ()),
        ('{"id":"x","status":"ok","unsubbed":"market.btcusdt.mbp.150","ts":1}', ()),
    ),
    malformed=(
        b"\x1f\x8b\x08\x00garbage", "[]", '{"ping":-1}', '{"status":"ok"}',
        '{"status":"ok","subbed":7}',
        '{"status":"ok","subbed":"market.ethusdt.mbp.150"}',  # a book topic not subscribed
        '{"status":"ok","rep":"market.btcusdt.mbp.150","data":[]}',
        '{"status":"ok","rep":"market.btcusdt.mbp.150","data":{"bids":[],"asks":[]}}',
        CH + '"ts":1,"tick":[]}', CH + '"tick":{"seqNum":2,"prevSeqNum":1}}',
        CH + '"ts":1,"tick":{"seqNum":2}}',
        CH + '"ts":1,"tick":{"seqNum":2,"prevSeqNum":1,"bids":{}}}',
        '{"ch":null}',
    ),
    frames=(ACK, push(*PUSHES[0]), push(*PUSHES[1]), REP, *(push(*p) for p in PUSHES[2:])),
    # the answer, then 4 of the 5 pushes (the first was in it), each linked to the one before
    replay=Replay(messages=5, snapshots=1, deltas=5, checks=4, older=1,
                  tops={"BTC/USDT": (500.0, 3.0, 640.0, 1.5)}),  # worked out by hand
    heartbeat=(5, '{"ping":1795000005000}'),  # closed unless answered {"pong": n}
    refusals=(('{"sub":"market.btcusdt.mbp.7","id":"x"}', None,
               "bad-request: invalid topic market.btcusdt.mbp.7"),),
)  # fmt: skip

STEP0_IDS = ("borusdt", "omgbtc", "yfihusd", "nesteth")
STEP0_SYMBOLS = ("BOR/USDT", "OMG/BTC", "YFI/HUSD", "NEST/ETH")


def read_step0(record: Record, memo: dict[str, Any]) -> list[Event]:
    """HTX's 2021 gzip frames as plain json: pings, acks, and a whole book in every
    ``depth.step0`` push (sorted, each price once, its ``version`` never going back)."""
    assert isinstance(record.data, bytes)
    msg = json.loads(gzip.decompress(record.data))
    if "ping" in msg:
        return [Reply(json.dumps({"pong": msg["ping"]}, separators=(",", ":")))]
    topic = (msg.get("ch") or msg.get("subbed")).split(".")
    if topic[2] != "depth":
        return []  # trade.detail
    symbol = STEP0_SYMBOLS[STEP0_IDS.index(topic[1])]
    if "subbed" in msg:
        return [Subscribed(symbol)]
    tick = msg["tick"]
    bids, asks = [p for p, _ in tick["bids"]], [p for p, _ in tick["asks"]]
    assert bids == sorted(set(bids), reverse=True) and asks == sorted(set(asks))
    return [
        BookSnapshot(symbol, tick["bids"], tick["asks"], tick["version"], None, msg["ts"] * 10**6)
    ]


STEP0_SAMPLES = (
    (gzip.compress(b'{"ch":"market.yfihusd.depth.step0","ts":1618678069722,"tick":{"bids":'
                   b'[[49986.85,3.45E-4]],"asks":[[50171.6,0.001052]],"version":181648174,'
                   b'"ts":1618678069720}}', mtime=0),
     (BookSnapshot("YFI/HUSD", [[49986.85, 3.45e-4]], [[50171.6, 0.001052]], 181648174, None,
                   1618678069722 * 10**6),)),
    ('{"id":2,"status":"ok","subbed":"market.borusdt.depth.step0","ts":1}',
     (Subscribed("BOR/USDT"),)),
    ('{"id":12,"status":"ok","subbed":"market.borusdt.trade.detail","ts":1}', ()),
)  # fmt: skip

STEP0 = VenueCase(
    name="htx-step0",
    codec=HtxStep0,
    symbols=STEP0_SYMBOLS,
    # the recording's requests named the same topics with numeric ids
    subscribe=tuple(f'{{"sub":"market.{v}.depth.step0","id":"{v}"}}' for v in STEP0_IDS),
    samples=STEP0_SAMPLES,
    malformed=('{"ch":"market.omgbtc.depth.step0","ts":1,"tick":{"bids":[],"asks":[]}}',),
    recording="htx.ndjson.gz",
    # 118 whole books (the frames of 4 of the recording's 10 symbols; all 10: 292), each
    # sorted, never crossed, its version never going back (tests/test_reference.py)
    replay=Replay(118, 118, 0, 0, tops={
        "BOR/USDT": (710.01, 2.260165, 716.15, 0.118518),
        "OMG/BTC": (0.000158, 2064.3774, 0.000159, 4049.005510062893),
        "YFI/HUSD": (49988.88, 0.028864, 50171.26, 0.001056),
        "NEST/ETH": (2.272e-05, 930.82, 2.288e-05, 441.82),
    }),
    emulated=False,  # the emulator speaks mbp
    model=Model(read_step0, {"BookSnapshot": 118, "Reply": 6, "Subscribed": 4, "no event": 10}),
)  # fmt: skip

CASES = (MBP, STEP0)
