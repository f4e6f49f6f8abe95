"""The REST request budget (feeds/budget.py), the venues' published limits as data, and the
runner spending one budget across connections: waits, Retry-After, the used-weight header."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Sequence

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.budget import PROBE_POLL_NS, RequestBudget, SendPacer, retry_after, used_weight
from feeds.protocol import RestLimits, RestRequest
from feeds.runner import Runner, SessionOptions
from feeds.transport import FakeConnector
from feeds.venues.binance import Binance, BinanceUS
from tests.fuzzing import fuzz_settings
from tests.test_runner import Listener, RangeToy, snapshot_body

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000
BINANCE = Binance.rest_limits


# --- the venues' limits as data ---------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "limit", "weight", "us_weight"),
    [
        (1, 100, 5, 1),
        (20, 100, 5, 1),  # the default depth_levels: weight 5, not 50
        (100, 100, 5, 1),
        (101, 500, 25, 5),
        (500, 500, 25, 5),
        (501, 1000, 50, 10),
        (1000, 1000, 50, 10),
        (1001, 5000, 250, 50),
        (9999, 5000, 250, 50),  # the most a snapshot holds
    ],
)
def test_snapshot_limit_is_the_deepest_at_the_lowest_weight_covering_the_depth(
    levels: int, limit: int, weight: int, us_weight: int
) -> None:
    assert (BINANCE.snapshot_limit(levels), BINANCE.snapshot_weight(limit)) == (limit, weight)
    request = Binance(["BTC/USDT"]).snapshot_request("BTC/USDT", "http://h", levels)
    assert request == RestRequest(
        f"http://h/api/v3/depth?symbol=BTCUSDT&limit={limit}", "BTC/USDT", weight
    )
    assert BinanceUS(["BTC/USDT"]).snapshot_request("BTC/USDT", "", levels).weight == us_weight


def test_published_budgets() -> None:
    assert (BINANCE.budget, BINANCE.window_s, BINANCE.per_ip) == (6000, 60.0, True)
    assert BINANCE.used_weight_header == "x-mbx-used-weight-1m"
    us = BinanceUS.rest_limits
    assert (us.budget, us.window_s, us.tiers[0]) == (1200, 60.0, (100, 1))


@pytest.mark.parametrize("tiers", [(), ((100, 5), (50, 25)), ((100, 0),), ((100, 5), (100, 6))])
def test_rest_limits_refuse_bad_tiers(tiers: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError, match="tiers"):
        RestLimits(budget=6000, window_s=60.0, tiers=tiers)


# --- the budget alone ----------------------------------------------------------------


def test_requests_beyond_the_window_wait_for_the_oldest_to_expire() -> None:
    budget = RequestBudget(600, 6.0, margin_s=0.0)  # the window is (now - 6 s, now]
    assert [budget.take(5, T0) for _ in range(60)] == [0] * 60
    assert [budget.take(5, T0 + 2 * S) for _ in range(60)] == [0] * 60  # 600: full
    assert budget.take(5, T0 + 3 * S) == 3 * S  # the first 300 leave at 6 s
    assert budget.take(250, T0 + 6 * S) == 0
    assert budget.take(100, T0 + 6 * S) == 2 * S  # 550 + 100 > 600 until the next 300 leave
    assert budget.take(100, T0 + 8 * S) == 0
    assert budget.used(T0 + 8 * S) == 350
    assert (budget.stats.granted, budget.stats.weight, budget.stats.max_used) == (122, 950, 600)


def test_margin_holds_spent_weight_past_the_window() -> None:
    budget = RequestBudget(10, 60.0)  # margin: a 60th of the window
    assert budget.take(10, T0) == 0
    assert budget.take(1, T0 + 60 * S) == S
    assert budget.take(1, T0 + 61 * S) == 0


def test_a_request_heavier_than_the_limit_waits_for_an_empty_window() -> None:
    budget = RequestBudget(10, 1.0, margin_s=0.0)
    assert budget.take(3, T0) == 0
    assert budget.take(250, T0) == S
    assert budget.take(250, T0 + S) == 0


def test_retry_after_blocks_every_request_of_the_venue() -> None:
    budget = RequestBudget(6000, 60.0)
    assert budget.take(5, T0) == 0
    budget.answered(429, T0 + S, retry_after_s=7.0)
    assert budget.take(5, T0 + S) == 7 * S
    assert budget.take(5, T0 + 8 * S - 1) == 1
    assert budget.take(5, T0 + 8 * S) == 0
    budget.answered(418, T0 + 9 * S)  # no Retry-After: a whole window
    assert budget.take(5, T0 + 9 * S) == 60 * S
    assert (budget.stats.refused, budget.blocked_until()) == (2, T0 + 69 * S)


def test_the_venues_used_weight_raises_the_estimate_never_lowers_it() -> None:
    budget = RequestBudget(600, 6.0, margin_s=0.0)
    assert budget.take(5, T0) == 0
    budget.answered(200, T0, used_weight=580)  # another client on this IP spent 575
    assert (budget.used(T0), budget.stats.corrections) == (580, 1)
    assert [budget.take(5, T0) for _ in range(5)] == [0, 0, 0, 0, 6 * S]
    budget.answered(200, T0, used_weight=10)  # in-flight requests are not in its count
    assert budget.used(T0) == 600


def test_until_the_first_answer_one_request_goes_alone() -> None:
    budget = RequestBudget.of(BINANCE)
    assert budget.take(5, T0) == 0
    assert budget.take(5, T0) == PROBE_POLL_NS
    budget.answered(200, T0 + 3, used_weight=5)
    assert [budget.take(5, T0 + 3) for _ in range(3)] == [0, 0, 0]
    assert RequestBudget.of(BINANCE, scale=0.1).limit == 600


def test_header_values() -> None:
    assert [retry_after(v) for v in (None, "7", "0.5", "x", "-1", "nan", "inf")] == [
        None, 7.0, 0.5, None, None, None, None,
    ]  # fmt: skip
    assert [used_weight(v) for v in (None, "580", " 12 ", "1.5", "", "-3")] == [
        None, 580, 12, None, None, None,
    ]  # fmt: skip


@fuzz_settings(300)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3 * S), st.sampled_from([5, 25, 50, 250])), max_size=300
    ),
    limit=st.integers(250, 2000),
)
def test_fuzz_no_window_ever_holds_more_than_the_limit(
    steps: list[tuple[int, int]], limit: int
) -> None:
    """Whatever the times and weights asked, what was granted never exceeds the limit in
    any window of the budget's length (checked at every grant)."""
    budget = RequestBudget(limit, 6.0, margin_s=0.0)
    now, granted = T0, []
    for gap, weight in steps:
        now += gap
        if budget.take(weight, now) == 0:
            granted.append((now, weight))
            assert sum(w for t, w in granted if t > now - 6 * S) <= limit


