"""The cross-quote walk (scanner.crossquote) against the segment-by-segment model in
tests/brute.py, on random books with a conversion leg, plus a hand-computed case."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.board import Board
from scanner.crossquote import CrossFigures, ladder, walk
from scanner.crossscan import CrossScan
from tests import brute
from tests.test_kernel import FIELDS, random_books

BUY, SELL, CONV = 0, 1, 2
"""Board rows: X/A (bought), X/B (sold), the conversion book."""


def random_conversion(rng: random.Random, depth: int) -> brute.ConversionBook:
    """B/A (sell_base) near 1.0, or A/B near 1.0, a few bps off either way, dyadic numbers."""
    sell_base = rng.random() < 0.5
    px = 1.0 + rng.randint(-40, 40) / 8192
    levels = []
    for _ in range(rng.randint(0, depth)):
        levels.append((px, rng.randint(1, 4000) / 4))
        px += (-1 if sell_base else 1) * rng.randint(1, 8) / 8192
    fee = rng.randint(0, 16) / 8192
    return brute.ConversionBook(levels, fee, sell_base)


def load(buy: brute.VenueBook, sell: brute.VenueBook, conv: brute.ConversionBook) -> Board:
    depth = max(1, len(buy.asks), len(sell.bids), len(conv.levels))
    board = Board(3, 3, depth, [buy.fee, sell.fee, conv.fee])
    board.write(BUY, 0, [], [], [p for p, _ in buy.asks], [q for _, q in buy.asks], 1)
    board.write(SELL, 1, [p for p, _ in sell.bids], [q for _, q in sell.bids], [], [], 1)
    prices, sizes = [p for p, _ in conv.levels], [q for _, q in conv.levels]
    if conv.sell_base:
        board.write(CONV, 2, prices, sizes, [], [], 1)
    else:
        board.write(CONV, 2, [], [], prices, sizes, 1)
    return board


def figures(fig: CrossFigures) -> dict[str, float]:
    return {name: getattr(fig, name) for name in (*FIELDS, "fx_rate", "converted")}


def expected(fill: brute.CrossFill) -> dict[str, float]:
    out = {name: getattr(fill.fill, name) for name in FIELDS}
    return {**out, "fx_rate": fill.fx_rate, "converted": fill.converted}


cases = st.tuples(
    st.integers(1, 30),  # depth
    st.sampled_from([0.0, 0.0, 0.0, 50.0, 1e4, 1e7]),  # max_notional
    st.randoms(use_true_random=False),
)


@settings(max_examples=300, deadline=None)
@given(cases)
def test_matches_brute_force_with_conversion(params: tuple[int, float, random.Random]) -> None:
    depth, max_notional, rng = params
    buy, sell = random_books(rng, 2, depth, 1.0)
    buy = brute.VenueBook([], buy.asks, buy.fee, True)
    sell = brute.VenueBook(sell.bids, [], sell.fee, True)
    conv = random_conversion(rng, depth)
    board = load(buy, sell, conv)
    got = walk(board, (BUY, 0), (SELL, 1), ladder(board, CONV, 2, conv.sell_base), max_notional)
    want = brute.cross_fill(buy, sell, conv, max_notional)
    if want is None:
        assert got is None
        return
    assert got is not None
    have = figures(got)
    for name, value in expected(want).items():
        tol = 1e-12 * want.fill.cost if name == "profit" else 0.0
        assert have[name] == pytest.approx(value, rel=1e-9, abs=tol), name


def test_hand_computed_conversion_caps_the_size() -> None:
    """Buy 2 @ 100 USD (fee 0), sell 2 @ 101 USDT (fee 0), convert on USDT/USD bids
    0.999 x 100 then 0.998 x 1000 (fee 10 bps). The first 100 USDT convert at
    0.999 * 0.999 = 0.998001, the rest at 0.998 * 0.999 = 0.997002."""
    buy = brute.VenueBook([], [(100.0, 2.0)], 0.0, True)
    sell = brute.VenueBook([(101.0, 2.0)], [], 0.0, True)
    conv = brute.ConversionBook([(0.999, 100.0), (0.998, 1000.0)], 0.001, True)
    board = load(buy, sell, conv)
    got = walk(board, (BUY, 0), (SELL, 1), ladder(board, CONV, 2, True), 0.0)
    assert got is not None
    proceeds = 100 * 0.998001 + 102 * 0.997002
    assert got.size == 2.0
    assert got.cost == 200.0
    assert got.converted == 202.0
    assert got.proceeds == pytest.approx(proceeds, rel=1e-12)
    assert got.profit == pytest.approx(proceeds - 200.0, rel=1e-12)
    assert got.fx_rate == pytest.approx((100 * 0.999 + 102 * 0.998) / 202, rel=1e-12)
    assert got.sell_price == pytest.approx(101 * got.fx_rate, rel=1e-12)
    # depth of the conversion book only 150 USDT: the size stops where it is used up
    conv = brute.ConversionBook([(0.999, 150.0)], 0.001, True)
    board = load(buy, sell, conv)
    got = walk(board, (BUY, 0), (SELL, 1), ladder(board, CONV, 2, True), 0.0)
    assert got is not None
    assert got.size == pytest.approx(150 / 101, rel=1e-12)
    assert got.converted == pytest.approx(150.0, rel=1e-12)


def conversion_books(rng: random.Random, n_venues: int, depth: int) -> list[brute.VenueBook]:
    """B/A books near 1.0 (bids and asks), a few bps apart between venues."""
    books = []
    for _ in range(n_venues):
        mid = 8192 + rng.randint(-40, 40)
        half = rng.randint(1, 4)
        bids = [((mid - half - k) / 8192, rng.randint(1, 4000) / 4) for k in range(depth)]
        asks = [((mid + half + k) / 8192, rng.randint(1, 4000) / 4) for k in range(depth)]
        fee = rng.randint(0, 16) / 8192
        books.append(brute.VenueBook(bids[: rng.randint(0, depth)], asks[: rng.randint(0, depth)],
                                     fee, rng.random() < 0.7))  # fmt: skip
    return books


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.integers(1, 8), st.randoms(use_true_random=False))
def test_scan_picks_the_best_conversion_like_the_oracle(
    n_venues: int, depth: int, rng: random.Random
) -> None:
    """Rows X/A, X/B, B/A over random venues: every pair in both directions against the
    oracle's best over every usable conversion book (sold into for B -> A, bought for A -> B)."""
    xa = random_books(rng, n_venues, depth, 0.8)
    xb = [brute.VenueBook(b.bids, b.asks, xa[v].fee, b.usable)
          for v, b in enumerate(random_books(rng, n_venues, depth, 0.8))]  # fmt: skip
    ba = [brute.VenueBook(c.bids, c.asks, xa[v].fee, c.usable)
          for v, c in enumerate(conversion_books(rng, n_venues, depth))]  # fmt: skip
    board = Board(3, n_venues, depth, [b.fee for b in xa])
    for row, books in enumerate((xa, xb, ba)):
        for v, b in enumerate(books):
            board.write(row, v, [p for p, _ in b.bids], [q for _, q in b.bids],
                        [p for p, _ in b.asks], [q for _, q in b.asks], 1)  # fmt: skip
            board.set_usable(row, v, b.usable)
    scan = CrossScan(board, [("X", "A"), ("X", "B"), ("B", "A")], [["A", "B"]], 0, 0.0)
    got = {(p.buy, p.sell): p.figures for p in scan.evaluate(0, None, 2)}
    want: dict[tuple[int, int], tuple[float, int]] = {}
    for buy_rows, sell_base in (((xa, xb), True), ((xb, xa), False)):
        buys, sells = buy_rows
        slot_a = 0 if buys is xa else n_venues
        slot_b = n_venues if buys is xa else 0
        for i in range(n_venues):
            for j in range(n_venues):
                best: tuple[float, int] | None = None
                for c, book in enumerate(ba):
                    if not book.usable:
                        continue
                    side = book.bids if sell_base else book.asks
                    conv = brute.ConversionBook(side, book.fee, sell_base)
                    fill = brute.cross_fill(buys[i], sells[j], conv, 0.0)
                    if fill is not None and (best is None or fill.fill.profit > best[0]):
                        best = (fill.fill.profit, c)
                if best is not None:
                    want[(slot_a + i, slot_b + j)] = best
    assert sorted(got) == sorted(want)
    for key, (profit, c) in want.items():
        fig = got[key]
        assert isinstance(fig, CrossFigures)
        assert fig.profit == pytest.approx(profit, rel=1e-9, abs=1e-12)
        assert fig.fx_venue == c or fig.profit == pytest.approx(profit, rel=1e-12)
