"""feeds.book.Book against a plain dict model, plus exact cases."""

from __future__ import annotations

import contextlib
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.book import BadLevel, Book
from feeds.checksum import KRAKEN, OKX
from feeds.protocol import Level

# Prices on a small grid so deltas hit existing levels often; sizes include 0 (delete).
prices = st.integers(1, 40).map(lambda i: f"{i / 4:.2f}")
sizes = st.sampled_from(["0", "0.0", "1", "2.5", "0.001", "7"])
levels = st.lists(st.tuples(prices, sizes).map(list), max_size=8)
messages = st.lists(st.tuples(levels, levels), max_size=30)


def model_top(side: dict[float, float], bids: bool, n: int) -> tuple[list[float], list[float]]:
    px = sorted(side, reverse=bids)[:n]
    return px, [side[p] for p in px]


def apply_model(side: dict[float, float], lv: list[Level], depth: int | None, bids: bool) -> None:
    for p, q in lv:
        if float(q) == 0.0:
            side.pop(float(p), None)
        else:
            side[float(p)] = float(q)
    if depth is not None:
        for p in sorted(side, reverse=bids)[depth:]:
            del side[p]


@settings(max_examples=150, deadline=None)
@given(
    snapshot=st.tuples(levels, levels),
    stream=messages,
    top_n=st.integers(1, 6),
    depth=st.none() | st.integers(1, 8),
)
def test_book_equals_dict_model(
    snapshot: tuple[list[Level], list[Level]],
    stream: list[tuple[list[Level], list[Level]]],
    top_n: int,
    depth: int | None,
) -> None:
    book = Book(top_n=top_n, keep_text=True, max_depth=depth)
    mb: dict[float, float] = {}
    ma: dict[float, float] = {}
    book.apply_snapshot(*snapshot)
    apply_model(mb, snapshot[0], depth, True)
    apply_model(ma, snapshot[1], depth, False)
    for bids, asks in stream:
        before = book.top()
        changed = book.apply(bids, asks)
        apply_model(mb, bids, depth, True)
        apply_model(ma, asks, depth, False)
        bp, bs = model_top(mb, True, top_n)
        ap, az = model_top(ma, False, top_n)
        assert book.top() == (bp, bs, ap, az)
        if not changed:  # the hint may be conservative, never wrong
            assert book.top() == before
        assert book.side(True) == list(zip(*model_top(mb, True, 99), strict=True))
        assert book.side(False) == list(zip(*model_top(ma, False, 99), strict=True))
        assert book.best_bid() == (max(mb) if mb else None)
        assert book.best_ask() == (min(ma) if ma else None)
        assert book.crossed() == (bool(mb) and bool(ma) and max(mb) >= min(ma))
        tb, ta = book.top_text(top_n)
        assert [(float(p), float(q)) for p, q in tb] == list(zip(bp, bs, strict=True))
        assert [(float(p), float(q)) for p, q in ta] == list(zip(ap, az, strict=True))


def test_exact_top_text_and_numbers() -> None:
    book = Book(top_n=2, keep_text=True)
    book.apply_snapshot(
        [["100.10", "1.50"], ["99.9", "2"], [98, 3]], [["101.0", "0.5"], [102.5, 1]]
    )
    assert book.top() == ([100.1, 99.9], [1.5, 2.0], [101.0, 102.5], [0.5, 1.0])
    assert book.top(5) == ([100.1, 99.9, 98.0], [1.5, 2.0, 3.0], [101.0, 102.5], [0.5, 1.0])
    assert book.top_text(3) == (
        [("100.10", "1.50"), ("99.9", "2"), (98, 3)],
        [("101.0", "0.5"), (102.5, 1)],
    )
    # same price, new text: the text follows the venue's latest spelling
    assert book.apply([["100.1", "1.5000"]], []) is True
    assert book.top_text(1) == ([("100.1", "1.5000")], [("101.0", "0.5")])
    assert (book.bid_count, book.ask_count) == (3, 2)


def test_changed_top_hint() -> None:
    book = Book(top_n=2)
    book.apply_snapshot(
        [["10", "1"], ["9", "1"], ["8", "1"]], [["11", "1"], ["12", "1"], ["13", "1"]]
    )
    assert book.apply([["8", "5"], ["7", "1"]], [["13", "0"], ["14", "1"]]) is False
    assert book.apply([["6", "0"]], []) is False  # deleting an absent level
    assert book.apply([["9", "2"]], []) is True
    assert book.apply([], [["11.5", "1"]]) is True
    assert book.apply([["10", "0"]], []) is True


def test_truncation_keeps_best_levels() -> None:
    book = Book(top_n=1, max_depth=2)
    book.apply_snapshot(
        [["10", "1"], ["9", "1"], ["8", "1"]], [["11", "1"], ["13", "1"], ["12", "1"]]
    )
    assert book.side(True) == [(10.0, 1.0), (9.0, 1.0)]
    assert book.side(False) == [(11.0, 1.0), (12.0, 1.0)]
    assert book.apply([["10.5", "1"]], []) is True
    assert book.side(True) == [(10.5, 1.0), (10.0, 1.0)]
    # a level below the depth is dropped at once, and the top is unchanged
    assert book.apply([], [["20", "1"]]) is False
    assert book.side(False) == [(11.0, 1.0), (12.0, 1.0)]


