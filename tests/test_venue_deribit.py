"""Deribit's quirks (the common checks, heartbeats, the frames out and the replay's codec:
tests/conformance/deribit.py; Deribit's rule and level actions on every message of the 2021
recording: deribit-raw-model-*): a level action that contradicts the book resyncs; option
names."""

from __future__ import annotations

import pytest

from feeds.actions import Send
from feeds.session import FeedSession
from feeds.venues.deribit import Deribit
from tests.conformance.deribit import CHANGE, FRAMES_OUT, SNAPSHOT
from tests.venue_helpers import RecordingLeg


def test_an_action_that_contradicts_the_book_resyncs_that_book() -> None:
    # a "new" of 91991, a level the book holds: a change was lost
    session = FeedSession(Deribit(["BTC/USDC"]), lambda _: RecordingLeg(), lambda *a: None)
    session.opened(0)
    assert session.frame(SNAPSHOT, 1) == []
    actions = session.frame(CHANGE.replace('["new",91991.5,', '["new",91991,'), 2)
    subscribe = FRAMES_OUT.case.subscribe[1]  # (the heartbeat is set up once)
    assert actions == [Send(FRAMES_OUT.unsubscribe[0]), Send(subscribe)]
    assert (session.stats.gaps, session.stats.resyncs) == (1, 1)


def test_options_in_ccxts_unified_form() -> None:
    codec = Deribit(["BTC/USDC"])
    assert codec.venue_symbol("BTC/USD:BTC-210924-8000-P") == "BTC-24SEP21-8000-P"
    assert codec.venue_symbol("ETH/USD:ETH-220107-4000-C") == "ETH-7JAN22-4000-C"
    for bad in ("BTC/USD:ETH-210924-8000-P", "BTC/USD:BTC-211324-8000-P", "BTC/USD:BTC-210924",
                "BTC/USD:BTC-210924-8000-X", "BTC/USD:BTC-210924-8k-P"):  # fmt: skip
        with pytest.raises(ValueError, match="not a Deribit option"):
            codec.venue_symbol(bad)
