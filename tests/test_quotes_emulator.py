"""The simulated market across quotes, driven straight into the engine (no sockets): a depeg
moves the conversion books, never opens a cross-quote opportunity; every cross-quote
opportunity that opens has a dislocation (ground truth) live on one of its three books."""

from __future__ import annotations

from typing import Any

from arbscan.quotes import EMULATED_PREMIUM_BPS, emulated_market
from emulator.market import Depeg, MarketConfig, MarketModel
from feeds.venues import default_fees
from scanner.board import Levels
from scanner.config import ScannerConfig
from scanner.engine import Engine
from tests.schema_check import check_all

T0 = 1_800_000_000_000_000_000
VENUES = ["kraken", "coinbase", "binance", "okx", "bybit", "upbit"]
DEPEG = Depeg("USDT", start_s=3.0, bps=-120.0, ramp_s=6.0, hold_s=6.0)


def run(steps: int, dislocations: float) -> tuple[list[dict[str, Any]], MarketModel, Engine]:
    symbols, listings = emulated_market(VENUES)
    market = MarketConfig(
        venues=tuple(VENUES),
        symbols=tuple(symbols),
        seed=3,
        dislocations_per_min=dislocations,
        listings={v: tuple(s) for v, s in listings.items()},
        depegs=(DEPEG,),
        local_premium_bps=EMULATED_PREMIUM_BPS,
    )
    model = MarketModel(market, T0)
    events: list[dict[str, Any]] = []
    fees = {v: f for v, f in default_fees().items() if v in VENUES}
    engine = Engine(ScannerConfig(), VENUES, symbols, fees, events.append)
    for _ in range(steps):
        model.step()
        for (venue, symbol), book in model.books.items():
            bids, asks = book.top(20)
            px, sz = 10.0**-book.price_decimals, 10.0**-book.size_decimals
            levels = Levels(
                [p * px for p, _ in bids],
                [q * sz for _, q in bids],
                [p * px for p, _ in asks],
                [q * sz for _, q in asks],
            )
            engine.leg(venue, symbol).on_book(levels, model.now_ns)
    return events, model, engine


def usdt_usd_mid(engine: Engine) -> float:
    row = engine.symbols.index("USDT/USD")
    lv = engine.board.levels[row, VENUES.index("kraken")]
    return float(lv[0, 0] + lv[2, 0]) / 2


def test_depeg_moves_the_rate_and_opens_nothing() -> None:
    events, model, engine = run(100, dislocations=0.0)  # 10 s: into the hold at -120 bps
    check_all(events)
    assert [e for e in events if e["type"] == "opened"] == []
    assert [e for e in events if e["type"] == "suspect"] == []
    assert -125.0 < 1e4 * (usdt_usd_mid(engine) - 1.0) < -115.0  # the conversion book moved
    assert model.dislocations == []
    # nor does it fake a premium: the KRW books' 150 bps, measured through USDT/KRW and
    # USDT/USD, stays within the 5 bps that would emit another premium event
    upbit = [e for e in events if e["type"] == "premium" and e["venue"] == "upbit"]
    assert [e["base"] for e in upbit] == ["BTC", "ETH", "SOL", "XRP"]
    assert all(145.0 < e["premium_bps"] < 155.0 for e in upbit)
    assert upbit[0]["fx_source"] == "upbit:USDT/KRW*median(kraken,coinbase):USDT/USD"


def test_every_cross_quote_opportunity_has_a_dislocation_behind_it() -> None:
    events, model, _ = run(200, dislocations=60.0)
    check_all(events)
    opened = [e for e in events if e["type"] == "opened" and e["kind"] == "cross_quote"]
    assert len(opened) >= 1
    for e in opened:
        legs = {
            (e["buy_venue"], e["symbol"]),
            (e["sell_venue"], e["sell_symbol"]),
            (e["fx_venue"], e["fx_symbol"]),
        }
        live = [
            d
            for d in model.dislocations
            if (d.venue, d.symbol) in legs and d.start_ns <= e["ts"] < d.end_ns + 500_000_000
        ]
        assert live, e
