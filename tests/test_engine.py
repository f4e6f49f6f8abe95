"""The engine end to end on hand-written books: exact golden events, warm-up, errors, stats.

Venues binance and okx, both 10 bps taker fees (f = 0.001). Buying at okx, selling at binance.
Every emitted event is validated against the JSON Schema.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scanner.engine
import scanner.kernel
from scanner.board import Levels
from scanner.config import ScannerConfig
from scanner.engine import TIMED_EVERY, Engine
from scanner.events import venue_event
from tests.schema_check import check, check_all, is_valid

T = 1_700_000_000_000_000_000
MS = 1_000_000
SYM = "BTC/USDT"
CFG = ScannerConfig(open_bps=5.0, close_bps=2.0, update_bps=1.0, update_interval_ms=250)
FEES = {"binance": 10.0, "okx": 10.0}

# okx: asks 1.0 @ 100.0 then 2.0 @ 100.5 (with fee: 100.1, 100.6005)
OKX = ([99.0], [1.0], [100.0, 100.5], [1.0, 2.0])
# binance: bids 0.5 @ 101.0, 1.0 @ 100.8, 5.0 @ 100.0 (with fee: 100.899, 100.6992, 99.9)
BIN = ([101.0, 100.8, 100.0], [0.5, 1.0, 5.0], [101.5], [1.0])
# Walk: 0.5 @ (101.0 | 100.0), 0.5 @ (100.8 | 100.0), 0.5 @ (100.8 | 100.5) all pay; next
# 100.0 * 0.999 = 99.9 < 100.6005 stops. Q* = 1.5.
#   cost = (1.0*100 + 0.5*100.5) * 1.001 = 150.25 * 1.001 = 150.40025
#   proceeds = (0.5*101 + 1.0*100.8) * 0.999 = 151.3 * 0.999 = 151.1487
#   profit = 0.74845, net = 1e4 * 0.74845 / 150.40025 = 49.76388..., gross = 100 bps
FIG1 = {"buy_price": 100.0, "sell_price": 101.0, "size": 1.5, "buy_vwap": 150.25 / 1.5,
        "sell_vwap": 151.3 / 1.5, "cost": 150.40025, "proceeds": 151.1487, "profit": 0.74845,
        "net_bps": 1e4 * 0.74845 / 150.40025, "gross_bps": 100.0}  # fmt: skip
# binance best bid 101.2: proceeds = (0.5*101.2 + 100.8) * 0.999 = 151.4 * 0.999 = 151.2486
#   profit = 0.84835, net = 56.406..., gross = 120 bps
BIN2 = ([101.2, 100.8, 100.0], [0.5, 1.0, 5.0], [101.5], [1.0])
FIG2 = {**FIG1, "sell_price": 101.2, "sell_vwap": 151.4 / 1.5, "proceeds": 151.2486,
        "profit": 0.84835, "net_bps": 1e4 * 0.84835 / 150.40025, "gross_bps": 120.0}  # fmt: skip
# best bid size 0.4: Q* = min(1.4 bid depth, 3.0) = 1.4 (100.8*0.999 > 100.5*1.001 still pays)
#   cost = (1.0*100 + 0.4*100.5) * 1.001 = 140.2 * 1.001 = 140.3402
#   proceeds = (0.4*101.2 + 100.8) * 0.999 = 141.28 * 0.999 = 141.13872, profit = 0.79852
#   net = 56.899... : +0.49 bps and -6.7 % size vs FIG2, not material; a new peak net
BIN3 = ([101.2, 100.8, 100.0], [0.4, 1.0, 5.0], [101.5], [1.0])
FIG3 = {**FIG2, "size": 1.4, "buy_vwap": 140.2 / 1.4, "sell_vwap": 141.28 / 1.4,
        "cost": 140.3402, "proceeds": 141.13872, "profit": 0.79852,
        "net_bps": 1e4 * 0.79852 / 140.3402}  # fmt: skip
# binance bids only 100.0: 99.9 < 100.1, nothing pays
BIN_FLAT = ([100.0], [5.0], [101.5], [1.0])


def opp(kind: str, oid: str, ts: int, fig: dict[str, float], ages: tuple[float, float],
        **closed: Any) -> dict[str, Any]:  # fmt: skip
    return {"schema": 1, "type": kind, "kind": "same_quote", "id": oid, "ts": ts, "symbol": SYM,
            "buy_venue": "okx",
            "sell_venue": "binance", **fig, "buy_fee_bps": 10.0, "sell_fee_bps": 10.0,
            "buy_age_ms": ages[0], "sell_age_ms": ages[1], **closed}  # fmt: skip


def assert_events(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """Same keys in the same order; floats equal to 1e-12 relative (hand arithmetic vs the
    kernel's summation order), everything else exactly."""
    check_all(got)
    assert [list(e) for e in got] == [list(e) for e in want]
    for g, w in zip(got, want, strict=True):
        for key, value in w.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
                assert type(g[key]) is float, key
            else:
                assert g[key] == value and type(g[key]) is type(value), key


def make(events: list[dict[str, Any]], **kw: Any) -> Engine:
    return Engine(CFG, ["binance", "okx"], [SYM, "ETH/USDT"], FEES, events.append, **kw)


def test_golden_lifecycle_through_legs() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events)
    okx, bn = engine.leg("okx", SYM), engine.leg("binance", SYM)
    assert engine.leg("okx", SYM) is okx
    okx.on_usable(True, None, T)
    okx.on_book(Levels(*OKX), T)
    bn.on_usable(True, None, T + 1 * MS)
    bn.on_book(Levels(*BIN), T + 1 * MS)
    bn.on_book(Levels(*BIN2), T + 500 * MS)  # +6.6 bps, 499 ms after opened: updated
    bn.on_book(Levels(*BIN3), T + 600 * MS)  # not material, rate-limited anyway; a new peak net
    okx.on_usable(False, "desynced", T + 700 * MS)
    okx.on_usable(True, None, T + 800 * MS)
    okx.on_book(Levels(*OKX), T + 800 * MS)  # resynced, warmup 0: a new opportunity
    bn.on_book(Levels(*BIN_FLAT), T + 900 * MS)  # nothing pays any more
    bn.on_book(Levels(*BIN2), T + 1000 * MS)
    engine.shutdown(T + 2000 * MS)
    peak3 = FIG3["net_bps"]
    assert_events(
        events,
        [
            opp("opened", "1", T + 1 * MS, FIG1, (1.0, 0.0)),
            opp("updated", "1", T + 500 * MS, FIG2, (500.0, 0.0)),
            opp("closed", "1", T + 700 * MS, FIG3, (700.0, 100.0), reason="desynced",
                duration_ms=699.0, peak_net_bps=peak3, peak_profit=0.84835),
            opp("opened", "2", T + 800 * MS, FIG3, (0.0, 200.0)),
            opp("closed", "2", T + 900 * MS, FIG3, (100.0, 0.0), reason="spread_closed",
                duration_ms=100.0, peak_net_bps=peak3, peak_profit=0.79852),
            opp("opened", "3", T + 1000 * MS, FIG2, (200.0, 0.0)),
            opp("closed", "3", T + 2000 * MS, FIG2, (1200.0, 1000.0), reason="shutdown",
                duration_ms=1000.0, peak_net_bps=FIG2["net_bps"], peak_profit=0.84835),
        ],
    )  # fmt: skip
    assert engine.stats.updates == 7
    assert engine.stats.evaluations == 7
    assert engine.stats.usable_changes == 4
    assert engine.stats.events == 7
    assert engine.stats.errors == 0


