"""Bitfinex v2 ``book``: cryptofeed's 2021 recording (SEQ_ALL only, P0/F0 len 100; see
tests/fixtures/ATTRIBUTION.md) proves the counter on every frame and the levels; the ``cs``
checksum frames are proven on the published vectors (tests/test_venue_bitfinex.py) and by the
emulator round trip. The samples run in order through one codec: the ``subscribed`` answer
gives the channel id the book frames carry (and ``unsubscribed`` takes it back)."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record, read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ConnectionSeq,
    Event,
    Heartbeat,
    Ignored,
    Malformed,
    PlannedClose,
    Resumed,
    Subscribed,
    Suspended,
    VenueError,
)
from feeds.venues.bitfinex import Bitfinex
from tests.conformance import FIXTURES, FramesOut, Replay, VenueCase
from tests.reference import Model

TOPS = {  # each recorded symbol's final top, from the independent model (tests/test_reference.py)
    "BFT/USD": (0.068965, 6098.17017201, 0.0774, 6662.31867263),
    "IOTA/ETH": (0.001026, 9.80717706, 0.0010272, 8),
    "MDOGE/USD": (277730, 0.09383141, 282030, 0.027),
    "MANA/BTC": (2.505e-05, 504.35063355, 2.53e-05, 66.58783643),
    "ODE/USD": (0.02056, 4510.99, 0.02088, 2335.56),
    "TESTBTC/TESTUSD": (60417, 0.68807848, 60423, 0.68805459),
    "SNGLS/USD": (0.037108, 6830.77512, 0.038798, 1461.09590662),
}
SYMBOLS = tuple(TOPS)
SUBSCRIBED = (
    '{"event":"subscribed","channel":"book","chanId":225206,"symbol":"tDOGUSD","prec":"P0",'
    '"freq":"F0","len":"100","pair":"DOGUSD"}'
)

RECORDED_SUBSCRIBES = tuple(
    str(r.data)
    for r in read_capture(FIXTURES / "bitfinex.ndjson.gz")
    if r.dir == "out" and '"channel":"book"' in str(r.data)
)


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Bitfinex's SEQ_ALL frames as plain json: a ``subscribed`` answer names a channel id;
    an array is [channel, body, counter]: a heartbeat, a whole book or one level
    [price, count, amount] (amount < 0: an ask; count 0: a delete)."""
    msg, chans = json.loads(record.data), memo.setdefault("chans", {})
    if isinstance(msg, dict):
        if msg.get("event") != "subscribed":
            return []  # info, conf
        book = msg["channel"] == "book"
        chans[msg["chanId"]] = SYMBOLS[PAIRS.index(msg["symbol"])] if book else None
        return [Subscribed(chans[msg["chanId"]])] if book else []
    symbol, out = chans.get(msg[0]), list[Event]([ConnectionSeq(msg[-1])])
    if symbol is None:  # another channel, or one not subscribed yet
        return out if msg[0] in chans else [*out, Ignored(f"channel {msg[0]}, not subscribed here")]
    if msg[1] == "hb":
        return [*out, Heartbeat()]
    levels = msg[1] if isinstance(msg[1][0], list) else [msg[1]]
    sides: tuple[list[Any], list[Any]] = ([], [])
    for price, count, amount in levels:
        sides[amount < 0].append((price, abs(amount) if count else 0))
    return [*out, (BookSnapshot if levels is msg[1] else BookDelta)(symbol, *sides)]


def bad_body(
    frame: str, reason: str, lost: tuple[str, ...] | None = ("MDOGE/USD",)
) -> tuple[str, tuple[Event, ...]]:
    """A body the codec cannot read: its counter is kept, its book (any, when None) lost."""
    return frame, (ConnectionSeq(7), Malformed(reason, lost))


PAIRS = ["tBFTUSD", "tIOTETH", "tDOGUSD", "tMNABTC", "tODEUSD", "tTESTBTC:TESTUSD", "tSNGUSD"]

