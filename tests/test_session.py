"""FeedSession: every integrity rule, driven through tests/fakecodec.py with exact call logs."""

from __future__ import annotations

import gzip
import json
import logging
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.actions import Action, BookListener, FetchSnapshot, Reconnect, Send
from feeds.book import Book
from feeds.capture import read_capture
from feeds.checksum import INDEPENDENT_RESERVE, KRAKEN, OKX, ChecksumLayout, Order, Text, crc32
from feeds.protocol import Codec, RestRequest, SeqRule
from feeds.session import FeedSession
from feeds.venues import every_codec
from feeds.venues.ascendex import AscendEx
from feeds.venues.binance import Binance
from feeds.venues.bitfinex import Bitfinex
from feeds.venues.bitflyer import Bitflyer
from feeds.venues.bitstamp import Bitstamp
from feeds.venues.bybit import Bybit
from feeds.venues.coinbase import Coinbase
from feeds.venues.deribit import Deribit
from feeds.venues.gate import Gate
from feeds.venues.gemini import Gemini
from feeds.venues.hitbtc import HitBTC, HitBTCV2
from feeds.venues.htx import Htx, HtxStep0
from feeds.venues.independentreserve import IndependentReserve
from feeds.venues.kraken import Kraken
from feeds.venues.kraken_v1 import KrakenV1
from feeds.venues.kucoin import KuCoin
from feeds.venues.okx import Okx
from feeds.venues.poloniex import Poloniex
from feeds.venues.upbit import Upbit
from tests import test_venue_bitstamp as tvs
from tests import test_venue_bybit as tvy
from tests import test_venue_coinbase as tvc
from tests import test_venue_kraken as tvk
from tests import test_venue_kucoin as tvu
from tests.conformance import ascendex as cae
from tests.conformance import binance as cbn
from tests.conformance import bitfinex as cbx
from tests.conformance import bitflyer as cbf
from tests.conformance import deribit as cdr
from tests.conformance import gemini as cgm
from tests.conformance import hitbtc as chb
from tests.conformance import htx as chx
from tests.conformance import independentreserve as cir
from tests.conformance import kraken as ckr
from tests.conformance import kucoin as cku
from tests.conformance import okx as cok
from tests.conformance import upbit as cub
from tests.conformance.gate import OBU_FULL, OBU_UPDATE
from tests.conformance.poloniex import SNAPSHOT as POLONIEX_SNAPSHOT
from tests.fakecodec import FakeCodec, make_codec
from tests.fuzzing import fuzz_settings
from tests.test_conformance import in_frames, records
from tests.venue_helpers import mutated

BTC, ETH = "BTC/USD", "ETH/USD"
S = 1_000_000_000
T0 = 1_700_000_000 * S
SUB_ALL = Send('{"op": "sub", "args": ["BTCUSD", "ETHUSD"]}')
UNSUB_BTC = Send('{"op": "unsub", "args": ["BTCUSD"]}')
SUB_BTC = Send('{"op": "sub", "args": ["BTCUSD"]}')
UNSUB_ETH = Send('{"op": "unsub", "args": ["ETHUSD"]}')
SUB_ETH = Send('{"op": "sub", "args": ["ETHUSD"]}')
UNSUB_SUB_ETH = [
    Send('{"op": "unsub", "args": ["ETHUSD"]}'),
    Send('{"op": "sub", "args": ["ETHUSD"]}'),
]
FETCH_BTC = FetchSnapshot(RestRequest("http://r/depth?symbol=BTCUSD", BTC))
FETCH_ETH = FetchSnapshot(RestRequest("http://r/depth?symbol=ETHUSD", ETH))