def test_warmup_from_usable_ts_and_implicit_return_after_stale() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events, warmup_ms=200)
    okx, bn = engine.leg("okx", SYM), engine.leg("binance", SYM)
    okx.on_usable(True, None, T)
    okx.on_book(Levels(*OKX), T)
    bn.on_usable(True, None, T)
    bn.on_book(Levels(*BIN), T)
    bn.on_book(Levels(*BIN), T + 199 * MS)  # 199 ms < warmup: neither leg paired yet
    assert events == []
    # 200 ms: both legs promoted; okx's pairs evaluated first (one opened), then binance's
    bn.on_book(Levels(*BIN), T + 200 * MS)
    okx.on_usable(False, "stale", T + 300 * MS)
    # a book stale by age comes back with its next update: warm-up from that update
    okx.on_book(Levels(*OKX), T + 400 * MS)
    bn.on_book(Levels(*BIN), T + 599 * MS)
    assert len(events) == 2
    bn.on_book(Levels(*BIN), T + 600 * MS)  # 600 - 400 >= 200: okx promoted by binance's frame
    assert_events(
        events,
        [
            opp("opened", "1", T + 200 * MS, FIG1, (200.0, 0.0)),
            opp("closed", "1", T + 300 * MS, FIG1, (300.0, 100.0), reason="stale",
                duration_ms=100.0, peak_net_bps=FIG1["net_bps"], peak_profit=0.74845),
            opp("opened", "2", T + 600 * MS, FIG1, (200.0, 0.0)),
        ],
    )  # fmt: skip
    # t=200 (okx, binance), t=599 (binance alone: okx warming), t=600 (okx, binance)
    assert engine.stats.evaluations == 5


