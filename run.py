"""arbscan — the composition root: wires feeds, the scanner engine and the sinks.

    python run.py                        scan the simulated market (local emulator), console
    python run.py live   --venues ... --symbols ...     scan the real venues
    python run.py record OUT.ndjson.gz [--live] ...     scan and write a capture (v1)
    python run.py replay CAPTURE [--serve H:P] ...      replay a capture, print the events
    python run.py emulate ...                           run the venue emulator alone

Installed (``pip install .``), the same commands are ``arbscan``, ``arbscan live ...`` etc.

``feeds`` and ``scanner`` never import each other; this file is where they meet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields

import httpx
import orjson

from feeds.budget import RequestBudget
from feeds.capture import CaptureCutShort, CaptureError, CaptureReader, CaptureWriter, Record
from feeds.protocol import Codec
from feeds.replay import CaptureIndex, Replayer
from feeds.runner import Runner, SessionOptions
from feeds.session import BookListener, FeedSession, StateCallback
from feeds.venues import VENUES, UnknownVenue, canonical_venue, codec_class
from scanner.config import Config, ConfigError, load_config
from scanner.console import LiveConsole, Status, VenueHealth
from scanner.engine import Engine, Leg
from scanner.events import Event, stats_event, venue_event
from scanner.eventserver import WsEventServer
from scanner.sinks import CallbackSink, NdjsonSink, Sinks

DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
"""The embedded default market: every venue quotes these in the emulator."""


Drained = NdjsonSink | CallbackSink | WsEventServer


DISLOCATIONS_PER_MIN = 20.0
"""Per symbol, in the embedded simulated market: often enough to watch opportunities live."""


class UsageError(ValueError):
    """A bad command line (named option)."""


@dataclass(slots=True)
class Plan:
    """What to scan and where the events go, resolved from the command line and config."""

    config: Config
    venues: list[str]
    symbols: list[str]
    json: bool = False
    out: str | None = None
    serve: tuple[str, int] | None = None
    duration: float | None = None
    books: int = 0
    record: str | None = None
    emulated: bool = True
    seed: int = 1
    ws_urls: dict[str, str] = field(default_factory=dict)
    rest_urls: dict[str, str] = field(default_factory=dict)
    per_connection: dict[str, int] = field(default_factory=dict)
    """Venue products per connection, from the config's [connections] (canonical ids)."""


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _symbols(text: str | None, default: Sequence[str]) -> list[str]:
    symbols = _csv(text) or list(default)
    for symbol in symbols:
        base, sep, quote = symbol.partition("/")
        if not (sep and base and quote and symbol == symbol.upper() and " " not in symbol):
            raise UsageError(f"--symbols: {symbol!r} is not a canonical BASE/QUOTE symbol")
    if len(set(symbols)) != len(symbols):
        raise UsageError(f"--symbols: duplicate symbol in {symbols}")
    return symbols


def _venues(text: str | None) -> list[str]:
    names = _csv(text) or list(VENUES)
    try:
        venues = [canonical_venue(name) for name in names]
    except UnknownVenue as exc:
        raise UsageError(f"--venues: {exc}") from None
    if len(set(venues)) != len(venues):
        raise UsageError(f"--venues: duplicate venue in {names}")
    return venues