class Log:
    """Records every listener and state call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.states: list[tuple[object, ...]] = []

    def listener_for(self, symbol: str) -> BookListener:
        return _Leg(self, symbol)

    def on_state(self, state: str, reason: str | None, ts_ns: int) -> None:
        self.states.append((state, reason, ts_ns))

    def take(self) -> list[tuple[object, ...]]:
        out, self.calls = self.calls, []
        return out


class _Leg:
    def __init__(self, log: Log, symbol: str) -> None:
        self.log, self.symbol = log, symbol

    def on_book(self, book: Book, ts_ns: int) -> None:
        bid_px, bid_sz, ask_px, ask_sz = book.top()
        self.log.calls.append(("book", self.symbol, bid_px, bid_sz, ask_px, ask_sz, ts_ns))

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.log.calls.append(("usable", self.symbol, usable, reason, ts_ns))


def new(codec: FakeCodec, **kw: Any) -> tuple[FeedSession, Log]:
    log = Log()
    kw.setdefault("snapshot_wait_s", 0.0)  # REST snapshots right after subscribing
    return FeedSession(codec, log.listener_for, log.on_state, rest_base="http://r", **kw), log


def snap(sym: str, b: list[list[str]], a: list[list[str]], **kw: object) -> str:
    return json.dumps({"snap": sym, "b": b, "a": a, **kw})


def delta(sym: str, b: list[list[str]], a: list[list[str]], **kw: object) -> str:
    return json.dumps({"d": sym, "b": b, "a": a, **kw})


def body(b: list[list[str]], a: list[list[str]], **kw: object) -> bytes:
    return json.dumps({"b": b, "a": a, **kw}).encode()


def book(
    sym: str, bp: list[float], bs: list[float], ap: list[float], az: list[float], t: int
) -> tuple[object, ...]:
    return ("book", sym, bp, bs, ap, az, t)


def usable(sym: str, ok: bool, reason: str | None, t: int) -> tuple[object, ...]:
    return ("usable", sym, ok, reason, t)


def live_in_band(codec: FakeCodec, **kw: Any) -> tuple[FeedSession, Log]:
    """A session with BTC (100/101) and ETH (10/11) synced at T0, log cleared."""
    s, log = new(codec, **kw)
    s.opened(T0)
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=10), T0)
    s.frame(snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=10), T0)
    log.take()
    return s, log


# -- basics -------------------------------------------------------------------------------


def test_in_band_sync_then_live() -> None:
    s, log = new(make_codec())
    assert s.opened(T0) == [SUB_ALL]
    assert s.frame(snap("BTCUSD", [["100", "1"], ["99", "2"]], [["101", "3"]]), T0 + 1) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 1),
        book(BTC, [100.0, 99.0], [1.0, 2.0], [101.0], [3.0], T0 + 1),
    ]
    assert log.states == [("syncing", None, T0)]
    s.frame(snap("ETHUSD", [["10", "1"]], []), T0 + 2)
    assert log.take() == [usable(ETH, True, None, T0 + 2), book(ETH, [10.0], [1.0], [], [], T0 + 2)]
    assert log.states == [("syncing", None, T0), ("live", None, T0 + 2)]
    assert s.books[BTC].top(5) == ([100.0, 99.0], [1.0, 2.0], [101.0], [3.0])


def test_one_on_book_per_symbol_per_frame_after_whole_frame() -> None:
    s, log = live_in_band(make_codec())
    frame = {
        "events": [
            {"d": "BTCUSD", "b": [["100", "5"]], "a": []},
            {"d": "ETHUSD", "b": [], "a": [["11", "0"], ["12", "2"]]},
            {"d": "BTCUSD", "b": [], "a": [["100.5", "4"]]},
        ]
    }
    assert s.frame(json.dumps(frame), T0 + S) == []
    assert log.take() == [
        book(BTC, [100.0], [5.0], [100.5, 101.0], [4.0, 1.0], T0 + S),
        book(ETH, [10.0], [1.0], [12.0], [2.0], T0 + S),
    ]
    assert s.stats.book_msgs == 2 + 3
    assert s.stats.book_updated_ns == {BTC: T0 + S, ETH: T0 + S}


def test_no_on_book_when_top_n_unchanged() -> None:
    s, log = live_in_band(make_codec(), top_n=1)
    s.frame(delta("BTCUSD", [["99", "7"]], [["102", "1"]]), T0 + S)  # below the top 1
    assert log.take() == []
    s.frame(delta("BTCUSD", [["100", "0"]], []), T0 + 2 * S)  # 99 becomes best
    assert log.take() == [book(BTC, [99.0], [7.0], [101.0], [1.0], T0 + 2 * S)]


def test_reply_sent_back_heartbeat_and_venue_error_counted() -> None:
    s, log = live_in_band(make_codec())
    assert s.frame('{"events": [{"ping": 7}, {"hb": 1}, {"err": "bad", "sym": "BTCUSD"}]}', T0) == [
        Send('{"pong": 7}')
    ]
    assert s.stats.venue_errors == 1
    assert log.take() == []


def test_connection_seq_ignored_without_connection_counter_rule() -> None:
    s, log = live_in_band(make_codec())
    assert s.frame('{"conn": 1}', T0) == []
    assert s.frame('{"conn": 5}', T0) == []
    assert (s.stats.gaps, log.take()) == (0, [])


def test_unknown_symbol_counted() -> None:
    s, log = live_in_band(make_codec())
    assert s.frame(delta("XRPUSD", [["1", "1"]], []), T0) == []
    assert s.stats.unknown_symbol == 1
    assert log.take() == []


def test_malformed_and_codec_bug_dropped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    s, log = live_in_band(make_codec())
    with caplog.at_level(logging.DEBUG, logger="feeds.session"):
        assert s.frame(b"not json", T0) == []
        assert s.frame('{"bug": 1}', T0) == []
    assert (s.stats.frames, s.stats.malformed, s.stats.codec_errors) == (4, 1, 1)
    assert [r.levelname for r in caplog.records] == ["DEBUG", "ERROR"]
    assert "b'not json'" in caplog.records[0].getMessage()
    assert log.take() == []


def test_other_codec_exceptions_propagate() -> None:
    s, log = live_in_band(make_codec())
    with pytest.raises(RuntimeError, match="boom"):
        s.frame('{"boom": 1}', T0)
    assert (s.stats.malformed, s.stats.codec_errors, log.take()) == (0, 0, [])


@pytest.mark.parametrize(
    ("level", "logged"),
    [
        (["abc", "1"], "bad price 'abc'"),
        (["nan", "1"], "bad price 'nan'"),
        (["inf", "1"], "bad price 'inf'"),
        (["0", "1"], "bad price '0'"),
        (["-5", "1"], "bad price '-5'"),
        (["99", "-1"], "bad size '-1'"),
        (["99", "1e999"], "bad size '1e999'"),
        (["99", True], "bad size True"),
        (["99", None], "bad size None"),
        (["99"], "bad level ['99']: not a [price, size, ...] list or tuple"),
        ("99", "not a [price, size, ...] list or tuple"),
        ({"p": "99"}, "not a [price, size, ...] list or tuple"),
        ([["99"], "1"], "bad price ['99']"),
    ],
)
def test_bad_level_is_malformed_and_resyncs_that_symbol(
    level: object, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    s, log = live_in_band(make_codec())
    frame = json.dumps({"d": "BTCUSD", "b": [["100", "2"], level], "a": []})
    with caplog.at_level(logging.DEBUG, logger="feeds.session"):
        assert s.frame(frame, T0 + S) == [UNSUB_BTC, SUB_BTC]
    assert (s.stats.malformed, s.stats.codec_errors, s.stats.resyncs) == (1, 0, 1)
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("DEBUG", None)]
    assert logged in caplog.records[0].getMessage()
    assert log.take() == [usable(BTC, False, "desynced", T0 + S)]
    assert log.states[-1] == ("resyncing", "desynced", T0 + S)
    # the other symbol keeps flowing; BTC stays out until its new snapshot
    s.frame(delta("ETHUSD", [["10", "3"]], []), T0 + 2 * S)
    s.frame(delta("BTCUSD", [["100", "4"]], []), T0 + 2 * S)
    assert log.take() == [book(ETH, [10.0], [3.0], [11.0], [1.0], T0 + 2 * S)]
    s.frame(snap("BTCUSD", [["100", "5"]], [["101", "1"]]), T0 + 3 * S)
    assert log.take() == [
        usable(BTC, True, None, T0 + 3 * S),
        book(BTC, [100.0], [5.0], [101.0], [1.0], T0 + 3 * S),
    ]


def test_bad_level_in_rest_snapshot_refetches() -> None:
    s, log = new(make_codec(SeqRule.RANGE, rest=True))
    s.opened(T0)
    assert s.snapshot(BTC, body([["100", "1"], ["x", "1"]], [], seq=5), T0) == [FETCH_BTC]
    assert (s.stats.malformed, s.stats.codec_errors, s.stats.book_msgs) == (1, 0, 0)
    assert log.take() == []
    assert s.snapshot(BTC, body([["100", "1"]], [["101", "2"]], seq=5), T0 + 1) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 1),
        book(BTC, [100.0], [1.0], [101.0], [2.0], T0 + 1),
    ]


# -- a venue's maintenance (Suspended ... Resumed) ------------------------------------------


def test_a_suspended_venue_leaves_every_book_unusable_until_it_resumes_then_resyncs() -> None:
    s, log = live_in_band(make_codec(SeqRule.PREV_LINK))
    assert s.frame('{"suspend": "maintenance"}', T0 + S) == []
    assert log.take() == [usable(BTC, False, "stale", T0 + S), usable(ETH, False, "stale", T0 + S)]
    assert log.states[-1] == ("resyncing", "stale", T0 + S)
    # nothing is applied or asked for meanwhile: not the deltas, not a snapshot, no timeout
    assert s.frame(delta("BTCUSD", [["100", "5"]], [], prev=10, last=11), T0 + 2 * S) == []
    assert s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=20), T0 + 2 * S) == []
    assert s.tick(T0 + 11 * S) == [Send('{"op":"ping"}')]  # probed; no snapshot timeout
    assert log.take() == [] and s.stats.book_msgs == 2
    assert s.frame('{"resume": "over"}', T0 + 12 * S) == [UNSUB_BTC, SUB_BTC, *UNSUB_SUB_ETH]
    assert s.frame('{"resume": "again"}', T0 + 12 * S) == []  # not suspended: nothing to do
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=30), T0 + 13 * S)
    s.frame(snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=30), T0 + 13 * S)
    assert log.states[-1:] == [("live", None, T0 + 13 * S)]
    assert (s.stats.suspensions, s.stats.resyncs, s.stats.gaps) == (1, 2, 0)


def test_a_suspended_rest_venue_buffers_and_fetches_nothing_until_it_resumes() -> None:
    s, _ = rest_session(SeqRule.RANGE)
    assert s.frame('{"suspend": "maintenance"}', T0) == []
    assert s.frame(delta("BTCUSD", [["100", "1"]], [], first=5, last=9), T0 + S) == []
    assert s.snapshot(BTC, body([["100", "9"]], [["101", "1"]], seq=10), T0 + S) == []
    assert s.tick(T0 + 2 * S) == []
    assert s.frame('{"resume": "over"}', T0 + 3 * S) == [FETCH_BTC, FETCH_ETH]
    assert (s.stats.book_msgs, s.stats.buffer_overflow) == (0, 0)


# -- sequencing rules -------------------------------------------------------------------


def rest_session(seq: SeqRule, **kw: Any) -> tuple[FeedSession, Log]:
    s, log = new(make_codec(seq, rest=True), **kw)
    assert s.opened(T0) == [SUB_ALL, FETCH_BTC, FETCH_ETH]
    return s, log


def test_level_sequences_apply_only_the_levels_above_the_snapshot() -> None:
    # Integrity.level_seq: each level is [price, size, seq]. The message overlapping the
    # snapshot (seq 10) applies only its levels above 10; one ending at 10 is older; a later
    # one applies whole; an unreadable level sequence on an overlap is malformed (resync).
    s, log = new(make_codec(SeqRule.RANGE, rest=True, level_seq=True))
    s.opened(T0)
    for first, last in [(8, 10), (9, 12)]:
        levels = [["100", "7", str(first)], ["99", "2", str(last)]]
        assert (
            s.frame(delta("BTCUSD", levels, [["101", "3", "11"]], first=first, last=last), T0) == []
        )
    assert s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], seq=10), T0 + S) == []
    assert (s.stats.older, s.stats.book_msgs) == (1, 2)
    assert log.take()[-1] == book(BTC, [100.0, 99.0], [1.0, 2.0], [101.0], [3.0], T0 + S)
    assert s.frame(delta("BTCUSD", [["100", "7", "1"]], [], first=13, last=13), T0 + S) == []
    assert log.take() == [book(BTC, [100.0, 99.0], [7.0, 2.0], [101.0], [3.0], T0 + S)]
    assert s.snapshot(ETH, body([["10", "1"]], [["11", "1"]], seq=5), T0 + S) == []
    bad = delta("ETHUSD", [["10", "2", "x"]], [], first=5, last=6)
    assert s.frame(bad, T0 + 2 * S) == [FETCH_ETH]
    assert (s.stats.malformed, s.stats.resyncs, s.stats.gaps) == (1, 1, 0)


def test_level_actions_that_contradict_the_book_resync_as_a_gap() -> None:
    # Integrity.level_actions: each level is [price, size, action]. new of an absent level,
    # change and delete of present ones apply; new of a present level, change or delete of
    # an absent one, or an unknown action, resync that symbol (the other one lives on).
    s, log = live_in_band(make_codec(SeqRule.PREV_LINK, level_actions=True))
    ok = delta("BTCUSD", [["99", "2", "new"], ["100", "3", "change"]], [["101", "0", "delete"]],
               prev=10, last=11)  # fmt: skip
    assert s.frame(ok, T0 + S) == []
    assert log.take() == [book(BTC, [100.0, 99.0], [3.0, 2.0], [], [], T0 + S)]
    bad_levels = [
        ([["10", "5", "new"]], []),
        ([], [["12", "1", "change"]]),
        ([], [["12", "0", "delete"]]),
        ([["9", "1", "moved"]], []),
        ([["9", "1"]], []),
    ]
    for n, (bids, asks) in enumerate(bad_levels):
        s.frame(snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=20), T0 + 2 * S)
        assert s.frame(delta("ETHUSD", bids, asks, prev=20, last=21), T0 + 3 * S) == UNSUB_SUB_ETH
        assert (s.stats.gaps, s.stats.resyncs) == (n + 1, n + 1)
    assert s.books[BTC].top(2) == ([100.0, 99.0], [3.0, 2.0], [], [])


def test_whole_books_sent_again_are_verified_within_their_price_range() -> None:
    # Integrity.verify_snapshots: a whole book sent again is compared with the book the
    # deltas built, per side within its own price range; a difference is counted, and the
    # snapshot becomes the book either way (no resync).
    s, log = live_in_band(make_codec(verify_snapshots=True))
    s.frame(delta("BTCUSD", [["99", "2"], ["90", "5"]], [["102", "4"]]), T0 + S)
    same = snap("BTCUSD", [["100", "1"], ["99", "2"]], [["101", "1"], ["102", "4"]])
    s.frame(same, T0 + 2 * S)  # the level at 90 is below the snapshot's bids: not compared
    assert s.stats.snapshot_mismatch == 0
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"], ["102", "3"]]), T0 + 3 * S)
    assert s.frame(snap("ETHUSD", [["10", "1"]], [["11", "2"]]), T0 + 3 * S) == []
    assert (s.stats.snapshot_mismatch, s.stats.resyncs) == (2, 0)
    assert s.books[BTC].top(5) == ([100.0], [1.0], [101.0, 102.0], [1.0, 3.0])
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"], ["102", "3"]]), T0 + 4 * S)
    assert s.stats.snapshot_mismatch == 2
    s.frame(delta("BTCUSD", [], [["101.5", "2"]]), T0 + 5 * S)  # a level the next one lacks
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"], ["102", "3"]]), T0 + 6 * S)
    assert (s.stats.snapshot_mismatch, s.stats.resyncs) == (3, 0)
    log.take()


def test_range_buffer_drop_bridge_continue_then_gap_resyncs_one_symbol() -> None:
    s, log = rest_session(SeqRule.RANGE)
    for first, last, px in [(5, 9, "1"), (9, 11, "2"), (12, 12, "3")]:
        assert s.frame(delta("BTCUSD", [["100", px]], [], first=first, last=last), T0 + S) == []
    assert log.take() == []
    assert s.snapshot(ETH, body([["10", "1"]], [["11", "1"]], seq=3), T0 + S) == []
    assert s.snapshot(BTC, body([["100", "9"]], [["101", "1"]], seq=10), T0 + 2 * S) == []
    assert (s.stats.older, s.stats.book_msgs) == (1, 4)
    assert log.take() == [
        usable(ETH, True, None, T0 + S),
        book(ETH, [10.0], [1.0], [11.0], [1.0], T0 + S),
        usable(BTC, True, None, T0 + 2 * S),
        book(BTC, [100.0], [3.0], [101.0], [1.0], T0 + 2 * S),
    ]
    assert log.states == [("syncing", None, T0), ("live", None, T0 + 2 * S)]
    # 13 missing: BTC resyncs through REST, ETH keeps flowing.
    assert s.frame(delta("BTCUSD", [["100", "4"]], [], first=14, last=15), T0 + 3 * S) == [
        FETCH_BTC
    ]
    assert s.frame(delta("ETHUSD", [["10", "2"]], [], first=4, last=4), T0 + 3 * S) == []
    assert s.frame(delta("BTCUSD", [], [["102", "1"]], first=16, last=16), T0 + 3 * S) == []
    assert log.take() == [
        usable(BTC, False, "desynced", T0 + 3 * S),
        book(ETH, [10.0], [2.0], [11.0], [1.0], T0 + 3 * S),
    ]
    assert log.states[-1] == ("resyncing", "desynced", T0 + 3 * S)
    assert s.snapshot(BTC, body([["99", "1"]], [["102", "5"]], seq=15), T0 + 4 * S) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 4 * S),
        book(BTC, [99.0], [1.0], [102.0], [1.0], T0 + 4 * S),
    ]
    assert log.states[-2:] == [("resyncing", "desynced", T0 + 3 * S), ("live", None, T0 + 4 * S)]
    assert (s.stats.gaps, s.stats.resyncs) == (1, 1)


@pytest.mark.parametrize(
    ("first", "last", "verdict"),
    [(11, 11, "apply"), (8, 12, "apply"), (3, 10, "apply"), (3, 9, "drop"), (12, 13, "gap")],
)
def test_range_first_message_after_snapshot(first: int, last: int, verdict: str) -> None:
    s, log = rest_session(SeqRule.RANGE)
    s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], seq=10), T0)
    log.take()
    actions = s.frame(delta("BTCUSD", [["100", "2"]], [], first=first, last=last), T0 + S)
    expected = {
        "apply": ([], [book(BTC, [100.0], [2.0], [101.0], [1.0], T0 + S)]),
        "drop": ([], []),
        "gap": ([FETCH_BTC], [usable(BTC, False, "desynced", T0 + S)]),
    }[verdict]
    assert (actions, log.take()) == expected


def test_range_after_the_first_delta_the_same_two_edges() -> None:
    # Binance's update procedure (2025-11 wording) has no separate "bridge" step: after the
    # first event, an overlapping one (U <= id) is applied too; only U > id + 1 is a gap.
    s, log = rest_session(SeqRule.RANGE)
    s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], seq=10), T0)
    s.frame(delta("BTCUSD", [["100", "2"]], [], first=9, last=12), T0)
    log.take()
    assert s.frame(delta("BTCUSD", [["100", "3"]], [], first=12, last=14), T0 + S) == []
    assert s.frame(delta("BTCUSD", [["100", "4"]], [], first=10, last=13), T0 + S) == []
    assert (s.stats.older, s.stats.gaps) == (1, 0)
    assert s.frame(delta("BTCUSD", [["100", "5"]], [], first=16, last=16), T0 + 2 * S) == [
        FETCH_BTC
    ]
    assert log.take() == [
        book(BTC, [100.0], [3.0], [101.0], [1.0], T0 + S),
        usable(BTC, False, "desynced", T0 + 2 * S),
    ]


def test_prev_link_in_band_keepalive_gap_and_in_band_resync() -> None:
    s, log = new(make_codec(SeqRule.PREV_LINK))
    s.opened(T0)
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=100), T0)
    s.frame(snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=7), T0)
    log.take()
    assert s.frame(delta("BTCUSD", [["100", "2"]], [], prev=100, last=105), T0 + S) == []
    # OKX keep-alive: prevSeqId == seqId, no levels: not a gap, nothing changes
    assert s.frame(delta("BTCUSD", [], [], prev=105, last=105), T0 + 2 * S) == []
    assert s.stats.book_updated_ns[BTC] == T0 + 2 * S
    assert s.frame(delta("BTCUSD", [["100", "3"]], [], prev=104, last=106), T0 + 3 * S) == [
        UNSUB_BTC,
        SUB_BTC,
    ]
    # ignored until the new snapshot; ETH unaffected
    assert s.frame(delta("BTCUSD", [["100", "4"]], [], prev=106, last=107), T0 + 3 * S) == []
    assert s.frame(delta("ETHUSD", [["10", "5"]], [], prev=7, last=8), T0 + 3 * S) == []
    assert s.frame(snap("BTCUSD", [["99", "1"]], [["101", "2"]], seq=200), T0 + 4 * S) == []
    assert s.frame(delta("BTCUSD", [["99", "3"]], [], prev=200, last=201), T0 + 5 * S) == []
    # OKX sequence reset (maintenance): seqId drops below prevSeqId, which still links
    assert s.frame(delta("BTCUSD", [], [], prev=201, last=3), T0 + 6 * S) == []
    assert s.frame(delta("BTCUSD", [], [], prev=3, last=4), T0 + 6 * S) == []
    assert log.take() == [
        book(BTC, [100.0], [2.0], [101.0], [1.0], T0 + S),
        usable(BTC, False, "desynced", T0 + 3 * S),
        book(ETH, [10.0], [5.0], [11.0], [1.0], T0 + 3 * S),
        usable(BTC, True, None, T0 + 4 * S),
        book(BTC, [99.0], [1.0], [101.0], [2.0], T0 + 4 * S),
        book(BTC, [99.0], [3.0], [101.0], [2.0], T0 + 5 * S),
    ]
    assert [st for st, _, _ in log.states] == ["syncing", "live", "resyncing", "live"]


def test_prev_link_rest_bridges_like_binance_futures() -> None:
    s, log = rest_session(SeqRule.PREV_LINK)
    s.frame(delta("BTCUSD", [["100", "2"]], [], first=90, last=99, prev=89), T0)  # u < id: drop
    s.frame(delta("BTCUSD", [["100", "3"]], [], first=95, last=102, prev=99), T0)  # U <= id <= u
    s.frame(delta("BTCUSD", [["100", "4"]], [], first=103, last=104, prev=102), T0)
    s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], seq=100), T0 + S)
    assert log.take() == [
        usable(BTC, True, None, T0 + S),
        book(BTC, [100.0], [4.0], [101.0], [1.0], T0 + S),
    ]
    assert s.stats.older == 1
    assert s.frame(delta("BTCUSD", [], [], first=106, last=106, prev=105), T0 + 2 * S) == [
        FETCH_BTC
    ]


REQ_BTC = Send('{"op": "req", "args": ["BTCUSD"]}')
REQ_ETH = Send('{"op": "req", "args": ["ETHUSD"]}')


def test_snapshot_asked_for_on_the_connection_is_buffered_bridged_and_asked_again() -> None:
    # SnapshotSource.REQUEST: subscribe, buffer the deltas, ask for the snapshot on the
    # connection once the stream delivers; the answer is a frame, bridged as a REST one.
    s, log = new(make_codec(SeqRule.PREV_LINK, request=True), snapshot_wait_s=1.0)
    assert s.opened(T0) == [SUB_ALL]
    assert s.frame(delta("BTCUSD", [["100", "2"]], [], first=8, last=9, prev=7), T0 + 1) == [
        REQ_BTC
    ]
    assert s.frame(delta("BTCUSD", [["100", "3"]], [], first=10, last=12, prev=9), T0 + 2) == []
    # an answer older than the first buffered delta: asked for again, the buffer kept
    assert s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=6), T0 + 3) == [REQ_BTC]
    assert (s.stats.old_snapshots, log.take()) == (1, [])
    # seq 10 lies inside the second delta: the first is dropped, the second bridges it
    assert s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=10), T0 + 4) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 4),
        book(BTC, [100.0], [3.0], [101.0], [1.0], T0 + 4),
    ]
    assert (s.stats.older, s.stats.book_msgs) == (1, 2)
    # a second answer once synced is superseded
    assert s.frame(snap("BTCUSD", [["90", "1"]], [["91", "1"]], seq=11), T0 + 5) == []
    assert (s.books[BTC].top(1)[0], log.take()) == ([100.0], [])
    # ETH has no delta: asked for once snapshot_wait_s has passed, and again when no answer
    # comes within stale_after_s (a lost or refused request)
    assert s.tick(T0 + S) == [REQ_ETH]
    assert s.frame('{"hb": 1}', T0 + 10 * S) == []
    assert s.tick(T0 + 11 * S) == [REQ_ETH]
    assert (s.stats.snapshot_timeouts, s.stats.resyncs) == (1, 1)
    assert s.frame(snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=3), T0 + 12 * S) == []
    assert log.states == [("syncing", None, T0), ("live", None, T0 + 12 * S)]
    # a broken link resyncs BTC by asking for a new snapshot (no unsubscribe needed)
    assert s.frame(delta("BTCUSD", [], [], first=14, last=14, prev=13), T0 + 13 * S) == [REQ_BTC]
    assert s.stats.gaps == 1
    assert log.take()[-1] == usable(BTC, False, "desynced", T0 + 13 * S)


def test_counter_duplicate_gap_and_snapshot_reset() -> None:
    s, log = live_in_band(make_codec(SeqRule.COUNTER))
    s.frame(delta("BTCUSD", [["100", "2"]], [], last=11), T0 + S)
    s.frame(delta("BTCUSD", [["100", "9"]], [], last=11), T0 + S)  # duplicate: dropped
    # Bybit: a message with u == 1 is a fresh snapshot (the codec emits it as one)
    s.frame(snap("BTCUSD", [["98", "1"]], [["99", "1"]], seq=1), T0 + 2 * S)
    s.frame(delta("BTCUSD", [["98", "2"]], [], last=2), T0 + 3 * S)
    assert s.frame(delta("BTCUSD", [], [], last=4), T0 + 4 * S) == [UNSUB_BTC, SUB_BTC]
    assert log.take() == [
        book(BTC, [100.0], [2.0], [101.0], [1.0], T0 + S),
        book(BTC, [98.0], [1.0], [99.0], [1.0], T0 + 2 * S),
        book(BTC, [98.0], [2.0], [99.0], [1.0], T0 + 3 * S),
        usable(BTC, False, "desynced", T0 + 4 * S),
    ]
    assert (s.stats.older, s.stats.gaps) == (1, 1)


def test_time_rule_drops_deltas_at_or_before_snapshot_time() -> None:
    s, log = rest_session(SeqRule.TIME)
    for ts, px in [(900, "2"), (1000, "3"), (1001, "4")]:
        s.frame(delta("BTCUSD", [["100", px]], [], ts=ts), T0)
    s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], ts=1000), T0 + S)
    s.frame(delta("BTCUSD", [["100", "5"]], [], ts=999), T0 + S)  # old, late: dropped too
    assert log.take() == [
        usable(BTC, True, None, T0 + S),
        book(BTC, [100.0], [4.0], [101.0], [1.0], T0 + S),
    ]
    assert s.stats.older == 3


def test_time_rule_fetches_again_a_snapshot_older_than_the_stream() -> None:
    """Diffs between an older snapshot and the first one buffered may be lost (the stream
    started after them): the snapshot is asked for again and the buffer kept."""
    s, log = rest_session(SeqRule.TIME)
    for ts, px in [(1000, "2"), (1001, "3")]:
        s.frame(delta("BTCUSD", [["100", px]], [], ts=ts), T0)
    assert s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], ts=999), T0 + S) == [FETCH_BTC]
    assert (log.take(), s.stats.old_snapshots) == ([], 1)
    assert s.snapshot(BTC, body([["100", "1"]], [["101", "1"]], ts=1000), T0 + 2 * S) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 2 * S),
        book(BTC, [100.0], [3.0], [101.0], [1.0], T0 + 2 * S),
    ]
    assert (s.stats.older, s.stats.old_snapshots) == (1, 1)


def test_snapshot_only_crossed_waits_for_next_push() -> None:
    s, log = live_in_band(make_codec(SeqRule.SNAPSHOT_ONLY))
    assert s.frame(snap("BTCUSD", [["102", "1"]], [["101", "1"]]), T0 + S) == []
    assert s.frame(snap("BTCUSD", [["100", "1"]], [["103", "1"]]), T0 + 2 * S) == []
    assert log.take() == [
        usable(BTC, False, "crossed_book", T0 + S),
        usable(BTC, True, None, T0 + 2 * S),
        book(BTC, [100.0], [1.0], [103.0], [1.0], T0 + 2 * S),
    ]
    assert s.stats.crossed == 1


def test_snapshot_only_drops_a_book_older_than_the_one_held() -> None:
    """Every push is a whole book: one stamped before the book held is stale (dropped and
    counted); one of the same time replaces it."""
    s, log = live_in_band(make_codec(SeqRule.SNAPSHOT_ONLY))
    s.frame(snap("BTCUSD", [["100", "2"]], [["101", "1"]], ts=2000), T0 + S)
    s.frame(snap("BTCUSD", [["99", "1"]], [["101", "1"]], ts=1999), T0 + 2 * S)
    s.frame(snap("BTCUSD", [["100", "3"]], [["101", "1"]], ts=2000), T0 + 3 * S)
    assert log.take() == [
        book(BTC, [100.0], [2.0], [101.0], [1.0], T0 + S),
        book(BTC, [100.0], [3.0], [101.0], [1.0], T0 + 3 * S),
    ]
    assert s.stats.older == 1


def test_crossed_book_resyncs_in_band() -> None:
    s, log = live_in_band(make_codec(SeqRule.NONE))
    assert s.frame(delta("BTCUSD", [["101", "1"]], []), T0 + S) == [UNSUB_BTC, SUB_BTC]
    assert log.take() == [usable(BTC, False, "crossed_book", T0 + S)]
    assert s.stats.crossed == 1
    assert s.books[BTC].bid_count == 0


def last_state(log: Log) -> tuple[object, ...]:
    return log.states[-1]


def test_a_crossed_snapshot_is_held_until_an_update_uncrosses_it_in_band() -> None:
    # The resync's snapshot is crossed too: the venue's own book is crossed. Asking again
    # would fetch the same book, as fast as the round trip allows: hold it unusable instead.
    s, log = live_in_band(make_codec(SeqRule.NONE))
    assert s.frame(delta("BTCUSD", [["101", "1"]], []), T0 + S) == [UNSUB_BTC, SUB_BTC]
    crossed = snap("BTCUSD", [["102", "1"], ["100", "1"]], [["101", "1"]])
    assert s.frame(crossed, T0 + 2 * S) == []
    assert s.frame(delta("BTCUSD", [["101.5", "1"]], []), T0 + 3 * S) == []
    assert log.take() == [usable(BTC, False, "crossed_book", T0 + S)]
    assert last_state(log) == ("resyncing", "crossed_book", T0 + S)
    # the venue deletes the crossing bids: the book is usable again, nothing was refetched
    assert s.frame(delta("BTCUSD", [["102", "0"], ["101.5", "0"]], []), T0 + 4 * S) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 4 * S),
        book(BTC, [100.0], [1.0], [101.0], [1.0], T0 + 4 * S),
    ]
    assert last_state(log) == ("live", None, T0 + 4 * S)
    assert (s.stats.crossed, s.stats.resyncs) == (2, 1)
    # crossed again by an update: a resync, as before
    assert s.frame(delta("BTCUSD", [["101", "1"]], []), T0 + 5 * S) == [UNSUB_BTC, SUB_BTC]


def test_a_crossed_rest_snapshot_is_held_not_refetched() -> None:
    s, log = rest_session(SeqRule.RANGE)
    s.snapshot(ETH, body([["10", "1"]], [["11", "1"]], seq=3), T0)
    assert s.snapshot(BTC, body([["102", "1"]], [["101", "1"]], seq=10), T0 + S) == []
    kw = {"first": 11, "last": 11}
    assert s.frame(delta("BTCUSD", [["101.5", "1"]], [], **kw), T0 + 2 * S) == []
    assert log.take() == [usable(ETH, True, None, T0), book(ETH, [10.0], [1.0], [11.0], [1.0], T0)]
    assert last_state(log) == ("syncing", None, T0)  # never live with a crossed book
    kw = {"first": 12, "last": 12}
    assert s.frame(delta("BTCUSD", [["102", "0"], ["101.5", "0"]], [], **kw), T0 + 3 * S) == []
    assert log.take() == [
        usable(BTC, True, None, T0 + 3 * S),
        book(BTC, [], [], [101.0], [1.0], T0 + 3 * S),
    ]
    assert last_state(log) == ("live", None, T0 + 3 * S)
    assert (s.stats.crossed, s.stats.resyncs) == (1, 0)


def test_resync_without_unsubscribe_reconnects() -> None:
    s, log = live_in_band(make_codec(SeqRule.COUNTER, unsubscribe=False))
    assert s.frame(delta("BTCUSD", [], [], last=99), T0 + S) == [Reconnect("desynced")]
    assert log.take() == [usable(BTC, False, "desynced", T0 + S)]


# -- the venue state, known without walking the symbols -----------------------------------


class _Counted(dict[str, Any]):
    """A symbol table that counts the walks over its values."""

    walks = 0

    def values(self) -> Any:
        self.walks += 1
        return super().values()


def test_frames_never_walk_the_symbols_while_one_is_silent() -> None:
    # 200 symbols, one of which never receives anything: the venue stays syncing, and a
    # frame costs the same as with one symbol (nothing walks the 200 on each message).
    symbols = [f"S{i}/USD" for i in range(200)]
    s, log = new(make_codec(SeqRule.NONE, symbols=symbols))
    s.opened(T0)
    table = s._symbols = _Counted(s._symbols)
    for i in range(199):
        s.frame(snap(f"S{i}USD", [["100", "1"]], [["101", "1"]]), T0 + i)
    for i in range(199):
        s.frame(delta(f"S{i}USD", [["100", "2"]], []), T0 + S + i)
    assert table.walks == 0
    assert log.states == [("syncing", None, T0)]
    s.frame(snap("S199USD", [["1", "1"]], [["2", "1"]]), T0 + 2 * S)
    assert log.states == [("syncing", None, T0), ("live", None, T0 + 2 * S)]
    assert (table.walks, s.stats.book_msgs) == (0, 399)


SYNC_FRAMES = st.sampled_from(
    [
        snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=1),
        snap("BTCUSD", [["102", "1"]], [["101", "1"]], seq=1),  # crossed: held
        snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=1),
        delta("BTCUSD", [["102", "0"], ["100.5", "1"]], [], last=2),  # next of seq=1
        delta("BTCUSD", [["101.5", "1"]], [], last=2),  # crosses a book at 101
        delta("ETHUSD", [["10", "2"]], [], last=2),
        delta("ETHUSD", [["10", "2"]], [], last=7),  # a gap: resync
        '{"bad": 1}',  # malformed: dropped, nothing changes
    ]
)


@fuzz_settings(100)
@given(frames=st.lists(SYNC_FRAMES, max_size=30))
def test_fuzz_the_venue_is_live_exactly_when_every_book_is_synced_and_not_held(
    frames: list[str],
) -> None:
    s, log = new(make_codec(SeqRule.COUNTER))
    s.opened(T0)
    for i, frame in enumerate(frames):
        s.frame(frame, T0 + i)
        ready = all(x.synced and not x.held for x in s._symbols.values())
        state = log.states[-1][0]
        assert state == "live" if ready else state in ("syncing", "resyncing")


DELTAS = st.sampled_from(
    [
        delta("BTCUSD", [["100.5", "1"]], [], last=2, ts=5),
        delta("BTCUSD", [["100", "0"]], [["101", "2"]]),  # no id: a gap under COUNTER
        delta("BTCUSD", [["101.5", "1"]], []),  # crosses the ask at 101
        delta("BTCUSD", [["101", "0"], ["101.5", "0"]], [["102", "1"]]),
        delta("BTCUSD", [["99", "1"]], [], last=1),  # older
        delta("BTCUSD", [["nan", "1"]], []),  # a bad level
        delta("ETHUSD", [["10", "3"]], [], first=1, last=1, prev=1),
        delta("ETHUSD", [["12", "1"]], []),  # crosses the ask at 11
        delta("BTCUSD", [["100.2", "1", "2"], ["100.3", "1", "4"]], [], first=1, last=4),
        snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=1),
        snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=1),
    ]
)


@fuzz_settings(100)
@given(
    rule=st.sampled_from(
        [SeqRule.NONE, SeqRule.COUNTER, SeqRule.PREV_LINK, SeqRule.TIME, SeqRule.RANGE]
    ),
    level_seq=st.booleans(),
    counted=st.booleans(),
    silent=st.booleans(),
    frames=st.lists(st.tuples(DELTAS, st.integers(1, 12)), max_size=25),
)
def test_fuzz_one_delta_frames_act_as_any_other_frame(
    rule: SeqRule, level_seq: bool, counted: bool, silent: bool, frames: list[tuple[str, int]]
) -> None:
    # A frame holding one delta (after the connection's counter, when ``counted``) takes the
    # session's short way when its book is usable; the same delta next to a heartbeat takes
    # the general one: everything must come out equal. A step other than 1 is a gap; with a
    # silent symbol, the venue never turns live.
    def run(wrap: bool) -> tuple[object, ...]:
        symbols = (BTC, ETH, "SOL/USD") if silent else (BTC, ETH)  # SOL: never synced
        codec = make_codec(rule, level_seq=level_seq, connection_counter=counted, symbols=symbols)
        s, log = live_in_band(codec)
        actions, count = [], 0
        for i, (frame, step) in enumerate(frames):
            events = [json.loads(frame)]
            if counted:
                count += 1 if step < 12 else 2
                events.insert(0, {"conn": count})
            if wrap:
                events.append({"hb": 1})
            if len(events) > 1:
                frame = json.dumps({"events": events})
            actions.append(s.frame(frame, T0 + (i + 1) * S))
        tops = {x: b.top(5) for x, b in s.books.items()}
        return actions, log.calls, log.states, s.stats, tops

    assert run(False) == run(True)


# -- buffer, connection counter, checksums ------------------------------------------------


def test_buffer_overflow_drops_and_rerequests() -> None:
    s, log = rest_session(SeqRule.RANGE, max_buffered=2)
    assert s.frame(delta("BTCUSD", [["100", "1"]], [], first=1, last=1), T0) == []
    assert s.frame(delta("BTCUSD", [["100", "2"]], [], first=2, last=2), T0) == []
    assert s.frame(delta("BTCUSD", [["100", "3"]], [], first=3, last=3), T0) == [FETCH_BTC]
    assert s.stats.buffer_overflow == 1
    s.frame(delta("BTCUSD", [["100", "4"]], [], first=4, last=4), T0)
    s.snapshot(BTC, body([["100", "9"]], [["101", "1"]], seq=3), T0 + S)
    assert log.take() == [
        usable(BTC, True, None, T0 + S),
        book(BTC, [100.0], [4.0], [101.0], [1.0], T0 + S),
    ]
    assert s.snapshot(BTC, body([["1", "1"]], [["2", "1"]], seq=3), T0 + S) == []  # superseded
    assert s.books[BTC].top(1) == ([100.0], [4.0], [101.0], [1.0])


def test_connection_counter_gap_desyncs_every_book() -> None:
    s, log = new(make_codec(connection_counter=True))
    s.opened(T0)
    s.frame('{"events": [{"conn": 1}, {"snap": "BTCUSD", "b": [["100", "1"]], "a": []}]}', T0)
    s.frame('{"events": [{"conn": 2}, {"snap": "ETHUSD", "b": [["10", "1"]], "a": []}]}', T0)
    log.take()
    assert s.frame(
        '{"events": [{"conn": 4}, {"d": "BTCUSD", "b": [["100", "2"]], "a": []}]}', T0 + S
    ) == [Reconnect("desynced")]
    assert log.take() == [
        usable(BTC, False, "desynced", T0 + S),
        usable(ETH, False, "desynced", T0 + S),
    ]
    assert (
        s.frame('{"events": [{"conn": 5}, {"snap": "BTCUSD", "b": [["1", "1"]], "a": []}]}', T0 + S)
        == []
    )
    assert log.take() == []
    assert s.stats.gaps == 1


OKX_BIDS = [["3366.1", "7"], ["3366", "6"]]
OKX_ASKS = [["3366.8", "9"], ["3368", "8"]]


def test_okx_checksum_verified_and_mismatch_resyncs() -> None:
    s, log = new(make_codec(SeqRule.NONE, checksum=OKX, keep_text=True))
    s.opened(T0)
    # the OKX docs examples (tests/fixtures/checksum_vectors/okx_books_checksum.json)
    assert s.frame(snap("BTCUSD", OKX_BIDS, OKX_ASKS, cs=-1881014294), T0) == []
    assert s.frame(delta("BTCUSD", [["3366", "0"]], [["3372", "8"]], cs=831078360), T0 + S) == []
    assert s.frame(delta("BTCUSD", [["3366.1", "8"]], [], cs=831078360), T0 + 2 * S) == [
        UNSUB_BTC,
        SUB_BTC,
    ]
    assert log.take() == [
        usable(BTC, True, None, T0),
        book(BTC, [3366.1, 3366.0], [7.0, 6.0], [3366.8, 3368.0], [9.0, 8.0], T0),
        book(BTC, [3366.1], [7.0], [3366.8, 3368.0, 3372.0], [9.0, 8.0, 8.0], T0 + S),
        usable(BTC, False, "desynced", T0 + 2 * S),
    ]
    assert (s.stats.checksum_ok, s.stats.checksum_fail) == (2, 1)


def test_kraken_truncates_to_subscribed_depth_before_checksum() -> None:
    codec = make_codec(checksum=KRAKEN, keep_text=True, depth=10)
    s, log = new(codec, top_n=2)
    s.opened(T0)
    bids = [[f"0.{50 - i:02d}", "1.0"] for i in range(10)]  # 0.50 .. 0.41
    asks = [[f"0.{51 + i:02d}", "2.0"] for i in range(10)]
    cs = crc32(KRAKEN, [(p, q) for p, q in bids], [(p, q) for p, q in asks])
    assert s.frame(snap("BTCUSD", bids, asks, cs=cs), T0) == []
    # a new best bid pushes 0.41 out of the depth-10 book; Kraken does not delete it on the wire
    after = [("0.505", "3.0"), *[(p, q) for p, q in bids[:9]]]
    cs2 = crc32(KRAKEN, after, [(p, q) for p, q in asks])
    assert s.frame(delta("BTCUSD", [["0.505", "3.0"]], [], cs=cs2), T0 + S) == []
    assert s.stats.checksum_ok == 2
    assert s.books[BTC].side(True)[-1] == (0.42, 1.0)
    assert s.books[BTC].bid_count == 10
    # Subscribed.depth overrides the codec's depth
    s.frame('{"sub": "BTCUSD", "depth": 5}', T0 + S)
    assert s.books[BTC].max_depth == 5
    assert s.books[ETH].max_depth == 10
    assert log.take() == [
        usable(BTC, True, None, T0),
        book(BTC, [0.5, 0.49], [1.0, 1.0], [0.51, 0.52], [2.0, 2.0], T0),
        book(BTC, [0.505, 0.5], [3.0, 1.0], [0.51, 0.52], [2.0, 2.0], T0 + S),
    ]


def test_checksum_layout_is_data_any_layout_truncates_when_it_says() -> None:
    # the Independent Reserve documented example: a layout the session knows nothing about
    # beyond its data (bids then offers, toFixed(8), truncation to the subscribed depth 5)
    codec = make_codec(checksum=INDEPENDENT_RESERVE, keep_text=True, depth=5)
    s, log = new(codec, top_n=1)
    s.opened(T0)
    bids = [["31802.46", "0.25"], ["31802.45", "0.32464684"], ["31802.42", "0.34465528"]]
    bids += [["31785.01", "2.733"], ["31785", "1.5"]]
    asks = [["31844.99", "0.30740328"], ["31845", "1.5"], ["31865.3", "0.2"]]
    asks += [["31875", "1.5"], ["31875.9", "0.788"]]
    assert s.frame(snap("BTCUSD", bids, asks, cs=2893776693), T0) == []
    assert s.frame(delta("BTCUSD", [], [["31844.98", "0.02396605"]], cs=263206970), T0 + S) == []
    assert (s.stats.checksum_ok, s.stats.checksum_fail) == (2, 0)
    assert s.books[BTC].ask_count == 5
    assert log.take() == [
        usable(BTC, True, None, T0),
        book(BTC, [31802.46], [0.25], [31844.99], [0.30740328], T0),
        book(BTC, [31802.46], [0.25], [31844.98], [0.02396605], T0 + S),
    ]
    # a layout without truncation keeps every level
    plain = ChecksumLayout(10, Order.BIDS_THEN_ASKS, text=Text.FIXED8, digits_only=True)
    s2, _ = new(make_codec(checksum=plain, keep_text=True, depth=5))
    assert s2.books[BTC].max_depth is None


# -- clock: pings, staleness, REST failures, close ---------------------------------------------


def test_pings_due_every_interval() -> None:
    # stale_after_s past the test: no probe and no snapshot timeout, only the venue's cadence
    s, log = new(make_codec(ping_interval_s=5.0), stale_after_s=30.0)
    assert s.tick(T0) == []  # not opened yet
    s.opened(T0)
    assert s.tick(T0 + 4 * S) == []
    assert s.tick(T0 + 5 * S) == [Send('{"op":"ping"}')]
    assert s.tick(T0 + 9 * S) == []
    assert s.tick(T0 + 10 * S) == [Send('{"op":"ping"}')]
    assert s.stats.pings == 2
    assert (log.calls, log.states) == ([], [("syncing", None, T0)])


def test_silent_connection_goes_stale() -> None:
    s, log = live_in_band(make_codec(), stale_after_s=10.0)
    s.frame('{"hb": 1}', T0 + 5 * S)
    assert s.tick(T0 + 10 * S - 1) == []
    assert s.tick(T0 + 10 * S) == [Send('{"op":"ping"}')]  # quiet for half of it: a probe
    assert s.tick(T0 + 15 * S) == []  # one probe per quiet spell
    assert s.tick(T0 + 15 * S + 1) == [Reconnect("stale")]
    assert log.take() == [
        usable(BTC, False, "stale", T0 + 15 * S + 1),
        usable(ETH, False, "stale", T0 + 15 * S + 1),
    ]
    assert log.states[-1] == ("stale", "no frame for 10.0 s", T0 + 15 * S + 1)
    assert s.tick(T0 + 30 * S) == []
    s.closed(T0 + 31 * S)
    assert log.take() == []


def test_old_book_unusable_until_next_update() -> None:
    s, log = live_in_band(make_codec(), stale_after_s=10.0, max_book_age_s=60.0)
    for t in range(5, 61, 5):
        s.frame('{"hb": 1}' if t != 30 else delta("BTCUSD", [["100", "2"]], []), T0 + t * S)
    assert s.tick(T0 + 60 * S) == []
    assert s.tick(T0 + 60 * S + 1) == []
    s.frame(delta("ETHUSD", [["9", "1"]], []), T0 + 61 * S)  # below the top: still republished
    assert log.take() == [
        book(BTC, [100.0], [2.0], [101.0], [1.0], T0 + 30 * S),
        usable(ETH, False, "stale", T0 + 60 * S + 1),
        usable(ETH, True, None, T0 + 61 * S),
        book(ETH, [10.0, 9.0], [1.0, 1.0], [11.0], [1.0], T0 + 61 * S),
    ]


def test_snapshot_failures_and_unparsable_snapshot_refetch() -> None:
    s, log = rest_session(SeqRule.RANGE)
    assert s.snapshot_failed(BTC, "HTTP 429", T0) == []
    assert s.snapshot(BTC, b"<html>", T0 + S) == []
    assert (s.stats.snapshot_failures, s.stats.malformed) == (1, 1)
    assert s.tick(T0 + 2 * S - 1) == []
    assert s.tick(T0 + 2 * S) == [FETCH_BTC]
    assert s.tick(T0 + 3 * S) == []
    assert log.take() == []


def test_closed_makes_usable_legs_unusable() -> None:
    s, log = live_in_band(make_codec())
    s.closed(T0 + S)
    assert log.take() == [
        usable(BTC, False, "disconnected", T0 + S),
        usable(ETH, False, "disconnected", T0 + S),
    ]
    assert s.frame(snap("BTCUSD", [["1", "1"]], []), T0 + 2 * S) == []
    assert log.take() == []
    assert s.books[BTC].top(1) == ([100.0], [1.0], [101.0], [1.0])  # kept for diagnostics
    assert s.tick(T0 + 99 * S) == []


# -- real recordings through real codecs (tests/fixtures, see ATTRIBUTION.md) ----------------

FIXTURES = Path(__file__).parent / "fixtures"


class LastTop:
    """Keeps each symbol's last best level and counts on_book / unusable calls."""

    def __init__(self) -> None:
        self.top: dict[str, tuple[float, float, float, float]] = {}
        self.books: dict[str, int] = {}
        self.unusable: list[tuple[object, ...]] = []

    def listener_for(self, symbol: str) -> BookListener:
        outer = self

        class Leg:
            def on_book(self, book: Book, ts: int) -> None:
                bp, bs, ap, az = book.top(1)
                outer.top[symbol] = (bp[0], bs[0], ap[0], az[0])
                outer.books[symbol] = outer.books.get(symbol, 0) + 1

            def on_usable(self, ok: bool, reason: str | None, ts_ns: int) -> None:
                if not ok:
                    outer.unusable.append((symbol, reason, ts_ns))

        return Leg()


