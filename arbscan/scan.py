"""The scan: feeds -> engine -> sinks, live or against the embedded emulator, with the
per-venue health the console shows and the stats events (counters since start)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import httpx

from arbscan.options import Plan, listen_error, starting
from feeds.actions import BookListener, StateCallback
from feeds.budget import RequestBudget
from feeds.capture import CaptureWriter
from feeds.protocol import Codec
from feeds.runner import Runner, SessionOptions
from feeds.session import FeedSession
from feeds.venues import codec_class
from scanner.console import LiveConsole, Status, VenueHealth
from scanner.engine import Engine
from scanner.events import Event, stats_event, venue_event
from scanner.eventserver import WsEventServer
from scanner.metrics import Readings
from scanner.routes import WebFiles
from scanner.sinks import CallbackSink, NdjsonSink, Sinks

Drained = NdjsonSink | CallbackSink | WsEventServer


DISLOCATIONS_PER_MIN = 20.0
"""Per symbol, in the embedded simulated market: often enough to watch opportunities live."""


def chunk_symbols(
    codec: type[Codec], symbols: list[str], size: int | None = None
) -> list[list[str]]:
    """``symbols`` over connections of at most ``size`` venue products each (default: the
    venue's limit); symbols served by one product (Coinbase BTC/USD, BTC/USDC) stay together."""
    n = max(1, size or codec.max_symbols_per_connection)
    probe = codec(symbols)
    products: dict[str, list[str]] = {}
    for symbol in symbols:
        products.setdefault(probe.venue_symbol(symbol), []).append(symbol)
    groups = list(products.values())
    return [[s for group in groups[i : i + n] for s in group] for i in range(0, len(groups), n)]


async def scan(plan: Plan) -> int:
    """Run feeds -> engine -> sinks until the duration ends, Ctrl-C or SIGTERM."""
    sinks = Sinks()
    drained: list[Drained] = []
    names: list[str] = []
    console: LiveConsole | None = None
    server: WsEventServer | None = None
    if plan.serve:  # listening can fail (a port in use): before any file is truncated
        web = WebFiles() if plan.web else None
        server = WsEventServer(
            *plan.serve, venues=plan.venues, symbols=plan.symbols, web=web, access=plan.access
        )
        await listen(server)
    if plan.json:
        drained.append(NdjsonSink.open("-"))
        names.append("stdout")
    if plan.out:
        with starting("--out"):
            drained.append(NdjsonSink.open(plan.out))
        names.append(f"file:{plan.out}")
    if server is not None:
        drained.append(server)
        names.append(f"serve:{server.address}")
    engine = Engine(
        plan.config.scanner,
        plan.venues,
        plan.symbols,
        {v: plan.config.fee_bps(v) for v in plan.venues},
        sinks.emit,
        warmup_ms=plan.config.feeds.warmup_ms,
        book_levels=plan.books,
        quotes=plan.config.quotes,
        identity=plan.identity.asset if plan.identity is not None else None,
    )
    runners: list[Runner] = []
    started = time.monotonic()
    health = _Health(runners, plan.venues, drained)
    if not plan.json:
        console = LiveConsole(health, lambda: _status(engine, sinks, started))
        drained.append(CallbackSink(console.on_event))
        names.append("console")
    for sink, name in zip(drained, names, strict=True):
        sinks.add(sink, name)
    stats = functools.partial(current_stats, sinks, health, server, started)
    if server is not None:
        server.readings = lambda: Readings(health.venue_readings(), sinks.counts(), engine.stats)

    with starting("CAPTURE"):
        recorder = CaptureWriter(plan.record) if plan.record else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options = SessionOptions(
        top_n=plan.config.scanner.depth_levels,
        stale_after_s=plan.config.feeds.stale_after_s,
        max_book_age_s=plan.config.feeds.max_book_age_s,
    )
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
        if plan.emulated:
            await _start_emulator(stack, plan)
        conn = 0
        for venue in plan.venues:
            cls = codec_class(venue)
            # one REST budget per venue (its limits count per IP), shared by its connections
            budget = RequestBudget.of(cls.rest_limits) if cls.rest_limits else None
            listed = plan.symbols_of(venue)
            for symbols in chunk_symbols(cls, listed, plan.per_connection.get(venue)):
                runners.append(
                    Runner(
                        cls,
                        symbols,
                        functools.partial(engine.leg, venue),
                        _state_reporter(venue, sinks.emit),
                        ws_url=plan.ws_urls.get(venue, ""),
                        rest_url=plan.rest_urls.get(venue, ""),
                        http=http,
                        recorder=recorder,
                        conn=conn,
                        options=health.session_options(venue, options),
                        budget=budget,
                    )
                )
                conn += 1
        async with asyncio.TaskGroup() as tg:
            sink_tasks = [tg.create_task(s.run()) for s in drained]
            feed_tasks = [tg.create_task(r.run()) for r in runners]
            ui = tg.create_task(console.run()) if console else None
            interval = plan.config.feeds.stats_interval_s
            ticker = tg.create_task(_every(interval, stats, sinks.emit)) if interval else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), plan.duration)
            engine.shutdown(time.time_ns())  # before the feeds go: their closes find nothing
            for task in [*feed_tasks, *([ticker] if ticker else [])]:
                task.cancel()
            await asyncio.gather(*feed_tasks, return_exceptions=True)
            final = stats()
            sinks.emit(final)
            if ui is not None:
                await asyncio.sleep(0)  # let the console sink take the shutdown events
                ui.cancel()
            for sink in drained:
                sink.close()
            await asyncio.gather(*sink_tasks)
    if recorder is not None:
        recorder.close()
    print(summary_lines(final, plan.prog), file=sys.stderr)
    return 0


