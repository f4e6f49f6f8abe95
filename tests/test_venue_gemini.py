"""Gemini beyond the conformance suite (tests/conformance/gemini.py; the recording read by
the shared independent model: gemini-model-*): the recorded heartbeats' spacing, and the
request a resync sends."""

from __future__ import annotations

from itertools import pairwise

import orjson

from feeds.venues.gemini import Gemini
from tests.conformance.gemini import CASE
from tests.test_conformance import records


def test_the_recorded_heartbeats_come_every_5_seconds() -> None:
    received = [orjson.loads(r.data) for r in records(CASE) if r.dir == "in"]
    beats = [m["timestamp"] for m in received if m["type"] == "heartbeat"]
    assert [b - a for a, b in pairwise(beats)] == [4998, 5002, 5003, 5001, 4996, 5002]


def test_a_resync_unsubscribes_and_subscribes_again_for_a_fresh_whole_book() -> None:
    # a crossed book (a lost update itself cannot show: gemini-unnoticed) resyncs in-band:
    # end to end in tests/test_reliability.py, gemini-crossed
    assert Gemini(["BTC/USD", "ETH/USD"]).unsubscribe_frames(["BTC/USD"]) == [
        '{"type":"unsubscribe","subscriptions":[{"name":"l2","symbols":["BTCUSD"]}]}'
    ]
