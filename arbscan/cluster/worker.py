"""``run.py worker --nats URL``: the scan's pipeline (feeds -> engine) for the symbols this
worker holds a lease on, its events published to the cluster's stream.

The lease rules and their timing are :mod:`arbscan.cluster.shards`'; this is the shell that
runs them: every ``tick`` (``lease_ttl_s / 12``) it writes its heartbeat key
(``worker.<name>``, every ``lease_ttl_s / 3``), lists the live workers (the heartbeat keys
present), and executes what :meth:`~arbscan.cluster.shards.Leases.plan` asks, each round of
bucket requests bounded by one tick, so the local deadline is checked at least every two
ticks, well inside the margin (``lease_ttl_s / 4``).

A shard is one symbol: one connection per venue for it (or, with ``--replay CAPTURE``, that
symbol's records of a capture, replayed once when the lease is taken: the deterministic way
to compare a cluster with one process). Stopping a shard closes its open opportunities with
reason ``shutdown`` (:meth:`~scanner.engine.Engine.stop_symbol`) and then cancels its feeds.

A conversion book (USDT/USD, USDT/KRW...) is published by its owner for the other workers,
which read it as a remote leg with their own staleness gate (:mod:`arbscan.cluster.fx`); the
symbols are assigned by family (:func:`~arbscan.cluster.shards.family`).

Event ids are ``<name>-<incarnation>-<n>``: the incarnation is the bucket revision of the
worker's first heartbeat, which no other worker, and no restart of this one, ever gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields

import httpx
import nats.js.errors
from nats.js.kv import KeyValue

from arbscan.cluster.bus import NatsError, NatsSink, connect, ensure_stream, lease_bucket
from arbscan.cluster.fx import FxPublisher, FxReader, PublishingLeg, fx_bucket
from arbscan.cluster.shards import Leases, Op, family, is_conversion, lease_key
from arbscan.options import Plan, UsageError
from arbscan.replay import replay_symbols
from arbscan.scan import _every, _TalliedOptions, _Tally
from feeds.actions import BookListener
from feeds.budget import RequestBudget
from feeds.runner import Runner, SessionOptions
from feeds.venues import codec_class
from scanner.engine import Engine
from scanner.events import Event, stats_event, venue_event
from scanner.premium import FIAT

HEARTBEAT = "worker."


@dataclass(slots=True)
class WorkerOptions:
    nats: str
    name: str
    min_workers: int = 1
    """Take no lease until this many workers are live (a cluster starting together then
    splits the symbols once, without hand-overs)."""
    replay: str | None = None


class ShardFeeds:
    """The feeds of each symbol held: started and stopped one symbol at a time."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine,
        emit: Callable[[Event], None],
        http: httpx.AsyncClient,
        tg: asyncio.TaskGroup,
        replay: str | None,
        publisher: FxPublisher | None = None,
        shared: frozenset[str] = frozenset(),
    ) -> None:
        """``publisher`` writes the books of the ``shared`` symbols for the other workers."""
        self.plan, self.engine, self.emit, self.http, self.tg = plan, engine, emit, http, tg
        self.replay = replay
        self.publisher, self.shared = publisher, shared
        self.tasks: dict[str, list[asyncio.Task[None]]] = {}
        self.options = SessionOptions(
            top_n=plan.config.scanner.depth_levels,
            stale_after_s=plan.config.feeds.stale_after_s,
            max_book_age_s=plan.config.feeds.max_book_age_s,
        )
        self.tallies: dict[str, list[_Tally]] = {venue: [] for venue in plan.venues}
        """Per venue, the frame counters of every runner started (a stats event's counts)."""
        self.budgets: dict[str, RequestBudget | None] = {}
        for venue in plan.venues:  # one REST budget per venue (its limits count per IP)
            limits = codec_class(venue).rest_limits
            self.budgets[venue] = RequestBudget.of(limits) if limits else None

    def listener(self, venue: str, symbol: str) -> BookListener:
        """The engine's leg; for a shared symbol, the leg and then the publisher."""
        leg = self.engine.leg(venue, symbol)
        if self.publisher is not None and symbol in self.shared:
            return PublishingLeg(leg, self.publisher)
        return leg

    def report(self, venue: str, state: str, reason: str | None, ts: int) -> None:
        self.emit(venue_event(venue, state, reason, ts))

    def start(self, symbol: str) -> None:
        if self.replay is not None:
            self.tasks[symbol] = [self.tg.create_task(self._replay(self.replay, symbol))]
            return
        runners = [
            Runner(
                codec_class(venue),
                [symbol],
                functools.partial(self.listener, venue),
                functools.partial(self.report, venue),
                ws_url=self.plan.ws_urls.get(venue, ""),
                rest_url=self.plan.rest_urls.get(venue, ""),
                http=self.http,
                options=self._tallied(venue),
                budget=self.budgets[venue],
            )
            for venue in self.plan.venues
        ]
        self.tasks[symbol] = [self.tg.create_task(r.run()) for r in runners]

    def _tallied(self, venue: str) -> _TalliedOptions:
        tally = _Tally()
        self.tallies[venue].append(tally)
        base = {f.name: getattr(self.options, f.name) for f in fields(self.options)}
        return _TalliedOptions(**base, tally=tally)

    def venue_counts(self) -> dict[str, dict[str, int]]:
        """Per venue, since start, over every shard held so far: frames, resyncs, malformed
        frames (``reconnects``: not counted here, 0)."""
        out = {}
        for venue, tallies in self.tallies.items():
            counts = [t.counts() for t in tallies]
            out[venue] = {k: sum(c[k] for c in counts) for k in _Tally.COUNTERS}
            out[venue]["reconnects"] = 0
        return out

    async def _replay(self, capture: str, symbol: str) -> None:
        """The symbol's records, yielding to the lease loop every 256 records."""
        end, steps = replay_symbols(
            capture, [symbol], self.engine, self.report, self.options, self.listener
        )
        for i, _ in enumerate(steps):
            if i % 256 == 0:
                await asyncio.sleep(0)
        self.engine.stop_symbol(symbol, end)  # as a replay ends: open ones close at its end
        if self.publisher is not None:
            self.publisher.retract(symbol, end)

    def stop(self, symbol: str) -> None:
        """Close the symbol's opportunities (``shutdown``), then cancel its feeds: no frame
        is handled in between (cancelling a task stops it at its next await)."""
        now = time.time_ns()
        self.engine.stop_symbol(symbol, now)
        if self.publisher is not None:
            self.publisher.retract(symbol, now)
        for task in self.tasks.pop(symbol, []):
            task.cancel()

    async def settle(self, timeout: float) -> None:
        """Write the shared books given up (unusable) before their leases are released."""
        if self.publisher is not None:
            await _bounded(self.publisher.flush(), timeout)


