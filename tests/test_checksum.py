"""feeds.checksum and the compiled book's checksums against every Kraken / OKX / Bitget vector
in fixtures/checksum_vectors/, and against each other on random books."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.book import Book
from feeds.checksum import kraken_crc32, okx_crc32

VECTORS = Path(__file__).parent / "fixtures" / "checksum_vectors"


def cases(name: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    out: list[dict[str, Any]] = data["cases"]
    return out


def pairs(levels: list[list[str]]) -> list[tuple[str, str]]:
    return [(p, q) for p, q, *_ in levels]


KRAKEN = cases("kraken_book_checksum_v1.json")
OKX = cases("okx_books_checksum.json")


def test_vector_files_hold_the_expected_cases() -> None:
    assert [(c["id"], c["expected_checksum"]) for c in KRAKEN] == [
        ("kraken_v1_docs_example", 974947235),
        ("kraken_v1_recorded_1", 577149452),
        ("kraken_v1_recorded_2", 2369158246),
        ("kraken_v1_recorded_3", 1611253991),
    ]
    assert [(c["id"], c["expected_checksum"]) for c in OKX] == [
        ("okx_docs_example_1_more_than_25_levels", -1881014294),
        ("okx_docs_example_2_less_than_25_levels", 831078360),
        ("okx_recorded_btc_30x30", -1895465205),
    ]


@pytest.mark.parametrize("case", KRAKEN, ids=[c["id"] for c in KRAKEN])
def test_kraken_vectors(case: dict[str, Any]) -> None:
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert kraken_crc32(bids, asks) == case["expected_checksum"]
    assert book_of(bids, asks).kraken_crc32() == case["expected_checksum"]


@pytest.mark.parametrize("case", OKX, ids=[c["id"] for c in OKX])
def test_okx_vectors(case: dict[str, Any]) -> None:
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert okx_crc32(bids, asks) == case["expected_checksum"]
    assert book_of(bids, asks).okx_crc32() == case["expected_checksum"]


def test_kraken_uses_text_not_floats() -> None:
    # kraken_v1_recorded_3 has a volume 0.00000048 that float rendering turns into 4.8e-07
    case = KRAKEN[3]
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert ("0.000017670", "0.00000048") in bids
    as_floats = [(str(float(p)), str(float(q))) for p, q in bids]
    assert kraken_crc32(as_floats, asks) != case["expected_checksum"]


def test_bitget_lowtrust_vector_needs_decimal_rendering() -> None:
    # The vector reproduces bmoscon/orderbook's str(Decimal) rendering ("1.461E-9"), not
    # Bitget's wire text: documented in checksum_vectors/README section 4. It still proves the
    # interleaving and the signed result over 30x30 levels.
    (case,) = cases("bitget_books_checksum_LOWTRUST.json")
    bids, asks = pairs(case["bids_best_first"]), pairs(case["asks_best_first"])
    assert okx_crc32(bids, asks) == 591713976
    dec = [[(str(Decimal(p)), str(Decimal(q))) for p, q in side] for side in (bids, asks)]
    assert okx_crc32(dec[0], dec[1]) == case["expected_checksum"] == -574860598
    assert case["expected_checksum_unsigned"] == 3720106698


def test_okx_longer_side_continues_alone_and_top_25_only() -> None:
    bids = [(str(100 - i), "1") for i in range(30)]
    asks = [("101", "2")]
    text = ":".join(["100:1:101:2", *(f"{100 - i}:1" for i in range(1, 25))])
    expected = zlib.crc32(text.encode())
    expected = expected - (1 << 32) if expected >= 1 << 31 else expected
    assert okx_crc32(bids, asks) == expected


def book_of(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Book:
    book = Book(keep_text=True)
    book.apply_snapshot(bids, asks)
    return book


def test_book_needs_text() -> None:
    with pytest.raises(ValueError, match="text"):
        Book().kraken_crc32()
    with pytest.raises(ValueError, match="text"):
        Book().okx_crc32()


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
    assert book.kraken_crc32() == kraken_crc32(tb, ta)
    assert book.okx_crc32() == okx_crc32(tb, ta)


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
    assert book.kraken_crc32() == kraken_crc32(tb, ta)
    assert book.okx_crc32() == okx_crc32(tb, ta)


def test_book_checksums_of_a_field_longer_than_the_buffer() -> None:
    huge = "1." + "0" * 3000 + "1"
    bids = [["100.5", huge], ["100.25", "0" * 3000 + "1.5"]]  # Kraken strips 3,000 zeros
    asks = [["101", "2." + "0" * 5000]]
    book = Book(keep_text=True)
    book.apply_snapshot(bids, asks)
    tb, ta = book.top_text(1000)
    assert (tb, ta) == ([("100.5", huge), ("100.25", bids[1][1])], [("101", asks[0][1])])
    assert book.kraken_crc32() == kraken_crc32(tb, ta)
    assert book.okx_crc32() == okx_crc32(tb, ta)