def replay_fixture(name: str, codec: Codec) -> tuple[FeedSession, LastTop]:
    """Feed one recorded connection to a session; REST snapshots are answered with the
    recorded body of the same symbol, at its recorded time (or at once if already past)."""
    records = list(read_capture(FIXTURES / name))
    rest = {parse_qs(urlsplit(r.url).query)["symbol"][0]: r for r in records if r.dir == "rest"}
    tops = LastTop()
    s = FeedSession(codec, tops.listener_for, lambda *a: None, rest_base=codec.endpoints.rest)
    due: list[tuple[int, str, bytes]] = []

    def run(actions: list[Action], t: int) -> None:
        for a in actions:
            assert isinstance(a, Send | FetchSnapshot), a
            if isinstance(a, FetchSnapshot):
                r = rest[parse_qs(urlsplit(a.request.url).query)["symbol"][0]]
                data = r.data if isinstance(r.data, bytes) else r.data.encode()
                due.append((max(r.t, t), a.request.symbol, data))

    for r in records:
        for t, symbol, data in sorted(d for d in due if d[0] <= r.t):
            due.remove((t, symbol, data))
            run(s.snapshot(symbol, data, t), t)
        if r.dir == "open":
            run(s.opened(r.t), r.t)
        elif r.dir == "in":
            run(s.frame(r.data, r.t), r.t)
    assert due == []
    return s, tops