# --- the runner: one budget across connections, in virtual time -----------------------


class VirtualTime:
    """A clock and a sleep: sleepers wake in time order when the test lets time pass."""

    def __init__(self) -> None:
        self.now = T0
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + int(seconds * S), next(self._seq), future))
        await future

    async def run_until(self, done: Callable[[], bool], horizon_s: float = 600.0) -> None:
        """Let the loop settle, then wake the next sleeper, until ``done()``."""
        end = self.now + int(horizon_s * S)
        while True:
            await asyncio.sleep(0.002)
            if done():
                return
            if not self._sleepers or self._sleepers[0][0] > end:
                raise AssertionError(f"stuck at +{(self.now - T0) / S} s")
            t, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, t)
            if not future.done():
                future.set_result(None)


class LimitedToy(RangeToy):
    """The toy REST venue with a published budget: 10 weight per 60 s, snapshots weigh 5."""

    venue = "toylimited"
    rest_limits = RestLimits(
        budget=10, window_s=60.0, tiers=((100, 5),), used_weight_header="x-used"
    )

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> RestRequest:
        request = super().snapshot_request(symbol, rest_base, levels)
        return RestRequest(request.url, symbol, 5)


Handler = Callable[[httpx.Request, int], httpx.Response]


async def run_runners(
    groups: Sequence[Sequence[str]], handler: Handler, budget: RequestBudget, done_after: int
) -> list[tuple[float, str]]:
    """Runners of LimitedToy (one per symbol group) sharing ``budget``; returns each request
    as (seconds since start, to the ms; venue symbol) once ``done_after`` snapshots arrived."""
    vt = VirtualTime()
    seen: list[tuple[float, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((round((vt.now - T0) / S, 3), request.url.params["symbol"]))
        return handler(request, len(seen))

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    runners = [
        Runner(
            LimitedToy,
            symbols,
            lambda s: Listener(s, []),
            lambda *a: None,
            http=http,
            clock=vt,
            connect=connector,
            sleep=vt.sleep,
            # snapshots at once; never stale while virtual minutes pass without a frame
            options=SessionOptions(snapshot_wait_s=0.0, stale_after_s=1e6, max_book_age_s=1e6),
            tick_interval_s=0.001,
            budget=budget,
        )
        for symbols in groups
        for connector in [FakeConnector()]
        if connector.accept()
    ]
    async with asyncio.timeout(10):
        tasks = [asyncio.create_task(r.run()) for r in runners]
        try:
            await vt.run_until(lambda: sum(r.stats.snapshot_fetches for r in runners) >= done_after)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.aclose()
    return seen


def ok(request: httpx.Request, n: int) -> httpx.Response:
    return httpx.Response(200, content=snapshot_body(1, [["1", "1"]], [["2", "1"]]))


def test_requests_wait_for_the_shared_budget_instead_of_being_sent() -> None:
    """Three symbols over two connections, 10 weight per minute, 5 a snapshot: two go at
    once, the third after the first has left the window (60 s + the 1 s margin)."""
    budget = RequestBudget(10, 60.0, margin_s=1.0)
    seen = asyncio.run(run_runners([["BTC/USDT", "ETH/USDT"], ["XRP/USDT"]], ok, budget, 3))
    assert [t for t, _ in seen] == [0.0, 0.0, 61.0]
    assert sorted(s for _, s in seen) == ["BTCUSDT", "ETHUSDT", "XRPUSDT"]
    assert (budget.stats.granted, budget.stats.max_used) == (3, 10)


def test_retry_after_stops_every_connection_of_the_venue() -> None:
    """The first answer is a 429 with Retry-After: 30. The other connection's request, held
    until that first answer, waits it out too, like the retry; then both symbols sync."""
    budget = RequestBudget(1000, 60.0, margin_s=0.0, probe=True)

    def limited(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(429, headers={"Retry-After": "30"})
        return ok(request, n)

    seen = asyncio.run(run_runners([["BTC/USDT"], ["ETH/USDT"]], limited, budget, 2))
    assert seen[0] == (0.0, "BTCUSDT")
    assert sorted(seen[1:]) == [(30.0, "BTCUSDT"), (30.0, "ETHUSDT")]
    assert (budget.stats.refused, budget.blocked_until()) == (1, T0 + 30 * S)


def test_the_used_weight_header_corrects_the_estimate() -> None:
    """The venue says the whole 10 is used (another client on this IP): the second request
    waits a full window although this process spent only 5."""
    budget = RequestBudget(10, 60.0, margin_s=0.0, probe=True)

    def full(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(200, headers={"x-used": "10"}, content=ok(request, n).content)

    seen = asyncio.run(run_runners([["BTC/USDT", "ETH/USDT"]], full, budget, 2))
    assert [t for t, _ in seen] == [0.0, 60.0]
    assert budget.stats.corrections == 2  # each answer says 10


@given(
    st.sampled_from([0.5, 1.0, 2.5, 5.0, 10.0]),
    st.lists(st.integers(0, 3 * 10**9), min_size=1, max_size=40),
)
def test_a_pacer_never_exceeds_its_rate_and_keeps_order(per_s: float, gaps: list[int]) -> None:
    pacer = SendPacer(per_s, max_queued=len(gaps))
    frames = [f"f{i}" for i in range(len(gaps))]
    for frame in frames:
        assert pacer.put(frame)
    assert not pacer.put("one too many")
    now, sent = 0, list[tuple[int, str]]()
    for gap in [*gaps, None]:  # the sender takes what it may at arbitrary times, then drains
        while pacer.queue:
            got, wait = pacer.take(now)
            if got is not None:
                sent.append((now, got))
            elif gap is not None:
                break
            else:
                now += wait
        now += gap or 0
    assert [f for _, f in sent] == frames
    limit, window = max(1, int(per_s)), round(max(1, int(per_s)) / per_s * 10**9)
    times = [t for t, _ in sent]
    for i, t in enumerate(times):  # any window of the venue's length holds at most ``limit``
        assert sum(1 for u in times[i:] if u < t + window) <= limit
