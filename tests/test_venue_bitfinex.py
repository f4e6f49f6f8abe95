"""Bitfinex v2 codec: the real 2021 recording (tests/fixtures/bitfinex.ndjson.gz, see
ATTRIBUTION.md: SEQ_ALL, no checksums), Bitfinex's documented messages and the published
checksum vectors (the ``cs`` frames), the info codes, fuzzing.

The golden figures and book tops come from :func:`reference_replay`, a plain-dict model that
reads the raw JSON itself (it never calls the code under test).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds import protocol
from feeds.actions import Reconnect, Replace, Send
from feeds.capture import read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ConnectionSeq,
    Heartbeat,
    Ignored,
    Malformed,
    Subscribed,
    VenueError,
)
from feeds.session import FeedSession
from feeds.venues.bitfinex import Bitfinex
from tests.conformance.bitfinex import SYMBOLS
from tests.venue_helpers import Recorder, Top

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = [r for r in read_capture(FIXTURES / "bitfinex.ndjson.gz") if r.dir == "in"]
FRAMES = [r.data for r in RECORDS if isinstance(r.data, str)]  # every frame is text
PAIRS = dict(zip([Bitfinex(SYMBOLS).venue_symbol(s) for s in SYMBOLS], SYMBOLS, strict=True))


def reference_replay() -> tuple[list[int], int, int, list[tuple[int, str, Top]]]:
    """Every frame's counter, the deletes and those that hit a level, and (frame index, pair,
    best bid/size/ask/size) after every book message; asserts that no book ever crosses."""
    chans: dict[int, str] = {}
    books: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
    seqs: list[int] = []
    deletes = hits = 0
    tops: list[tuple[int, str, Top]] = []
    for index, frame in enumerate(FRAMES):
        msg = orjson.loads(frame)
        if isinstance(msg, dict):
            if msg.get("event") == "subscribed" and msg["channel"] == "book":
                chans[msg["chanId"]] = msg["symbol"]
            continue
        seqs.append(msg[-1])
        pair = chans.get(msg[0])
        if pair is None or not isinstance(msg[1], list):
            continue  # another channel, or a heartbeat
        if isinstance(msg[1][0], list):
            books[pair] = ({}, {})
        bids, asks = books[pair]
        for price, count, amount in msg[1] if isinstance(msg[1][0], list) else [msg[1]]:
            if count == 0:
                side = bids if amount == 1 else asks
                deletes, hits = deletes + 1, hits + (price in side)
                side.pop(price, None)
            else:
                (bids if amount > 0 else asks)[price] = abs(amount)
        bid, ask = max(bids), min(asks)
        assert bid < ask
        tops.append((index, pair, (bid, bids[bid], ask, asks[ask])))
    return seqs, deletes, hits, tops


def test_reference_replay_proves_the_counter_and_every_delete() -> None:
    seqs, deletes, hits, tops = reference_replay()
    assert len(seqs) == 1670 and seqs[0] == 1
    assert sum(b == a + 1 for a, b in itertools.pairwise(seqs)) == 1669  # all
    assert (deletes, hits, len(tops)) == (722, 722, 1600)  # 7 snapshots + 1593 updates
    assert tops[0] == (31, "tTESTBTC:TESTUSD", (60400, 0.68826974, 60406, 0.68833961))
    assert tops[100][1:] == ("tDOGUSD", (279380, 0.008902, 282030, 0.117))
    assert tops[-1] == (1692, "tIOTETH", (0.001026, 9.80717706, 0.0010272, 8))


def translate(msg: list[Any], chans: dict[int, str]) -> list[protocol.Event]:
    """The events a SEQ_ALL array frame stands for, read independently of the codec."""
    out: list[protocol.Event] = [ConnectionSeq(msg[-1])]
    symbol = chans.get(msg[0])
    if symbol is None or msg[1] == "hb":
        return out + ([Heartbeat()] if symbol else [])
    levels = msg[1] if isinstance(msg[1][0], list) else [msg[1]]
    sides: tuple[list[Any], list[Any]] = ([], [])
    for price, count, amount in levels:
        sides[amount < 0].append((price, abs(amount) if count else 0))
    kind = BookSnapshot if levels is msg[1] else BookDelta
    return [*out, kind(symbol, *sides)]


def test_codec_translates_every_recorded_frame_exactly() -> None:
    codec, chans = Bitfinex(SYMBOLS, depth=100), {}
    kinds: dict[str, int] = {}
    for frame in FRAMES:
        events, msg = codec.parse(frame), orjson.loads(frame)
        if isinstance(msg, dict):
            book = msg.get("event") == "subscribed" and msg["channel"] == "book"
            if book:
                chans[msg["chanId"]] = PAIRS[msg["symbol"]]
            assert events == ([Subscribed(PAIRS[msg["symbol"]])] if book else [])
        elif msg[0] in (232954, 232958) and msg[0] not in chans:  # hb before the ack
            assert events == [
                ConnectionSeq(msg[-1]),
                Ignored(f"channel {msg[0]}, not subscribed here"),
            ]
        else:
            assert events == translate(msg, chans)
        for event in events:
            kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    assert kinds == {
        "ConnectionSeq": 1670,
        "Subscribed": 7,
        "BookSnapshot": 7,
        "BookDelta": 1593,
        "Heartbeat": 12,
        "Ignored": 2,
    }


def session_for(codec: Bitfinex) -> tuple[FeedSession, dict[str, Recorder], list[str]]:
    recorders = {s: Recorder() for s in codec.symbols}
    states: list[str] = []
    session = FeedSession(codec, recorders.__getitem__, lambda s, r, t: states.append(s))
    return session, recorders, states


# --- the documented messages (https://docs.bitfinex.com/reference/ws-public-books,
# https://docs.bitfinex.com/docs/ws-general), with the SEQ_ALL counter appended ------------

SUBSCRIBED = (
    '{"event":"subscribed","channel":"book","chanId":10092,"symbol":"tETHUSD","prec":"P0",'
    '"freq":"F0","len":"25","subId":123,"pair":"ETHUSD"}'
)
VECTORS = orjson.loads((FIXTURES / "checksum_vectors" / "bitfinex_book_checksum.json").read_bytes())


def test_documented_frames_and_frames_out() -> None:
    codec = Bitfinex(["ETH/USD", "BTC/USDT", "AVAX/USDT"])
    assert codec.subscribe_frames(["ETH/USD", "AVAX/USDT"]) == [
        '{"event":"conf","flags":196608}',
        '{"event":"subscribe","channel":"book","symbol":"tETHUSD","prec":"P0","freq":"F0","len":"25"}',
        '{"event":"subscribe","channel":"book","symbol":"tAVAX:UST","prec":"P0","freq":"F0","len":"25"}',
    ]
    assert codec.subscribe_frames(["BTC/USDT"])[0].count("tBTCUST") == 1  # conf only once
    assert codec.unsubscribe_frames(["ETH/USD"]) == []  # no chanId yet
    assert codec.parse(SUBSCRIBED) == [Subscribed("ETH/USD")]
    assert codec.unsubscribe_frames(["ETH/USD"]) == ['{"event":"unsubscribe","chanId":10092}']
    assert codec.parse("[10092,[[7254.7,3,3.3]],1]") == [
        ConnectionSeq(1),
        BookSnapshot("ETH/USD", [(7254.7, 3.3)], []),
    ]
    assert codec.parse("[10092,[7254.5,0,1],2]") == [
        ConnectionSeq(2),
        BookDelta("ETH/USD", [(7254.5, 0)], []),
    ]
    assert codec.parse('[10092,"cs",-890884919,3]') == [
        ConnectionSeq(3),
        BookDelta("ETH/USD", [], [], checksum=-890884919),
    ]
    assert codec.parse('[10092,"hb",4]') == [ConnectionSeq(4), Heartbeat()]
    assert codec.parse('{"event":"unsubscribed","status":"OK","chanId":10092}') == []
    assert codec.parse('[10092,"hb",5]')[1:] == [Ignored("channel 10092, not subscribed here")]
    assert codec.ping_frame() == '{"event":"ping","cid":1}'
    assert codec.parse('{"event":"pong","ts":1511545528111,"cid":1234}') == [Heartbeat()]
    assert codec.parse('{"event":"conf","status":"OK","flags":196608}') == []
    assert codec.parse(
        '{"event":"error","msg":"Unknown pair","code":10001,"symbol":"tETHUSD"}'
    ) == [VenueError("error 10001: Unknown pair", "ETH/USD")]


def test_checksums_of_the_published_vectors_through_the_session() -> None:
    session, recorders, _ = session_for(Bitfinex(["ETH/USD"]))
    session.opened(0)
    session.frame(SUBSCRIBED, 0)
    seq = 0
    for case in VECTORS["cases"][:5]:  # the P0 books (price, amount) best first
        bids = [[float(p), 1, float(a)] for p, a in case["bids_best_first"]]
        asks = [[float(p), 1, -float(a)] for p, a in case["asks_best_first"]]
        assert session.frame(orjson.dumps([10092, bids + asks, seq + 1]), 0) == []
        assert session.frame(f'[10092,"cs",{case["expected_checksum"]},{seq + 2}]', 0) == []
        seq += 2
    assert (session.stats.checksum_ok, session.stats.checksum_fail, session.stats.gaps) == (5, 0, 0)
    # a checksum that does not match resyncs that book in-band; a counter gap reconnects
    assert session.frame(f'[10092,"cs",12345,{seq + 1}]', 1) == [
        Send('{"event":"unsubscribe","chanId":10092}'),
        Send(
            '{"event":"subscribe","channel":"book","symbol":"tETHUSD","prec":"P0","freq":"F0","len":"25"}'
        ),
    ]
    assert session.stats.checksum_fail == 1
    assert session.frame(f'[10092,"hb",{seq + 3}]', 2) == [Reconnect("desynced")]
    assert [u for u, _, _ in recorders["ETH/USD"].usable] == [True, False]


def test_maintenance_suspends_every_book_then_resubscribes_them() -> None:
    session, recorders, states = session_for(Bitfinex(["ETH/USD"]))
    session.opened(0)
    session.frame(SUBSCRIBED, 0)
    session.frame("[10092,[[7254.7,3,3.3],[7255,1,-2]],1]", 0)
    restart = '{"event":"info","code":20051,"msg":"Stopping. Please try to reconnect"}'
    assert session.frame(restart, 1) == [Replace("info 20051")]
    assert session.frame('{"event":"info","code":20060,"msg":"Maintenance."}', 2) == []
    assert session.frame("[10092,[[7254.7,3,3.3],[7255,1,-2]],2]", 3) == []  # ignored
    assert session.tick(60_000_000_000) == []  # nothing asked for while suspended
    assert session.frame('{"event":"info","code":20061,"msg":"Maintenance ended."}', 4) == [
        Send('{"event":"unsubscribe","chanId":10092}'),
        Send(
            '{"event":"subscribe","channel":"book","symbol":"tETHUSD","prec":"P0","freq":"F0","len":"25"}'
        ),
    ]
    session.frame("[10092,[[7254.7,3,3.3],[7255,1,-2]],3]", 5)
    assert recorders["ETH/USD"].usable == [(True, None, 0), (False, "stale", 2), (True, None, 5)]
    assert states == ["syncing", "live", "resyncing", "live"]
    assert (session.stats.suspensions, session.stats.resyncs, session.stats.notices) == (1, 1, 1)


@pytest.mark.parametrize(
    ("frame", "lost"),
    [
        ("[10092,[7254.5,0,2],7]", ("ETH/USD",)),
        ("[10092,[7254.5,1,0],7]", ("ETH/USD",)),
        ('[10092,[7254.5,1,"1"],7]', ("ETH/USD",)),
        ("[10092,[7254.5,1],7]", ("ETH/USD",)),
        ('[10092,"cs",7]', ("ETH/USD",)),
        ('["x",[7254.5,1,1],7]', None),
    ],
)
def test_a_bad_body_keeps_its_counter(frame: str, lost: tuple[str, ...] | None) -> None:
    codec = Bitfinex(["ETH/USD"])
    codec.parse(SUBSCRIBED)
    seq, malformed = codec.parse(frame)
    assert seq == ConnectionSeq(7) and isinstance(malformed, Malformed) and malformed.lost == lost


SAMPLES = [orjson.loads(f) for f in FRAMES[31:60] if f.startswith("[")]
"""Recorded frames for the fuzzed session (tests/test_session.py)."""