def test_okx_recording_every_checksum_verified() -> None:
    symbols = ("BTC/USD:BTC-220527", "UNI/USD:UNI", "BTC/USDT")
    s, tops = replay_fixture("okx.ndjson.gz", Okx(symbols))
    st = s.stats
    assert (st.book_msgs, st.checksum_ok, st.checksum_fail, st.gaps, st.crossed) == (
        290,
        290,
        0,
        0,
        0,
    )
    assert (st.malformed, st.codec_errors, st.resyncs) == (0, 0, 0)
    assert tops.top == {
        "BTC/USD:BTC-220527": (30229.4, 2.0, 30238.8, 3.0),
        "UNI/USD:UNI": (5.137, 20.0, 5.145, 50.0),
        "BTC/USDT": (30236.1, 0.18050747, 30236.2, 0.001),
    }
    assert tops.unusable == []


def test_kraken_v1_recording_truncated_to_depth_1000_every_checksum_verified() -> None:
    codec = KrakenV1(ckr.V1.symbols, depth=1000)
    s, tops = replay_fixture("kraken.ndjson.gz", codec)
    st = s.stats
    assert (st.book_msgs, st.checksum_ok, st.checksum_fail, st.gaps, st.crossed) == (
        4279,
        4269,
        0,
        0,
        0,
    )
    assert (st.malformed, st.codec_errors, st.resyncs) == (0, 0, 0)
    # (these books never reach depth 1000: truncation is proven by the synthetic Kraken test)
    assert {k: (b.bid_count, b.ask_count) for k, b in s.books.items()} == {
        "WAVES/EUR": (384, 272),
        "XMR/USD": (657, 426),
        "KSM/BTC": (189, 243),
        "GRT/ETH": (60, 73),
        "SC/EUR": (847, 588),
        "ETH/CHF": (278, 148),
        "OCEAN/BTC": (153, 248),
        "OMG/USD": (226, 298),
        "BTC/CHF": (500, 315),
        "ADA/BTC": (707, 840),
    }
    assert tops.top["XMR/USD"] == (353.64, 30.3, 354.48, 6.86050247)
    assert tops.top["OCEAN/BTC"] == (2.774e-05, 606.11897, 2.781e-05, 606.16153)
    assert tops.unusable == []


