"""Poloniex's quirks (common checks: tests/conformance/poloniex.py; the ``lastId`` rule on
every recorded message: poloniex-model-*): the venue keeps its 20-level window itself."""

from __future__ import annotations

from feeds.venues.poloniex import Poloniex
from tests.conformance.poloniex import CASE
from tests.reference import Replay
from tests.test_conformance import records


def test_the_venue_keeps_its_20_level_window_itself() -> None:
    assert CASE.model is not None
    replay, deepest = Replay(CASE.model, Poloniex.integrity.seq), 0
    for record in records(CASE):
        if record.dir == "in":
            replay.record(record)
            deepest = max([deepest] + [len(side) for b in replay.books.values() for side in b])
    assert deepest == 20


def test_requests() -> None:
    codec = Poloniex(["BTC/USDT", "ETH/BTC"])
    unsubscribe = '{"event":"unsubscribe","channel":["book_lv2"],"symbols":["ETH_BTC"]}'
    assert codec.unsubscribe_frames(["ETH/BTC"]) == [unsubscribe]
    assert (codec.subscribe_frames([]), codec.ping_frame()) == ([], '{"event":"ping"}')
