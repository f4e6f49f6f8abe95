"""End to end on 127.0.0.1, the unchanged runner, session and codecs against the emulator:
connection liveness (quiet symbols, venue pings, a silent venue), Binance's overlapping
update-id ranges, Bybit's textual ``ts`` and OKX's subscription-request budget.

Liveness runs on the real clock with ``stale_after_s`` of 1-1.5 s (timing assertions are
generous lower bounds, never performance figures); the rest steps the emulator by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
import orjson
import pytest
import websockets

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.cli import parse_args
from emulator.market import MarketModel
from emulator.venues.okx import Okx as EmulatedOkx
from feeds.backoff import Backoff
from feeds.checksum import KRAKEN, crc32
from feeds.protocol import Codec, SnapshotSource
from feeds.runner import Runner, SessionOptions
from feeds.session import FeedSession
from feeds.venues import codec_class
from feeds.venues.kraken import Kraken
from feeds.venues.okx import Okx
from tests.test_venue_kraken import v2_book
from tests.venue_helpers import LastBook, model_top

T0 = 1_795_000_000_000_000_000
SYMBOLS = ("BTC/USDT", "ETH/USDT")
LIVE, DESYNCED, CLOSED = (True, None), (False, "desynced"), (False, "disconnected")


@dataclass
class Feed:
    """One venue's runner with its legs and the states it reported."""

    runner: Runner
    legs: dict[str, LastBook]
    states: list[tuple[str, str | None]]
    times: list[int]
    """When each state was reported."""

    def synced(self, emu: Emulator, venue: str) -> bool:
        return all(self.legs[s].top == model_top(emu, venue, s) for s in self.legs)


def feed(
    emu: Emulator,
    venue: str,
    http: httpx.AsyncClient,
    *,
    codec: type[Codec] | None = None,
    symbols: Sequence[str] = SYMBOLS,
    stale_after_s: float = 10.0,
    clock: Callable[[], int] = time.time_ns,
) -> Feed:
    legs = {s: LastBook() for s in symbols}
    states: list[tuple[str, str | None]] = []
    times: list[int] = []

    def on_state(state: str, reason: str | None, ts: int) -> None:
        states.append((state, reason))
        times.append(ts)

    runner = Runner(
        codec or codec_class(venue),
        symbols,
        legs.__getitem__,
        on_state,
        ws_url=emu.ws_url(venue),
        rest_url=emu.rest_url(venue),
        http=http,
        backoff=Backoff(base_s=0.01, cap_s=0.05),
        clock=clock,
        # snapshots right after subscribing: a clock that stands still never ends a wait
        options=SessionOptions(stale_after_s=stale_after_s, snapshot_wait_s=0.0),
        tick_interval_s=0.02,
    )
    return Feed(runner, legs, states, times)


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.002)


# -- liveness: everything that arrives counts ---------------------------------------------

QUIET_VENUES = ("binance", "binanceus", "okx", "bybit", "bitstamp")