def test_binance_recording_rest_snapshots_bridge_and_continue() -> None:
    symbols = ("NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR")
    s, tops = replay_fixture("binance.ndjson.gz", Binance(symbols))
    st = s.stats
    # 4 snapshots + 176 applied diffs, 1 older dropped (u below the book's id). cryptofeed
    # counts 176 L2_BOOK callbacks (172 diffs): it also drops the 4 diffs whose u equals the
    # snapshot's id, which the update procedure applies (they change nothing).
    assert (st.book_msgs, st.older, st.gaps, st.crossed, st.resyncs) == (180, 1, 0, 0, 0)
    assert (st.malformed, st.codec_errors, st.buffer_overflow) == (0, 0, 0)
    assert tops.top == {
        "NKN/USDT": (0.3527, 9602.0, 0.3531, 152.0),
        "BLZ/ETH": (6.547e-05, 100.0, 6.56e-05, 1528.0),
        "LRC/BTC": (6.37e-06, 2500.0, 6.38e-06, 2285.0),
        "RUNE/EUR": (6.251, 69.3, 6.269, 69.3),
    }


# -- fuzzing through the whole session ---------------------------------------------------


_BINANCE = records(cbn.CASE)
_BINANCE_SNAPSHOT = orjson.loads(next(r.data for r in _BINANCE if r.dir == "rest"))
_BINANCE_SNAPSHOT |= {"bids": _BINANCE_SNAPSHOT["bids"][:4], "asks": _BINANCE_SNAPSHOT["asks"][:4]}