async def listen(server: WsEventServer, announce: str = "") -> None:
    """Start ``server`` (a UsageError naming the option if it cannot listen); print
    ``announce`` followed by the server's ws:// URL and, if it serves the dashboard, the
    dashboard's URL on stderr."""
    option = "--web" if server.web else "--serve"
    try:
        await server.start()
    except OSError as exc:
        raise listen_error(option, (server.host, server.requested_port), exc) from None
    if announce:
        print(f"{announce} {server.url()}", file=sys.stderr)
    if server.web:
        print(f"dashboard: {server.url('http')}/", file=sys.stderr, flush=True)


def current_stats(
    sinks: Sinks, health: _Health, server: WsEventServer | None, started: float
) -> Event:
    """A stats event: every counter since ``started`` (monotonic)."""
    return stats_event(
        time.time_ns(),
        round(time.monotonic() - started, 3),
        sinks.counts(),
        health.venue_counts(),
        len(server.clients) if server is not None else 0,
        server.lagged if server is not None else 0,
        health.latency_ms(),
    )


async def _every(
    interval_s: float, make: Callable[[], Event], emit: Callable[[Event], None]
) -> None:
    """Emit ``make()`` every ``interval_s`` until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        emit(make())


def summary_lines(stats: Event, prog: str = "run.py") -> str:
    """The stderr lines at exit: what each sink dropped, what each venue's feed went through
    (the same counts as the final stats event)."""
    lines = [
        f"{prog}: sink {name}: {c['events']} events, {c['dropped']} dropped"
        for name, c in stats["sinks"].items()
    ]
    if any(name.startswith("serve:") for name in stats["sinks"]):
        lines.append(
            f"{prog}: event clients: {stats['clients']} connected at exit, "
            f"{stats['clients_dropped']} disconnected for lagging"
        )
    lines += [
        f"{prog}: venue {venue}: {c['frames']} frames, {c['malformed']} malformed, "
        f"{c['resyncs']} resyncs, {c['reconnects']} reconnects"
        for venue, c in stats["venues"].items()
    ]
    return "\n".join(lines)


async def _start_emulator(stack: contextlib.AsyncExitStack, plan: Plan) -> None:
    from arbscan.quotes import EMULATED_DEPEGS, EMULATED_PREMIUM_BPS
    from emulator.market import MarketConfig
    from emulator.server import Emulator, EmulatorConfig

    market = MarketConfig(
        venues=tuple(plan.venues),
        symbols=tuple(plan.symbols),
        seed=plan.seed,
        dislocations_per_min=DISLOCATIONS_PER_MIN,
        listings={v: tuple(s) for v, s in plan.listings.items()},
        depegs=EMULATED_DEPEGS if plan.listings else (),
        local_premium_bps=EMULATED_PREMIUM_BPS if plan.listings else {},
    )
    config = EmulatorConfig(market=market, faults=tuple(plan.faults))
    emu = await stack.enter_async_context(Emulator(config))
    for venue in plan.venues:  # the simulated scan never reaches a configured real endpoint
        plan.ws_urls[venue] = emu.ws_url(venue)
        plan.rest_urls[venue] = emu.rest_url(venue)


def _state_reporter(
    venue: str, emit: Callable[[Event], None]
) -> Callable[[str, str | None, int], None]:
    def report(state: str, reason: str | None, ts: int) -> None:
        emit(venue_event(venue, state, reason, ts))

    return report


@dataclass(slots=True)
class _Tally:
    """The feed counters of one runner since start: its finished sessions' plus the open
    ones' (at most two: a replacement syncing beside the connection it replaces, so when a
    third starts the oldest has ended)."""

    done: dict[str, int] = field(default_factory=dict)
    sessions: list[FeedSession] = field(default_factory=list)

    COUNTERS = ("frames", "resyncs", "malformed", "book_msgs")

    def start(self, session: FeedSession) -> None:
        if len(self.sessions) == 2:
            ended = self.sessions.pop(0)
            for key in self.COUNTERS:
                self.done[key] = self.done.get(key, 0) + getattr(ended.stats, key)
        self.sessions.append(session)

    def counts(self) -> dict[str, int]:
        return {
            k: self.done.get(k, 0) + sum(getattr(s.stats, k) for s in self.sessions)
            for k in self.COUNTERS
        }

    def last_frame_ns(self) -> int:
        """Wall clock ns of the last frame of its open sessions (0: none yet)."""
        return max((s.stats.last_frame_ns for s in self.sessions), default=0)


@dataclass(frozen=True, slots=True)
class _TalliedOptions(SessionOptions):
    """Session options that count every session they create into ``tally``."""

    tally: _Tally = field(default_factory=_Tally)

    def new_session(
        self,
        codec: Codec,
        listener_for: Callable[[str], BookListener],
        on_state: StateCallback,
        rest_base: str,
    ) -> FeedSession:
        session = SessionOptions.new_session(self, codec, listener_for, on_state, rest_base)
        self.tally.start(session)
        return session


class _Health:
    """Per-venue health: rows for the console, from the runners' sessions (rates are taken
    between two calls: the console refreshes a few times a second), and the counters since
    start of the stats events."""

    def __init__(self, runners: list[Runner], venues: list[str], sinks: Sequence[Drained]) -> None:
        self.runners = runners
        self.venues = venues
        self.sinks = sinks
        self._last: dict[str, tuple[float, int]] = {}
        self._tallies: dict[str, list[_Tally]] = {v: [] for v in venues}

    def session_options(self, venue: str, base: SessionOptions) -> SessionOptions:
        """``base`` for one runner of ``venue``, counting its sessions into the totals."""
        tally = _Tally()
        self._tallies[venue].append(tally)
        return _TalliedOptions(**{f.name: getattr(base, f.name) for f in fields(base)}, tally=tally)

    def venue_counts(self) -> dict[str, dict[str, int]]:
        """Per venue, since start: frames, resyncs, malformed frames, reconnects."""
        out = {}
        for venue in self.venues:
            counts = [t.counts() for t in self._tallies[venue]]
            totals = {k: sum(c[k] for c in counts) for k in _Tally.COUNTERS}
            mine = [r for r in self.runners if r.venue == venue]
            totals["reconnects"] = sum(max(0, r.stats.connects - 1) for r in mine)
            out[venue] = totals
        return out

    def latency_ms(self) -> dict[str, float | None]:
        """Per venue, the worst latest feed latency of its open sessions (None: no venue
        time seen yet, or the venue sends none)."""
        out: dict[str, float | None] = {}
        for venue in self.venues:
            latencies = [
                s.stats.latency_ns
                for t in self._tallies[venue]
                for s in t.sessions
                if s.stats.latency_ns is not None
            ]
            out[venue] = max(latencies) / 1e6 if latencies else None
        return out

    def venue_readings(self) -> dict[str, dict[str, int]]:
        """Per venue, what /health and /metrics report (:class:`scanner.metrics.Readings`)."""
        out = {}
        for venue, counts in self.venue_counts().items():
            last = max((t.last_frame_ns() for t in self._tallies[venue]), default=0)
            book_updates = counts.pop("book_msgs")
            out[venue] = {**counts, "book_updates": book_updates, "last_frame_ns": last}
        return out

    def __call__(self) -> list[VenueHealth]:
        now_ns, now = time.time_ns(), time.monotonic()
        rows = []
        sink_drops = sum(s.dropped for s in self.sinks)
        since_start, latency = self.venue_counts(), self.latency_ms()
        for venue in self.venues:
            mine = [r for r in self.runners if r.venue == venue]
            stats = [r.session.stats for r in mine if r.session is not None]
            frames = sum(st.frames for st in stats)
            t0, f0 = self._last.get(venue, (now, frames))
            f0 = min(f0, frames)  # a reconnect starts a new session and its counters
            self._last[venue] = (now, frames)
            updated = [t for st in stats for t in st.book_updated_ns.values()]
            rows.append(
                VenueHealth(
                    venue,
                    msgs_per_s=(frames - f0) / (now - t0) if now > t0 else 0.0,
                    latency_ms=latency[venue],
                    book_age_ms=(now_ns - min(updated)) / 1e6 if updated else None,
                    resyncs=since_start[venue]["resyncs"],
                    reconnects=since_start[venue]["reconnects"],
                    drops=since_start[venue]["malformed"] + sink_drops,
                )
            )
        return rows


def _status(engine: Engine, sinks: Sinks, started: float) -> Status:
    up = time.monotonic() - started
    return Status(
        uptime_s=up,
        events_per_s=sinks.events / up if up > 0 else 0.0,
        engine_us_per_update=engine.stats.us_per_update(),
        updates=engine.stats.updates,
    )