CASE = VenueCase(
    codec=Bitfinex,
    symbols=SYMBOLS,
    depth=100,
    recording="bitfinex.ndjson.gz",
    # a counter on every frame, each one more than the one before; every delete hits a level
    model=Model(
        read,
        {"Subscribed": 7, "BookSnapshot": 7, "BookDelta": 1593, "Heartbeat": 12, "Ignored": 2}
        | {"ConnectionSeq": 1670, "counter continued": 1669, "no event": 16}
        | {"applied": 1593, "removed": 722},
    ),
    # the recording's own book subscriptions; its conf asked for SEQ_ALL alone (65536)
    subscribe=('{"event":"conf","flags":196608}', *RECORDED_SUBSCRIBES),
    samples=(
        (SUBSCRIBED, (Subscribed("MDOGE/USD"),)),
        (
            "[225206,[[277520,1,0.00383141],[283460,2,-0.5]],17]",
            (ConnectionSeq(17), BookSnapshot("MDOGE/USD", [(277520, 0.00383141)], [(283460, 0.5)])),
        ),
        (
            "[225206,[215350,0,1],18]",
            (ConnectionSeq(18), BookDelta("MDOGE/USD", [(215350, 0)], [])),
        ),
        (
            "[225206,[283510,1,-0.00426663],27]",
            (ConnectionSeq(27), BookDelta("MDOGE/USD", [], [(283510, 0.00426663)])),
        ),
        (
            '[225206,"cs",-890884919,28]',
            (ConnectionSeq(28), BookDelta("MDOGE/USD", [], [], checksum=-890884919)),
        ),
        ('[225206,"hb",127]', (ConnectionSeq(127), Heartbeat())),
        ('{"event":"pong","ts":1511545528111,"cid":1234}', (Heartbeat(),)),
        (
            '{"event":"info","code":20051,"msg":"Stopping. Please try to reconnect"}',
            (PlannedClose("info 20051"),),
        ),
        (
            '{"event":"info","code":20060,"msg":"Entering in Maintenance mode."}',
            (Suspended("info 20060: maintenance"),),
        ),
        (
            '{"event":"info","code":20061,"msg":"Maintenance ended."}',
            (Resumed("info 20061: maintenance ended"),),
        ),
        (
            '{"event":"error","msg":"Unknown pair","code":10001,"symbol":"tDOGUSD"}',
            (VenueError("error 10001: Unknown pair", "MDOGE/USD"),),
        ),
        ('{"event":"conf","status":"OK","flags":196608}', ()),
        ('{"event":"info","version":2,"serverId":"x","platform":{"status":1}}', ()),
        (
            '{"event":"info","version":2,"serverId":"x","platform":{"status":0}}',
            (VenueError("platform in maintenance"),),
        ),
        bad_body("[225206,[7254.5,0,2],7]", "MDOGE/USD: bad delete amount '2'"),
        bad_body("[225206,[7254.5,1,0],7]", "MDOGE/USD: amount 0 with a count"),
        bad_body('[225206,[7254.5,1,"1"],7]', "MDOGE/USD: bad amount '1'"),
        bad_body("[225206,[7254.5,1],7]", "MDOGE/USD: bad level [7254.5, 1]"),
        bad_body('[225206,"cs",7]', "MDOGE/USD: cs frame without a checksum"),
        bad_body('["x",[7254.5,1,1],7]', "bad chanId 'x'", None),
        ('{"event":"unsubscribed","status":"OK","chanId":225206}', ()),
        ('[225206,"hb",128]', (ConnectionSeq(128), Ignored("channel 225206, not subscribed here"))),
        (SUBSCRIBED, (Subscribed("MDOGE/USD"),)),  # again: unsubscribed by its chanId below
    ),
    malformed=(
        "[]",
        "[1,2]",
        "null",
        '{"x":1}',
        '[225206,"hb",-1]',
        '[225206,"hb",true]',
        '{"event":"subscribed","channel":"book","chanId":7,"symbol":"tXXXUSD"}',
    ),
    replay=Replay(
        messages=1600,
        snapshots=7,
        deltas=1593,
        checks=1669,  # every counter after the first continued its predecessor
        tops=TOPS,
    ),
)

FRAMES_OUT = FramesOut(
    CASE, ('{"event":"unsubscribe","chanId":225206}',), '{"event":"ping","cid":1}'
)
