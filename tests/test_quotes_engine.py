"""Across quotes through the engine: cross-quote events and their conversion gate, suspects,
premiums, identity (hand-computed books, exact figures)."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.board import Levels
from scanner.config import FixedRate, QuotesConfig, ScannerConfig
from scanner.crossquote import ladder
from scanner.engine import Engine
from scanner.identity import IdentityMap
from tests.schema_check import check_all

T = 1_700_000_000_000_000_000
MS = 1_000_000
VENUES = ["kraken", "binance", "upbit"]
FEES = {"kraken": 0.0, "binance": 10.0, "upbit": 0.0}
SYMBOLS = ["BTC/USD", "BTC/USDT", "USDT/USD", "BTC/KRW", "USDT/KRW"]


def make(events: list[dict[str, Any]], **quotes: Any) -> Engine:
    config = ScannerConfig(open_bps=5.0, close_bps=2.0, update_interval_ms=0)
    return Engine(config, VENUES, SYMBOLS, FEES, events.append, quotes=QuotesConfig(**quotes))


def book(
    engine: Engine, venue: str, symbol: str, bid: float, ask: float, ts: int, size: float = 1.0
) -> None:
    engine.leg(venue, symbol).on_book(Levels([bid], [size], [ask], [size]), ts)


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] in ("opened", "updated", "closed") and e["kind"] == kind]


def test_no_live_conversion_book_no_cross_quote_then_one_opens() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events)
    book(engine, "kraken", "BTC/USD", 99.0, 100.0, T)  # buy 1 BTC for 100 USD (fee 0)
    book(engine, "binance", "BTC/USDT", 102.0, 103.0, T + MS)  # sell for 102 USDT less 10 bps
    assert of(events, "cross_quote") == []  # no USDT/USD book anywhere
    book(engine, "kraken", "USDT/USD", 0.999, 1.001, T + 2 * MS, size=1000.0)
    check_all(events)
    (opened,) = of(events, "cross_quote")
    converted = 102.0 * (1 - 0.001)
    assert {k: opened[k] for k in ("type", "id", "symbol", "sell_symbol", "buy_venue", "sell_venue",
                                   "buy_quote", "sell_quote", "fx_venue", "fx_symbol")} == {
        "type": "opened", "id": "1", "symbol": "BTC/USD", "sell_symbol": "BTC/USDT",
        "buy_venue": "kraken", "sell_venue": "binance", "buy_quote": "USD", "sell_quote": "USDT",
        "fx_venue": "kraken", "fx_symbol": "USDT/USD",
    }  # fmt: skip
    assert opened["size"] == 1.0
    assert opened["cost"] == 100.0
    assert opened["fx_rate"] == pytest.approx(0.999, rel=1e-12)
    assert opened["proceeds"] == pytest.approx(converted * 0.999, rel=1e-12)
    assert opened["profit"] == pytest.approx(converted * 0.999 - 100.0, rel=1e-12)
    assert opened["sell_price"] == pytest.approx(102.0 * 0.999, rel=1e-12)
    assert opened["gross_bps"] == pytest.approx(1e4 * (102.0 * 0.999 - 100.0) / 100.0, rel=1e-12)
    assert (opened["fx_age_ms"], opened["fx_fee_bps"], opened["buy_age_ms"]) == (0.0, 0.0, 2.0)
    # the conversion book goes stale: the opportunity closes with that reason
    engine.leg("kraken", "USDT/USD").on_usable(False, "stale", T + 3 * MS)
    closed = of(events, "cross_quote")[-1]
    assert (closed["type"], closed["id"], closed["reason"]) == ("closed", "1", "stale")


def test_depeg_moves_fx_rate_not_an_opportunity() -> None:
    """USDT falls to 0.97 USD by 5 bps steps (less than binance's fee: the books are updated
    one at a time), BTC/USDT rising to match: fx_rate follows, no cross-quote opens."""
    events: list[dict[str, Any]] = []
    engine = make(events)
    for k, usdt in enumerate(1.0 - 0.0005 * n for n in range(61)):
        ts = T + k * 100 * MS
        book(engine, "kraken", "USDT/USD", usdt - 0.0001, usdt + 0.0001, ts, size=1e6)
        book(engine, "kraken", "BTC/USD", 99.99, 100.01, ts)
        book(engine, "binance", "BTC/USDT", 99.99 / usdt, 100.01 / usdt, ts)
    check_all(events)
    assert of(events, "cross_quote") == []
    assert [e for e in events if e["type"] == "suspect"] == []
    # the rate a sale of USDT would get now: the depeg is in the conversion, where it belongs
    usdt_usd = engine.symbols.index("USDT/USD")
    assert ladder(engine.board, usdt_usd, 0, True).raw[0] == pytest.approx(0.9699, rel=1e-12)


def test_suspect_instead_of_opportunity() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events, max_gross_bps=1000.0)
    book(engine, "kraken", "BTC/USD", 99.0, 100.0, T)
    book(engine, "binance", "BTC/USD", 111.0, 112.0, T + MS)  # 1100 bps: not one asset
    check_all(events)
    assert of(events, "same_quote") == []
    (suspect,) = [e for e in events if e["type"] == "suspect"]
    assert suspect["buy_venue"] == "kraken" and suspect["sell_venue"] == "binance"
    assert suspect["gross_bps"] == pytest.approx(1100.0, rel=1e-12)
    assert suspect["reason"].startswith("gross spread 1100.0 bps > max_gross_bps 1000")
    book(engine, "binance", "BTC/USD", 111.5, 112.0, T + 2 * MS)  # still suspect: no repeat
    assert len([e for e in events if e["type"] == "suspect"]) == 1
    book(engine, "binance", "BTC/USD", 99.5, 100.5, T + 3 * MS)  # back in line: nothing pays
    book(engine, "binance", "BTC/USD", 111.0, 112.0, T + 4 * MS)  # suspect again: reported
    assert [e["ts"] for e in events if e["type"] == "suspect"] == [T + MS, T + 4 * MS]


def test_premium_figures_by_hand() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events, premium_interval_ms=0, premium_update_bps=5.0)
    book(engine, "kraken", "USDT/USD", 0.99, 1.01, T)  # mid 1.0
    book(engine, "upbit", "USDT/KRW", 1399.0, 1401.0, T)  # mid 1400
    book(engine, "binance", "BTC/USDT", 99.0, 101.0, T)  # 100 USD
    book(engine, "kraken", "BTC/USD", 99.0, 101.0, T)  # 100 USD
    book(engine, "upbit", "BTC/KRW", 142700.0, 142900.0, T + 5 * MS)  # 142800 KRW = 102 USD
    check_all(events)
    last = {(e["base"], e["venue"]): e for e in events if e["type"] == "premium"}
    up = last[("BTC", "upbit")]
    assert up["mid_usd"] == pytest.approx(102.0, rel=1e-12)
    assert up["reference_usd"] == 100.0
    assert up["premium_bps"] == pytest.approx(200.0, rel=1e-9)
    assert up["fx_source"] == "upbit:USDT/KRW*kraken:USDT/USD"
    assert up["fx_age_ms"] == 5.0
    kr = last[("BTC", "kraken")]
    assert kr["reference_usd"] == pytest.approx(101.0, rel=1e-12)
    assert kr["premium_bps"] == pytest.approx(1e4 * (100.0 / 101.0 - 1.0), rel=1e-9)
    assert kr["fx_source"] == "usd"


def test_premium_with_a_rate_given_by_hand() -> None:
    events: list[dict[str, Any]] = []
    fixed = {"KRW": FixedRate(1400.0, T - 60_000 * MS)}
    engine = make(events, premium_interval_ms=0, fx=fixed)
    book(engine, "kraken", "BTC/USD", 99.0, 101.0, T)
    book(engine, "upbit", "BTC/KRW", 139900.0, 140100.0, T)  # 100 USD at 1400
    up = [e for e in events if e["type"] == "premium" and e["venue"] == "upbit"][-1]
    assert up["premium_bps"] == 0.0
    assert up["fx_source"] == "config:KRW@2023-11-14T22:12:20Z"
    assert up["fx_age_ms"] == 60_000.0


def test_ticker_collision_is_not_paired_unless_declared_equal() -> None:
    """GTC on htx is Game.com (ccxt documents it), Gitcoin elsewhere: a 30 % 'spread' between
    them is no opportunity, nor even a suspect: the books are never compared."""
    for equal, want in (((), 0), ((("htx", "GTC"),), 1)):
        events: list[dict[str, Any]] = []
        identity = IdentityMap(equal=equal)
        fees = {"htx": 0.0, "binance": 0.0}
        engine = Engine(ScannerConfig(), ["htx", "binance"], ["GTC/USDT"], fees, events.append,
                        identity=identity.asset)  # fmt: skip
        engine.leg("htx", "GTC/USDT").on_book(Levels([0.99], [10.0], [1.0], [10.0]), T)
        engine.leg("binance", "GTC/USDT").on_book(Levels([1.3], [10.0], [1.31], [10.0]), T)
        assert len([e for e in events if e["type"] in ("opened", "suspect")]) == want


def test_a_conversion_book_older_than_fx_max_age_is_not_used() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events, fx_max_age_ms=1000)
    book(engine, "kraken", "USDT/USD", 0.999, 1.001, T, size=1000.0)
    book(engine, "kraken", "BTC/USD", 99.0, 100.0, T + 1001 * MS)
    book(engine, "binance", "BTC/USDT", 102.0, 103.0, T + 1001 * MS)
    assert of(events, "cross_quote") == []  # 1001 ms old: no live conversion book
    book(engine, "kraken", "USDT/USD", 0.999, 1.001, T + 1002 * MS, size=1000.0)
    assert [e["type"] for e in of(events, "cross_quote")] == ["opened"]


def test_the_best_conversion_venue_is_chosen() -> None:
    """Two USDT/USD books: kraken's bid 0.999 (fee 0), binance's 0.9995 less 10 bps = 0.9985:
    kraken's converts the 101.898 USDT to more USD."""
    events: list[dict[str, Any]] = []
    engine = make(events)
    book(engine, "binance", "USDT/USD", 0.9995, 1.001, T, size=1000.0)
    book(engine, "kraken", "USDT/USD", 0.999, 1.001, T, size=1000.0)
    book(engine, "kraken", "BTC/USD", 99.0, 100.0, T)
    book(engine, "binance", "BTC/USDT", 102.0, 103.0, T + MS)
    (opened,) = of(events, "cross_quote")
    assert (opened["fx_venue"], opened["fx_rate"]) == ("kraken", 0.999)