def test_resync_needs_a_fresh_book_before_pairing() -> None:
    """on_usable(True) alone never pairs the leg's pre-desync levels."""
    events: list[dict[str, Any]] = []
    engine = make(events)
    okx, bn = engine.leg("okx", SYM), engine.leg("binance", SYM)
    okx.on_book(Levels(*OKX), T)
    bn.on_book(Levels(*BIN), T)
    okx.on_usable(False, "crossed_book", T + 1 * MS)
    okx.on_usable(True, None, T + 2 * MS)
    bn.on_book(Levels(*BIN2), T + 3 * MS)  # okx not written since: not paired
    assert [(e["type"], e["id"], e["ts"]) for e in events] == [
        ("opened", "1", T),
        ("closed", "1", T + 1 * MS),
    ]
    assert events[1]["reason"] == "crossed_book"


def test_book_tape_events() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events, book_levels=2)
    engine.leg("binance", "ETH/USDT").on_book(Levels(*BIN), T + 5)
    assert events == [
        {"schema": 1, "type": "book", "ts": T + 5, "venue": "binance", "symbol": "ETH/USDT",
         "bids": [[101.0, 0.5], [100.8, 1.0]], "asks": [[101.5, 1.0]]},
    ]  # fmt: skip
    check_all(events)


def test_update_error_is_counted_logged_and_closes_as_desynced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[dict[str, Any]] = []
    engine = make(events)
    okx, bn = engine.leg("okx", SYM), engine.leg("binance", SYM)
    okx.on_book(Levels(*OKX), T)
    bn.on_book(Levels(*BIN), T)
    with caplog.at_level(logging.DEBUG, logger="scanner.engine"):
        bn.on_book(Levels([101.0, 100.8], [0.5], [101.5], [1.0]), T + 1 * MS)  # lengths differ
        bn.on_book(Levels([101.0], [0.5], [float("nan")], [1.0]), T + 2 * MS)  # bad best ask
    bn.on_book(Levels(*BIN), T + 3 * MS)  # a good book: usable again, a new opportunity
    assert [(e["type"], e["id"], e["ts"], e.get("reason")) for e in events] == [
        ("opened", "1", T, None),
        ("closed", "1", T + 1 * MS, "desynced"),
        ("opened", "2", T + 3 * MS, None),
    ]
    check_all(events)
    assert engine.stats.errors == 2
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records] == [
        ("ERROR", "binance BTC/USDT"),
        ("DEBUG", "binance BTC/USDT"),
    ]
    assert "leg made unusable" in caplog.records[0].getMessage()
    assert caplog.records[0].exc_info is not None


