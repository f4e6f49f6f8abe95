"""feeds.checksum's layouts and the compiled book's checksums against every Kraken / OKX /
Bitget / Bitfinex / Independent Reserve vector (fixtures/checksum_vectors/ and the venues'
documentation), and against each other on random books and random layouts."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import _book
from feeds.book import Book
from feeds.checksum import (
    BITFINEX_P0,
    BITFINEX_R0,
    BITGET,
    INDEPENDENT_RESERVE,
    KRAKEN,
    OKX,
    ChecksumLayout,
    Label,
    Order,
    Text,
    crc32,
    js_number,
)
from feeds.protocol import Level, Number

VECTORS = Path(__file__).parent / "fixtures" / "checksum_vectors"


def cases(name: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    out: list[dict[str, Any]] = data["cases"]
    return out


def pairs(levels: list[list[str]]) -> list[tuple[str, str]]:
    return [(p, q) for p, q, *_ in levels]


KRAKEN_CASES = cases("kraken_book_checksum_v1.json")
OKX_CASES = cases("okx_books_checksum.json")
BITFINEX_CASES = cases("bitfinex_book_checksum.json")


def test_vector_files_hold_the_expected_cases() -> None:
    assert [(c["id"], c["expected_checksum"]) for c in KRAKEN_CASES] == [
        ("kraken_v1_docs_example", 974947235),
        ("kraken_v1_recorded_1", 577149452),
        ("kraken_v1_recorded_2", 2369158246),
        ("kraken_v1_recorded_3", 1611253991),
    ]
    assert [(c["id"], c["expected_checksum"]) for c in OKX_CASES] == [
        ("okx_docs_example_1_more_than_25_levels", -1881014294),
        ("okx_docs_example_2_less_than_25_levels", 831078360),
        ("okx_recorded_btc_30x30", -1895465205),
    ]
    assert [(c["id"], c["expected_checksum"]) for c in BITFINEX_CASES] == [
        ("bitfinex_P0_1", -1582707309),
        ("bitfinex_P0_2", -1218259634),
        ("bitfinex_P0_3", 167208263),
        ("bitfinex_P0_4", 1822826369),
        ("bitfinex_P0_5", 1107009828),
        ("bitfinex_R0_1", 636201523),
        ("bitfinex_R0_2", 606523902),
        ("bitfinex_R0_3", -30964108),
    ]


def all_three(layout: ChecksumLayout, bids: list[Any], asks: list[Any]) -> int:
    """The Python definition, the compiled module function and (for price levels) the
    compiled book, which must agree."""
    value = crc32(layout, bids, asks)
    assert _book.crc32(layout.code, bids, asks) == value
    if layout.label is Label.PRICE:
        assert book_of(bids, asks).crc32(layout.code) == value
    return value


@pytest.mark.parametrize("case", KRAKEN_CASES, ids=[c["id"] for c in KRAKEN_CASES])
def test_kraken_vectors(case: dict[str, Any]) -> None:
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert all_three(KRAKEN, bids, asks) == case["expected_checksum"]


@pytest.mark.parametrize("case", OKX_CASES, ids=[c["id"] for c in OKX_CASES])
def test_okx_vectors(case: dict[str, Any]) -> None:
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert all_three(OKX, bids, asks) == case["expected_checksum"]


@pytest.mark.parametrize("case", BITFINEX_CASES, ids=[c["id"] for c in BITFINEX_CASES])
def test_bitfinex_vectors(case: dict[str, Any]) -> None:
    # P0 levels are [price, amount]; R0 entries [order_id, price, amount], best first (by
    # price, then id). The vector files hold str(Decimal) text ("1E-7"): the JavaScript
    # rendering of its value ("1e-7") is what Bitfinex checksums.
    layout = BITFINEX_R0 if case["id"].startswith("bitfinex_R0") else BITFINEX_P0
    bids, asks = case["bids_best_first"], case["asks_best_first"]
    assert all_three(layout, bids, asks) == case["expected_checksum"]
    # and as Bitfinex sends them: JSON numbers
    as_json = [
        [[float(x) if isinstance(x, str) else x for x in lv] for lv in side]
        for side in (bids, asks)
    ]
    assert all_three(layout, *as_json) == case["expected_checksum"]


def test_bitfinex_writes_ask_amounts_negative_and_js_numbers() -> None:
    text = "100:1.5:101:-2:99:1e-7:102:-0.000001"
    expected = zlib.crc32(text.encode()) - (1 << 32) * (zlib.crc32(text.encode()) >= 1 << 31)
    bids, asks = [("100", 1.5), (99, "1E-7")], [(101.0, "2.0"), ("102", 1e-6)]
    assert all_three(BITFINEX_P0, bids, asks) == expected


# https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md: the
# OrderBookSnapshot example (depth 5, btc-aud, "Crc32": 2893776693) and the OrderBookChange
# that follows it (offer 31844.98 added, the depth-5 book truncated: "Crc32": 263206970).
IR_BIDS = [
    [31802.46, 0.25],
    [31802.45, 0.32464684],
    [31802.42, 0.34465528],
    [31785.01, 2.733],
    [31785, 1.5],
]
IR_ASKS = [[31844.99, 0.30740328], [31845, 1.5], [31865.3, 0.2], [31875, 1.5], [31875.9, 0.788]]


def test_independent_reserve_documented_examples() -> None:
    assert all_three(INDEPENDENT_RESERVE, IR_BIDS, IR_ASKS) == 2893776693
    book = Book(keep_text=True, max_depth=5)
    book.apply_snapshot(IR_BIDS, IR_ASKS)
    book.apply([], [[31844.98, 0.02396605]])
    assert book.ask_count == 5
    assert book.crc32(INDEPENDENT_RESERVE.code) == 263206970
    assert crc32(INDEPENDENT_RESERVE, *book.top_text(10)) == 263206970


def test_js_number() -> None:
    cases: list[tuple[Number, str]] = [
        (1.5e-7, "1.5e-7"),
        ("1E-7", "1e-7"),
        ("0.0000029", "0.0000029"),
        (1e-6, "0.000001"),
        ("0.00000100", "0.000001"),
        (63976, "63976"),
        ("63976.0", "63976"),
        (1e21, "1e+21"),
        (123e18, "123000000000000000000"),
        ("31174.03814939", "31174.03814939"),
        (0.1, "0.1"),
        ("-2.50", "-2.5"),
        (0, "0"),
        ("0.000", "0"),
        (12345678901234567890123, "1.2345678901234567890123e+22"),  # exact, not a double
    ]
    assert [js_number(x) for x in [x for x, _ in cases]] == [s for _, s in cases]
    for x, s in cases:
        assert _book.crc32(BITFINEX_P0.code, [(x, 1)], []) == crc32(BITFINEX_P0, [(s, 1)], [])


def test_kraken_uses_text_not_floats() -> None:
    # kraken_v1_recorded_3 has a volume 0.00000048 that float rendering turns into 4.8e-07
    case = KRAKEN_CASES[3]
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert ("0.000017670", "0.00000048") in bids
    as_floats = [(str(float(p)), str(float(q))) for p, q in bids]
    assert crc32(KRAKEN, as_floats, asks) != case["expected_checksum"]


def test_bitget_lowtrust_vector_needs_decimal_rendering() -> None:
    # The vector reproduces bmoscon/orderbook's str(Decimal) rendering ("1.461E-9"), not
    # Bitget's wire text: documented in checksum_vectors/README section 4. It still proves the
    # interleaving and the signed result over 30x30 levels.
    (case,) = cases("bitget_books_checksum_LOWTRUST.json")
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert BITGET == OKX
    assert all_three(BITGET, bids, asks) == 591713976
    dec = [[(str(Decimal(p)), str(Decimal(q))) for p, q in side] for side in (bids, asks)]
    assert all_three(BITGET, dec[0], dec[1]) == case["expected_checksum"] == -574860598
    assert case["expected_checksum_unsigned"] == 3720106698


def test_okx_longer_side_continues_alone_and_top_25_only() -> None:
    bids = [(str(100 - i), "1") for i in range(30)]
    asks = [("101", "2")]
    text = ":".join(["100:1:101:2", *(f"{100 - i}:1" for i in range(1, 25))])
    expected = zlib.crc32(text.encode())
    expected = expected - (1 << 32) if expected >= 1 << 31 else expected
    assert all_three(OKX, bids, asks) == expected


def book_of(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Book:
    book = Book(keep_text=True)
    book.apply_snapshot(bids, asks)
    return book


def test_book_needs_text_price_levels_and_a_valid_code() -> None:
    with pytest.raises(ValueError, match="text"):
        Book().crc32(KRAKEN.code)
    with pytest.raises(ValueError, match="orders"):
        Book(keep_text=True).crc32(BITFINEX_R0.code)
    for code in (0, OKX.code | 3 << 16, OKX.code | 3 << 19, OKX.code | 1 << 25, -1):
        with pytest.raises((ValueError, OverflowError)):
            Book(keep_text=True).crc32(code)
    with pytest.raises(_book.BadLevel, match="3 numbers"):
        _book.crc32(BITFINEX_R0.code, [[1, "2"]], [])
    with pytest.raises(ValueError, match="levels"):
        ChecksumLayout(0, Order.INTERLEAVED)
    with pytest.raises(ValueError, match="separator"):
        ChecksumLayout(25, Order.INTERLEAVED, ",")


def test_layout_codes_are_distinct() -> None:
    layouts = [KRAKEN, OKX, BITFINEX_P0, BITFINEX_R0, INDEPENDENT_RESERVE]
    assert len({x.code for x in layouts}) == 5
    assert KRAKEN.code == 10 | 1 << 16 | 1 << 21
    assert (KRAKEN.truncate, INDEPENDENT_RESERVE.truncate, OKX.truncate) == (True, True, False)


texts = st.decimals(min_value="0.00000001", max_value="99999", places=8).map(
    lambda d: format(d, "f")
)


@settings(max_examples=200, deadline=None)
@given(
    bids=st.dictionaries(texts, texts | st.integers(1, 9) | st.floats(0.5, 9.0), max_size=40),
    asks=st.dictionaries(texts, texts, max_size=40),
)
def test_book_checksums_equal_the_definitions(
    bids: dict[str, str | float], asks: dict[str, str]
) -> None:
    # JSON numbers (int, float) are rendered with str(), as the Python definitions do
    book = Book(keep_text=True)
    levels = [[p, q] for p, q in bids.items() if float(q) > 0.0]
    book.apply_snapshot(levels, [[p, q] for p, q in asks.items() if float(q) > 0.0])
    tb, ta = book.top_text(1000)
    for layout in (KRAKEN, OKX, BITFINEX_P0, INDEPENDENT_RESERVE):
        assert book.crc32(layout.code) == crc32(layout, tb, ta)
        assert _book.crc32(layout.code, tb, ta) == crc32(layout, tb, ta)


# Long texts (trailing zeros keep the value): the compiled checksums gather the text into a
# 2,048-byte buffer, so these cross its end at every alignment, and one field outgrows it.
long_texts = st.builds(
    lambda d, zeros: d + ("" if "." in d else ".") + "0" * zeros, texts, st.integers(0, 400)
)


@settings(max_examples=100, deadline=None)
@given(
    bids=st.dictionaries(long_texts, long_texts, max_size=30),
    asks=st.dictionaries(long_texts, long_texts, max_size=30),
)
def test_book_checksums_of_long_texts_equal_the_definitions(
    bids: dict[str, str], asks: dict[str, str]
) -> None:
    book = Book(keep_text=True)
    book.apply_snapshot(
        [[p, q] for p, q in bids.items() if float(q) > 0.0],
        [[p, q] for p, q in asks.items() if float(q) > 0.0],
    )
    tb, ta = book.top_text(1000)
    for layout in (KRAKEN, OKX, BITFINEX_P0, INDEPENDENT_RESERVE):
        assert book.crc32(layout.code) == crc32(layout, tb, ta)
        assert _book.crc32(layout.code, tb, ta) == crc32(layout, tb, ta)


def test_book_checksums_of_a_field_longer_than_the_buffer() -> None:
    huge = "1." + "0" * 3000 + "1"
    bids = [["100.5", huge], ["100.25", "0" * 3000 + "1.5"]]  # Kraken strips 3,000 zeros
    asks = [["101", "2." + "0" * 5000]]
    book = Book(keep_text=True)
    book.apply_snapshot(bids, asks)
    tb, ta = book.top_text(1000)
    assert (tb, ta) == ([("100.5", huge), ("100.25", bids[1][1])], [("101", asks[0][1])])
    for layout in (KRAKEN, OKX, BITFINEX_P0, INDEPENDENT_RESERVE):
        assert book.crc32(layout.code) == crc32(layout, tb, ta)
        assert _book.crc32(layout.code, tb, ta) == crc32(layout, tb, ta)


layouts = st.builds(
    ChecksumLayout,
    levels=st.integers(1, 30),
    order=st.sampled_from(Order),
    separator=st.sampled_from(["", ":"]),
    text=st.sampled_from(Text),
    digits_only=st.booleans(),
    negate_asks=st.booleans(),
    signed=st.booleans(),
)
numbers = (
    texts
    | long_texts
    | st.floats(1e-12, 1e25)
    | st.integers(1, 10**25)
    | st.builds(lambda m, e: f"{m}E{e}", st.integers(1, 99999), st.integers(-30, 30))
)


@settings(max_examples=200, deadline=None)
@given(
    layout=layouts,
    bids=st.lists(st.tuples(numbers, numbers), max_size=35),
    asks=st.lists(st.tuples(numbers, numbers), max_size=35),
)
def test_any_layout_compiled_equals_the_definition(
    layout: ChecksumLayout, bids: list[tuple[Number, Number]], asks: list[tuple[Number, Number]]
) -> None:
    # every combination of layout fields, over decimal text, exponent text, JSON numbers
    assert _book.crc32(layout.code, bids, asks) == crc32(layout, bids, asks)
    book = Book(keep_text=True)
    book.apply_snapshot(bids, asks)
    tb, ta = book.top_text(1000)
    assert book.crc32(layout.code) == crc32(layout, tb, ta)


@settings(max_examples=50, deadline=None)
@given(
    bids=st.lists(st.tuples(st.integers(1, 10**12), numbers, numbers), max_size=30),
    asks=st.lists(st.tuples(st.integers(1, 10**12), numbers, numbers), max_size=30),
)
def test_raw_order_layout_compiled_equals_the_definition(
    bids: list[Level], asks: list[Level]
) -> None:
    assert _book.crc32(BITFINEX_R0.code, bids, asks) == crc32(BITFINEX_R0, bids, asks)
