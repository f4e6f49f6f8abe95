"""Planned closes are make-before-break: the runner replaces a connection the venue is about
to close (its notice, or the connection's planned lifetime) and hands the books over, so
the legs never see an unusable book; a replacement that is not live in time leaves the old
connection serving, as before.

End to end against the emulator, which cuts every connection on schedule and sends the
venue's shutdown notice before; plus the sans-I/O decision with an injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbscan import scan
from emulator import Emulator, EmulatorConfig, MarketConfig, VenueProfile
from feeds.actions import Replace
from feeds.backoff import Backoff
from feeds.book import Book
from feeds.capture import CaptureWriter, read_capture
from feeds.handover import Feed, ReplacePlan
from feeds.protocol import Codec
from feeds.replay import Replayer
from feeds.runner import Runner, SessionOptions
from feeds.session import FeedSession
from feeds.transport import Connection, Connector, Frame
from feeds.venues import codec_class
from feeds.venues.binance import Binance
from feeds.venues.okx import Okx
from feeds.wsconnect import websocket_connect
from scanner.config import ScannerConfig
from scanner.engine import Engine
from scanner.events import Event, venue_event
from tests.venue_helpers import Recorder

VENUES = ("binance", "okx")
SYMBOL = "BTC/USDT"
FEE_BPS = {"binance": 10.0, "okx": 10.0}
QUIET = VenueProfile(lag_steps=0, noise_bps=0.0, spread_bps=1.0, extra_price_decimals=1)
S = 1_000_000_000
T0 = 1_700_000_000_000_000_000


# --- the decision, sans I/O ----------------------------------------------------------------


def test_replacement_starts_at_lifetime_minus_margin_or_at_the_notice() -> None:
    plan = ReplacePlan(T0, max_connection_s=86400.0, margin_s=300.0)
    assert plan.start_ns == T0 + 86100 * S
    assert plan.due(T0) is None
    assert plan.due(T0 + 86100 * S - 1) is None
    assert plan.due(T0 + 86100 * S) == "lifetime"
    assert plan.due(T0 + 86101 * S) is None  # once per connection

    noticed = ReplacePlan(T0, max_connection_s=86400.0, margin_s=300.0)
    assert noticed.due(T0 + 10 * S) is None
    noticed.noticed("serverShutdown")
    noticed.noticed("a later notice")
    assert noticed.due(T0 + 10 * S) == "serverShutdown"
    assert noticed.due(T0 + 86100 * S) is None

    # a lifetime shorter than twice the margin: half of it is served first
    short = ReplacePlan(T0, max_connection_s=4.0, margin_s=300.0)
    assert short.start_ns == T0 + 2 * S
    assert [short.due(T0 + t * S // 2) for t in range(6)] == [None] * 4 + ["lifetime", None]

    # no planned lifetime (OKX, Bybit...): only a notice starts it
    unlimited = ReplacePlan(T0, max_connection_s=None)
    assert unlimited.start_ns is None
    assert unlimited.due(T0 + 10**6 * S) is None
    unlimited.noticed("notice 64008")
    assert unlimited.due(T0 + 10**6 * S) == "notice 64008"


@pytest.mark.parametrize(
    ("codec", "frame", "reason"),
    [
        (Binance, '{"event":{"e":"serverShutdown","E":1770123456789}}', "serverShutdown"),
        (Okx, '{"event":"notice","code":"64008","msg":"upgrade"}', "notice 64008"),
    ],
)
def test_a_notice_asks_the_runner_to_replace_the_connection(
    codec: type[Codec], frame: str, reason: str
) -> None:
    leg = Recorder()
    session = FeedSession(codec((SYMBOL,)), lambda s: leg, lambda state, why, ts: None)
    session.opened(T0)
    assert session.frame(frame, T0 + S) == [Replace(reason)]
    stats = session.stats
    assert (stats.notices, stats.malformed, stats.venue_errors) == (1, 0, 0)
    assert leg.usable == []


def test_only_the_owning_tap_reaches_the_listener() -> None:
    leg = Recorder()
    feed = Feed(leg)
    old, new = feed.tap(own=True), feed.tap(own=False)
    book_old, book_new = Book(top_n=5), Book(top_n=5)
    book_old.apply_snapshot([["100", "1"]], [["101", "1"]])
    book_new.apply_snapshot([["100.5", "2"]], [["101", "2"]])
    old.on_usable(True, None, 1)
    old.on_book(book_old, 1)
    new.on_usable(True, None, 2)  # the replacement syncs: nobody hears it
    new.on_book(book_new, 2)
    new.take(3)  # the switch: the leg was usable, it only gets the new book
    old.on_usable(False, "disconnected", 4)  # the old one closes: nobody hears it
    new.on_book(book_new, 5)
    assert leg.usable == [(True, None, 1)]
    assert [top[0] for top in leg.tops] == [100.0, 100.5, 100.5]


class Log:
    """A listener that logs ``(ts, what)``: ``"up"``, ``"down"`` or the book's best bid."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, object]] = []

    def on_book(self, book: Book, ts_ns: int) -> None:
        self.calls.append((ts_ns, book.top()[0][0]))

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.calls.append((ts_ns, "up" if usable else "down"))