async def quiet_market(venue_pings_s: float | None) -> dict[str, Feed]:
    """Every venue's books never change after their snapshot; 3.5 s (over twice
    stale_after_s) of a real clock."""
    market = MarketConfig(
        venues=QUIET_VENUES,
        symbols=SYMBOLS,
        seed=5,
        dislocations_per_min=0,
        quiet_symbols=frozenset(SYMBOLS),
    )
    config = EmulatorConfig(market=market, ping_interval_s=venue_pings_s)
    async with asyncio.timeout(20), Emulator(config) as emu, httpx.AsyncClient() as http:
        feeds = {v: feed(emu, v, http, stale_after_s=1.5) for v in QUIET_VENUES}
        tasks = [asyncio.create_task(f.runner.run()) for f in feeds.values()]
        await until(lambda: all(f.synced(emu, v) for v, f in feeds.items()))
        await asyncio.sleep(3.5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return feeds


def _assert_never_stale(feeds: dict[str, Feed]) -> None:
    for venue, f in feeds.items():
        assert f.runner.stats.connects == 1, venue
        assert f.states == [
            ("connecting", None),
            ("syncing", None),
            ("live", None),
            ("down", "stopped"),
        ], venue
        assert [leg.usable for leg in f.legs.values()] == [[LIVE, CLOSED]] * 2, venue
        session = f.runner.session
        assert session is not None
        assert (session.stats.book_msgs, session.stats.gaps, session.stats.malformed) == (
            2,
            0,
            0,
        ), venue


def test_quiet_symbols_kept_alive_by_the_feeds_own_probes() -> None:
    # No venue pings at all: the only traffic after the snapshots answers the session's
    # probes (OKX "pong", Bybit's pong frame, Bitstamp's bts:heartbeat; a WebSocket pong for
    # Binance and Binance.US).
    feeds = asyncio.run(quiet_market(None))
    _assert_never_stale(feeds)
    for venue, f in feeds.items():
        stats = f.runner.session.stats  # type: ignore[union-attr]
        # a probe once quiet for 0.75 s, answered at once: about one every 0.8 s
        assert stats.pings >= 3, venue
        if venue.startswith("binance"):
            assert stats.control_frames >= 3, venue  # WebSocket pongs
        else:
            in_band = codec_class(venue).integrity.snapshot is SnapshotSource.IN_BAND
            assert stats.frames >= 1 + 2 * in_band + 3, venue  # ack(s), snapshots, pongs


def test_quiet_symbols_kept_alive_by_venue_pings() -> None:
    # The venue pings every 0.3 s (Binance: every 20 s): WebSocket pings are traffic.
    feeds = asyncio.run(quiet_market(0.3))
    _assert_never_stale(feeds)
    for venue, f in feeds.items():
        assert f.runner.session.stats.control_frames >= 5, venue  # type: ignore[union-attr]


@pytest.mark.parametrize("venue_pings_s", [None, 0.3], ids=["no venue pings", "venue pings"])
def test_a_silent_venue_goes_stale_and_the_feed_reconnects(venue_pings_s: float | None) -> None:
    """Silent is a black hole: the venue's own WebSocket pings stop too, or they would keep
    the connection alive (a ping is traffic)."""

    async def scenario() -> tuple[Feed, int]:
        market = MarketConfig(
            venues=("okx",), symbols=SYMBOLS, seed=5, quiet_symbols=frozenset(SYMBOLS)
        )
        config = EmulatorConfig(market=market, ping_interval_s=venue_pings_s)
        async with asyncio.timeout(20), Emulator(config) as emu, httpx.AsyncClient() as http:
            f = feed(emu, "okx", http, stale_after_s=1.0)
            task = asyncio.create_task(f.runner.run())
            await until(lambda: f.synced(emu, "okx"))
            first = f.runner.session
            assert first is not None
            # nothing sent and nothing read (no pong to the probe) for 2.5 s
            emu.inject("okx", "silent", seconds=2.5)
            await until(lambda: f.runner.stats.connects == 2 and f.states[-1][0] == "live")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return f, max(first.stats.last_frame_ns, first.stats.last_control_ns)

    f, last_traffic = asyncio.run(scenario())
    assert f.times[3] - last_traffic > 1_000_000_000  # stale only after 1 s of nothing
    assert [s for s, _ in f.states] == [
        "connecting",
        "syncing",
        "live",
        "stale",
        "down",
        "connecting",
        "syncing",
        "live",
        "down",
    ]
    assert f.states[4] == ("down", "stale")
    assert [leg.usable for leg in f.legs.values()] == [[LIVE, (False, "stale"), LIVE, CLOSED]] * 2


# -- venue rules -----------------------------------------------------------------------------


async def stepped(
    config: EmulatorConfig,
    venue: str,
    steps: Callable[[Emulator, Feed], Awaitable[None]],
    codec: type[Codec] | None = None,
) -> Feed:
    """The feed of ``venue`` synced to an emulator stepped by ``steps``; both on a clock that
    stands still at T0 (the emulator's model moves 100 ms per step)."""
    async with (
        asyncio.timeout(20),
        Emulator(config, clock=lambda: T0) as emu,
        httpx.AsyncClient() as http,
    ):
        f = feed(emu, venue, http, codec=codec, clock=lambda: T0)
        task = asyncio.create_task(f.runner.run())
        await until(lambda: f.synced(emu, venue))
        await steps(emu, f)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return f


def test_binance_applies_an_event_overlapping_the_book_id() -> None:
    # U <= the book's id < u: Binance's update procedure applies it (only U > id + 1 is a
    # gap). The event carries both steps' levels, so the book still equals the model's.
    requests: list[int] = []

    async def steps(emu: Emulator, f: Feed) -> None:
        for fault in (False, True, True, False):
            if fault:
                emu.inject("binance", "overlap")
            emu.step(1)
            await until(lambda: f.synced(emu, "binance"))
            await asyncio.sleep(0.02)  # a gap, if any, would resync now
            assert f.synced(emu, "binance")
        requests.append(emu.rest_requests("binance"))

    market = MarketConfig(venues=("binance",), symbols=SYMBOLS, seed=21, dislocations_per_min=0)
    f = asyncio.run(stepped(EmulatorConfig(market=market, autorun=False), "binance", steps))
    stats = f.runner.session.stats  # type: ignore[union-attr]
    assert (stats.gaps, stats.resyncs, stats.older) == (0, 0, 0)
    assert requests == [2]  # the two first snapshots, no refetch
    assert [leg.usable for leg in f.legs.values()] == [[LIVE, CLOSED]] * 2


def test_bybit_ts_as_text_is_read_like_a_number() -> None:
    async def steps(emu: Emulator, f: Feed) -> None:
        for _ in range(3):
            emu.step(1)
            await until(lambda: f.synced(emu, "bybit"))

    market = MarketConfig(venues=("bybit",), symbols=SYMBOLS, seed=21, dislocations_per_min=0)
    config = EmulatorConfig(
        market=market, autorun=False, venue_options={"bybit": {"ts_text": True}}
    )
    f = asyncio.run(stepped(config, "bybit", steps))
    stats = f.runner.session.stats  # type: ignore[union-attr]
    assert (stats.malformed, stats.codec_errors, stats.gaps) == (0, 0, 0)
    assert stats.book_msgs == 2 + 2 * 3  # two snapshots, then each symbol at every step
    # the venue's ts, read from text: the model's time after 3 steps, 300 ms past the clock
    assert stats.latency_ns == -300_000_000


class SmallBudgetOkx(Okx):
    requests_per_hour = 3


def test_okx_resyncs_within_the_subscribe_budget_then_reconnects() -> None:
    # Budget 3 per connection (the venue enforces the same): the opening subscribe spends 1,
    # the first resync (unsubscribe + subscribe) 2; the second resync reconnects instead of
    # sending requests the venue would refuse, and the new connection has a new budget.
    async def steps(emu: Emulator, f: Feed) -> None:
        btc = f.legs["BTC/USDT"]
        for n in (1, 2):
            emu.inject("okx", "gap")
            while len(btc.usable) < 2 * n:  # the gap shows at BTC's next frame
                emu.step(1)
                await asyncio.sleep(0.005)
            await until(lambda: btc.usable[-1] == LIVE)
            await until(lambda: f.synced(emu, "okx"))

    market = MarketConfig(venues=("okx",), symbols=SYMBOLS, seed=21, dislocations_per_min=0)
    config = EmulatorConfig(
        market=market, autorun=False, venue_options={"okx": {"requests_per_hour": 3}}
    )
    refused: list[int] = []

    async def steps_and_count(emu: Emulator, f: Feed) -> None:
        await steps(emu, f)
        venue = emu.venue("okx")
        assert isinstance(venue, EmulatedOkx)
        refused.append(venue.refused)

    f = asyncio.run(stepped(config, "okx", steps_and_count, SmallBudgetOkx))
    assert refused == [0]  # no request was ever over the venue's limit
    assert f.runner.stats.connects == 2
    assert f.legs["BTC/USDT"].usable == [LIVE, DESYNCED, LIVE, DESYNCED, LIVE, CLOSED]
    assert f.legs["ETH/USDT"].usable == [LIVE, CLOSED, LIVE, CLOSED]
    session = f.runner.session
    assert session is not None and session.budget is not None
    assert session.budget.left(T0) == 2  # the new connection spent 1 on its subscribe


# -- the emulator at the wire ----------------------------------------------------------------


def test_emulated_okx_refuses_a_request_over_the_connection_budget() -> None:
    sub = '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}'
    unsub = sub.replace('"subscribe"', '"unsubscribe"')

    async def body() -> list[dict[str, object]]:
        market = MarketConfig(venues=("okx",), symbols=("BTC/USDT",), dislocations_per_min=0)
        options = {"okx": {"requests_per_hour": 2}}
        config = EmulatorConfig(market=market, autorun=False, venue_options=options)
        async with asyncio.timeout(10), Emulator(config, clock=lambda: T0) as emu:
            ws = await websockets.connect(emu.ws_url("okx"))
            replies: list[dict[str, object]] = []
            for request, count in ((sub, 2), (unsub, 1), (sub, 1)):
                await ws.send(request)
                replies += [orjson.loads(await ws.recv()) for _ in range(count)]
            second = await websockets.connect(emu.ws_url("okx"))  # a new budget
            await second.send(sub)
            replies.append(orjson.loads(await second.recv()))
            await ws.close()
            await second.close()
            venue = emu.venue("okx")
            assert isinstance(venue, EmulatedOkx) and venue.refused == 1
        return replies

    replies = asyncio.run(body())
    arg = {"channel": "books", "instId": "BTC-USDT"}
    assert [r.get("event", r.get("action")) for r in replies] == [
        "subscribe",
        "snapshot",
        "unsubscribe",
        "error",
        "subscribe",
    ]
    assert replies[3] == {
        "event": "error",
        "code": "60014",
        "msg": "Requests too frequent.",
        "connId": replies[0]["connId"],
    }
    assert replies[2] == {"event": "unsubscribe", "arg": arg, "connId": replies[0]["connId"]}


def test_overlap_is_refused_where_events_carry_no_update_id_ranges() -> None:
    market = MarketConfig(venues=("okx", "binance"), symbols=("BTC/USDT",))
    emu = Emulator(EmulatorConfig(market=market, autorun=False), clock=lambda: T0)
    with pytest.raises(ValueError, match="okx sends no update-id ranges"):
        emu.inject("okx", "overlap")


def test_quiet_symbols_never_change_in_the_model() -> None:
    config = MarketConfig(
        symbols=("BTC/USDT", "ETH/USDT"), seed=3, quiet_symbols=frozenset({"ETH/USDT"})
    )
    model = MarketModel(config, T0)
    before = {k: (dict(b.bids), dict(b.asks)) for k, b in model.books.items()}
    changed = set()
    for _ in range(50):
        changed |= set(model.step())
    assert changed == {(v, "BTC/USDT") for v in config.venues}
    for venue in config.venues:
        book = model.books[(venue, "ETH/USDT")]
        assert (book.bids, book.asks) == before[(venue, "ETH/USDT")]
        assert model.books[(venue, "BTC/USDT")].bids != before[(venue, "BTC/USDT")][0]


def test_kraken_at_depth_25_checksums_only_the_top_10() -> None:
    # Levels 11..25 are kept but unprotected: an update lost there goes unnoticed while the
    # top 10 (and so every checksum) still matches.
    bids = [(f"{100 - k}.0", "1.0") for k in range(25)]
    asks = [(f"{101 + k}.0", "1.0") for k in range(25)]
    session = FeedSession(Kraken(["BTC/USD"], depth=25), lambda _: LastBook(), lambda *a: None)
    session.opened(T0)
    crc = crc32(KRAKEN, bids[:10], asks[:10])
    assert session.frame(v2_book("snapshot", bids, asks, crc), T0) == []
    # the venue changed level 15 (bid 85.0 -> 2.0), and that update was lost; the next
    # update changes the best bid, with the checksum of the venue's own book
    venue_bids = [("100.0", "3.0"), *bids[1:15], ("85.0", "2.0"), *bids[16:]]
    crc = crc32(KRAKEN, venue_bids[:10], asks[:10])
    assert session.frame(v2_book("update", [("100.0", "3.0")], [], crc), T0 + 1) == []
    stats = session.stats
    assert (stats.checksum_ok, stats.checksum_fail, stats.resyncs) == (2, 0, 0)
    assert session.books["BTC/USD"].side(True)[15] == (85.0, 1.0)  # the venue has 2.0


def test_emulator_command_line_options() -> None:
    args = ["--symbols", "BTC/USDT,ETH/USDT", "--quiet-symbols", "ETH/USDT"]
    config, _ = parse_args([*args, "--ping-interval", "0", "--option", "bybit:ts_text"])
    assert config.market.quiet_symbols == frozenset({"ETH/USDT"})
    assert (config.ping_interval_s, config.venue_options) == (None, {"bybit": {"ts_text": True}})
    argv = ["--option", "okx:requests_per_hour=3", "--option", "okx:checksum_zero=false"]
    config, _ = parse_args([*argv, "--ping-interval", "0.5"])
    options = {"okx": {"requests_per_hour": 3, "checksum_zero": False}}
    assert (config.ping_interval_s, config.venue_options) == (0.5, options)
    assert config.market.quiet_symbols == frozenset()
    with pytest.raises(SystemExit):
        parse_args(["--symbols", "BTC/USDT", "--quiet-symbols", "SOL/USDT"])