def opened_cross(events: list[dict[str, Any]]) -> Engine:
    """The engine of the first test with its one cross-quote opportunity open (id 1)."""
    engine = make(events)
    book(engine, "kraken", "BTC/USD", 99.0, 100.0, T)
    book(engine, "binance", "BTC/USDT", 102.0, 103.0, T + MS)
    book(engine, "kraken", "USDT/USD", 0.999, 1.001, T + 2 * MS, size=1000.0)
    assert [(e["type"], e["id"]) for e in of(events, "cross_quote")] == [("opened", "1")]
    return engine


def test_shutdown_closes_cross_quote_opportunities_too() -> None:
    events: list[dict[str, Any]] = []
    engine = opened_cross(events)
    engine.shutdown(T + 5 * MS)
    check_all(events)
    closed = of(events, "cross_quote")[-1]
    assert (closed["type"], closed["id"], closed["reason"], closed["ts"]) == (
        "closed", "1", "shutdown", T + 5 * MS
    )  # fmt: skip


@pytest.mark.parametrize("symbol", ["BTC/USD", "BTC/USDT", "USDT/USD"])
def test_stopping_any_of_its_three_books_symbols_closes_a_cross_quote_opportunity(
    symbol: str,
) -> None:
    events: list[dict[str, Any]] = []
    engine = opened_cross(events)
    engine.stop_symbol(symbol, T + 5 * MS)  # a worker handing the symbol over
    check_all(events)
    assert [(e["type"], e["id"], e.get("reason")) for e in of(events, "cross_quote")] == [
        ("opened", "1", None),
        ("closed", "1", "shutdown"),
    ]