async def _bounded(aw: Awaitable[object], timeout: float) -> object:
    """``aw``'s result, or the exception it raised (a timeout included), never raised."""
    try:
        async with asyncio.timeout(timeout):
            return await aw
    except (*NatsError, nats.js.errors.KeyWrongLastSequenceError) as exc:
        return exc


class LeaseLoop:
    """Runs the lease rules against the bucket (see the module docstring)."""

    def __init__(
        self, kv: KeyValue, leases: Leases, feeds: ShardFeeds, opts: WorkerOptions
    ) -> None:
        self.kv, self.leases, self.feeds, self.opts = kv, leases, feeds, opts
        self.tick_s = leases.ttl_ns / 12e9
        self.quorum = False
        self.live: set[str] = {opts.name}
        self._heartbeat_ns = time.monotonic_ns()  # the first one was written at start

    def log(self, what: str, symbol: str) -> None:
        print(f"worker {self.opts.name}: {what} {symbol}", file=sys.stderr, flush=True)

    def apply(self, ops: list[Op]) -> list[Op]:
        """Run the start/stop operations now, in order; return the bucket operations."""
        rest = []
        for op in ops:
            if op.kind == "start":
                self.log("scans", op.symbol)
                self.feeds.start(op.symbol)
            elif op.kind == "stop":
                self.log("stops", op.symbol)
                self.feeds.stop(op.symbol)
            else:
                rest.append(op)
        return rest

    async def round(self) -> None:
        """One tick: heartbeat, live workers, then the plan's bucket operations."""
        now = time.monotonic_ns()
        name = self.opts.name.encode()
        beat = now - self._heartbeat_ns >= self.leases.ttl_ns // 3
        calls: list[Awaitable[object]] = [self._live()]
        if beat:
            calls.append(self.kv.put(HEARTBEAT + self.opts.name, name))
        results = await asyncio.gather(*(_bounded(c, self.tick_s) for c in calls))
        if beat and isinstance(results[-1], int):
            self._heartbeat_ns = now
        if isinstance(results[0], set):
            self.live = results[0]
        self.quorum = self.quorum or len(self.live | {self.opts.name}) >= self.opts.min_workers
        live = self.live if self.quorum else set()
        now = time.monotonic_ns()
        ops = self.apply(self.leases.plan(now, live) if self.quorum else self.leases.expire(now))
        if any(op.kind == "release" for op in ops):
            await self.feeds.settle(self.tick_s)
        sent = time.monotonic_ns()
        answers = await asyncio.gather(*(_bounded(self._request(op), self.tick_s) for op in ops))
        later: list[Op] = []
        for op, answer in zip(ops, answers, strict=True):
            revision = answer if isinstance(answer, int) and not isinstance(answer, bool) else None
            if op.kind == "acquire":
                later += self.leases.acquired(op.symbol, revision, sent)
            elif op.kind == "renew":
                if isinstance(answer, nats.js.errors.KeyWrongLastSequenceError):
                    later += self.leases.renewed(op.symbol, None, sent)
                elif revision is None:
                    self.leases.renew_unanswered(op.symbol)
                else:
                    later += self.leases.renewed(op.symbol, revision, sent)
        later += self.leases.expire(time.monotonic_ns())
        self.apply(later)

    def _request(self, op: Op) -> Awaitable[object]:
        key, name = lease_key(op.symbol), self.opts.name.encode()
        if op.kind == "acquire":
            return self.kv.create(key, name)
        if op.kind == "renew":
            return self.kv.update(key, name, last=op.revision)
        return self.kv.delete(key, last=op.revision)

    async def _live(self) -> set[str]:
        """The workers whose heartbeat is in the bucket: each known one read directly (a key
        listing can miss a key being rewritten), new ones found by the listing."""
        try:
            keys = await self.kv.keys()
        except nats.js.errors.NoKeysError:
            keys = []
        known = sorted(self.live | {k[len(HEARTBEAT) :] for k in keys if k.startswith(HEARTBEAT)})
        beats = await asyncio.gather(
            *(self.kv.get(HEARTBEAT + n) for n in known), return_exceptions=True
        )
        return {n for n, b in zip(known, beats, strict=True) if not isinstance(b, BaseException)}

    async def release_all(self) -> None:
        ops = self.apply(self.leases.stop_all())
        await self.feeds.settle(2.0)
        calls = [self._request(op) for op in ops]
        calls.append(self.kv.delete(HEARTBEAT + self.opts.name))
        await asyncio.gather(*(_bounded(c, 2.0) for c in calls))


