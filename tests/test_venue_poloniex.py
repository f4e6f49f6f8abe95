"""Poloniex's quirks (common checks: tests/conformance/poloniex.py): the ``lastId`` rule and
the venue-kept 20-level window proven on every recorded message by :class:`Reference`, a
plain-dict model of the raw JSON, and the session equal to it after every message."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.session import FeedSession
from feeds.venues.poloniex import Poloniex
from tests.conformance.poloniex import CASE, GOLDEN_TOPS
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "poloniex.ndjson.gz"))


@dataclass
class Reference:
    """https://api-docs.poloniex.com/spot/websocket/market-data ("Book Level 2"): a snapshot,
    then updates whose ``lastId`` is the previous message's ``id`` of the symbol."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def frame(self, text: str) -> None:
        obj: dict[str, Any] = orjson.loads(text)
        if obj.get("channel") != "book_lv2" or "action" not in obj:
            return
        for item in obj["data"]:
            pair = item["symbol"].replace("_", "/")
            if obj["action"] == "snapshot":
                book = self.books[pair] = ReferenceBook()
                self.counts["snapshots"] += 1
            else:
                book = self.books[pair]
                assert item["lastId"] == book.last_u
                self.counts["continued"] += 1
            book.last_u = item["id"]
            book.apply_levels(item["bids"], item["asks"])
            self.counts["crossed"] += max(book.bids) >= min(book.asks)
            # the venue deletes the levels that leave its top 20 itself
            self.counts["deep"] += max(len(book.bids), len(book.asks)) > 20


def test_reference_proves_the_rule_and_the_window_on_every_message_with_golden_tops() -> None:
    ref = Reference()
    for record in RECORDS:
        if record.dir == "in":
            ref.frame(str(record.data))
    assert ref.counts == {"snapshots": 11, "continued": 283, "crossed": 0, "deep": 0}
    assert {pair: book.best() for pair, book in ref.books.items()} == GOLDEN_TOPS


def test_session_equals_the_reference_after_every_message() -> None:
    legs = {s: RecordingLeg() for s in CASE.symbols}
    session = FeedSession(Poloniex(CASE.symbols), legs.__getitem__, lambda *a: None)
    ref = Reference()
    for record in RECORDS:
        if record.dir == "open":
            sent = [a.frame for a in session.opened(record.t) if isinstance(a, Send)]
            recorded = [str(r.data) for r in RECORDS if r.dir == "out"]
            assert sent == list(CASE.subscribe) == recorded[1:]  # the first is for trades
        elif record.dir == "in":
            ref.frame(str(record.data))
            assert session.frame(str(record.data), record.t) == []
        for symbol, leg in legs.items():
            book = ref.books.get(symbol)
            assert (leg.books == []) if book is None else leg.view() == book.top(20)
    assert (session.stats.book_msgs, session.stats.gaps, session.stats.malformed) == (294, 0, 0)


def test_requests() -> None:
    codec = Poloniex(["BTC/USDT", "ETH/BTC"])
    unsubscribe = '{"event":"unsubscribe","channel":["book_lv2"],"symbols":["ETH_BTC"]}'
    assert codec.unsubscribe_frames(["ETH/BTC"]) == [unsubscribe]
    assert (codec.subscribe_frames([]), codec.ping_frame()) == ([], '{"event":"ping"}')