def test_truncation_below_top_n_reports_change() -> None:
    book = Book(top_n=5, max_depth=2)
    book.apply_snapshot([["10", "1"], ["9", "1"]], [])
    assert book.apply([["11", "1"]], []) is True
    assert book.top() == ([11.0, 10.0], [1.0, 1.0], [], [])


def test_empty_book_and_errors() -> None:
    book = Book()
    assert (book.best_bid(), book.best_ask(), book.crossed()) == (None, None, False)
    assert book.top() == ([], [], [], [])
    with pytest.raises(ValueError, match="text"):
        book.top_text(1)
    with pytest.raises(ValueError, match="top_n"):
        Book(top_n=0)
    with pytest.raises(BadLevel, match="bad price 'x'"):
        book.apply([["x", "1"]], [])


def test_crossed_and_locked() -> None:
    book = Book()
    book.apply_snapshot([["10", "1"]], [["10", "1"]])
    assert book.crossed() is True
    book.apply([], [["10", "0"], ["10.01", "1"]])
    assert (book.crossed(), book.best_bid(), book.best_ask()) == (False, 10.0, 10.01)


@pytest.mark.parametrize(
    ("level", "error"),
    [
        (["abc", "1"], "bad level \\['abc', '1'\\]: bad price 'abc'"),
        (["nan", "1"], "bad price 'nan'"),
        (["-inf", "1"], "bad price '-inf'"),
        (["0", "1"], "bad price '0'"),
        ([0.0, "1"], "bad price 0.0"),
        (["-1", "1"], "bad price '-1'"),
        (["1", "-1"], "bad size '-1'"),
        (["1", "inf"], "bad size 'inf'"),
        (["1", "x"], "bad size 'x'"),
        (["1", "1..2"], "bad size '1..2'"),
        (["", "1"], "bad price ''"),
        ([".", "1"], "bad price '.'"),
        ([10**400, "1"], "bad price 1000"),
        (["1", 10**400], "bad size 1000"),
        (["1", float("nan")], "bad size nan"),
        (["1", "1e400"], "bad size '1e400'"),
        ([True, "1"], "bad price True"),
        (["1", False], "bad size False"),
        (["1", None], "bad size None"),
        (["1", ["1"]], "bad size \\['1'\\]"),
        ([["1"], "1"], "bad price \\['1'\\]"),
        (["1"], "bad level \\['1'\\]: not a \\[price, size, ...\\] list or tuple"),
        ([], "not a \\[price, size"),
        ("12", "bad level '12': not a \\[price, size"),
        ("٣", "bad level '٣': not a \\[price, size"),
        ({"price": "1"}, "not a \\[price, size"),
        (None, "bad level None: not a \\[price, size"),
        (7, "not a \\[price, size"),
    ],
)
def test_bad_level_is_refused(level: object, error: str) -> None:
    book = Book()
    book.apply_snapshot([["10", "1"]], [["11", "1"]])
    with pytest.raises(BadLevel, match=error):
        book.apply([["9", "2"], level], [])  # type: ignore[list-item]
    # the level before the bad one was applied: the caller must resync (see feeds.session)
    assert book.side(True) == [(10.0, 1.0), (9.0, 2.0)]
    with pytest.raises(BadLevel, match=error):
        Book().apply_snapshot([], [level])  # type: ignore[list-item]


def test_json_numbers_and_decimal_spellings_are_values() -> None:
    book = Book(top_n=3)
    book.apply_snapshot([[100, 2], ["99.50", 1.25], ["1e2", "3"]], [["1.01E2", " 4 "]])
    assert book.top() == ([100.0, 99.5], [3.0, 1.25], [101.0], [4.0])
    assert book.apply([["100.0", "0.0"], ["99.5", -0.0]], []) is True  # -0.0 deletes too
    assert book.top() == ([], [], [101.0], [4.0])


decimals = st.builds(
    lambda i, f, k: f"{i}.{f:0{k}d}" if k else str(i),
    st.integers(0, 10**12),
    st.integers(0, 10**9),
    st.integers(0, 9),
)


@settings(max_examples=300, deadline=None)
@given(price=decimals | st.floats(1e-300, 1e300).map(repr), size=decimals)
def test_numbers_convert_exactly_as_float_does(price: str, size: str) -> None:
    # plain decimals take the book's exact fast path (m / 10^k); every other spelling float()
    book = Book()
    if float(price) <= 0.0:
        return
    book.apply_snapshot([[price, size]], [])
    assert book.side(True) == ([(float(price), float(size))] if float(size) > 0.0 else [])
    plain = "e" not in price and "inf" not in price
    spellings = [f"{price}0000000000000", f"0000{price}", f"{price}e0"] if plain else []
    for text in (price, f" {price} ", *spellings):
        book.apply_snapshot([[text, "1"]], [])
        assert book.best_bid() == float(text)


