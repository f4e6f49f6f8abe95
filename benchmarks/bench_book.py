"""µs per book message: this project against cryptofeed 2.4.1 and ccxt.pro on the same bytes.

The streams come from :mod:`benchmarks.messages` (Binance diff-depth after a 1,000-level REST
snapshot; Kraken v1 ``book-1000`` with a CRC32 on every update). Variants, one process, one
thread, no network:

* (a) ``orjson.loads`` alone, the floor;
* (b) cryptofeed's feed handler with a callback that reads the best bid and ask;
* (c) the same with a no-op callback (cryptofeed's book-only path);
* (d) ccxt.pro binance ``handle_message`` -> ``handle_order_book`` (Binance only);
* (e) this project: codec + sequencing (+ checksum) + book through :class:`FeedSession`, with a
  listener that writes the top 20 into a :class:`scanner.board.Board`;
* (f) the whole path: the same session feeding an :class:`scanner.engine.Engine` leg (board,
  kernel, lifecycle) against a second venue's resting book.

Every variant must end with the top 10 levels the generator expects; a mismatch aborts. The
snapshot is applied before timing; each repeat starts from fresh state. The peers are optional:
without them only (a), (e) and (f) run. Run: ``python -m benchmarks.bench_book [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable

import numpy as np

from benchmarks import peers
from benchmarks.messages import Stream, binance_stream, kraken_stream
from feeds.book import Book
from feeds.protocol import Codec
from feeds.session import FeedSession
from feeds.venues.binance import Binance
from feeds.venues.kraken_v1 import KrakenV1
from scanner.board import Board, Levels
from scanner.config import ScannerConfig
from scanner.engine import Engine

Runner = Callable[[Stream], peers.Result]
SYMBOLS = {"binance": "BTC/USDT", "kraken": "BTC/USD"}


class BoardListener:
    """(e): the feeds' listener writing each update into the numpy board, nothing more."""

    def __init__(self) -> None:
        self.board = Board(1, 2, 20, np.full(2, 0.001))

    def on_book(self, book: Book, ts_ns: int) -> None:
        self.board.write_book(0, 0, book, ts_ns)

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.board.set_usable(0, 0, usable)


def _codec(venue: str) -> Codec:
    symbol = SYMBOLS[venue]
    return Binance([symbol]) if venue == "binance" else KrakenV1([symbol], depth=1000)


def _engine(venue: str) -> Engine:
    """Two venues, one symbol; the other venue rests 5 bp around the mid, so no pair pays (as
    on most real updates) and the kernel's O(1) prune ends each evaluation."""
    symbol = SYMBOLS[venue]
    engine = Engine(
        ScannerConfig(), [venue, "other"], [symbol], {venue: 10.0, "other": 10.0}, _drop
    )
    other = engine.leg("other", symbol)
    other.on_usable(True, None, 0)
    px = [29_985.0 - k for k in range(20)], [1.0] * 20, [30_015.0 + k for k in range(20)]
    other.on_book(Levels(px[0], px[1], px[2], [1.0] * 20), 0)
    return engine


def _drop(_event: object) -> None:
    pass


def _ours(venue: str, stream: Stream, whole: bool) -> peers.Result:
    symbol = SYMBOLS[venue]
    engine = _engine(venue) if whole else None
    listener = engine.leg(venue, symbol) if engine else BoardListener()
    session = FeedSession(_codec(venue), lambda _s: listener, lambda *_a: None)
    session.opened(0)
    if venue == "binance":
        session.snapshot(symbol, stream.snapshot.encode(), 0)
    else:
        session.frame(stream.snapshot, 0)
    frame = session.frame
    start = time.perf_counter()
    for i, m in enumerate(stream.messages, 1):
        frame(m, i)
    seconds = time.perf_counter() - start
    st = session.stats
    if st.gaps or st.checksum_fail or st.malformed or st.book_msgs < len(stream.messages):
        raise RuntimeError(f"{venue}: session stats {st}")
    if engine is not None and engine.stats.updates < len(stream.messages):
        raise RuntimeError(f"{venue}: engine saw {engine.stats.updates} updates")
    bid_px, bid_sz, ask_px, ask_sz = session.books[symbol].top(10)
    return seconds, (list(zip(bid_px, bid_sz, strict=True)), list(zip(ask_px, ask_sz, strict=True)))