@settings(max_examples=500, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["old", "new"]), st.sampled_from(["up", "down", "book"]))
    ),
    at=st.integers(0, 40),
)
def test_the_listener_hears_only_the_owner_and_no_gap_at_the_switch(
    ops: list[tuple[str, str]], at: int
) -> None:
    """Whatever both sessions do, the listener hears the old one before the switch, the new
    one after it, and the switch itself never makes it unusable."""
    leg = Log()
    feed = Feed(leg)
    taps = {"old": feed.tap(own=True), "new": feed.tap(own=False)}
    books = {"old": Book(top_n=1), "new": Book(top_n=1)}
    books["old"].apply_snapshot([["100", "1"]], [["101", "1"]])
    books["new"].apply_snapshot([["200", "1"]], [["201", "1"]])
    switched = None
    for ts, (who, what) in enumerate(ops):
        if ts == at and taps["new"].usable and taps["new"].book is not None:
            switched = ts
            taps["new"].take(ts)
        tap = taps[who]
        if what == "book":
            tap.on_book(books[who], ts)
        else:
            tap.on_usable(what == "up", None, ts)
    for ts, heard in leg.calls:
        if switched is None or ts < switched:
            assert ops[ts][0] == "old" and heard in ("up", "down", 100.0)
        elif ts > switched:
            assert ops[ts][0] == "new" and heard in ("up", "down", 200.0)
    if switched is not None:
        # the switch's own calls come first at its time (then the new session's op, if any)
        at_switch = [heard for ts, heard in leg.calls if ts == switched]
        assert at_switch[:1] == [200.0] or at_switch[:2] == ["up", 200.0]
        assert feed.usable == taps["new"].usable


def test_counters_add_up_across_a_replacement() -> None:
    """The stats event's counters: a replacement syncs beside the old connection, both
    count; when a third session starts, the oldest has ended and is folded in."""
    tally = scan._Tally()
    sessions = []
    for frames in (10, 20, 40):
        session = FeedSession(Binance((SYMBOL,)), lambda s: Recorder(), lambda *a: None)
        tally.start(session)
        sessions.append(session)
        session.stats.frames = frames
        if frames == 20:
            assert tally.counts()["frames"] == 30  # the old one still counts
            sessions[0].stats.frames = 15  # it delivered until the switch
    assert tally.counts() == {"frames": 75, "resyncs": 0, "malformed": 0, "book_msgs": 0}


# --- end to end ------------------------------------------------------------------------------