def _binance_session(sample: dict[str, Any]) -> FeedSession:
    """Every symbol synced by a REST snapshot that the depthUpdate ``sample`` continues."""
    s = FeedSession(Binance(cbn.SYMBOLS), Log().listener_for, Log().on_state)
    s.opened(T0)
    first = sample.get("data", {}).get("U", 1)
    for symbol in cbn.SYMBOLS:
        s.snapshot(symbol, orjson.dumps(_BINANCE_SNAPSHOT | {"lastUpdateId": first - 1}), T0)
    return s


def _bitstamp_session(_sample: Any) -> FeedSession:
    """Every symbol synced by its recorded REST snapshot."""
    s = FeedSession(Bitstamp(tuple(tvs.SNAPSHOTS)), Log().listener_for, Log().on_state)
    s.opened(T0)
    for symbol, body in tvs.SNAPSHOTS.items():
        s.snapshot(symbol, str(body).encode(), T0)
    return s


def _kucoin_session(sample: dict[str, Any]) -> FeedSession:
    """Every symbol synced by a REST snapshot that the l2update ``sample`` continues."""
    s = FeedSession(KuCoin(cku.SYMBOLS), Log().listener_for, Log().on_state)
    s.opened(T0)
    start = sample.get("data", {}).get("sequenceStart", 1)
    body = tvu.DOCS_SNAPSHOT | {"data": tvu.DOCS_SNAPSHOT["data"] | {"sequence": str(start - 1)}}
    for symbol in cku.SYMBOLS:
        s.snapshot(symbol, orjson.dumps(body), T0)
    return s