def variants(venue: str) -> dict[str, Runner]:
    """Label -> runner for ``venue``; the peers only when they are installed."""
    runs: dict[str, Runner] = {"(a) orjson.loads floor": peers.floor}
    if importlib.util.find_spec("cryptofeed") is not None:
        runs["(b) cryptofeed, reads best bid/ask"] = lambda s: peers.cryptofeed_reading(venue, s)
        runs["(c) cryptofeed, no-op callback"] = lambda s: peers.cryptofeed_noop(venue, s)
    if venue == "binance" and importlib.util.find_spec("ccxt") is not None:
        runs["(d) ccxt.pro handle_order_book"] = peers.ccxt_pro
    runs["(e) arbscan feeds + board"] = lambda s: _ours(venue, s, whole=False)
    runs["(f) arbscan whole path"] = lambda s: _ours(venue, s, whole=True)
    return runs


def measure(venue: str, n: int, repeats: int) -> list[dict[str, object]]:
    """One row per variant: µs/message min/median/max over ``repeats`` fresh runs. Each
    variant runs once untimed first, then the repeats go round the variants in turn, so a slow
    spell of a shared machine falls on every variant alike instead of on one variant's whole
    sample (the floor's 7 runs take ~50 ms)."""
    stream = binance_stream(n) if venue == "binance" else kraken_stream(n)
    runs = variants(venue)
    times: dict[str, list[float]] = {label: [] for label in runs}
    for rep in range(repeats + 1):
        for label, run in runs.items():
            seconds, top = run(stream)
            if top != stream.top10:  # exact: every variant parses the same decimal text
                raise RuntimeError(f"{venue} {label}: top 10 differs: {top} != {stream.top10}")
            if rep:
                times[label].append(seconds / n * 1e6)
    return [
        {
            "venue": venue,
            "variant": label,
            "messages": n,
            "bytes_per_msg": sum(map(len, stream.messages)) // n,
            "us_min": min(t),
            "us_median": statistics.median(t),
            "us_max": max(t),
        }
        for label, t in times.items()
    ]


def _print(rows: list[dict[str, object]]) -> None:
    med = {str(r["variant"])[:3]: float(r["us_median"]) for r in rows}  # type: ignore[arg-type]
    print(f"{rows[0]['venue']} ({rows[0]['bytes_per_msg']} B/msg, top 10 checked equal)")
    print(f"  {'variant':<36}{'median µs':>10}{'min':>8}{'max':>8}{'x floor':>9}")
    for r in rows:
        m = float(r["us_median"])  # type: ignore[arg-type]
        print(
            f"  {r['variant']!s:<36}{m:>10.2f}{float(r['us_min']):>8.2f}"  # type: ignore[arg-type]
            f"{float(r['us_max']):>8.2f}{m / med['(a)']:>9.2f}"  # type: ignore[arg-type]
        )
    for ours in ("(e)", "(f)"):
        speedups = [f"{med[p] / med[ours]:.1f}x vs {p}" for p in ("(b)", "(c)", "(d)") if p in med]
        if speedups:
            print(f"  {ours} is " + ", ".join(speedups))


def run(quick: bool = False) -> list[dict[str, object]]:
    """Both venues; rows as in :func:`measure`."""
    n, repeats = (1000, 3) if quick else (3000, 7)
    rows = []
    for venue in ("binance", "kraken"):
        venue_rows = measure(venue, n, repeats)
        _print(venue_rows)
        rows += venue_rows
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_book", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages and repeats")
    run(quick=parser.parse_args().quick)