class Watched:
    """A leg of the engine whose usability changes are recorded."""

    def __init__(self, engine: Engine, venue: str, symbol: str, usable: list[str]) -> None:
        self.leg = engine.leg(venue, symbol)
        self.name = venue
        self.usable = usable

    def on_book(self, book: Book, ts_ns: int) -> None:
        self.leg.on_book(book, ts_ns)

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable.append(f"{self.name} {usable} {reason}")
        self.leg.on_usable(usable, reason, ts_ns)


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def handovers(
    *,
    lifetime_s: float,
    notice_s: float | None,
    connect: Connector = websocket_connect,
    recorder: CaptureWriter | None = None,
) -> tuple[list[Event], list[str], list[Runner]]:
    """Two venues under the emulator's scheduled cuts, an opportunity open across them.
    Returns the events and the legs' usability changes until the runners are stopped, and
    the runners."""
    market = MarketConfig(
        venues=VENUES,
        symbols=(SYMBOL,),
        seed=7,
        vol_bps=0.0,
        redraw_prob=0.0,
        dislocations_per_min=0.0,
        profiles={"binance": QUIET, "okx": QUIET},
    )
    config = EmulatorConfig(
        market=market, connection_lifetime_s=lifetime_s, shutdown_notice_s=notice_s
    )
    events: list[Event] = []
    usable: list[str] = []
    engine = Engine(ScannerConfig(), VENUES, (SYMBOL,), FEE_BPS, events.append)
    async with asyncio.timeout(30), Emulator(config) as emu, httpx.AsyncClient() as http:
        runners = [
            Runner(
                codec_class(venue),
                (SYMBOL,),
                lambda s, venue=venue: Watched(engine, venue, s, usable),  # type: ignore[misc]
                lambda state, reason, ts, venue=venue: events.append(  # type: ignore[misc]
                    venue_event(venue, state, reason, ts)
                ),
                ws_url=emu.ws_url(venue),
                rest_url=emu.rest_url(venue),
                http=http,
                connect=connect,
                backoff=Backoff(base_s=0.01, cap_s=0.05),
                tick_interval_s=0.02,
                recorder=recorder,
                conn=conn,
                options=SessionOptions(snapshot_wait_s=0.05),
                replace_sync_s=2.5,
            )
            for conn, venue in enumerate(VENUES)
        ]
        tasks = [asyncio.create_task(r.run()) for r in runners]
        await until(lambda: bool(engine.board.usable.all()))
        emu.model.add_dislocation(SYMBOL, "okx", 40.0, 60_000)
        await until(lambda: any(e["type"] == "opened" for e in events))
        # two planned closes of each venue's connection
        await until(lambda: all(r.stats.handovers >= 2 for r in runners))
        await asyncio.sleep(0.5)
        seen = list(events), list(usable)  # before stopping (which closes every leg)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return *seen, runners


def states(events: list[Event], venue: str) -> list[str]:
    return [str(e["state"]) for e in events if e["type"] == "venue" and e["venue"] == venue]


