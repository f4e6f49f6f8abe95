"""The venue benchmark's machinery on the first frames of every recording: our side always,
cryptofeed's where it is installed (``make bench``'s environment; the suite never needs it)."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks import bench_venues
from benchmarks.bench_venues import Case
from feeds.capture import Record

GOLDEN = {
    # venue: (codec, book messages, checksums verified) in the first 40 received frames
    "binance": ("Binance", 35, 0),
    "binanceus": ("BinanceUS", 35, 0),
    "bybit": ("Bybit", 40, 0),
    "kraken": ("KrakenV1", 28, 18),
    "okx": ("Okx", 16, 16),
}
CRYPTOFEED = importlib.util.find_spec("cryptofeed") is not None
CASES = bench_venues.cases()


def _first(case: Case, n: int) -> list[Record]:
    """The recording up to its n-th received frame (REST answers and the rest kept)."""
    out, seen = [], 0
    for r in case.records():
        seen += r.dir == "in"
        if seen <= n or r.dir != "in":
            out.append(r)
    return out


def test_every_recording_is_a_case_with_symbols() -> None:
    assert {c.venue for c in CASES} >= set(GOLDEN)
    assert all(c.symbols for c in CASES)
    assert bench_venues.missing() == []


@pytest.mark.parametrize("case", CASES, ids=[c.venue for c in CASES])
def test_our_side_on_the_first_frames(case: Case) -> None:
    row = bench_venues.measure(case, 1, _first(case, 40), target=1)
    assert row["frames"] == 40
    if case.venue in GOLDEN:
        assert (row["codec"], row["book_msgs"], row["checksums"]) == GOLDEN[case.venue]
    else:  # a venue added since: its book messages are proven in its own tests
        assert isinstance(row["book_msgs"], int) and row["book_msgs"] > 0
    assert float(row["msgs_per_s_median"]) > 0  # type: ignore[arg-type]
    if not CRYPTOFEED:
        assert row["note"] == "cryptofeed not installed (make bench)"
        assert "speedup" not in row and "tops" not in row


def test_the_table_names_what_is_missing() -> None:
    rows: list[dict[str, object]] = [
        {
            "venue": "okx",
            "frames": 410,
            "book_msgs": 290,
            "checksums": 290,
            "msgs_per_s_median": 107144.2,
            "cryptofeed_msgs_per_s_median": 19661.0,
            "speedup": 5.449,
            "tops": "3/3",
            "note": "",
        },
        {"venue": "coinbase", "frames": 0, "note": "no recording"},
    ]
    assert bench_venues.table(rows) == [
        "venue      frames  book crc ok  ours msg/s  cryptofeed ours/cf  tops  note",
        "okx           410   290    290     107,144      19,661    5.4x   3/3",
        "coinbase        0     -      -           -           -       -     -  no recording",
    ]  # fmt: skip


def test_a_recording_our_feed_cannot_replay_says_so() -> None:
    (case,) = [c for c in CASES if c.venue == "binance"]
    records = _first(case, 40)
    depth = [i for i, r in enumerate(records) if r.dir == "in" and "depthUpdate" in str(r.data)]
    del records[depth[10]]  # a gap in one symbol's update ids
    row = bench_venues.measure(case, 1, records, target=1)
    assert str(row["note"]).startswith("ours failed: binance: 1 gaps, 0 bad crc")
    assert "msgs_per_s_median" not in row and "book_msgs" not in row


def test_a_symbol_is_kept_when_the_recording_names_its_id_in_any_case() -> None:
    from feeds.venues.binance import Binance

    opened = Record(0, "binance", "open", "wss://x/stream?streams=nknusdt@depth@100ms", "")
    assert bench_venues.recorded(Binance, ["BTC/USDT", "NKN/USDT"], [opened]) == ["NKN/USDT"]