def _serve(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--serve: expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _add_scan_options(p: argparse.ArgumentParser, *, symbols_help: str) -> None:
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--venues", help=f"comma-separated venue ids (default: {','.join(VENUES)})")
    p.add_argument("--symbols", help=symbols_help)
    p.add_argument("--json", action="store_true", help="NDJSON events on stdout, no console")
    p.add_argument("--out", help="also write NDJSON events to this file")
    p.add_argument("--serve", help="WebSocket event server on HOST:PORT (host default 127.0.0.1)")
    p.add_argument("--books", type=int, default=0, help="add a book event of N levels per update")


def parser(prog: str = "run.py") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description="cross-exchange arbitrage scanner")
    sub = ap.add_subparsers(dest="command")
    default_help = f"comma-separated BASE/QUOTE (default: {','.join(DEFAULT_SYMBOLS)})"
    for name, helptext in (
        ("scan", "scan the simulated market (the default)"),
        ("live", "scan the real venues"),
        ("record", "scan and record a capture"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "record":
            p.add_argument("capture", help="capture file to write (.gz compresses)")
            p.add_argument("--live", action="store_true", help="record the real venues")
        _add_scan_options(p, symbols_help=default_help)
        p.add_argument("--duration", type=float, help="stop after this many seconds")
        p.add_argument("--seed", type=int, default=1, help="seed of the simulated market")
    p = sub.add_parser("replay", help="replay a capture and print the event stream")
    p.add_argument("capture", help="capture v1 file (.ndjson or .ndjson.gz)")
    _add_scan_options(
        p, symbols_help="comma-separated BASE/QUOTE (default: those the capture's connections name)"
    )
    p.add_argument(
        "--strict", action="store_true", help="a malformed or cut-short capture is an error"
    )
    p.add_argument(
        "--speed",
        type=float,
        help="pace at the capture's timing x SPEED (0: at once; default 1 with --serve, else 0)",
    )
    p.add_argument(
        "--wait-clients",
        type=int,
        default=0,
        metavar="N",
        help="with --serve: start once N clients are connected",
    )
    sub.add_parser("emulate", help="run the venue emulator alone", add_help=False)
    # the top level accepts the scan options too: `python run.py --json` scans the emulator
    _add_scan_options(ap, symbols_help=default_help)
    ap.add_argument("--duration", type=float, help="stop after this many seconds")
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulated market")
    return ap


def plan_from(args: argparse.Namespace) -> Plan:
    config = load_config(args.config)
    if args.books < 0:
        raise UsageError("--books: must be >= 0")
    duration = getattr(args, "duration", None)
    if duration is not None and duration <= 0:
        raise UsageError("--duration: must be > 0")
    plan = Plan(
        config=config,
        venues=_venues(args.venues),
        symbols=_symbols(args.symbols, DEFAULT_SYMBOLS),
        json=args.json,
        out=args.out,
        serve=_serve(args.serve),
        duration=duration,
        books=args.books,
        record=getattr(args, "capture", None),
        emulated=args.command in (None, "scan") or (args.command == "record" and not args.live),
        seed=getattr(args, "seed", 1),
    )
    for name, size in config.connections.items():
        try:
            plan.per_connection[canonical_venue(name)] = size
        except UnknownVenue as exc:
            raise ConfigError(f"connections.{name}: {exc}") from None
    for venue in plan.venues:
        config.fee_bps(venue)  # a venue without a fee is a configuration error
        try:  # the venue's codec refuses a symbol it cannot name, or two with one venue id
            codec_class(venue)(plan.symbols)
        except ValueError as exc:
            raise UsageError(f"--symbols: {exc}") from None
        endpoint = config.urls.get(venue)
        if endpoint is not None and endpoint.ws:
            plan.ws_urls[venue] = endpoint.ws
        if endpoint is not None and endpoint.rest:
            plan.rest_urls[venue] = endpoint.rest
    return plan


# --- the live pipeline ------------------------------------------------------------------


def _chunks(codec: type[Codec], symbols: list[str], size: int | None = None) -> list[list[str]]:
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
    if plan.json:
        drained.append(NdjsonSink.open("-"))
        names.append("stdout")
    if plan.out:
        drained.append(NdjsonSink.open(plan.out))
        names.append(f"file:{plan.out}")
    if plan.serve:
        server = WsEventServer(*plan.serve)
        await server.start()
        drained.append(server)
        host = server.host if ":" not in server.host else f"[{server.host}]"
        names.append(f"serve:{host}:{server.port}")
    engine = Engine(
        plan.config.scanner,
        plan.venues,
        plan.symbols,
        {v: plan.config.fee_bps(v) for v in plan.venues},
        sinks.emit,
        warmup_ms=plan.config.feeds.warmup_ms,
        book_levels=plan.books,
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
    stats = functools.partial(_stats, sinks, health, server, started)

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
            for symbols in _chunks(cls, plan.symbols, plan.per_connection.get(venue)):
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
    print(_summary(final), file=sys.stderr)
    return 0


def _stats(sinks: Sinks, health: _Health, server: WsEventServer | None, started: float) -> Event:
    """A stats event: every counter since ``started`` (monotonic)."""
    return stats_event(
        time.time_ns(),
        round(time.monotonic() - started, 3),
        sinks.counts(),
        health.venue_counts(),
        len(server.clients) if server is not None else 0,
        server.lagged if server is not None else 0,
    )


async def _every(
    interval_s: float, make: Callable[[], Event], emit: Callable[[Event], None]
) -> None:
    """Emit ``make()`` every ``interval_s`` until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        emit(make())


def _summary(stats: Event) -> str:
    """The stderr lines at exit: what each sink dropped, what each venue's feed went through
    (the same counts as the final stats event)."""
    lines = [
        f"run.py: sink {name}: {c['events']} events, {c['dropped']} dropped"
        for name, c in stats["sinks"].items()
    ]
    if any(name.startswith("serve:") for name in stats["sinks"]):
        lines.append(
            f"run.py: event clients: {stats['clients']} connected at exit, "
            f"{stats['clients_dropped']} disconnected for lagging"
        )
    lines += [
        f"run.py: venue {venue}: {c['frames']} frames, {c['malformed']} malformed, "
        f"{c['resyncs']} resyncs, {c['reconnects']} reconnects"
        for venue, c in stats["venues"].items()
    ]
    return "\n".join(lines)


async def _start_emulator(stack: contextlib.AsyncExitStack, plan: Plan) -> None:
    from emulator.market import MarketConfig
    from emulator.server import Emulator, EmulatorConfig

    market = MarketConfig(
        venues=tuple(plan.venues),
        symbols=tuple(plan.symbols),
        seed=plan.seed,
        dislocations_per_min=DISLOCATIONS_PER_MIN,
    )
    emu = await stack.enter_async_context(Emulator(EmulatorConfig(market=market)))
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

    COUNTERS = ("frames", "resyncs", "malformed")

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

    def __call__(self) -> list[VenueHealth]:
        now_ns, now = time.time_ns(), time.monotonic()
        rows = []
        sink_drops = sum(s.dropped for s in self.sinks)
        since_start = self.venue_counts()
        for venue in self.venues:
            mine = [r for r in self.runners if r.venue == venue]
            stats = [r.session.stats for r in mine if r.session is not None]
            frames = sum(st.frames for st in stats)
            t0, f0 = self._last.get(venue, (now, frames))
            f0 = min(f0, frames)  # a reconnect starts a new session and its counters
            self._last[venue] = (now, frames)
            updated = [t for st in stats for t in st.book_updated_ns.values()]
            latencies = [st.latency_ns for st in stats if st.latency_ns is not None]
            rows.append(
                VenueHealth(
                    venue,
                    msgs_per_s=(frames - f0) / (now - t0) if now > t0 else 0.0,
                    latency_ms=max(latencies) / 1e6 if latencies else None,
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


# --- replay -----------------------------------------------------------------------------

MAX_LINE_WARNINGS = 10
"""Malformed capture lines named on stderr; the others are only counted."""


def _replay_codec(venue: str, conn_text: str, symbols: list[str], *, narrow: bool) -> Codec:
    """The codec of one recorded connection: the venue's codec (Kraken WS v1 for v1 URLs),
    serving ``symbols``; with ``narrow``, only those whose venue ids that connection
    subscribed (all when none is named)."""
    cls: type[Codec] = codec_class(venue)
    if venue == "kraken" and "ws.kraken.com/v2" not in conn_text and "/v2" not in conn_text:
        from feeds.venues.kraken_v1 import KrakenV1

        cls = KrakenV1
    if not narrow:
        return cls(symbols)
    probe = cls(symbols)
    named = [
        s
        for s in symbols
        if re.search(
            rf"(?<![a-z0-9]){re.escape(probe.venue_symbol(s).lower())}(?![a-z0-9])", conn_text
        )
    ]
    return cls(named or symbols)


def _canonical(name: str) -> str:
    """A recorded venue's canonical id, or the name as recorded for one not supported."""
    try:
        return canonical_venue(name)
    except UnknownVenue:
        return name


def _replay_plan(
    args: argparse.Namespace, index: CaptureIndex
) -> tuple[list[str], list[str], dict[tuple[str, int], list[str] | None]]:
    """Venues, symbols, and per recorded connection (canonical venue, conn) the symbols its
    codec serves (None: those of the symbols its frames name)."""
    reader = index.reader
    if reader.records == 0:
        damage = _damage(reader) or "empty"
        raise CaptureError(f"{reader.path.name}: no valid capture records ({damage})")
    keys = {key: (_canonical(key[0]), key[1]) for key in index.texts}
    recorded = sorted({venue for venue, _ in keys.values()})
    venues = _venues(args.venues) if args.venues else recorded
    for venue in venues:
        if venue not in recorded:
            raise UsageError(f"--venues: {venue!r} is not in the capture ({', '.join(recorded)})")
    for venue in venues:
        canonical_venue(venue)  # a venue replay has no codec for is an error
    chosen = {raw: key for raw, key in keys.items() if key[0] in venues}
    named = [s for raw in chosen for s in index.symbols.get(raw, ())]
    if args.symbols:
        symbols = _symbols(args.symbols, ())
    elif all(raw in index.symbols for raw in chosen):
        symbols = list(dict.fromkeys(named))
    else:
        raise UsageError(
            "--symbols: replay needs the capture's canonical symbols (its open records do "
            "not name them)"
        )
    served: dict[tuple[str, int], list[str] | None] = {}
    for raw, key in chosen.items():
        mine = index.symbols.get(raw)
        served[key] = None if mine is None else [s for s in mine if s in symbols]
    return venues, symbols, served


def replay_main(args: argparse.Namespace) -> int:
    """Replay a capture through the same codecs, books and engine; print the events."""
    config = load_config(args.config)
    serve = _serve(args.serve)
    speed = (1.0 if serve else 0.0) if args.speed is None else args.speed
    if not speed >= 0:
        raise UsageError(f"--speed: must be >= 0, got {args.speed}")
    if args.wait_clients and not serve:
        raise UsageError("--wait-clients: needs --serve")
    if args.wait_clients < 0:
        raise UsageError("--wait-clients: must be >= 0")
    warnings: list[str] = []

    def damage(error: CaptureError) -> None:
        if args.strict:
            raise error
        if not isinstance(error, CaptureCutShort) and len(warnings) < MAX_LINE_WARNINGS:
            warnings.append(f"run.py: warning: {error}")  # the summary reports a cut short

    index = CaptureIndex.read(args.capture, damage)
    venues, symbols, served = _replay_plan(args, index)
    for warning in warnings:
        print(warning, file=sys.stderr)
    end_t = index.reader.last_t or 0
    out = sys.stdout.buffer
    files = [open(args.out, "wb")] if args.out else []  # noqa: SIM115 - closed below
    server = WsEventServer(*serve) if serve else None

    def emit(event: Event) -> None:
        line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        out.write(line)
        for fh in files:
            fh.write(line)
        if server is not None:
            server.emit(event)

    engine = Engine(
        config.scanner,
        venues,
        symbols,
        {v: config.fee_bps(v) for v in venues},
        emit,
        warmup_ms=config.feeds.warmup_ms,
        book_levels=args.books,
    )

    def on_state(venue: str, state: str, reason: str | None, ts: int) -> None:
        emit(venue_event(canonical_venue(venue), state, reason, ts))

    def listener_for(venue: str, symbol: str) -> Leg:
        return engine.leg(canonical_venue(venue), symbol)

    def codec_for(venue: str, conn: int) -> Codec:
        key = (canonical_venue(venue), conn)
        text = "\n".join(index.texts.get((venue, conn), ())).lower()
        mine = served.get(key)
        return _replay_codec(key[0], text, mine or symbols, narrow=mine is None)

    replayer = Replayer(
        index.rest,
        codec_for,
        listener_for,
        on_state,
        options=SessionOptions(
            top_n=config.scanner.depth_levels,
            stale_after_s=config.feeds.stale_after_s,
            max_book_age_s=config.feeds.max_book_age_s,
        ),
    )
    # damage was reported by the first pass: the second one counts it again, silently
    second = CaptureReader(args.capture, on_error=lambda error: None)
    # only the chosen venues' connections, and of those only the ones serving a symbol
    records = (r for r in second if served.get((_canonical(r.venue), r.conn), []) != [])
    try:
        if server is None and speed == 0:
            replayer.run(records)
            engine.shutdown(end_t)
        else:
            _event_loop_runner()(
                _replay_paced(replayer, records, engine, end_t, speed, server, args)
            )
    finally:
        out.flush()
        for fh in files:
            fh.close()
    print(f"run.py: {_replay_summary(index, replayer.summary.records)}", file=sys.stderr)
    return 0


def _plural(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _damage(reader: CaptureReader) -> str:
    """What the reader found wrong, for one line of text ("" when nothing)."""
    parts = []
    if reader.malformed:
        parts.append(f"{_plural(reader.malformed, 'malformed line')} skipped")
    if reader.cut_short:
        parts.append(f"cut short: {reader.unreadable_bytes} bytes at the end unreadable")
    if reader.out_of_order:
        what = _plural(reader.out_of_order, "record")
        parts.append(f"{what} out of time order (replayed in file order)")
    return "; ".join(parts)


def _replay_summary(index: CaptureIndex, replayed: int) -> str:
    reader = index.reader
    text = f"replayed {replayed} of {reader.records} records of {reader.path.name}"
    return f"{text}; {damage}" if (damage := _damage(reader)) else text


async def _replay_paced(
    replayer: Replayer,
    records: Iterable[Record],
    engine: Engine,
    end_t: int,
    speed: float,
    server: WsEventServer | None,
    args: argparse.Namespace,
) -> None:
    """Replay at the capture's own timing x ``speed`` (0: as fast as the event server takes
    the events), serving the events; Ctrl-C or SIGTERM ends it early."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as tg:
        serving = None
        if server is not None:
            await server.start()
            host = f"[{server.host}]" if ":" in server.host else server.host
            print(f"run.py: serving events on ws://{host}:{server.port}", file=sys.stderr)
            serving = tg.create_task(server.run())
            while len(server.clients) < args.wait_clients and not stop.is_set():
                await asyncio.sleep(0.01)
        start, origin, now_t = loop.time(), None, 0
        for r in records:
            if stop.is_set():
                break
            if origin is None:
                origin = now_t = r.t
            now_t = max(now_t, r.t)  # never back in time: out-of-order records come at once
            delay = start + (now_t - origin) / 1e9 / speed - loop.time() if speed else 0.0
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            else:
                await asyncio.sleep(0)  # let the event server send
            replayer.feed(r)
        replayer.finish()
        engine.shutdown(now_t if stop.is_set() else end_t)
        if serving is not None and server is not None:
            server.close()  # the clients get everything queued, then the server ends


# --- entry point ------------------------------------------------------------------------


def _event_loop_runner() -> Callable[..., object]:
    try:
        import uvloop
    except ImportError:  # uvloop does not exist on Windows; asyncio's loop is the fallback
        return asyncio.run
    return uvloop.run


def main(argv: Sequence[str] | None = None, *, prog: str = "run.py") -> int:
    """Run the command line ``argv``; ``prog`` names the program in usage and error messages."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulate"]:
        from emulator.cli import main as emulate

        return emulate(argv[1:])
    args = parser(prog).parse_args(argv)
    try:
        if args.command == "replay":
            return replay_main(args)
        plan = plan_from(args)
    except (ConfigError, UsageError, UnknownVenue, CaptureError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a replay stopped by Ctrl-C
        return 130
    run = _event_loop_runner()
    try:
        result = run(scan(plan))
    except KeyboardInterrupt:
        return 130
    return int(result) if isinstance(result, int) else 0


def entry() -> None:
    """The installed ``arbscan`` command (``[project.scripts]`` in pyproject.toml)."""
    raise SystemExit(main(prog="arbscan"))


if __name__ == "__main__":
    raise SystemExit(main())
