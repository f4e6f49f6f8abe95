"""Deribit's quirks (the common checks: tests/conformance/deribit.py; Deribit's rule and level
actions on every message of the 2021 recording: deribit-raw-model-*): a level action that
contradicts the book resyncs; heartbeats; option names; the replay's codec."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.venues.deribit import Deribit as EmulatedDeribit
from feeds.actions import Send
from feeds.capture import read_capture
from feeds.session import FeedSession
from feeds.venues import replay_codec_class
from feeds.venues.deribit import Deribit, DeribitRaw
from tests.conformance.deribit import PUBLIC_TEST, RAW, TEST_REQUEST
from tests.test_emulator_wire import T0, harness
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


def test_test_requests_are_answered_and_the_emulator_asks_every_interval() -> None:
    session = FeedSession(Deribit(["BTC/USDC"]), lambda _: RecordingLeg(), lambda *a: None)
    session.opened(T0)
    assert session.frame(TEST_REQUEST, T0) == [Send(PUBLIC_TEST)]
    _, _, emulated = harness("deribit", EmulatedDeribit.ws_path, ("BTC/USDC",))
    assert [o.frame for o in emulated.received(PUBLIC_TEST, T0)] == [
        '{"jsonrpc":"2.0","id":4,"result":{"version":"1.2.26"},"usIn":1795000000000000,'
        '"usOut":1795000000000042,"usDiff":42,"testnet":false}'
    ]
    assert [len(emulated.heartbeat(T0)) for _ in range(12)] == [0] * 12  # none asked for yet
    short = '{"id":7,"method":"public/set_heartbeat","params":{"interval":5}}'
    (error,) = emulated.received(short, T0)
    assert '"error":{"message":"Invalid params","code":-32602}' in error.frame
    emulated.received(Deribit(["BTC/USDC"]).subscribe_frames(["BTC/USDC"])[0], T0)
    requests = [o.frame for _ in range(20) for o in emulated.heartbeat(T0)]
    assert requests == [TEST_REQUEST] * 2  # every 10 s


def test_options_in_ccxts_unified_form_and_the_replay_codec() -> None:
    codec = Deribit(["BTC/USDC"])
    assert codec.venue_symbol("BTC/USD:BTC-210924-8000-P") == "BTC-24SEP21-8000-P"
    assert codec.venue_symbol("ETH/USD:ETH-220107-4000-C") == "ETH-7JAN22-4000-C"
    for bad in ("BTC/USD:ETH-210924-8000-P", "BTC/USD:BTC-211324-8000-P", "BTC/USD:BTC-210924",
                "BTC/USD:BTC-210924-8000-X", "BTC/USD:BTC-210924-8k-P"):  # fmt: skip
        with pytest.raises(ValueError, match="not a Deribit option"):
            codec.venue_symbol(bad)
    recorded = "\n".join(str(r.url) + str(r.data) for r in RECORDS if r.dir in ("open", "out"))
    assert replay_codec_class("deribit", recorded.lower()) is DeribitRaw
    assert replay_codec_class("deribit", codec.subscribe_frames(["BTC/USDC"])[1]) is Deribit