def _in_band_session(codec: Codec, warmup: list[Any]) -> FeedSession:
    s = FeedSession(codec, Log().listener_for, Log().on_state)
    s.opened(T0)
    for frame in warmup:
        s.frame(frame if isinstance(frame, str) else json.dumps(frame), T0)
    return s


_OKX_SNAPSHOT_WITHOUT_CHECKSUM = json.loads(cok.DOCS_SNAPSHOT)
_OKX_SNAPSHOT_WITHOUT_CHECKSUM["data"][0]["checksum"] = 0  # 0 means none (2026 rule)
_HTX_STEP0_PUSH = json.loads(gzip.decompress(chx.STEP0.samples[0][0]))  # type: ignore[arg-type]
_POLONIEX_UPDATE = POLONIEX_SNAPSHOT.replace('"snapshot"', '"update"').replace(
    '"lastId":8553,"id":8554', '"lastId":8554,"id":8555'
)
_KRAKEN_V2_SNAPSHOT = tvk.v2_book("snapshot", tvk.DOCS_BIDS, tvk.DOCS_ASKS, 3310070434)
_KRAKEN_V2_UPDATE = tvk.v2_book("update", tvk.DOCS_BIDS[3:5], [], 1)
_UPBIT_BOOK = json.loads(cub.BOOK)
_BITFINEX = [str(r.data) for r in read_capture(FIXTURES / "bitfinex.ndjson.gz") if r.dir == "in"]
_HITBTC_V2_SNAPSHOT = (  # a small synced v2 book the sample update continues
    '{"jsonrpc":"2.0","method":"snapshotOrderbook","params":{"ask":[{"price":"1.19500",'
    '"size":"88716.66"}],"bid":[{"price":"1.18242","size":"5.00"}],"sequence":7333532,'
    '"timestamp":"2021-07-15T03:06:53.300Z","symbol":"EURSUSD"}}'
)