def test_a_venue_without_a_conversion_book_takes_the_median_of_the_others() -> None:
    """Kraken's USDT/USD is dislocated 50 bps down; Binance has none of its own, so its USDT
    books are priced at the median of the three venues that stream one: no false premium."""
    venues = ["kraken", "coinbase", "bitstamp", "binance"]
    symbols = ["BTC/USD", "BTC/USDT", "USDT/USD"]
    events: list[dict[str, Any]] = []
    engine = Engine(ScannerConfig(), venues, symbols, dict.fromkeys(venues, 10.0), events.append)
    for venue, mid in (("kraken", 0.995), ("coinbase", 1.0), ("bitstamp", 1.0002)):
        book(engine, venue, "USDT/USD", mid - 0.0001, mid + 0.0001, T, size=1e6)
    for venue in ("kraken", "coinbase", "bitstamp"):
        book(engine, venue, "BTC/USD", 99.99, 100.01, T + MS)
    book(engine, "binance", "BTC/USDT", 99.99, 100.01, T + 2 * MS)
    book(engine, "binance", "BTC/USDT", 99.99, 100.01, T + 1002 * MS)  # premiums due again
    check_all(events)
    (usdt,) = [e for e in events if e["type"] == "premium" and e["venue"] == "binance"]
    assert usdt["fx_source"] == "median(kraken,coinbase,bitstamp):USDT/USD"
    assert (usdt["mid_usd"], usdt["premium_bps"]) == (100.0, 0.0)
    assert usdt["fx_age_ms"] == 1002.0  # the oldest book used
