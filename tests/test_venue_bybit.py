"""Bybit v5 quirks: ``u`` = 1 restarts, the textual ``ts``. (Samples, control frames,
malformed frames, fuzzing, the replay's figures, resync, the emulator:
tests/conformance/bybit.py; the ob500 recording read, sequenced and followed by the
independent model: tests/test_reference.py.)"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ParseError,
    SeqRule,
    SnapshotSource,
)
from feeds.session import FeedSession
from feeds.venues.bybit import Bybit
from tests.venue_helpers import (
    RecordingLeg,
    ReferenceBook,
    book_refuses,
)

FIXTURE = Path(__file__).parent / "fixtures" / "bybit.ndjson.gz"
FRAMES = [r.data for r in read_capture(FIXTURE) if r.dir == "in"]
SYMBOLS = ("XRP/USDT",)


def test_u_equal_one_is_a_snapshot_whatever_its_type() -> None:
    # Bybit docs: "Occasionally, you'll receive "u"=1, which is a snapshot data due to the
    # restart of the service. So please overwrite your local orderbook".
    frame = (
        '{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":1733011200693,'
        '"data":{"s":"XRPUSDT","b":[["1.95","10"]],"a":[["1.96","5"]],"u":1,"seq":7},'
        '"cts":1733011200691}'
    )
    assert Bybit(SYMBOLS).parse(frame) == [
        BookSnapshot("XRP/USDT", [["1.95", "10"]], [["1.96", "5"]], 1, None, 1733011200693_000000)
    ]


def test_class_attributes_and_frames_out() -> None:
    assert Bybit.venue == "bybit"
    assert Bybit.integrity.seq is SeqRule.COUNTER
    assert Bybit.integrity.snapshot is SnapshotSource.IN_BAND
    assert Bybit.ping_interval_s == 20.0
    assert Bybit.endpoints.ws == "wss://stream.bybit.com/v5/public/spot"
    codec = Bybit(["BTC/USDT", "ETH/USDT"])
    assert codec.depth == 50
    assert codec.ping_frame() == '{"op":"ping"}'
    assert codec.subscribe_frames(["BTC/USDT"]) == [
        '{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}'
    ]
    assert codec.unsubscribe_frames(["ETH/USDT"]) == [
        '{"op":"unsubscribe","args":["orderbook.50.ETHUSDT"]}'
    ]
    many = [f"C{i}/USDT" for i in range(23)]
    frames = Bybit(many, depth=200).subscribe_frames(many)
    assert [len(orjson.loads(f)["args"]) for f in frames] == [10, 10, 3]
    assert orjson.loads(frames[2])["args"] == [f"orderbook.200.C{i}USDT" for i in (20, 21, 22)]
    with pytest.raises(ValueError, match="depth"):
        Bybit(SYMBOLS, depth=500)
    with pytest.raises(ValueError, match="both"):
        Bybit(["AB/CD", "ABC/D"])


def _with_ts(ts: str) -> str:
    head = '{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":'
    return head + ts + ',"data":{"s":"XRPUSDT","b":[["1.95","10"]],"a":[],"u":2}}'


@pytest.mark.parametrize("ts", ["1733011200693", '"1733011200693"', '"01733011200693"'])
def test_ts_is_a_number_or_a_numeric_string(ts: str) -> None:
    assert Bybit(SYMBOLS).parse(_with_ts(ts)) == [
        BookDelta("XRP/USDT", [["1.95", "10"]], [], last=2, venue_ts_ns=1733011200693_000000)
    ]


@pytest.mark.parametrize(
    "ts",
    [
        '""',
        '"1.5"',
        '"-1"',
        '" 1"',
        '"1e3"',
        '"\u0661"',
        '"1' + "0" * 20 + '"',
        "-1",
        "1.5",
        "true",
        "null",
        "[1]",
        '{"ms":1}',
    ],
)
def test_any_other_ts_is_malformed_and_counted(ts: str) -> None:
    with pytest.raises(ParseError, match="bad 'ts'"):
        Bybit(SYMBOLS).parse(_with_ts(ts))
    session = FeedSession(Bybit(SYMBOLS), lambda _: RecordingLeg(), lambda *a: None)
    assert session.frame(_with_ts(ts), 0) == []
    assert (session.stats.malformed, session.stats.codec_errors) == (1, 0)


def test_a_bad_level_passes_the_codec_and_the_book_refuses_it() -> None:
    frame = (
        '{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":1,"data":{"s":"XRPUSDT",'
        '"b":[["1.9","-1"]],"a":[],"u":2}}'
    )
    book_refuses(Bybit(SYMBOLS).parse(frame), [["1.9", "-1"]], [], "bad size '-1'")


# Samples the session fuzzing in tests/test_session.py mutates.
SMALL_FRAMES = [orjson.loads(f) for f in FRAMES[1:4]]
SMALL_SNAPSHOT = orjson.loads(FRAMES[0])
SMALL_SNAPSHOT["data"] |= {
    "b": SMALL_SNAPSHOT["data"]["b"][:3],
    "a": SMALL_SNAPSHOT["data"]["a"][:3],
}


# --- through the real sequencing machinery ------------------------------------------------

TIMES = [r.t for r in read_capture(FIXTURE) if r.dir == "in"]


def session_with_leg() -> tuple[FeedSession, RecordingLeg]:
    leg = RecordingLeg()
    return FeedSession(Bybit(SYMBOLS), lambda _symbol: leg, lambda *_: None), leg


def test_session_resyncs_in_band_on_a_lost_message() -> None:
    session, leg = session_with_leg()
    session.opened(TIMES[0] - 1)
    for frame, t in zip(FRAMES[:10], TIMES[:10], strict=True):
        session.frame(frame, t)
    # Message 10 (u=20254879) is lost: message 11 is a gap -> unsubscribe + subscribe.
    assert session.frame(FRAMES[11], TIMES[11]) == [
        Send('{"op":"unsubscribe","args":["orderbook.50.XRPUSDT"]}'),
        Send('{"op":"subscribe","args":["orderbook.50.XRPUSDT"]}'),
    ]
    assert leg.usable[-1] == (False, "desynced", TIMES[11])
    calls = len(leg.books)
    assert session.frame(FRAMES[12], TIMES[12]) == []  # ignored until the new snapshot
    assert len(leg.books) == calls
    # A service restart: "u" = 1 in a delta message is a full book, then u = 2 continues.
    restart = orjson.loads(FRAMES[1])
    restart["data"]["u"] = 1
    session.frame(orjson.dumps(restart), TIMES[13])
    assert leg.usable == [
        (True, None, TIMES[0]),
        (False, "desynced", TIMES[11]),
        (True, None, TIMES[13]),
    ]
    restarted = ReferenceBook()
    restarted.apply_levels(restart["data"]["b"], restart["data"]["a"])
    assert leg.view() == restarted.top(20)
    follow = orjson.loads(FRAMES[2])
    follow["data"]["u"] = 2
    assert session.frame(orjson.dumps(follow), TIMES[14]) == []
    restarted.apply_levels(follow["data"]["b"], follow["data"]["a"])
    assert leg.view() == restarted.top(20)
    assert (session.stats.gaps, session.stats.resyncs) == (1, 1)
