"""scanner.board: layout, padding, usability, fee-adjusted tops, validation, no reallocation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.board import MISSING_ASK, Board

M = MISSING_ASK


def test_write_pads_missing_levels_and_truncates_extra_ones() -> None:
    board = Board(2, 3, 4, [0.001, 0.002, 0.0])
    board.write(1, 2, [10.0, 9.5], [1.0, 2.0], [11.0], [3.0], 123)
    assert board.levels[1, 2].tolist() == [
        [10.0, 9.5, 0.0, 0.0],
        [1.0, 2.0, 0.0, 0.0],
        [11.0, M, M, M],
        [3.0, 0.0, 0.0, 0.0],
    ]
    assert board.updated_ns.tolist() == [[0, 0, 0], [0, 0, 123]]
    board.write(
        1, 2, [6.0, 5.0, 4.0, 3.0, 2.0, 1.0], [1.0] * 6, [7.0, 8.0, 9.0, 10.0, 11.0], [2.0] * 5, 124
    )
    assert board.levels[1, 2].tolist() == [
        [6.0, 5.0, 4.0, 3.0],
        [1.0, 1.0, 1.0, 1.0],
        [7.0, 8.0, 9.0, 10.0],
        [2.0, 2.0, 2.0, 2.0],
    ]
    board.write(1, 2, [], [], [7.5], [0.5], 125)  # fewer levels clear the old ones
    assert board.levels[1, 2].tolist() == [[0.0] * 4, [0.0] * 4, [7.5, M, M, M], [0.5, 0, 0, 0]]
    empty = [[0.0] * 4, [0.0] * 4, [M] * 4, [0.0] * 4]
    assert [board.levels[s, v].tolist() for s, v in ((0, 0), (0, 2), (1, 0), (1, 1))] == [empty] * 4
    assert MISSING_ASK * 0.0 == 0.0


def test_write_never_reallocates() -> None:
    board = Board(3, 4, 5, [0.0] * 4)
    arrays = (board.levels, board.updated_ns, board.usable, board.bid_eff, board.ask_eff)
    addresses = [a.__array_interface__["data"][0] for a in arrays]
    for v in range(4):
        board.set_usable(2, v, True)
        board.write(2, v, [1.0 + v], [1.0], [2.0 + v], [1.0], v)
    after = (board.levels, board.updated_ns, board.usable, board.bid_eff, board.ask_eff)
    assert all(a is b for a, b in zip(arrays, after, strict=True))
    assert [a.__array_interface__["data"][0] for a in after] == addresses


def test_fee_adjusted_tops_follow_usability_and_writes() -> None:
    board = Board(1, 2, 3, [0.001, 0.0025])
    board.write(0, 0, [100.0], [1.0], [101.0], [1.0], 1)
    assert (board.bid_eff[0, 0], board.ask_eff[0, 0]) == (-math.inf, math.inf)  # not usable yet
    board.set_usable(0, 0, True)
    assert (board.bid_eff[0, 0], board.ask_eff[0, 0]) == (100.0 * 0.999, 101.0 * 1.001)
    board.write(0, 0, [99.0], [1.0], [], [], 2)  # usable: the write refreshes the top
    assert (board.bid_eff[0, 0], board.ask_eff[0, 0]) == (99.0 * 0.999, math.inf)
    board.set_usable(0, 1, True)  # usable but never written: no levels
    assert (board.bid_eff[0, 1], board.ask_eff[0, 1]) == (-math.inf, math.inf)
    board.write(0, 1, [98.0], [2.0], [98.5], [2.0], 3)
    assert (board.bid_eff[0, 1], board.ask_eff[0, 1]) == (98.0 * 0.9975, 98.5 * 1.0025)
    assert (board.bid_max[0], board.ask_min[0]) == (99.0 * 0.999, 98.5 * 1.0025)
    assert board.may_pay(0, 0) and board.may_pay(0, 1)  # buy at 1, sell at 0 crosses
    board.set_usable(0, 0, False)
    assert (board.bid_eff[0, 0], board.ask_eff[0, 0]) == (-math.inf, math.inf)
    assert (board.bid_max[0], board.ask_min[0]) == (98.0 * 0.9975, 98.5 * 1.0025)
    assert not board.may_pay(0, 0) and not board.may_pay(0, 1)
    assert board.levels[0, 0, 0, 0] == 99.0  # levels are kept while unusable


@pytest.mark.parametrize(
    ("bids", "asks", "message"),
    [
        (([1.0], [1.0, 2.0]), ([2.0], [1.0]), "prices and sizes differ in length: bids 1/2"),
        (([1.0], [1.0]), ([2.0, 3.0], [1.0]), "asks 2/1"),
        (([math.nan], [1.0]), ([2.0], [1.0]), "bad best prices: bid nan"),
        (([1.0], [1.0]), ([math.inf], [1.0]), "ask inf"),
        (([1.0], [1.0]), ([0.0], [1.0]), "ask 0.0"),
        (([-1.0], [1.0]), ([2.0], [1.0]), "bid -1.0"),
    ],
)
def test_write_rejects_bad_input_and_leaves_the_board_unchanged(
    bids: tuple[list[float], list[float]], asks: tuple[list[float], list[float]], message: str
) -> None:
    board = Board(1, 1, 2, [0.001])
    board.set_usable(0, 0, True)
    board.write(0, 0, [5.0], [1.0], [6.0], [1.0], 9)
    before = (board.levels.copy(), board.bid_eff.copy(), board.ask_eff.copy())
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        board.write(0, 0, *bids, *asks, 10)
    assert np.array_equal(board.levels, before[0])
    assert (board.bid_eff[0, 0], board.ask_eff[0, 0]) == (before[1][0, 0], before[2][0, 0])
    assert board.updated_ns[0, 0] == 9


def test_constructor_validates_shapes_and_fees() -> None:
    with pytest.raises(ValueError, match=r"fee_frac must have shape \(2,\)"):
        Board(1, 2, 3, [0.001])
    with pytest.raises(ValueError, match="fees must be fractions"):
        Board(1, 2, 3, [0.001, 1.0])
    with pytest.raises(ValueError, match="need >= 1 symbol"):
        Board(1, 2, 0, [0.0, 0.0])
    board = Board(2, 3, 4, np.array([0.0, 0.001, 0.01]))
    assert board.levels.shape == (2, 3, 4, 4)
    assert (board.bid_fee, board.ask_fee) == ([1.0, 0.999, 0.99], [1.0, 1.001, 1.01])
    assert not board.usable.any()


ladder = st.lists(st.integers(1, 10_000), max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), ladder, ladder), max_size=30))
def test_levels_hold_the_last_write_of_each_leg(
    writes: list[tuple[int, int, list[int], list[int]]],
) -> None:
    depth = 5
    board = Board(3, 4, depth, [0.0] * 4)
    last: dict[tuple[int, int], tuple[list[float], list[float]]] = {}
    for t, (s, v, bid_ticks, ask_ticks) in enumerate(writes):
        bids = [x / 4 for x in sorted(set(bid_ticks), reverse=True)]
        asks = [x / 4 for x in sorted(set(ask_ticks))]
        board.write(s, v, bids, [2.0] * len(bids), asks, [3.0] * len(asks), t)
        last[(s, v)] = (bids[:depth], asks[:depth])
    for s in range(3):
        for v in range(4):
            bids, asks = last.get((s, v), ([], []))
            nb, na = len(bids), len(asks)
            assert board.levels[s, v].tolist() == [
                bids + [0.0] * (depth - nb),
                [2.0] * nb + [0.0] * (depth - nb),
                asks + [M] * (depth - na),
                [3.0] * na + [0.0] * (depth - na),
            ]


def test_a_level_that_is_not_a_number_is_a_type_error() -> None:
    board = Board(1, 1, 3, [0.0])
    with pytest.raises(TypeError, match="levels must be floats"):
        board.write(0, 0, [2.0, "1.5"], [1.0, 1.0], [3.0], [1.0], 1)  # type: ignore[list-item]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 4), st.integers(90, 110), st.integers(0, 2)),
        max_size=40,
    )
)
def test_extremes_and_may_pay_stay_exact(steps: list[tuple[int, int, int, int]]) -> None:
    # action 0: write a book (bid = mid - 1, ask = mid + 1), 1: usable, 2: unusable
    board = Board(2, 5, 3, [0.001, 0.002, 0.0, 0.003, 0.001])
    for t, (s, v, mid, action) in enumerate(steps):
        if action == 0:
            board.write(s, v, [mid - 1.0], [1.0], [mid + 1.0], [1.0], t)
        else:
            board.set_usable(s, v, action == 1)
        for k in range(2):
            assert board.bid_max[k] == board.bid_eff[k].max()
            assert board.ask_min[k] == board.ask_eff[k].min()
            bid, ask = board.bid_eff[k].tolist(), board.ask_eff[k].tolist()
            for w in range(5):
                others = [u for u in range(5) if u != w]
                pays = any(bid[u] > ask[w] or bid[w] > ask[u] for u in others)
                assert board.may_pay(k, w) == pays  # exact here: no leg's own book crosses


def test_write_book_copies_a_feeds_book() -> None:
    from feeds.book import Book  # the board's real source, as run.py wires it

    book = Book(top_n=2)
    book.apply_snapshot([["10", "1"], ["9.5", "2"], ["9", "3"]], [["11", "0.5"]])
    board = Board(1, 2, 3, [0.001, 0.0])
    board.set_usable(0, 1, True)
    board.write_book(0, 1, book, 7)
    assert board.levels[0, 1].tolist() == [
        [10.0, 9.5, 9.0],
        [1.0, 2.0, 3.0],
        [11.0, M, M],
        [0.5, 0.0, 0.0],
    ]
    assert (board.bid_eff[0, 1], board.ask_eff[0, 1], board.updated_ns[0, 1]) == (10.0, 11.0, 7)
    board.write_book(0, 1, book, 8)  # same top
    assert (board.bid_eff[0, 1], board.ask_eff[0, 1], board.updated_ns[0, 1]) == (10.0, 11.0, 8)
    with pytest.raises(ValueError, match="do not fit"):
        book.write_top(memoryview(bytearray(64)), 0, 3, M)