# Per venue: a session with synced books (made for the sample to be mutated), and valid
# frames to mutate (snapshots included).
FUZZED_SESSIONS: dict[str, tuple[Any, list[Any]]] = {
    "binance": (_binance_session, [orjson.loads(r.data) for r in _BINANCE[1:40] if r.dir == "in"]),
    "kucoin": (
        _kucoin_session,
        [*map(orjson.loads, in_frames(cku.RECORDING)[:60]), tvu.DOCS_DELTA],
    ),
    "bitstamp": (_bitstamp_session, tvs.SAMPLE_FRAMES),
    "okx": (
        lambda _: _in_band_session(Okx(cok.SYMBOLS), [_OKX_SNAPSHOT_WITHOUT_CHECKSUM]),
        [orjson.loads(f) for f, _ in cok.CASE.samples[:2]],  # a snapshot, an update linked
    ),
    "bybit": (
        lambda _: _in_band_session(Bybit(tvy.SYMBOLS), [tvy.SMALL_SNAPSHOT]),
        [tvy.SMALL_SNAPSHOT, *tvy.SMALL_FRAMES],
    ),
    "coinbase": (
        lambda _: _in_band_session(Coinbase(tvc.SYMBOLS), [orjson.loads(tvc.STREAM[2])]),
        [orjson.loads(f) for f in tvc.STREAM],
    ),
    "bitfinex": (
        lambda _: _in_band_session(Bitfinex(cbx.SYMBOLS), _BITFINEX[:32]),
        [orjson.loads(f) for f in _BITFINEX[31:60] if f.startswith("[")],  # recorded
    ),
    "bitflyer": (  # a whole board, then a change of it
        lambda _: _in_band_session(Bitflyer(cbf.SYMBOLS), [cbf.SNAPSHOT]),
        [orjson.loads(cbf.SNAPSHOT), orjson.loads(cbf.SNAPSHOT.replace("_snapshot_", "_"))],
    ),
    "deribit": (
        lambda _: _in_band_session(Deribit(["BTC/USDC"]), [cdr.SNAPSHOT]),
        [orjson.loads(cdr.SNAPSHOT), orjson.loads(cdr.CHANGE), orjson.loads(cdr.TEST_REQUEST)],
    ),
    "gate": (
        lambda _: _in_band_session(Gate(["BTC/USDT"]), [OBU_FULL]),
        [orjson.loads(OBU_FULL), orjson.loads(OBU_UPDATE)],
    ),
    "hitbtc": (
        lambda _: _in_band_session(HitBTC(["BTC/USDT"]), [chb.SNAPSHOT]),
        [orjson.loads(f) for f in chb.STREAM],
    ),
    "hitbtc_v2": (
        lambda _: _in_band_session(HitBTCV2(["EURS/USD"]), [_HITBTC_V2_SNAPSHOT]),
        [orjson.loads(f) for f in (_HITBTC_V2_SNAPSHOT, chb.HITBTC_V2_UPDATE)],
    ),
    "gemini": (  # the documented book, then a change of it
        lambda _: _in_band_session(Gemini(cgm.SYMBOLS), [cgm.DOCS_BOOK]),
        [orjson.loads(cgm.DOCS_BOOK), orjson.loads(cgm.DOCS_UPDATE)],
    ),
    "ascendex": (  # a push, then the snapshot it asked for
        lambda _: _in_band_session(AscendEx(["NEO/USDT"]), [cae.DEPTH, cae.SNAPSHOT]),
        [json.loads(cae.SNAPSHOT), json.loads(cae.DEPTH.replace("69231", "69233"))],
    ),
    "independentreserve": (  # the documented book, then a change of it
        lambda _: _in_band_session(IndependentReserve(["BTC/AUD"], depth=5), [cir.SNAPSHOT]),
        [orjson.loads(cir.SNAPSHOT), orjson.loads(cir.CHANGE)],
    ),
    "htx": (  # a pushed delta, then the snapshot it asked for
        lambda _: _in_band_session(Htx(["BTC/USDT"]), [chx.push(*chx.PUSHES[0]), chx.REP]),
        [json.loads(chx.REP), json.loads(chx.push(*chx.PUSHES[1]))],
    ),
    "htx_step0": (
        lambda _: _in_band_session(HtxStep0(["YFI/HUSD"]), [_HTX_STEP0_PUSH]),
        [_HTX_STEP0_PUSH, {"ping": 1618678073643}],
    ),
    "kraken_v1": (
        lambda _: _in_band_session(KrakenV1(ckr.V1.symbols), [ckr.V1.samples[1][0]]),
        [orjson.loads(f) for f, _ in ckr.V1.samples],  # an update, a snapshot, events
    ),
    "kraken": (
        lambda _: _in_band_session(Kraken(ckr.V2.symbols, depth=10), [_KRAKEN_V2_SNAPSHOT]),
        [
            orjson.loads(f)
            for f in (_KRAKEN_V2_SNAPSHOT, _KRAKEN_V2_UPDATE, ckr.DOCS_UPDATE, ckr.DOCS_ACK)
        ],
    ),
    "poloniex": (  # an update that continues the snapshot
        lambda _: _in_band_session(Poloniex(["DYP/USDT"]), [POLONIEX_SNAPSHOT]),
        [orjson.loads(POLONIEX_SNAPSHOT), orjson.loads(_POLONIEX_UPDATE)],
    ),
    "upbit": (
        lambda _: _in_band_session(Upbit(cub.SYMBOLS), [_UPBIT_BOOK]),
        [_UPBIT_BOOK, {"status": "UP"}],
    ),
}


def test_every_venue_protocol_is_fuzzed() -> None:
    """One fuzzed session per distinct ``parse`` of the registry (a new venue must add one)."""
    fuzzed = {type(make(samples[0]).codec).parse for make, samples in FUZZED_SESSIONS.values()}
    assert fuzzed == {cls.parse for cls in every_codec()}


@pytest.mark.parametrize("venue", FUZZED_SESSIONS)
@fuzz_settings(60)
@given(data=st.data())
def test_fuzz_mutated_frames_never_raise_through_the_session(
    venue: str, data: st.DataObject
) -> None:
    make, samples = FUZZED_SESSIONS[venue]
    sample = data.draw(st.sampled_from(samples))
    s = make(sample)
    synced_before = {sym for sym, book in s.books.items() if book.bid_count or book.ask_count}
    for frame in data.draw(st.lists(mutated([sample]), min_size=1, max_size=3)):
        s.frame(frame, T0 + S)  # a ParseError, a BadLevel or a gap is handled, never raised
    assert s.stats.codec_errors == 0
    assert synced_before  # the warm-up really synced a book the mutations could corrupt
    for book in s.books.values():  # whatever the session kept is a valid book
        for price, size in book.side(True) + book.side(False):
            assert 0.0 < price < math.inf and 0.0 < size < math.inf


def test_latency_is_receive_time_minus_the_venue_timestamp() -> None:
    s, _log = live_in_band(make_codec(SeqRule.NONE))
    assert s.stats.latency_ns is None
    s.frame(delta("BTCUSD", [["100", "2"]], [], ts=T0 + 5_000_000), T0 + 7_500_000)
    assert s.stats.latency_ns == 2_500_000
    s.frame(delta("BTCUSD", [["100", "3"]], []), T0 + 9_000_000)  # no venue time: kept
    assert s.stats.latency_ns == 2_500_000


def test_a_venue_slow_to_answer_subscriptions_gets_its_own_snapshot_timeout() -> None:
    codec = make_codec(SeqRule.PREV_LINK)
    type(codec).snapshot_timeout_s = 30.0  # its spec: the venue may answer subscriptions late
    s, _ = new(codec, stale_after_s=10.0)
    s.opened(T0)
    for i in range(1, 30):  # frames keep the connection alive; no snapshot comes yet
        s.frame(delta("BTCUSD", [["100", "2"]], [], prev=i, last=i + 1), T0 + i * S)
        assert UNSUB_BTC not in s.tick(T0 + i * S)
    assert s.tick(T0 + 30 * S) == [UNSUB_BTC, SUB_BTC, UNSUB_ETH, SUB_ETH]
    assert s.stats.snapshot_timeouts == 2


def test_an_in_band_snapshot_that_never_comes_is_asked_for_again() -> None:
    """A subscription whose snapshot is lost (or never sent) would leave the book waiting for
    ever while its deltas flow: after ``stale_after_s`` the symbol is subscribed again, and the
    connection and the other symbol are left alone."""
    s, log = new(make_codec(SeqRule.PREV_LINK), stale_after_s=10.0)
    assert s.opened(T0) == [SUB_ALL]
    s.frame(snap("ETHUSD", [["10", "1"]], [["11", "1"]], seq=7), T0)
    for i in range(1, 10):  # BTC's deltas flow, its snapshot never came; ETH lives on
        assert s.frame(delta("BTCUSD", [["100", "2"]], [], prev=i, last=i + 1), T0 + i * S) == []
        assert s.frame(delta("ETHUSD", [["10", "2"]], [], prev=6 + i, last=7 + i), T0 + i * S) == []
        assert s.tick(T0 + i * S) == []
    assert s.tick(T0 + 10 * S) == [UNSUB_BTC, SUB_BTC]
    assert (s.stats.snapshot_timeouts, s.stats.resyncs) == (1, 1)
    assert s.tick(T0 + 11 * S) == []  # asked again at 10 s: the next try is at 20 s
    s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=50), T0 + 12 * S)
    assert UNSUB_BTC not in s.tick(T0 + 21 * S)  # synced by then: not asked again at 20 s
    calls = log.take()
    assert calls[-2:] == [
        usable(BTC, True, None, T0 + 12 * S),
        book(BTC, [100.0], [1.0], [101.0], [1.0], T0 + 12 * S),
    ]
    assert [c for c in calls if c[0] == "usable" and c[1] == ETH] == [usable(ETH, True, None, T0)]
