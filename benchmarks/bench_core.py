"""µs per book update through the numpy core: ``Board.write_book`` + ``evaluate``.

Realistic books: 20 levels a side, 1 bp tick around a common mid, each venue's mid jittered so
that most pairs never cross and a few do (the depth walk then runs). Updates cycle over random
(symbol, venue) legs, each a pre-built feeds book (:class:`feeds.book.Book`) that the board
copies itself from, as in the running scanner; the cost per update must be flat in the
number of symbols S.

    python -m benchmarks.bench_core            # full grid
    python -m benchmarks.bench_core --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from feeds.book import Book
from scanner.board import Board
from scanner.kernel import evaluate

VENUES = (2, 5, 20, 50, 100)
SYMBOLS = (1, 100, 1000)
DEPTH = 20
FEE = 0.001
N_BOOKS = 2000
"""Distinct pre-built updates cycled through (building them is not timed)."""

Update = tuple[int, int, Book]


def make_book(mid: float, rng: random.Random) -> Book:
    """20 levels a side, 1 cent (1 bp) tick, random sizes."""
    bid_px = [round(mid - 0.005 - 0.01 * k, 2) for k in range(DEPTH)]
    ask_px = [round(mid + 0.005 + 0.01 * k, 2) for k in range(DEPTH)]
    bid_sz = [round(rng.uniform(0.1, 5.0), 3) for _ in range(DEPTH)]
    ask_sz = [round(rng.uniform(0.1, 5.0), 3) for _ in range(DEPTH)]
    book = Book(top_n=DEPTH)
    book.apply_snapshot(
        list(zip(bid_px, bid_sz, strict=True)), list(zip(ask_px, ask_sz, strict=True))
    )
    return book


def make_board(n_symbols: int, n_venues: int, seed: int) -> tuple[Board, list[Update]]:
    """A board with every book usable, and ``N_BOOKS`` updates of random legs.

    Each venue quotes the mid with a persistent bias (uniform ±8 bps) plus 1 bp noise, so with
    10 bps taker fees a side (21 bps to cross with the 1 bp spread) no pair pays. Every 100th
    update quotes ±15 bps instead, which pays against the venues biased beyond ∓6 bps (about
    one in eight), and the next update (same leg) reverts it. Venues, books and shocks come
    from ``seed`` alone and only the symbols from S, so every S replays the same updates."""
    rng, pick = random.Random(seed), random.Random(seed + n_symbols)
    bias = [rng.uniform(-0.0008, 0.0008) for _ in range(n_venues)]

    def mid(v: int, shock: float = 0.0) -> float:
        return 100.0 * (1.0 + (shock or bias[v]) + rng.gauss(0.0, 0.0001))

    board = Board(n_symbols, n_venues, DEPTH, np.full(n_venues, FEE))
    initial = [[make_book(mid(v), rng) for _ in range(8)] for v in range(n_venues)]
    for s in range(n_symbols):
        for v in range(n_venues):
            board.write_book(s, v, initial[v][s % 8], 0)
            board.set_usable(s, v, True)
    updates: list[Update] = []
    while len(updates) < N_BOOKS:
        s, v = pick.randrange(n_symbols), rng.randrange(n_venues)
        if len(updates) % 100 == 50:  # a shocked update, reverted by the next one
            updates.append((s, v, make_book(mid(v, rng.choice((-0.0015, 0.0015))), rng)))
        updates.append((s, v, make_book(mid(v), rng)))
    return board, updates


def measure(n_symbols: int, n_venues: int, repeats: int, batch: int = 2000) -> dict[str, object]:
    """min/median/max µs per update over ``repeats`` batches of ``batch`` updates."""
    board, updates = make_board(n_symbols, n_venues, seed=n_venues)
    write, clock = board.write_book, time.perf_counter_ns
    per_update: list[float] = []
    i = 0
    for _ in range(repeats):
        t0 = clock()
        for _ in range(batch):
            s, v, book = updates[i % N_BOOKS]
            i += 1
            write(s, v, book, i)
            evaluate(board, s, v, 0.0)
        per_update.append((clock() - t0) / batch / 1e3)
    paying: list[float] = []  # one more cycle, timing each update: those with a paying pair
    for s, v, book in updates:
        t0 = clock()
        write(s, v, book, 0)
        pays = len(evaluate(board, s, v, 0.0)) > 0
        if pays:
            paying.append((clock() - t0) / 1e3)
    return {
        "V": n_venues,
        "S": n_symbols,
        "min_us": min(per_update),
        "median_us": statistics.median(per_update),
        "max_us": max(per_update),
        "paying_pct": 100.0 * len(paying) / len(updates),
        "paying_median_us": statistics.median(paying) if paying else float("nan"),
    }


def run(quick: bool = False) -> list[dict[str, object]]:
    """One row per (V, S): V, S, min_us, median_us, max_us (per update), paying_pct (share of
    updates with a paying pair) and paying_median_us (their median cost, depth walk included);
    printed as a table."""
    repeats = 5 if quick else 25
    rows = [measure(s, v, repeats) for v in VENUES for s in SYMBOLS]
    print(
        f"{'V':>4} {'S':>5} {'min µs':>8} {'median µs':>10} {'max µs':>8} {'paying %':>9} "
        f"{'paying µs':>10}"
    )
    for r in rows:
        print(
            f"{r['V']:>4} {r['S']:>5} {r['min_us']:>8.2f} {r['median_us']:>10.2f} "
            f"{r['max_us']:>8.2f} {r['paying_pct']:>9.1f} {r['paying_median_us']:>10.1f}"
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    run(parser.parse_args().quick)