async def run_worker(plan: Plan, opts: WorkerOptions) -> int:
    """Hold leases and scan their symbols until the duration ends, Ctrl-C or SIGTERM."""
    nc = await connect(opts.nats, f"arbscan-worker-{opts.name}")
    try:
        js = nc.jetstream()
        cluster = plan.config.cluster
        try:
            await ensure_stream(js, cluster, update=False)
            kv = await lease_bucket(js, cluster)
            fx_kv = await fx_bucket(js, cluster)
            incarnation = await kv.put(HEARTBEAT + opts.name, opts.name.encode())
        except NatsError as exc:
            raise UsageError(f"--nats: {opts.nats}: JetStream unavailable: {exc!r}") from None
        sink = NatsSink(nc, opts.name)
        prefix = f"{opts.name}-{incarnation}-"

        def emit(event: Event) -> None:
            if "id" in event:
                event["id"] = prefix + event["id"]
            sink.emit(event)

        engine = Engine(
            plan.config.scanner,
            plan.venues,
            plan.symbols,
            {v: plan.config.fee_bps(v) for v in plan.venues},
            emit,
            warmup_ms=plan.config.feeds.warmup_ms,
            quotes=plan.config.quotes,
            identity=plan.identity.asset if plan.identity is not None else None,
        )
        quotes = plan.config.quotes
        currencies = {q for g in quotes.groups for q in g} | FIAT | set(quotes.fx)
        shared = frozenset(s for s in plan.symbols if is_conversion(s, currencies))
        publisher = FxPublisher(
            fx_kv,
            opts.name,
            rate_hz=cluster.fx_rate_hz,
            keepalive_s=cluster.fx_stale_ms / 1e3,
            depth=plan.config.scanner.depth_levels,
        )
        ttl_ns = int(cluster.lease_ttl_s * 1e9)
        leases = Leases(
            opts.name, plan.symbols, ttl_ns, ttl_ns // 4, lambda s: family(s, currencies)
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        end = None if plan.duration is None else time.monotonic() + plan.duration
        async with httpx.AsyncClient(timeout=10.0) as http, asyncio.TaskGroup() as tg:
            sink_task = tg.create_task(sink.run())
            feeds = ShardFeeds(plan, engine, emit, http, tg, opts.replay, publisher, shared)
            reader = FxReader(
                engine,
                opts.name,
                feeds.tasks.__contains__,
                stale_ms=cluster.fx_stale_ms,
                warmup_ms=plan.config.feeds.warmup_ms,
            )
            fx_stop = asyncio.Event()
            fx_tasks = [tg.create_task(publisher.run())]
            if shared:
                fx_tasks.append(tg.create_task(reader.run(fx_kv, fx_stop)))
            lease_loop = LeaseLoop(kv, leases, feeds, opts)
            started = time.monotonic()

            def stats() -> Event:
                sinks = {"nats": {"events": sink.events, "dropped": sink.dropped}}
                uptime = round(time.monotonic() - started, 3)
                return stats_event(time.time_ns(), uptime, sinks, feeds.venue_counts(), 0, 0)

            interval = plan.config.feeds.stats_interval_s
            ticker = tg.create_task(_every(interval, stats, sink.emit)) if interval else None
            while not stop.is_set() and (end is None or time.monotonic() < end):
                await lease_loop.round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), lease_loop.tick_s)
            if ticker is not None:
                ticker.cancel()
            sink.emit(stats())  # the last counts, before the shards' closing events
            await lease_loop.release_all()
            for tasks in feeds.tasks.values():
                for task in tasks:
                    task.cancel()
            publisher.close()
            fx_stop.set()
            await asyncio.gather(*fx_tasks)
            sink.close()
            await sink_task
        print(
            f"{plan.prog}: worker {opts.name}: {sink.published} events published, "
            f"{sink.dropped} dropped",
            file=sys.stderr,
        )
        return 0
    finally:
        with contextlib.suppress(*NatsError):
            await nc.close()
