"""bitFlyer beyond the conformance suite: the recording replayed by an independent plain-dict
model (every message, the boards sent again that differ counted) with FeedSession agreeing
after every message; against the emulated venue, a lost change repaired by the next board."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from feeds.actions import Send
from feeds.book import Book
from feeds.capture import read_capture
from feeds.protocol import BookSnapshot
from feeds.session import FeedSession
from feeds.venues.bitflyer import Bitflyer
from tests.conformance.bitflyer import CASE, SYMBOLS
from tests.test_emulator_wire import T0, harness, step
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "bitflyer.ndjson.gz"))
VID = {s.replace("/", "_"): s for s in SYMBOLS}


def _pairs(levels: list[dict[str, float]]) -> Any:  # [price, size] pairs, as JSON numbers
    return [[lv["price"], lv["size"]] for lv in levels]


def reference(books: dict[str, ReferenceBook], msg: dict[str, Any]) -> Counter[str]:
    """bitFlyer's rule on the raw JSON: what ``msg`` is; whether a whole board sent again
    differs from the model's book on the levels within its price range; crossed books."""
    kind, _, product = msg["params"]["channel"].removeprefix("lightning_").partition("_")
    body = msg["params"]["message"]
    if kind != "board":
        return Counter({kind: 1})
    if product.startswith("snapshot_"):
        old, new = books.get(product[9:]), ReferenceBook()
        new.apply_levels(_pairs(body["bids"]), _pairs(body["asks"]))
        differs = old is not None and any(
            {p: s for p, s in mine.items() if min(theirs) <= p <= max(theirs)} != theirs
            for mine, theirs in ((old.bids, new.bids), (old.asks, new.asks))
            if theirs
        )
        books[product[9:]] = new
        return Counter(boards=1, again=old is not None, differs=differs)
    if product not in books:
        return Counter(before=1)
    book = books[product]
    book.apply_levels(_pairs(body["bids"]), _pairs(body["asks"]))
    return Counter(
        changes=1, crossed=bool(book.bids and book.asks and book.best()[0] >= book.best()[2])
    )


def test_the_model_and_the_session_agree_on_every_recorded_message() -> None:
    legs = {s: RecordingLeg() for s in SYMBOLS}
    session = FeedSession(Bitflyer(SYMBOLS), legs.__getitem__, lambda *_: None)
    books: dict[str, ReferenceBook] = {}
    figures: Counter[str] = Counter()
    for record in RECORDS:
        if record.dir == "open":
            assert session.opened(record.t) == [Send(f) for f in CASE.subscribe]
        elif record.dir == "out":  # the recorded board requests, byte for byte
            assert "board" not in record.data or record.data in CASE.subscribe
        elif record.dir == "in":
            figures += reference(books, orjson.loads(record.data))
            assert session.frame(record.data, record.t) == []
            assert session.stats.snapshot_mismatch == figures["differs"]
            for vid, book in books.items():
                assert legs[VID[vid]].view() == book.top(20)
    assert figures == {"boards": 18, "again": 15, "differs": 10, "changes": 324, "before": 10,
                       "executions": 16, "ticker": 115}  # fmt: skip
    assert CASE.replay is not None
    assert {VID[v]: b.best() for v, b in books.items()} == CASE.replay.tops
    stats = session.stats
    assert (stats.book_msgs, stats.resyncs, stats.crossed, stats.malformed) == (342, 0, 0, 0)


def test_a_lost_change_shows_at_the_next_whole_board_which_repairs_the_book() -> None:
    """The emulated venue sends the whole board on subscribing and every 5 s: a change lost
    in between makes the next board differ (counted), and the board is taken."""
    model, venue, emulated = harness("bitflyer", "/json-rpc", ("BTC/JPY",))
    leg = RecordingLeg()
    session = FeedSession(Bitflyer(["BTC/JPY"]), lambda _: leg, lambda *_: None)
    sent = [a.frame for a in session.opened(T0) if isinstance(a, Send)]
    (board,) = [o.frame for f in sent for o in emulated.received(f, T0)]
    assert session.frame(board, T0) == [] and leg.usable == [(True, None, T0)]
    assert step(model, venue, emulated)  # a change the client never gets
    assert [len(emulated.heartbeat(T0)) for _ in range(4)] == [0, 0, 0, 0]
    (again,) = [o.frame for o in emulated.heartbeat(T0)]
    assert session.frame(again, T0 + 1) == []
    assert (session.stats.snapshot_mismatch, session.stats.resyncs) == (1, 0)
    (snapshot,) = Bitflyer(["BTC/JPY"]).parse(again)
    assert isinstance(snapshot, BookSnapshot)
    fresh = Book(top_n=20)
    fresh.apply_snapshot(snapshot.bids, snapshot.asks)
    assert leg.view() == fresh.top()
