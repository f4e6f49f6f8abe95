"""Gemini beyond the conformance suite (tests/conformance/gemini.py): the recording
(tests/fixtures/gemini.ndjson.gz, see ATTRIBUTION.md) replayed by an independent plain-dict
model, whose figures and final tops the suite's case states, and through FeedSession with the
model's top 20 after every message; a crossed book resynced in-band (a lost update itself
cannot show)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.session import FeedSession
from feeds.venues.gemini import Gemini
from tests.conformance.gemini import CASE, SYMBOLS
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "gemini.ndjson.gz"))
RECEIVED = [orjson.loads(r.data) for r in RECORDS if r.dir == "in"]
VID = {s.replace("/", ""): s for s in SYMBOLS}
T0 = 1_624_493_700_000_000_000


def sides(msg: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    changes = msg["changes"]
    return [c[1:] for c in changes if c[0] == "buy"], [c[1:] for c in changes if c[0] == "sell"]


def reference(books: dict[str, ReferenceBook], msg: dict[str, Any]) -> tuple[int, int, int]:
    """Gemini's rule on the raw JSON: (whole books, updates, crossed books) of ``msg``. A
    symbol's first ``l2_updates`` (with ``trades``) is its book; each later one sets absolute
    quantities; an update before its symbol's book, or a second book, fails."""
    if msg["type"] != "l2_updates":
        return 0, 0, 0
    whole = "trades" in msg
    assert whole != (msg["symbol"] in books)
    book = books[msg["symbol"]] = ReferenceBook() if whole else books[msg["symbol"]]
    book.apply_levels(*sides(msg))
    return int(whole), int(not whole), int(max(book.bids) >= min(book.asks))


def test_reference_replay_proves_the_rule_on_every_message() -> None:
    books: dict[str, ReferenceBook] = {}
    figures = [sum(f) for f in zip(*(reference(books, m) for m in RECEIVED), strict=True)]
    assert figures == [10, 645, 0]
    assert CASE.replay is not None
    assert {VID[v]: book.best() for v, book in books.items()} == CASE.replay.tops
    kinds = Counter(m["type"] + " with trades" * ("trades" in m) for m in RECEIVED)
    assert kinds == {"l2_updates with trades": 10, "l2_updates": 645, "trade": 16, "heartbeat": 7}
    beats = [m["timestamp"] for m in RECEIVED if m["type"] == "heartbeat"]
    assert [b - a for a, b in pairwise(beats)] == [4998, 5002, 5003, 5001, 4996, 5002]


def test_session_replay_matches_the_reference_after_every_message() -> None:
    legs = {s: RecordingLeg() for s in SYMBOLS}
    states: list[tuple[str, str | None]] = []
    session = FeedSession(Gemini(SYMBOLS), legs.__getitem__, lambda *a: states.append(a[:2]))
    books: dict[str, ReferenceBook] = {}
    for record in RECORDS:
        if record.dir == "open":
            assert session.opened(record.t) == [Send(CASE.subscribe[0])]
        elif record.dir == "out":
            assert record.data == CASE.subscribe[0]  # the recorded request, byte for byte
        elif record.dir == "in":
            reference(books, orjson.loads(record.data))
            assert session.frame(record.data, record.t) == []
            for vid, book in books.items():  # every synced leg knows the model's top 20
                assert legs[VID[vid]].view() == book.top(20)
    stats = session.stats
    assert (stats.book_msgs, stats.gaps, stats.resyncs, stats.crossed) == (655, 0, 0, 0)
    assert (stats.malformed, stats.codec_errors, stats.unknown_symbol) == (0, 0, 0)
    assert states == [("syncing", None), ("live", None)]
    assert {s: leg.usable[0][:2] for s, leg in legs.items()} == dict.fromkeys(SYMBOLS, (True, None))


def _l2(changes: list[list[str]], book: bool = False) -> str:
    msg: dict[str, Any] = {"type": "l2_updates", "symbol": "BTCUSD", "changes": changes}
    return orjson.dumps(msg | ({"trades": []} if book else {})).decode()


def test_a_crossed_book_resyncs_in_band_with_a_fresh_whole_book() -> None:
    """A lost update cannot be seen (no sequence, no checksum); a book it leaves crossed is
    unsubscribed and subscribed again, and the fresh whole book replaces it."""
    leg = RecordingLeg()
    session = FeedSession(Gemini(["BTC/USD"]), lambda _: leg, lambda *_: None)
    subscribe = '{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["BTCUSD"]}]}'
    assert session.opened(T0) == [Send(subscribe)]
    book = [["buy", "100.00", "1"], ["buy", "99.00", "2"], ["sell", "101.00", "1"]]
    assert session.frame(_l2(book, book=True), T0 + 1) == []
    assert session.frame(_l2([["buy", "100.50", "3"]]), T0 + 2) == []  # nothing shows a loss
    # the ask at 101 was taken in an update that never arrived: this bid crosses it
    actions = session.frame(_l2([["buy", "101.50", "1"]]), T0 + 3)
    assert actions == [Send(subscribe.replace('"subscribe"', '"unsubscribe"')), Send(subscribe)]
    assert leg.usable == [(True, None, T0 + 1), (False, "crossed_book", T0 + 3)]
    assert session.frame(_l2([["sell", "102.00", "4"]]), T0 + 4) == []  # before the book
    fresh = _l2([["buy", "98.00", "1"], ["sell", "102.00", "3"]], book=True)
    assert session.frame(fresh, T0 + 5) == []
    assert leg.usable[-1] == (True, None, T0 + 5)
    assert leg.view() == ([98.0], [1.0], [102.0], [3.0])
    assert (session.stats.crossed, session.stats.resyncs, session.stats.gaps) == (1, 1, 0)
