"""bitFlyer beyond the conformance suite: the recorded boards sent again that differ from the
changes' book, counted; against the emulated venue, a lost change repaired by the next board."""

from __future__ import annotations

from typing import Any

from feeds.actions import Send
from feeds.protocol import BookSnapshot, SeqRule
from feeds.session import FeedSession
from feeds.venues.bitflyer import Bitflyer
from tests.conformance.bitflyer import CASE
from tests.reference import Replay
from tests.test_conformance import records
from tests.test_emulator_wire import T0, harness, step
from tests.venue_helpers import LastBook, RecordingLeg, model_levels


def test_boards_sent_again_that_differ_from_the_changes_book_are_counted() -> None:
    assert CASE.model is not None
    model, differs = Replay(CASE.model, SeqRule.NONE), 0
    session = FeedSession(CASE.new_codec(), lambda _: LastBook(), lambda *_: None)
    session.opened(0)
    for record in (r for r in records(CASE) if r.dir == "in"):
        for board in CASE.model.read(record, {}):
            if isinstance(board, BookSnapshot) and board.symbol in model.books:
                sides = zip(model.books[board.symbol], (board.bids, board.asks), strict=True)
                differs += any(_differs(held, sent) for held, sent in sides)
        model.record(record)
        assert session.frame(record.data, record.t) == []
        assert session.stats.snapshot_mismatch == differs
    assert (differs, model.counts["BookSnapshot"]) == (10, 18)
    sent = {r.data for r in records(CASE) if r.dir == "out" and "board" in r.data}
    assert sent == set(CASE.subscribe)  # the recorded board requests, byte for byte


def _differs(held: dict[float, list[Any]], levels: Any) -> bool:
    """Whether a board differs from the book held, within the board's price range."""
    sent = {float(p): float(s) for p, s in levels}
    return bool(sent) and sent != {
        p: float(lv[1]) for p, lv in held.items() if min(sent) <= p <= max(sent)
    }


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
    assert leg.view() == model_levels(model, "bitflyer", "BTC/JPY")  # repaired
