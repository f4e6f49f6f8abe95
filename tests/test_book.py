"""feeds.book.Book against a plain dict model, plus exact cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import book as book_module
from feeds.book import BadLevel, Book
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
        (["1", "x"], "ValueError\\(\"could not convert string to float: 'x'\"\\)"),
        ([10**400, "1"], "bad price 1000"),
        (["1", 10**400], "OverflowError"),
        (["1", float("nan")], "bad size nan"),
        (["1", "1e400"], "bad size '1e400'"),
        ([True, "1"], "bad price True"),
        (["1", None], "TypeError"),
        (["1", ["1"]], "TypeError"),
        ([["1"], "1"], "unhashable type: 'list'"),
        (["1"], "IndexError"),
        ([], "IndexError"),
        ("12", "not a \\[price, size, ...\\] sequence"),
        ({"price": "1"}, "KeyError"),
        (None, "TypeError"),
        (7, "TypeError"),
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


def test_price_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book_module, "MEMO_MAX", 4)
    book_module.clear_memo()
    assert book_module._PRICES == {}
    book = Book(top_n=10)
    prices = [f"{p}.5" for p in range(1, 10)]
    book.apply_snapshot([[p, "1"] for p in prices], [])
    # 1.5..4.5 fill it, 5.5 clears it, 5.5..8.5 fill it, 9.5 clears it
    assert book_module._PRICES == {"9.5": 9.5}
    # memo hits and misses give the same values
    book.apply([[p, "2"] for p in prices], [])
    assert book.top() == ([9.5, 8.5, 7.5, 6.5, 5.5, 4.5, 3.5, 2.5, 1.5], [2.0] * 9, [], [])
    assert book_module._PRICES == {"8.5": 8.5, "9.5": 9.5}
