"""Deribit's quirks (the common checks, heartbeats and the replay's codec:
tests/conformance/deribit.py; Deribit's rule and level actions on every message of the 2021
recording: deribit-raw-model-*): a level action that contradicts the book resyncs; option
names."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.session import FeedSession
from feeds.venues.deribit import Deribit, DeribitRaw
from tests.conformance.deribit import RAW
from tests.venue_helpers import RecordingLeg

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "deribit.ndjson.gz"))


def test_an_action_that_contradicts_the_book_resyncs_that_option() -> None:
    # the recorded change of 0.2385 made a "new": the level is in the book, so a change was lost
    codec = DeribitRaw(RAW.symbols)
    session = FeedSession(codec, lambda _: RecordingLeg(), lambda *a: None)
    session.opened(RECORDS[0].t)
    symbol = "BTC/USD:BTC-211231-34000-P"
    for record in RECORDS[2:]:
        frame = str(record.data).replace('["change",0.2385,9.3]', '["new",0.2385,9.3]')
        actions = session.frame(frame, record.t)
        if frame != record.data:
            break
    assert actions == [Send(f) for f in codec.unsubscribe_frames([symbol])] + [
        Send(
            '{"jsonrpc":"2.0","id":2,"method":"public/subscribe","params":{"channels":'
            '["book.BTC-31DEC21-34000-P.raw"]}}'
        )
    ]
    assert (session.stats.gaps, session.stats.resyncs) == (1, 1)


def test_options_in_ccxts_unified_form() -> None:
    codec = Deribit(["BTC/USDC"])
    assert codec.venue_symbol("BTC/USD:BTC-210924-8000-P") == "BTC-24SEP21-8000-P"
    assert codec.venue_symbol("ETH/USD:ETH-220107-4000-C") == "ETH-7JAN22-4000-C"
    for bad in ("BTC/USD:ETH-210924-8000-P", "BTC/USD:BTC-211324-8000-P", "BTC/USD:BTC-210924",
                "BTC/USD:BTC-210924-8000-X", "BTC/USD:BTC-210924-8k-P"):  # fmt: skip
        with pytest.raises(ValueError, match="not a Deribit option"):
            codec.venue_symbol(bad)
