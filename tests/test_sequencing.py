"""The pure sequencing verdicts, case by case (the session tests cover them in context)."""

from __future__ import annotations

import pytest

from feeds.protocol import BookDelta, SeqRule
from feeds.sequencing import SeqState, Verdict, verdict


def _delta(first: int | None = None, last: int | None = None, prev: int | None = None) -> BookDelta:
    return BookDelta("BTC/USDT", [], [], first=first, last=last, prev=prev)


@pytest.mark.parametrize("rule", [SeqRule.RANGE, SeqRule.PREV_LINK, SeqRule.COUNTER])
def test_a_delta_without_ids_on_a_sequenced_book_is_a_gap(rule: SeqRule) -> None:
    state = SeqState(last=100)
    assert verdict(rule, False, state, _delta()) is Verdict.GAP
    assert state.last == 100


def test_a_book_without_ids_accepts_deltas_without_ids_then_adopts_the_first_id() -> None:
    # OKX 2022: no seqId/prevSeqId anywhere; only the checksum proves those books
    state = SeqState(last=None)
    assert verdict(SeqRule.PREV_LINK, False, state, _delta()) is Verdict.APPLY
    assert state.last is None
    assert verdict(SeqRule.PREV_LINK, False, state, _delta(last=7, prev=6)) is Verdict.APPLY
    assert state.last == 7
    assert verdict(SeqRule.PREV_LINK, False, state, _delta(last=8, prev=7)) is Verdict.APPLY
    assert verdict(SeqRule.PREV_LINK, False, state, _delta(last=10, prev=9)) is Verdict.GAP
    assert state.last == 8


# Binance spot, "How to manage a local order book correctly" as worded since 2025-11-12: an
# event with u < the book's id is ignored; U > id + 1 is a gap; anything else is applied.
RANGE_EDGES = [
    (90, 99, Verdict.DROP, 100),  # u == id - 1: below the book, ignored
    (90, 100, Verdict.APPLY, 100),  # u == id: not below it, applied (sizes are absolute)
    (95, 105, Verdict.APPLY, 105),  # overlaps the book's id
    (101, 101, Verdict.APPLY, 101),  # U == id + 1: the next event exactly
    (102, 110, Verdict.GAP, 100),  # U == id + 2: id + 1 was missed
]


@pytest.mark.parametrize(("first", "last", "expected", "after"), RANGE_EDGES)
def test_range_first_delta_after_snapshot(
    first: int, last: int, expected: Verdict, after: int
) -> None:
    state = SeqState(last=100)
    assert verdict(SeqRule.RANGE, True, state, _delta(first, last)) is expected
    assert state.last == after


@pytest.mark.parametrize(("first", "last", "expected", "after"), RANGE_EDGES)
def test_range_later_deltas_follow_the_same_rule(
    first: int, last: int, expected: Verdict, after: int
) -> None:
    # The rule does not change once the book has applied an event: an overlapping event is
    # applied, not a gap, and only U > id + 1 is one.
    state = SeqState(last=80)
    assert verdict(SeqRule.RANGE, True, state, _delta(81, 100)) is Verdict.APPLY
    assert verdict(SeqRule.RANGE, True, state, _delta(first, last)) is expected
    assert state.last == after
