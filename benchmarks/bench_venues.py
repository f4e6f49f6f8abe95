"""Every venue on its real recording: messages per second through codec + sequencing + book.

Each fixture in ``tests/fixtures`` is replayed through the real :class:`FeedSession` (the
venue's codec, its integrity rule, checksums where the venue sends them) with a listener that
does nothing, so the figure is the feed machinery alone. REST snapshots are answered from the
capture's own ``rest`` records before timing starts. Run: ``python -m benchmarks.bench_venues``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from feeds.book import Book
from feeds.capture import Record, read_capture
from feeds.protocol import Codec, SnapshotSource
from feeds.session import FeedSession
from feeds.venues import VENUES, replay_codec_class

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


@dataclass(frozen=True)
class Case:
    """A venue's recording ``tests/fixtures/<venue>.ndjson.gz`` and the symbols it holds."""

    venue: str
    symbols: tuple[str, ...]

    @property
    def fixture(self) -> Path:
        return FIXTURES / f"{self.venue}.ndjson.gz"

    def codec_class(self, records: list[Record]) -> type[Codec]:
        """The codec of the recorded protocol (Kraken's recording is WS v1)."""
        urls = "\n".join(r.url for r in records if r.dir == "open").lower()
        return replay_codec_class(self.venue, urls)


CASES = (
    Case("binance", ("NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR")),
    Case("binanceus", ("CRV/USDT", "COMP/USDT", "OMG/BUSD", "ZRX/USDT")),
    Case("okx", ("BTC/USD:BTC-220527", "UNI/USD:UNI", "BTC/USDT")),
    Case("bybit", ("XRP/USDT",)),
    Case(
        "kucoin",
        (
            "BCHSV/USDT",
            "SNX/BTC",
            "CAPP/BTC",
            "ANKR/BTC",
            "FET/BTC",
            "DAPPT/BTC",
            "NRG/BTC",
            "COV/BTC",
            "EQZ/BTC",
        ),
    ),
    Case(
        "kraken",
        (
            "WAVES/EUR",
            "XMR/USD",
            "KSM/BTC",
            "GRT/ETH",
            "SC/EUR",
            "ETH/CHF",
            "OCEAN/BTC",
            "OMG/USD",
            "BTC/CHF",
            "ADA/BTC",
        ),
    ),
)
UNRECORDED = ("coinbase",)
"""Venues without a recording in tests/fixtures (their documented examples are tested)."""


def missing() -> list[str]:
    """Registered venues with neither a case nor a place in UNRECORDED (a test keeps it empty)."""
    listed = {c.venue for c in CASES} | set(UNRECORDED)
    return [v for v in VENUES if v not in listed]


class _Null:
    def on_book(self, book: Book, ts_ns: int) -> None:
        pass

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        pass


_NULL = _Null()


def _session(case: Case, records: list[Record]) -> FeedSession:
    codec = case.codec_class(records)(list(case.symbols))
    session = FeedSession(codec, lambda _s: _NULL, lambda *_a: None)
    session.opened(0)
    if codec.integrity.snapshot is SnapshotSource.REST:
        for r in records:
            if r.dir == "rest":
                symbol = next(s for s in case.symbols if codec.venue_symbol(s) in r.url)
                body = r.data if isinstance(r.data, bytes) else r.data.encode()
                session.snapshot(symbol, body, 0)
    return session


def measure(case: Case, repeats: int) -> dict[str, object]:
    records = list(read_capture(case.fixture))
    frames = [r.data for r in records if r.dir == "in"]
    rates = []
    for _ in range(repeats):
        session = _session(case, records)
        frame = session.frame
        start = time.perf_counter()
        for i, data in enumerate(frames):
            frame(data, i)
        rates.append(len(frames) / (time.perf_counter() - start))
        assert session.stats.gaps == 0 and session.stats.checksum_fail == 0
    return {
        "venue": f"{case.venue} ({session.codec.__class__.__name__})",
        "frames": len(frames),
        "book_msgs": session.stats.book_msgs,
        "checksums": session.stats.checksum_ok,
        "msgs_per_s_min": min(rates),
        "msgs_per_s_median": statistics.median(rates),
        "msgs_per_s_max": max(rates),
    }


def run(quick: bool = False) -> list[dict[str, object]]:
    """One row per venue (figures in frames per second)."""
    repeats = 3 if quick else 9
    rows = [measure(case, repeats) for case in CASES]
    print(f"{'venue':<24}{'frames':>8}{'book':>7}{'crc ok':>8}{'median msg/s':>14}{'min':>10}")
    for r in rows:
        print(
            f"{r['venue']!s:<24}{r['frames']!s:>8}{r['book_msgs']!s:>7}{r['checksums']!s:>8}"
            f"{float(r['msgs_per_s_median']):>14,.0f}{float(r['msgs_per_s_min']):>10,.0f}"  # type: ignore[arg-type]
        )
    return rows


if __name__ == "__main__":
    run()
