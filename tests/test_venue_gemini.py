"""Gemini beyond the conformance suite (tests/conformance/gemini.py; the recording read by
the shared independent model: gemini-model-*): the recorded heartbeats' spacing, and a
crossed book resynced in-band (a lost update itself cannot show)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import orjson

from feeds.actions import Send
from feeds.session import FeedSession
from feeds.venues.gemini import Gemini
from tests.conformance.gemini import CASE
from tests.test_conformance import records
from tests.venue_helpers import RecordingLeg

T0 = 1_624_493_700_000_000_000


def test_the_recorded_heartbeats_come_every_5_seconds() -> None:
    received = [orjson.loads(r.data) for r in records(CASE) if r.dir == "in"]
    beats = [m["timestamp"] for m in received if m["type"] == "heartbeat"]
    assert [b - a for a, b in pairwise(beats)] == [4998, 5002, 5003, 5001, 4996, 5002]


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
