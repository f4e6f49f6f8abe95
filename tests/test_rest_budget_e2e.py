"""The emulator enforces Binance's request weights per IP (emulator/ratelimit.py: 429 with
Retry-After, then 418 bans for a client that keeps going), and 200 Binance symbols over
the emulator sync within the budget, reconnecting all at once, without a single 429.

The 200-symbol test scales the budget to 600 weight per 2 s (the real one is 6000 per 60 s;
the weights are the real ones): the same shape of burst, then wait, in seconds instead of
minutes. The client holds spent weight 0.3 s past the window there (a 60th of it, 1 s, with
the real budget) because client and emulator share one loaded event loop: a request is
counted by the emulator a little after the client counted it. ``sync_times`` runs the
scenario with any budget (the real one takes over a minute at depth 1000).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.ratelimit import WeightLimiter
from feeds.book import Book
from feeds.budget import RequestBudget
from feeds.runner import Runner, SessionOptions
from feeds.venues.binance import Binance
from tests.test_emulator_server import sync

S = 1_000_000_000
T0 = 1_795_000_000_000_000_000


# --- the limiter alone ----------------------------------------------------------------


def test_limiter_answers_429_then_bans_a_client_that_keeps_going() -> None:
    limiter = WeightLimiter(600, 6.0)  # bans of 120 s, doubling
    assert {limiter.admit("a", 5, T0 + i).status for i in range(120)} == {200}
    over = limiter.admit("a", 5, T0 + S)
    assert (over.status, over.used, over.retry_after_s) == (429, 600, 5)  # 6 s - 1 s
    assert limiter.admit("b", 250, T0 + S).status == 200  # per IP
    ban = limiter.admit("a", 5, T0 + 2 * S)  # inside the 429's Retry-After: no back-off
    assert (ban.status, ban.retry_after_s) == (418, 120)
    assert limiter.admit("a", 5, T0 + 100 * S).retry_after_s == 22  # still banned
    served = limiter.admit("a", 5, T0 + 122 * S)
    assert (served.status, served.used) == (200, 5)
    assert {limiter.admit("a", 5, T0 + 122 * S).status for _ in range(119)} == {200}
    assert limiter.admit("a", 5, T0 + 123 * S).status == 429
    assert limiter.admit("a", 5, T0 + 124 * S).retry_after_s == 240  # the second ban doubles
    assert (limiter.max_used, limiter.rate_limited, limiter.banned) == (600, 2, 3)


def test_limiter_lets_a_client_that_waits_out_retry_after_go_on() -> None:
    limiter = WeightLimiter(10, 60.0)
    assert [limiter.admit("a", 5, T0).status for _ in range(3)] == [200, 200, 429]
    assert limiter.admit("a", 5, T0 + 60 * S).status == 200  # waited the 60 s it was told
    assert limiter.banned == 0


@sync
async def test_emulator_charges_binance_depth_weights_with_headers() -> None:
    market = MarketConfig(venues=("binance",), symbols=("BTC/USDT",), dislocations_per_min=0)
    config = EmulatorConfig(market=market, autorun=False, rest_limit=(60, 60.0))
    async with Emulator(config, clock=lambda: T0) as emu, httpx.AsyncClient() as http:
        url = emu.rest_url("binance") + "/api/v3/depth?symbol=BTCUSDT&limit="
        answers = [await http.get(url + limit) for limit in ("100", "101", "5", "1000")]
        assert [(a.status_code, a.headers["x-mbx-used-weight-1m"]) for a in answers] == [
            (200, "5"),
            (200, "30"),
            (200, "35"),
            (429, "35"),  # 35 + 50 > 60
        ]
        assert answers[3].headers["retry-after"] == "60"
        assert answers[3].json() == {
            "code": -1003,
            "msg": "Too many requests; current limit is exceeded.",
        }
        banned = await http.get(url + "5")
        assert (banned.status_code, banned.headers["retry-after"]) == (418, "120")
        limiter = emu.rest_limits("binance")
        assert limiter is not None
        assert (limiter.max_used, limiter.rate_limited, limiter.banned) == (35, 1, 1)


# --- 200 symbols reconnecting at once ----------------------------------------------------

N = 200
SYMBOLS = tuple(f"C{i:03d}/USDT" for i in range(N))


@dataclass
class Leg:
    usable: list[tuple[bool, str | None]] = field(default_factory=list)
    at: list[float] = field(default_factory=list)

    def on_book(self, book: Book, ts_ns: int) -> None:
        pass

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable.append((usable, reason))
        self.at.append(time.monotonic())


@dataclass
class Outcome:
    first_s: float
    """From the start until every book was synced."""
    again_s: float
    """From dropping every connection at once until every book was synced again."""
    legs: dict[str, Leg]
    limiter: WeightLimiter
    budget: RequestBudget
    rest_requests: int


async def sync_times(
    limit: int, window_s: float, levels: int = 20, margin_s: float | None = None
) -> Outcome:
    """Start 200 Binance symbols over the emulator (budget ``limit`` per ``window_s`` on both
    sides; the connections split as the codec says), wait until every book is synced, drop
    every connection, wait until every book is synced again. ``margin_s``: how much longer
    the client holds spent weight than the window (default a 60th of it)."""
    market = MarketConfig(venues=("binance",), symbols=SYMBOLS, seed=5, dislocations_per_min=0)
    config = EmulatorConfig(market=market, rest_limit=(limit, window_s))
    legs = {s: Leg() for s in SYMBOLS}
    budget = RequestBudget(limit, window_s, margin_s=margin_s, probe=True)
    n = Binance.max_symbols_per_connection
    async with Emulator(config) as emu, httpx.AsyncClient() as http:
        runners = [
            Runner(
                Binance,
                SYMBOLS[i : i + n],
                legs.__getitem__,
                lambda *a: None,
                ws_url=emu.ws_url("binance"),
                rest_url=emu.rest_url("binance"),
                http=http,
                options=SessionOptions(top_n=levels),
                tick_interval_s=0.05,
                budget=budget,
            )
            for i in range(0, N, n)
        ]
        start = time.monotonic()
        tasks = [asyncio.create_task(r.run()) for r in runners]
        try:
            await until(lambda: all(leg.usable == [(True, None)] for leg in legs.values()))
            first = time.monotonic() - start
            dropped = time.monotonic()
            for conn in emu.connections("binance"):
                emu.inject("binance", "abort", conn=conn)
            await until(lambda: all(len(leg.usable) == 3 for leg in legs.values()))
            again = time.monotonic() - dropped
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        limiter = emu.rest_limits("binance")
        assert limiter is not None
        return Outcome(first, again, legs, limiter, budget, emu.rest_requests("binance"))


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_200_symbols_reconnecting_at_once_stay_within_the_budget_and_all_sync() -> None:
    """At depth 20 a snapshot weighs 5: 1,000 weight for 200 books against 600 per 2 s.
    120 books sync at once, 80 when the first weight leaves the window; after every
    connection drops, the 200 resyncs wait for the window again. Never a 429. The client
    holds weight 1 s longer than the venue: on a loaded machine a request can reach the
    emulator that much later than it was counted (0.3 s was exceeded under load)."""

    async def bounded() -> Outcome:
        async with asyncio.timeout(60):
            return await sync_times(600, 2.0, margin_s=1.0)

    out = asyncio.run(bounded())
    live, down = (True, None), (False, "disconnected")
    assert {tuple(leg.usable) for leg in out.legs.values()} == {(live, down, live, down)}
    assert (out.limiter.rate_limited, out.limiter.banned, out.budget.stats.refused) == (0, 0, 0)
    assert out.limiter.max_used <= 600
    assert out.rest_requests == out.budget.stats.granted == 2 * N
    assert out.budget.stats.weight == 2 * N * 5  # 2,000 weight served, <= 600 in any 2 s
