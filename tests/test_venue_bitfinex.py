"""Bitfinex v2 quirks: Bitfinex's documented messages and the published checksum vectors
(the ``cs`` frames), the info codes, bad bodies keeping their counter. (The 2021 recording,
SEQ_ALL without checksums, read, its counter and every delete proven and the session
followed by the independent model: tests/test_reference.py; the rest:
tests/conformance/bitfinex.py.)"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

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
from tests.venue_helpers import Recorder

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = [r for r in read_capture(FIXTURES / "bitfinex.ndjson.gz") if r.dir == "in"]
FRAMES = [r.data for r in RECORDS if isinstance(r.data, str)]  # every frame is text
PAIRS = dict(zip([Bitfinex(SYMBOLS).venue_symbol(s) for s in SYMBOLS], SYMBOLS, strict=True))


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