def test_kernel_failure_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise FloatingPointError("overflow")

    events: list[dict[str, Any]] = []
    engine = make(events)
    engine.leg("okx", SYM).on_book(Levels(*OKX), T)
    monkeypatch.setattr(scanner.engine, "evaluate", boom)
    engine.leg("binance", SYM).on_book(Levels(*BIN), T)
    assert engine.stats.errors == 1 and events == []


def test_perf_counter_is_injected_and_times_one_update_in_timed_every() -> None:
    ticks = itertools.count(1000, 7)
    engine = make([], perf_ns=lambda: next(ticks))
    leg = engine.leg("okx", SYM)
    assert engine.stats.us_per_update() == 0.0
    for i in range(3 * TIMED_EVERY + 1):
        leg.on_book(Levels(*OKX), T + i)
    assert (engine.stats.updates, engine.stats.timed) == (3 * TIMED_EVERY + 1, 3)
    assert engine.stats.engine_ns == 21
    assert engine.stats.us_per_update() == 0.007


def test_bad_names_and_arguments() -> None:
    engine = make([])
    with pytest.raises(ValueError, match="unknown venue 'kraken'"):
        engine.leg("kraken", SYM)
    with pytest.raises(ValueError, match="unknown symbol 'BTC/EUR'"):
        engine.leg("okx", "BTC/EUR")
    with pytest.raises(ValueError, match="no taker fee for venue 'kraken'"):
        Engine(CFG, ["okx", "kraken"], [SYM], FEES, print)
    with pytest.raises(ValueError, match="duplicate venue"):
        Engine(CFG, ["okx", "okx"], [SYM], FEES, print)
    leg = engine.leg("okx", SYM)
    with pytest.raises(ValueError, match="unusable reason 'tired'"):
        leg.on_usable(False, "tired", T)
    with pytest.raises(ValueError, match="usable=True with reason 'stale'"):
        leg.on_usable(True, "stale", T)


# --- the event builders and the schema ------------------------------------------------------


def test_schema_accepts_added_fields_and_rejects_bad_events() -> None:
    good = opp("closed", "7", T, FIG1, (1.0, 2.0), reason="stale", duration_ms=3.5,
               peak_net_bps=60.0, peak_profit=1.0)  # fmt: skip
    assert is_valid(good)
    assert is_valid({**good, "added_in_schema_1_later": [1, 2]})
    assert is_valid(venue_event("okx", "resyncing", "desynced", T))
    assert is_valid(venue_event("okx", "live", None, T))
    bad: list[dict[str, Any]] = [
        {k: v for k, v in good.items() if k != "reason"},
        {**good, "reason": "bored"},
        {**good, "type": "opened", "ts": 1.5},  # ts must be an int
        {**good, "type": "updated", "id": ""},
        {**good, "schema": 2},
        {**good, "net_bps": float("nan")},  # written as null by orjson
        {**good, "buy_venue": "OKX"},
        {**good, "symbol": "BTCUSDT"},
        {**good, "type": "shrug"},
        {k: v for k, v in venue_event("okx", "live", None, T).items() if k != "reason"},
        {**venue_event("okx", "live", None, T), "state": "sleepy"},
        {
            "schema": 1,
            "type": "book",
            "ts": T,
            "venue": "okx",
            "symbol": "A/B",
            "bids": [[1.0, 2.0, 3.0]],
            "asks": [],
        },
    ]
    assert [is_valid(e) for e in bad] == [False] * len(bad)
    with pytest.raises(TypeError):
        check({**good, "size": object()})


def test_builders_reject_unknown_enums_and_keep_field_order() -> None:
    with pytest.raises(ValueError, match="unknown venue state 'sleepy'"):
        venue_event("okx", "sleepy", None, T)
    assert list(venue_event("okx", "down", "refused", T)) == [
        "schema", "type", "venue", "state", "reason", "ts"
    ]  # fmt: skip
    events: list[dict[str, Any]] = []
    engine = make(events)
    engine.leg("okx", SYM).on_book(Levels(*OKX), T)
    engine.leg("binance", SYM).on_book(Levels(*BIN), T)
    engine.shutdown(T)
    assert list(events[1]) == [
        "schema", "type", "kind", "id", "ts", "symbol", "buy_venue", "sell_venue", "buy_price",
        "sell_price", "size", "buy_vwap", "sell_vwap", "cost", "proceeds", "profit", "net_bps",
        "gross_bps", "buy_fee_bps", "sell_fee_bps", "buy_age_ms", "sell_age_ms", "reason",
        "duration_ms", "peak_net_bps", "peak_profit",
    ]  # fmt: skip


