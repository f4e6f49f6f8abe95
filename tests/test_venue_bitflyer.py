"""bitFlyer beyond the conformance suite: the recording (tests/fixtures/bitflyer.ndjson.gz)
replayed by an independent plain-dict model that proves the rule on every message and counts
the whole boards sent again that differ from the changes' book, with FeedSession agreeing
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
from tests.venue_helpers import RecordingLeg

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "bitflyer.ndjson.gz"))
VID = {s.replace("/", "_"): s for s in SYMBOLS}
Side = dict[float, float]


def reference(books: dict[str, tuple[Side, Side]], msg: dict[str, Any]) -> Counter[str]:
    """bitFlyer's rule on the raw JSON: what ``msg`` is; whether a whole board sent again
    differs from the model's book on the levels within its price range; crossed books."""
    kind, _, product = msg["params"]["channel"].removeprefix("lightning_").partition("_")
    body = msg["params"]["message"]
    if kind != "board":
        return Counter({kind: 1})
    if product.startswith("snapshot_"):
        old = books.get(product[9:])
        bids = {lv["price"]: lv["size"] for lv in body["bids"]}
        new = bids, {lv["price"]: lv["size"] for lv in body["asks"]}
        differs = old is not None and any(
            {p: s for p, s in mine.items() if min(theirs) <= p <= max(theirs)} != theirs
            for mine, theirs in zip(old, new, strict=True)
            if theirs
        )
        books[product[9:]] = new
        return Counter(boards=1, again=old is not None, differs=differs)
    if product not in books:
        return Counter(before=1)
    for side, levels in zip(books[product], (body["bids"], body["asks"]), strict=True):
        side.update({lv["price"]: lv["size"] for lv in levels})
        for lv in levels:
            if not lv["size"]:
                del side[lv["price"]]
    bids, asks = books[product]
    return Counter(changes=1, crossed=bool(bids and asks and max(bids) >= min(asks)))


def top(book: tuple[Side, Side], n: int) -> tuple[list[float], ...]:
    bids, asks = sorted(book[0].items(), reverse=True)[:n], sorted(book[1].items())[:n]
    return [p for p, _ in bids], [s for _, s in bids], [p for p, _ in asks], [s for _, s in asks]


def test_the_model_and_the_session_agree_on_every_recorded_message() -> None:
    legs = {s: RecordingLeg() for s in SYMBOLS}
    session = FeedSession(Bitflyer(SYMBOLS), legs.__getitem__, lambda *_: None)
    books: dict[str, tuple[Side, Side]] = {}
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
                assert legs[VID[vid]].view() == top(book, 20)
    assert figures == {"boards": 18, "again": 15, "differs": 10, "changes": 324, "before": 10,
                       "executions": 16, "ticker": 115}  # fmt: skip
    assert CASE.replay is not None
    assert {VID[v]: tuple(t[0] for t in top(b, 1)) for v, b in books.items()} == CASE.replay.tops
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
