"""scanner.kernel against the pure-Python model in tests/brute.py, plus hand-computed cases.

Random boards use dyadic numbers (prices k/64, sizes k/16, fees k/8192 ≈ 1.2 bps steps): every
product and sum of the walk is then exact in float64, so a tie b'(k) == a'(m) is a tie in both
models and the kernel and the model may differ only where the notional cap divides.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.board import Board
from scanner.kernel import Pair, evaluate
from tests import brute

FIELDS = (
    "buy_price",
    "sell_price",
    "size",
    "buy_vwap",
    "sell_vwap",
    "cost",
    "proceeds",
    "profit",
    "net_bps",
    "gross_bps",
)


def random_books(
    rng: random.Random, n_venues: int, depth: int, p_usable: float
) -> list[brute.VenueBook]:
    """Books around a common mid with venue offsets, so that a few pairs cross."""
    mid = rng.randint(64 * 50, 64 * 200)  # in 1/64 units
    books = []
    for _ in range(n_venues):
        center = mid + rng.randint(-64, 64)
        half = rng.randint(1, 32)
        bids: list[brute.Level] = []
        asks: list[brute.Level] = []
        px = center - half
        for _ in range(rng.randint(0, depth)):
            if px <= 0:
                break
            bids.append((px / 64, rng.randint(1, 160) / 16))
            px -= rng.randint(1, 16)
        px = center + half
        for _ in range(rng.randint(0, depth)):
            asks.append((px / 64, rng.randint(1, 160) / 16))
            px += rng.randint(1, 16)
        fee = rng.randint(1, 82) / 8192 if rng.random() < 0.6 else 0.0  # 0: many deep ties
        books.append(brute.VenueBook(bids, asks, fee, rng.random() < p_usable))
    return books


def load(books: list[brute.VenueBook], depth: int, s: int = 1, n_symbols: int = 2) -> Board:
    """A board with ``books`` as symbol ``s``; the other symbols hold unrelated crossed books."""
    board = Board(n_symbols, len(books), depth, [b.fee for b in books])
    for other in range(n_symbols):
        if other == s:
            continue
        for v in range(len(books)):
            board.set_usable(other, v, True)
            board.write(other, v, [1e6 - v], [1.0], [1.0 + v], [1.0], 1)
    for v, book in enumerate(books):
        if book.usable and v % 2:  # both orders: usable before and after the write
            board.set_usable(s, v, True)
        bids, asks = book.bids, book.asks
        board.write(
            s,
            v,
            [p for p, _ in bids],
            [q for _, q in bids],
            [p for p, _ in asks],
            [q for _, q in asks],
            1000 + v,
        )
        if book.usable and not v % 2:
            board.set_usable(s, v, True)
    return board


def as_dict(pairs: list[Pair]) -> dict[tuple[int, int], dict[str, float]]:
    out = {}
    for pair in pairs:
        key = (pair.buy, pair.sell)
        assert key not in out
        out[key] = {name: getattr(pair.figures, name) for name in FIELDS}
    return out


def assert_matches(got: list[Pair], want: dict[tuple[int, int], brute.Fill]) -> None:
    got_d = as_dict(got)
    assert sorted(got_d) == sorted(want)
    for key, fill in want.items():
        for name in FIELDS:
            expected = getattr(fill, name)
            # profit is a difference: allow rounding of the cap's division relative to cost.
            tol = 1e-12 * fill.cost if name == "profit" else 0.0
            assert got_d[key][name] == pytest.approx(expected, rel=1e-9, abs=tol), (key, name)


boards = st.tuples(
    st.integers(2, 40),  # venues
    st.integers(1, 50),  # depth
    st.sampled_from([0.0, 0.0, 1.0, 37.5, 250.0, 1e4, 1e7]),  # max_notional
    st.sampled_from([1.0, 0.9, 0.5]),  # probability that a leg is usable
    st.randoms(use_true_random=False),
)


@settings(max_examples=150, deadline=None)
@given(boards, st.data())
def test_matches_brute_force(
    params: tuple[int, int, float, float, random.Random], data: st.DataObject
) -> None:
    n_venues, depth, max_notional, p_usable, rng = params
    books = random_books(rng, n_venues, depth, p_usable)
    board = load(books, depth)
    v = data.draw(st.integers(0, n_venues - 1))
    got = evaluate(board, 1, v, max_notional)
    assert_matches(got, brute.evaluate(books, v, max_notional))
    bid, ask = board.bid_eff[1], board.ask_eff[1]
    for other in range(n_venues):  # the fee-adjusted tops the kernel prunes with
        if other != v:
            assert bid[other] - ask[v] == brute.top_net(books[v], books[other])
            assert bid[v] - ask[other] == brute.top_net(books[other], books[v])
    if max_notional > 0.0:  # the cap holds (up to the rounding of its division)
        assert all(p.figures.cost <= max_notional * (1 + 1e-12) for p in got)


@settings(max_examples=60, deadline=None)
@given(boards, st.data())
def test_raising_a_fee_never_increases_profit(
    params: tuple[int, int, float, float, random.Random], data: st.DataObject
) -> None:
    n_venues, depth, max_notional, p_usable, rng = params
    books = random_books(rng, n_venues, depth, p_usable)
    v = data.draw(st.integers(0, n_venues - 1))
    raised = data.draw(st.integers(0, n_venues - 1))
    before = as_dict(evaluate(load(books, depth), 1, v, max_notional))
    bumped = list(books)
    old = books[raised]
    step = data.draw(st.integers(1, 40)) / 8192
    bumped[raised] = brute.VenueBook(old.bids, old.asks, old.fee + step, old.usable)
    after = as_dict(evaluate(load(bumped, depth), 1, v, max_notional))
    assert set(after) <= set(before)
    for key, figures in after.items():
        assert figures["profit"] <= before[key]["profit"]
        if raised not in key:
            assert figures == before[key]


@settings(max_examples=60, deadline=None)
@given(boards, st.data())
def test_zero_fees_every_crossed_pair_pays(
    params: tuple[int, int, float, float, random.Random], data: st.DataObject
) -> None:
    n_venues, depth, max_notional, p_usable, rng = params
    books = [
        brute.VenueBook(b.bids, b.asks, 0.0, b.usable)
        for b in random_books(rng, n_venues, depth, p_usable)
    ]
    v = data.draw(st.integers(0, n_venues - 1))
    got = as_dict(evaluate(load(books, depth), 1, v, max_notional))
    crossed = {
        (i, j)
        for i in range(n_venues)
        for j in range(n_venues)
        if i != j
        and v in (i, j)
        and books[i].usable
        and books[j].usable
        and books[i].asks
        and books[j].bids
        and books[j].bids[0][0] > books[i].asks[0][0]
    }
    assert set(got) == crossed
    assert all(f["profit"] > 0.0 for f in got.values())


def book_board(
    fees: list[float], books: list[tuple[list[brute.Level], list[brute.Level]]]
) -> Board:
    """A one-symbol board with these (bids, asks) books, every leg usable."""
    board = Board(1, len(books), 4, fees)
    for v, (bids, asks) in enumerate(books):
        board.set_usable(0, v, True)
        board.write(
            0,
            v,
            [p for p, _ in bids],
            [q for _, q in bids],
            [p for p, _ in asks],
            [q for _, q in asks],
            7,
        )
    return board


# Venue 0 (fee 10 bps) asks 100 × 1, 101 × 2, bids 99 × 1; venue 1 (fee 20 bps) bids 101.5 × 0.5,
# 101.2 × 1, 100 × 5, asks 102 × 1. Buying at 0 and selling at 1:
#   a' = 100 · 1.001 = 100.1, 101 · 1.001 = 101.101; b' = 101.5 · 0.998 = 101.297, 101.2 · 0.998
#   = 100.9976, 100 · 0.998 = 99.8. Units 0-0.5 pay 101.297 - 100.1, 0.5-1 pay 100.9976 - 100.1,
#   then 100.9976 < 101.101: Q* = 1. C = 100 · 1.001 = 100.1; R = (101.5 · 0.5 + 101.2 · 0.5)
#   · 0.998 = 101.35 · 0.998 = 101.1473; P = 1.0473; net = 1e4 · 1.0473 / 100.1 = 104.6253746…;
#   gross = 1e4 · 1.5 / 100 = 150. The other way, 99 · 0.999 < 102 · 1.002: nothing.
TWO_VENUES = (
    [0.001, 0.002],
    [
        ([(99.0, 1.0)], [(100.0, 1.0), (101.0, 2.0)]),
        ([(101.5, 0.5), (101.2, 1.0), (100.0, 5.0)], [(102.0, 1.0)]),
    ],
)


def only(pairs: list[Pair]) -> dict[str, float]:
    got = as_dict(pairs)
    assert len(got) == 1
    return next(iter(got.values()))


def test_depth_walk_stops_where_the_marginal_unit_stops_paying() -> None:
    board = book_board(*TWO_VENUES)
    pairs = evaluate(board, 0, 1, 0.0)
    assert [(p.buy, p.sell) for p in pairs] == [(0, 1)]
    assert only(pairs) == pytest.approx(
        {
            "buy_price": 100.0,
            "sell_price": 101.5,
            "size": 1.0,
            "buy_vwap": 100.0,
            "sell_vwap": 101.35,
            "cost": 100.1,
            "proceeds": 101.1473,
            "profit": 1.0473,
            "net_bps": 104.62537462537462,
            "gross_bps": 150.0,
        },
        rel=1e-12,
    )
    # fee-adjusted tops: bids 101.5 · 0.998 and 99 · 0.999, asks 100 · 1.001 and 102 · 1.002
    assert board.bid_eff[0].tolist() == pytest.approx([98.901, 101.297], rel=1e-12)
    assert board.ask_eff[0].tolist() == pytest.approx([100.1, 102.204], rel=1e-12)


def test_max_notional_cuts_inside_the_first_level() -> None:
    # Budget 50 buys Q = 50 / 100.1 = 0.4995004995… at the first ask; all of it sells at the
    # first bid: R = Q · 101.297 = 50.5979020979…, P = 0.5979020979…, net = 119.5804195804… bps.
    pairs = evaluate(book_board(*TWO_VENUES), 0, 0, 50.0)
    assert only(pairs) == pytest.approx(
        {
            "buy_price": 100.0,
            "sell_price": 101.5,
            "size": 0.4995004995004995,
            "buy_vwap": 100.0,
            "sell_vwap": 101.5,
            "cost": 50.0,
            "proceeds": 50.5979020979021,
            "profit": 0.5979020979020979,
            "net_bps": 119.58041958041959,
            "gross_bps": 150.0,
        },
        rel=1e-12,
    )


def test_max_notional_cuts_inside_a_deeper_level_and_depth_bounds_the_size() -> None:
    # No fees. Asks 100 × 1, 100.5 × 1; bids 105 × 3. Budget 150: 100 for level 0, then
    # 50 / 100.5 = 0.4975124378… at level 1: Q = 1.4975124378…, R = 105 Q = 157.2388059701…,
    # P = 7.2388059701…, buy VWAP = 150 / Q = 100.1661129568…, net = 482.5870646766… bps.
    books = [([], [(100.0, 1.0), (100.5, 1.0)]), ([(105.0, 3.0)], [])]
    capped = only(evaluate(book_board([0.0, 0.0], books), 0, 0, 150.0))
    assert capped == pytest.approx(
        {
            "buy_price": 100.0,
            "sell_price": 105.0,
            "size": 1.4975124378109452,
            "buy_vwap": 100.16611295681064,
            "sell_vwap": 105.0,
            "cost": 150.0,
            "proceeds": 157.23880597014926,
            "profit": 7.2388059701492535,
            "net_bps": 482.5870646766169,
            "gross_bps": 500.0,
        },
        rel=1e-12,
    )
    # Without a cap (or a cap beyond the book: 1e6) every ask is bought: Q = 2 (ask depth, not
    # the 3 bid), C = 200.5, R = 210, P = 9.5, net = 1e4 · 9.5 / 200.5 = 473.8154613466… bps.
    for cap in (0.0, 1e6):
        deep = only(evaluate(book_board([0.0, 0.0], books), 0, 1, cap))
        assert deep == pytest.approx(
            {
                "buy_price": 100.0,
                "sell_price": 105.0,
                "size": 2.0,
                "buy_vwap": 100.25,
                "sell_vwap": 105.0,
                "cost": 200.5,
                "proceeds": 210.0,
                "profit": 9.5,
                "net_bps": 473.8154613466334,
                "gross_bps": 500.0,
            },
            rel=1e-12,
        )


def test_a_tie_deeper_in_the_books_ends_the_walk() -> None:
    # No fees. Asks 100 × 1, 101 × 1; bids 102 × 1, 101 × 1. The second unit would buy at 101
    # and sell at 101: it does not pay, so Q* = 1, C = 100, R = 102, P = 2, net = 200 bps.
    books = [([], [(100.0, 1.0), (101.0, 1.0)]), ([(102.0, 1.0), (101.0, 1.0)], [])]
    assert only(evaluate(book_board([0.0, 0.0], books), 0, 0, 0.0)) == {
        "buy_price": 100.0,
        "sell_price": 102.0,
        "size": 1.0,
        "buy_vwap": 100.0,
        "sell_vwap": 102.0,
        "cost": 100.0,
        "proceeds": 102.0,
        "profit": 2.0,
        "net_bps": 200.0,
        "gross_bps": 200.0,
    }


def test_missing_sides_ties_and_unusable_legs_never_pair() -> None:
    # Venue 0 has only asks (100), venue 1 only bids (101), venue 2 bids exactly 100 (a tie
    # with 0's ask, no fees: does not pay) and asks 99.5, venue 3 bids 110 but is unusable.
    board = book_board(
        [0.0] * 4,
        [
            ([], [(100.0, 1.0)]),
            ([(101.0, 1.0)], []),
            ([(100.0, 1.0)], [(99.5, 1.0)]),
            ([(110.0, 1.0)], [(111.0, 1.0)]),
        ],
    )
    board.set_usable(0, 3, False)
    got = {v: as_dict(evaluate(board, 0, v, 0.0)) for v in range(4)}
    assert {v: sorted(pairs) for v, pairs in got.items()} == {
        0: [(0, 1)],
        1: [(0, 1), (2, 1)],
        2: [(2, 1)],
        3: [],
    }
    assert got[1][(2, 1)]["profit"] == 1.5  # 101 - 99.5
    assert (board.bid_eff[0, 3], board.ask_eff[0, 3]) == (-math.inf, math.inf)  # unusable
    assert board.ask_eff[0, 1] == math.inf  # no asks: never a buy leg
    assert board.bid_eff[0, 2] == board.ask_eff[0, 0] == 100.0  # the tie
    board.set_usable(0, 3, True)
    assert sorted(as_dict(evaluate(board, 0, 3, 0.0))) == [(0, 3), (2, 3)]


def test_no_pair_gives_an_empty_list() -> None:
    board = book_board([0.001, 0.001], [([(99.0, 1.0)], [(100.0, 1.0)])] * 2)
    assert evaluate(board, 0, 0, 0.0) == []


def test_a_candidate_whose_profit_rounds_to_zero_is_dropped() -> None:
    # b' = b · 0.9973 exceeds a' = 108.47 · 1.0027 by one ulp, so the pair passes the pruning,
    # but R = (b · 1.862) · 0.9973 does not exceed C = (108.47 · 1.862) · 1.0027 in float64.
    bid = 109.05732377419032
    board = book_board([0.0027, 0.0027], [([], [(108.47, 1.862)]), ([(bid, 1.862)], [])])
    assert evaluate(board, 0, 1, 0.0) == []
    assert board.bid_eff[0, 1] - board.ask_eff[0, 0] == 2.0**-46  # one ulp at 108.76: a candidate