@pytest.mark.parametrize("notice_s", [2.0, None], ids=["notice", "lifetime"])
def test_planned_closes_hand_the_books_over_without_a_gap(
    notice_s: float | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Binance announces ``serverShutdown`` and OKX its notice 64008, 2 s before the
    emulator cuts each connection at 3 s; without notices, the runner replaces a connection
    near its planned lifetime (here shortened to 3 s for both: at half of it, 1.5 s)."""
    if notice_s is None:
        monkeypatch.setattr(Binance, "max_connection_s", 3.0)
        monkeypatch.setattr(Okx, "max_connection_s", 3.0)
    capture = tmp_path / "handover.ndjson"
    recorder = CaptureWriter(capture)
    try:
        events, usable, runners = asyncio.run(
            handovers(lifetime_s=3.0, notice_s=notice_s, recorder=recorder)
        )
    finally:
        recorder.close()
    opened = [e for e in events if e["type"] == "opened"]
    assert len(opened) == 1
    assert [e for e in events if e["type"] == "closed"] == []  # still open, same id, at the end
    assert [e["id"] for e in events if e["type"] in ("opened", "updated")] == [
        opened[0]["id"]
    ] * len([e for e in events if e["type"] in ("opened", "updated")])
    assert sorted(usable) == ["binance True None", "okx True None"]
    for venue, runner in zip(VENUES, runners, strict=True):
        assert states(events, venue) == ["connecting", "syncing", "live"]
        assert runner.stats.connects == 1
        assert runner.stats.replacements == runner.stats.handovers >= 2
        assert runner.stats.replace_failures == runner.stats.refused == 0
        assert list(runner.stats.backoff_s) == []
    replayed(capture, runners)


def replayed(capture: Path, runners: list[Runner]) -> None:
    """The capture holds one session per connection number at a time: each replacement's
    ``open`` follows the old one's records, and only the last connection closes; replayed,
    no book loses a message."""
    records = list(read_capture(capture))
    for conn, runner in enumerate(runners):
        dirs = [r.dir for r in records if r.conn == conn and r.dir in ("open", "close")]
        assert dirs == ["open"] * (1 + runner.stats.handovers) + ["close"]
    replay = Replayer(
        [r for r in records if r.dir == "rest"],
        lambda venue, conn: codec_class(venue)((SYMBOL,)),
        lambda venue, symbol: Recorder(),
        lambda venue, state, reason, ts: None,
    )
    summary = replay.run(records)
    assert (summary.skipped, summary.reconnects, summary.rest_unanswered) == (0, 0, 0)
    for venue, runner in zip(VENUES, runners, strict=True):
        stats = summary.stats[venue]
        assert len(stats) == 1 + runner.stats.handovers
        assert [(st.gaps, st.resyncs, st.malformed) for st in stats] == [(0, 0, 0)] * len(stats)


def test_a_replacement_that_does_not_sync_in_time_keeps_the_old_connection() -> None:
    """The first replacement connects but never gets a book (its frames are lost): after
    ``replace_sync_s`` it is closed, the old connection serves until the emulator cuts it,
    and the runner reconnects as before (the legs see that close)."""
    first: list[Connection] = []
    counts: list[int] = []

    async def connect(url: str, max_frame_bytes: int) -> Connection:
        conn: Connection = await websocket_connect(url, max_frame_bytes)
        if len(first) == 1:  # the first replacement: it never delivers a frame
            conn = Deaf(conn)
        first.append(conn)
        return conn

    async def only_binance() -> tuple[list[Event], list[str]]:
        market = MarketConfig(
            venues=("binance",),
            symbols=(SYMBOL,),
            seed=7,
            vol_bps=0.0,
            redraw_prob=0.0,
            dislocations_per_min=0.0,
        )
        config = EmulatorConfig(market=market, connection_lifetime_s=3.0, shutdown_notice_s=2.5)
        events: list[Event] = []
        usable: list[str] = []
        engine = Engine(ScannerConfig(), ("binance",), (SYMBOL,), FEE_BPS, events.append)
        async with asyncio.timeout(20), Emulator(config) as emu, httpx.AsyncClient() as http:
            runner = Runner(
                codec_class("binance"),
                (SYMBOL,),
                lambda s: Watched(engine, "binance", s, usable),
                lambda state, reason, ts: events.append(venue_event("binance", state, reason, ts)),
                ws_url=emu.ws_url("binance"),
                rest_url=emu.rest_url("binance"),
                http=http,
                connect=connect,
                backoff=Backoff(base_s=0.01, cap_s=0.05),
                tick_interval_s=0.02,
                replace_sync_s=1.0,
            )
            task = asyncio.create_task(runner.run())
            await until(lambda: runner.stats.replace_failures >= 1)
            assert usable == ["binance True None"]  # the old connection still serves
            st = runner.stats
            counts.extend((st.replacements, st.replace_failures, st.handovers, st.connects))
            await until(lambda: len(usable) >= 3)
            counts.append(runner.stats.connects)  # the reconnect after the cut
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return events, usable

    events, usable = asyncio.run(only_binance())
    # the old connection is cut: the legs see it, and the runner reconnects as usual
    assert usable[:3] == ["binance True None", "binance False disconnected", "binance True None"]
    assert states(events, "binance")[:7] == [
        *("connecting", "syncing", "live", "down"),
        *("connecting", "syncing", "live"),
    ]
    assert next(e["reason"] for e in events if e.get("state") == "down") == (
        "closed 1001 connection lifetime reached"
    )
    # at the failure: one replacement tried, failed, none handed over, the first connection
    # only (a replacement is not a connect); then one reconnect after the cut
    assert counts == [1, 1, 0, 1, 2]


class Deaf:
    """A connection whose frames are all lost (its sends, pings and close still work)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def send(self, frame: str) -> None:
        await self.conn.send(frame)

    async def recv(self) -> Frame:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def ping(self) -> None:
        await self.conn.ping()

    @property
    def control_frames(self) -> int:
        return 0

    async def close(self) -> None:
        await self.conn.close()