# --- random sessions: invariants of the stream, and determinism -------------------------------

VENUES = ["binance", "okx", "kraken"]
ACTION = st.tuples(
    st.sampled_from(VENUES),
    st.integers(0, 9),  # action: 0 unusable, 1 usable, else a book around 100 +- 1
    st.integers(-100, 100),  # mid offset, cents
    st.integers(1, 400),  # ms since the previous action
)


def session(actions: list[tuple[str, int, int, int]], warmup_ms: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    fees = {"binance": 10.0, "okx": 10.0, "kraken": 26.0}
    engine = Engine(CFG, VENUES, [SYM], fees, events.append, warmup_ms=warmup_ms)
    t = T
    for venue, action, cents, gap in actions:
        t += gap * MS
        leg = engine.leg(venue, SYM)
        if action == 0:
            leg.on_usable(False, "stale", t)
        elif action == 1:
            leg.on_usable(True, None, t)
        else:
            mid = 100.0 + cents / 100
            book = Levels(
                [mid - 0.01, mid - 0.02], [1.0, 2.0], [mid + 0.01, mid + 0.03], [0.5, 3.0]
            )
            leg.on_book(book, t)
    engine.shutdown(t + 1)
    return events


@settings(max_examples=60, deadline=None)
@given(actions=st.lists(ACTION, max_size=60), warmup_ms=st.sampled_from([0, 300]))
def test_random_sessions_keep_stream_invariants(
    actions: list[tuple[str, int, int, int]], warmup_ms: int
) -> None:
    events = session(actions, warmup_ms)
    check_all(events)
    open_: dict[str, dict[str, Any]] = {}
    last_emit: dict[str, int] = {}
    opened = 0
    for e in events:
        oid = e["id"]
        if e["type"] == "opened":
            opened += 1
            assert oid == str(opened) and oid not in open_
            assert e["net_bps"] >= CFG.open_bps
            open_[oid] = e
        else:
            first = open_[oid]
            key = ("symbol", "buy_venue", "sell_venue")
            assert [e[k] for k in key] == [first[k] for k in key]
            if e["type"] == "updated":
                assert e["ts"] - last_emit[oid] >= CFG.update_interval_ms * MS
                assert e["net_bps"] >= CFG.close_bps
            else:
                del open_[oid]
                assert e["duration_ms"] == (e["ts"] - first["ts"]) / MS
                assert e["peak_net_bps"] >= max(first["net_bps"], e["net_bps"])
                assert e["peak_profit"] >= max(first["profit"], e["profit"])
        last_emit[oid] = e["ts"]
    assert open_ == {}  # shutdown closed everything
    # replays are byte-identical
    assert orjson.dumps(session(actions, warmup_ms)) == orjson.dumps(events)


def test_after_shutdown_nothing_opens_and_a_disconnect_closes_nothing() -> None:
    events: list[dict[str, Any]] = []
    engine = make(events)
    engine.leg("okx", SYM).on_book(Levels(*OKX), T)
    engine.leg("binance", SYM).on_book(Levels(*BIN), T)
    engine.shutdown(T + MS)
    assert [(e["type"], e.get("reason")) for e in events] == [
        ("opened", None),
        ("closed", "shutdown"),
    ]
    # the feeds tear down after the engine: their disconnects and last books emit nothing
    engine.leg("binance", SYM).on_usable(False, "disconnected", T + 2 * MS)
    engine.leg("binance", SYM).on_book(Levels(*BIN2), T + 3 * MS)
    engine.leg("okx", SYM).on_book(Levels(*OKX), T + 3 * MS)
    assert len(events) == 2
