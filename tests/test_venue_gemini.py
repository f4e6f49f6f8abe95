"""Gemini beyond the conformance suite (tests/conformance/gemini.py): the recording
(tests/fixtures/gemini.ndjson.gz, see ATTRIBUTION.md) replayed by an independent plain-dict
model, whose figures and final tops the suite's case states, and through FeedSession with the
model's top 20 after every message; every recorded frame translated; a crossed book resynced
in-band (a lost update itself cannot show)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat
from feeds.session import FeedSession
from feeds.venues.gemini import Gemini
from tests.conformance.gemini import CASE, SYMBOLS
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "gemini.ndjson.gz"))
VID = {s.replace("/", ""): s for s in SYMBOLS}
T0 = 1_624_493_700_000_000_000
assert CASE.replay is not None
TOPS = CASE.replay.tops


@dataclass
class ReferenceReplay:
    """Gemini's rule on the raw JSON: a symbol's first ``l2_updates`` (the one with
    ``trades``) replaces its book, each later one sets absolute quantities; never crossed."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    snapshots: int = 0
    updates: int = 0
    crossed: int = 0
    unseeded: int = 0
    """Updates of a symbol before its book, or a book that is not its symbol's first."""

    def frame(self, msg: dict[str, Any]) -> None:
        if msg["type"] != "l2_updates":
            return
        vid, whole = msg["symbol"], "trades" in msg
        if whole == (vid in self.books):
            self.unseeded += 1
        if whole:
            self.books[vid] = ReferenceBook()
            self.snapshots += 1
        else:
            self.updates += 1
        book = self.books[vid]
        changes = msg["changes"]
        book.apply_levels(
            [c[1:] for c in changes if c[0] == "buy"], [c[1:] for c in changes if c[0] == "sell"]
        )
        self.crossed += max(book.bids) >= min(book.asks)


RECEIVED = [orjson.loads(r.data) for r in RECORDS if r.dir == "in"]


def test_reference_replay_proves_the_rule_on_every_message() -> None:
    ref = ReferenceReplay()
    for msg in RECEIVED:
        ref.frame(msg)
    assert (ref.snapshots, ref.updates, ref.crossed, ref.unseeded) == (10, 645, 0, 0)
    assert {VID[v]: book.best() for v, book in ref.books.items()} == TOPS


def test_heartbeats_come_every_five_seconds() -> None:
    beats = [m["timestamp"] for m in RECEIVED if m["type"] == "heartbeat"]
    assert [b - a for a, b in pairwise(beats)] == [
        4998, 5002, 5003, 5001, 4996, 5002,
    ]  # fmt: skip


def test_codec_translates_every_recorded_frame_exactly() -> None:
    codec = Gemini(SYMBOLS)
    kinds: dict[str, int] = {}
    for record in RECORDS:
        if record.dir != "in":
            continue
        msg = orjson.loads(record.data)
        kind = msg["type"] + (" with trades" if "trades" in msg else "")
        kinds[kind] = kinds.get(kind, 0) + 1
        expected: list[Event] = []
        if msg["type"] == "l2_updates":
            bids = [c[1:] for c in msg["changes"] if c[0] == "buy"]
            asks = [c[1:] for c in msg["changes"] if c[0] == "sell"]
            book = BookSnapshot if "trades" in msg else BookDelta
            expected = [book(VID[msg["symbol"]], bids, asks)]
        elif msg["type"] == "heartbeat":
            expected = [Heartbeat()]
        assert codec.parse(record.data) == expected
    assert kinds == {"l2_updates with trades": 10, "l2_updates": 645, "trade": 16, "heartbeat": 7}
    sent = [r.data for r in RECORDS if r.dir == "out"]
    assert codec.subscribe_frames(SYMBOLS) == sent  # the recorded request, byte for byte


def test_session_replay_matches_the_reference_after_every_message() -> None:
    legs = {s: RecordingLeg() for s in SYMBOLS}
    states: list[tuple[str, str | None]] = []
    session = FeedSession(
        Gemini(SYMBOLS), legs.__getitem__, lambda s, why, _t: states.append((s, why))
    )
    ref = ReferenceReplay()
    for record in RECORDS:
        if record.dir == "open":
            assert session.opened(record.t) == [Send(CASE.subscribe[0])]
        elif record.dir == "in":
            ref.frame(orjson.loads(record.data))
            assert session.frame(record.data, record.t) == []
            for vid, book in ref.books.items():  # every synced leg knows the model's top 20
                assert legs[VID[vid]].view() == book.top(20)
    stats = session.stats
    assert (stats.book_msgs, stats.gaps, stats.resyncs, stats.crossed) == (655, 0, 0, 0)
    assert (stats.malformed, stats.codec_errors, stats.unknown_symbol) == (0, 0, 0)
    assert states == [("syncing", None), ("live", None)]
    assert {s: leg.usable[0][:2] for s, leg in legs.items()} == dict.fromkeys(SYMBOLS, (True, None))


def _l2(changes: list[list[str]], book: bool = False) -> str:
    msg: dict[str, Any] = {"type": "l2_updates", "symbol": "BTCUSD", "changes": changes}
    return orjson.dumps(msg | ({"trades": []} if book else {})).decode()


BOOK = _l2([["buy", "100.00", "1"], ["buy", "99.00", "2"], ["sell", "101.00", "1"]], book=True)
UNSUBSCRIBE = '{"type":"unsubscribe","subscriptions":[{"name":"l2","symbols":["BTCUSD"]}]}'
SUBSCRIBE = '{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["BTCUSD"]}]}'


def test_a_crossed_book_resyncs_in_band_with_a_fresh_whole_book() -> None:
    """A lost update cannot be seen (no sequence, no checksum); a book it leaves crossed is
    unsubscribed and subscribed again, and the fresh whole book makes the leg usable."""
    leg = RecordingLeg()
    session = FeedSession(Gemini(["BTC/USD"]), lambda _: leg, lambda *_: None)
    assert session.opened(T0) == [Send(SUBSCRIBE)]
    assert session.frame(BOOK, T0 + 1) == []
    assert session.frame(_l2([["buy", "100.50", "3"]]), T0 + 2) == []  # nothing shows a loss
    # the ask at 101 was taken in an update that never arrived: this bid crosses it
    actions = session.frame(_l2([["buy", "101.50", "1"]]), T0 + 3)
    assert actions == [Send(UNSUBSCRIBE), Send(SUBSCRIBE)]
    assert leg.usable == [(True, None, T0 + 1), (False, "crossed_book", T0 + 3)]
    assert session.frame(_l2([["sell", "102.00", "4"]]), T0 + 4) == []  # before the book
    fresh = _l2([["buy", "100.00", "1"], ["sell", "102.00", "3"]], book=True)
    assert session.frame(fresh, T0 + 5) == []
    assert leg.usable[-1] == (True, None, T0 + 5)
    assert leg.view() == ([100.0], [1.0], [102.0], [3.0])
    assert (session.stats.crossed, session.stats.resyncs, session.stats.gaps) == (1, 1, 0)


def test_a_new_whole_book_replaces_the_old_one() -> None:
    """A repeated subscribe answers with the whole book again: it replaces, never merges."""
    leg = RecordingLeg()
    session = FeedSession(Gemini(["BTC/USD"]), lambda _: leg, lambda *_: None)
    session.opened(T0)
    session.frame(BOOK, T0 + 1)
    session.frame(_l2([["buy", "98.00", "5"], ["sell", "103.00", "5"]], book=True), T0 + 2)
    assert leg.view() == ([98.0], [5.0], [103.0], [5.0])
