"""The emulator's market model (sans-I/O): determinism, diffs that rebuild the books,
dislocation ground truth, crossed books, and the standalone command line."""

from __future__ import annotations

import statistics

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.cli import main, parse_args
from emulator.market import Book, Dislocation, MarketConfig, MarketModel

T0 = 1_795_000_000_000_000_000


def mid(book: Book) -> float:
    bids, asks = book.top(1)
    return (bids[0][0] + asks[0][0]) / 2 / 10.0**book.price_decimals


def test_same_seed_same_market_and_golden_dislocations() -> None:
    cfg = MarketConfig(seed=1, dislocations_per_min=60.0)
    a, b = MarketModel(cfg, T0), MarketModel(cfg, T0)
    steps = [a.step() for _ in range(100)]
    assert steps == [b.step() for _ in range(100)]
    other = MarketModel(MarketConfig(seed=2, dislocations_per_min=60.0), T0)
    assert [other.step() for _ in range(100)] != steps
    assert a.dislocations[:2] == [
        Dislocation("ETH/USDT", "binance", T0 + 400_000_000, T0 + 2_640_000_000, -21.73),
        Dislocation("BTC/USDT", "coinbase", T0 + 1_700_000_000, T0 + 3_042_000_000, -54.14),
    ]
    book = a.books[("binance", "BTC/USDT")]
    assert (book.price_decimals, book.size_decimals) == (2, 5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_changes_rebuild_every_book_which_stays_uncrossed(seed: int) -> None:
    model = MarketModel(MarketConfig(seed=seed, depth=20, dislocations_per_min=30.0), T0)
    copies = {k: (dict(b.bids), dict(b.asks)) for k, b in model.books.items()}
    for _ in range(30):
        for key, change in model.step().items():
            for side, levels in zip(copies[key], (change.bids, change.asks), strict=True):
                for px, sz in levels:
                    if sz:
                        side[px] = sz
                    else:
                        del side[px]
            book = model.books[key]
            assert copies[key] == (book.bids, book.asks)
            assert len(book.bids) == len(book.asks) == 20
            assert max(book.bids) < min(book.asks)
            assert min(book.bids.values()) > 0 and min(book.asks.values()) > 0


def test_a_dislocation_moves_only_its_venue_by_its_size_for_its_time() -> None:
    model = MarketModel(MarketConfig(seed=5, dislocations_per_min=0.0), T0)
    model.step()
    truth = model.add_dislocation("ETH/USDT", "okx", 25.0, 1000)
    assert truth == Dislocation("ETH/USDT", "okx", T0 + 200_000_000, T0 + 1_200_000_000, 25.0)
    assert model.dislocations == [truth]
    inside: list[float] = []
    outside: list[float] = []
    for _ in range(25):
        model.step()
        others = [mid(model.books[(v, "ETH/USDT")]) for v in model.config.venues if v != "okx"]
        gap_bps = (mid(model.books[("okx", "ETH/USDT")]) / statistics.median(others) - 1) * 1e4
        (inside if truth.start_ns <= model.now_ns < truth.end_ns else outside).append(gap_bps)
    assert len(inside) == 10 and len(outside) == 15
    assert all(abs(g - 25.0) < 3.0 for g in inside)
    assert all(abs(g) < 3.0 for g in outside)
    with pytest.raises(KeyError):
        model.add_dislocation("ETH/USDT", "nowhere", 1.0, 1)


def test_cross_puts_a_bid_above_the_best_ask_for_the_given_steps() -> None:
    model = MarketModel(MarketConfig(seed=9, dislocations_per_min=0.0), T0)
    model.cross("kraken", "BTC/USDT", steps=2)
    crossed = []
    for _ in range(3):
        model.step()
        book = model.books[("kraken", "BTC/USDT")]
        crossed.append(max(book.bids) > min(book.asks))
    assert crossed == [True, True, False]


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    config, duration = parse_args(
        ["--venues", "okx,kraken", "--symbols", "SOL/USDT", "--seed", "4", "--rate", "40"]
    )
    assert (config.market.venues, config.market.symbols, config.market.seed) == (
        ("okx", "kraken"),
        ("SOL/USDT",),
        4,
    )
    assert (config.market.interval_ms, duration, config.port_base) == (50, 0.0, 0)
    args = ["--venues", "bybit", "--symbols", "BTC/USDT", "--dislocations-per-min", "6000"]
    assert main([*args, "--duration", "0.3"]) == 0
    line, *truth = capsys.readouterr().out.splitlines()
    name, ws, rest = line.split()
    assert name == "bybit" and ws.startswith("ws://127.0.0.1:") and ws.endswith("/v5/public/spot")
    assert rest == ws.replace("ws://", "http://").removesuffix("/v5/public/spot")
    with pytest.raises(SystemExit):
        parse_args(["--venues", "mtgox"])
    first = orjson.loads(truth[0])  # the ground truth, one JSON line per dislocation
    assert list(first) == ["symbol", "venue", "start_ns", "end_ns", "bps"]
    assert (first["symbol"], first["venue"]) == ("BTC/USDT", "bybit")
    assert 20.0 <= abs(first["bps"]) <= 60.0