def test_fast_path_limits_agree_with_float() -> None:
    texts = [
        "9007199254740992", "9007199254740993", "0.9007199254740993", "123456789012345678",
        "1." + "0" * 22 + "1", "0." + "0" * 21 + "1", "0." + "0" * 22 + "1", "1.", ".5",
        "1_000.5", "٣.5", "0.1", "0.3", "2.675", "1e-7", "+3",
    ]  # fmt: skip
    book = Book()
    for text in texts:
        book.apply_snapshot([[text, "1"]], [])
        assert book.best_bid() == float(text), text


def test_text_is_released() -> None:
    price, size = "".join(["12.", "5"]), "".join(["3", ".0"])  # objects of our own
    before = sys.getrefcount(price), sys.getrefcount(size)
    book = Book(keep_text=True, max_depth=1)
    book.apply_snapshot([[price, size]], [[price, size]])
    assert (sys.getrefcount(price), sys.getrefcount(size)) == (before[0] + 2, before[1] + 2)
    book.apply([["1", "1"]], [[price, "0"]])  # below the depth: truncated; ask deleted
    assert book.top_text(5) == ([(price, size)], [])
    book.apply([[price, "4"]], [])  # replaced text
    assert sys.getrefcount(size) == before[1]
    book.clear()
    assert (sys.getrefcount(price), sys.getrefcount(size)) == before
    del book


def test_top_arguments() -> None:
    book = Book(top_n=2)
    book.apply_snapshot([["10", "1"], ["9", "1"], ["8", "1"]], [])
    assert book.top(0) == ([], [], [], [])
    assert book.top(None) == ([10.0, 9.0], [1.0, 1.0], [], [])
    with pytest.raises(ValueError, match="n must be >= 0"):
        book.top(-1)
    with pytest.raises(ValueError, match="max_depth"):
        book.max_depth = 0
    book.max_depth = 1
    assert book.max_depth == 1
    book.apply([], [])
    assert book.side(True) == [(10.0, 1.0)]


def test_levels_given_as_text_are_refused() -> None:
    # The book iterates a string into a temporary list; the error message must be built from
    # its item before that list is released (a use-after-free found by the fuzz test below
    # under PYTHONMALLOC=debug, which `make test` runs this file with).
    with pytest.raises(BadLevel, match="bad level '٣': not a \\[price, size"):
        Book().apply("٣٣", [])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(bids=json_values, asks=json_values, keep_text=st.booleans())
def test_any_json_value_is_applied_or_refused_never_a_crash(
    bids: object, asks: object, keep_text: bool
) -> None:
    # what a codec could pass through from a hostile frame: the book applies it or raises
    # BadLevel, and stays consistent (sorted, positive sizes) either way
    book = Book(top_n=3, keep_text=keep_text, max_depth=5)
    book.apply_snapshot([["10", "1"]], [["11", "1"]])
    with contextlib.suppress(BadLevel):
        book.apply(bids, asks)  # type: ignore[arg-type]
    for bid_side in (True, False):
        levels = book.side(bid_side)
        prices = [p for p, _ in levels]
        assert prices == sorted(prices, reverse=bid_side)
        assert all(0.0 < p < math.inf and 0.0 < q < math.inf for p, q in levels)
    if keep_text:
        book.crc32(KRAKEN.code), book.crc32(OKX.code)


def agrees_model(before: Book, book: Book) -> bool:
    """``Book.agrees`` as plain Python: on each side, the levels ``before`` held from this
    book's best price down (best first) are exactly this book's."""
    for bids in (True, False):
        now, held = book.side(bids), before.side(bids)
        if now:
            sign = -1.0 if bids else 1.0  # best first is ascending sign * price
            start = next((i for i, lv in enumerate(held) if sign * lv[0] >= sign * now[0][0]),
                         len(held))  # fmt: skip
            if held[start : start + len(now)] != now:
                return False
    return True


@given(
    st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), max_size=25),
    st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), max_size=25),
)
def test_agrees_is_the_plain_definition(
    old: list[tuple[int, int]], new: list[tuple[int, int]]
) -> None:
    before, book = Book(), Book()
    before.apply_snapshot([(p, s) for p, s in old if p <= 15], [(p, s) for p, s in old if p > 15])
    book.apply_snapshot([(p, s) for p, s in new if p <= 15], [(p, s) for p, s in new if p > 15])
    assert book.agrees(before) is agrees_model(before, book)
    copy = book.copy()
    assert (copy.side(True), copy.side(False)) == (book.side(True), book.side(False))
    assert book.agrees(copy) is True
    trimmed = Book()  # the snapshot may be shorter than the book it replaces, never longer
    trimmed.apply_snapshot(book.side(True)[:2], book.side(False)[:2])
    assert trimmed.agrees(book) is True
