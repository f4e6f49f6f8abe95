"""End to end over loopback: load generator -> WebSockets -> feeds -> engine -> NDJSON sink.

    python -m benchmarks.bench_e2e            # 8 rates (1k-50k msgs/s) x 2 event loops x 3 runs
    python -m benchmarks.bench_e2e --quick    # 5k, 20k, 30k msgs/s x 2 event loops, once
    python -m benchmarks.bench_e2e --rates 50000 --repeats 10   # one rate, 10 runs per loop
    python -m benchmarks.bench_e2e --client picows,picows-loop --tls --loops uvloop

``--client`` names the WebSocket clients the feeds run with: ``picows`` (the default, the
feeds' own :mod:`feeds.wsconnect`: picows reading the socket through aiofastnet's transport),
``picows-loop`` (the same on the event loop's transport). The RFC 6455 client the feeds used
before picows, compared with it here when picows was chosen, is in the history
(``git show 826c515:benchmarks/own_wsclient.py``). With several, each repeat runs them in turn
(every other repeat in reverse order), so a slow spell of a shared machine falls on all of
them, and each is compared with the first, repeat by repeat. ``--tls``
serves ``wss://`` (and the REST snapshots over https) with ``tests/fixtures/tls``'s
self-signed certificate, which the scanner trusts for the run.

The load generator (:mod:`benchmarks.loadgen`) runs in its own process: it records the
emulator's frames for 6 venues x 20 symbols once, then replays them at each offered rate,
paced per frame. This process is the scanner, wired as ``run.py`` wires it: one
:class:`feeds.runner.Runner` per venue (WebSocket client, FeedSession, codec, sequencing,
checksums, books) -> :class:`scanner.engine.Engine` -> an
:class:`scanner.sinks.NdjsonSink` writing to ``/dev/null``. For each rate, with asyncio's
default loop and with uvloop (the same recorded frames each time):

* ``recv/s``: frames received in the send window / its length;
* ``p50/p99/p99.9 µs``: frame receipt to event: wall clock when the engine has handled a book
  update (board written, symbol evaluated, any opportunity event emitted to the sink) minus the
  frame's receive time, over every update of the run. The sink gets the opportunity events,
  as in a real scan; no per-update ``book`` tape event inflates the cost;
* ``lag``: how far the receiver is behind the send schedule (sampled every 5 ms: the time since
  the first frame not yet received was due), median and max over the send window; ``drain``:
  how long after the last frame was due it was received. A rate is *sustained* when the
  drain is <= 25 ms (the receive lag did not grow); the table's ``sustained`` is True when
  every repeat sustained it, and ``sust runs`` says how many did;
* ``cpu µs/msg``: ``time.process_time`` of this process (all threads, user + system) per frame
  received; ``engine µs``: the engine's own mean wall time per ``on_book`` (its stats);
  ``cpu%`` of this process and of the generator over the run; ``gen held s``: time the
  generator held frames back because a client's send buffer was full. ``saturated`` names the
  side that could not keep up: the scanner (its lag grows while the generator is on time or
  held back) or the generator (it sent late without being held back).

The latency excludes time a frame waits in socket buffers before it is read: that is the lag.
Where the time goes: ``py-spy record --gil -f raw -o e2e.raw -- python -m benchmarks.bench_e2e``.

Then the memory of one (venue, symbol) book (:class:`feeds.book.Book`) at 20 and 1,000 levels
a side, by ``tracemalloc``, and of its row in the scanner's board.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import random
import ssl
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvloop

from feeds.book import Book
from feeds.runner import Runner, SessionOptions
from feeds.transport import Connector
from feeds.venues import codec_class, default_fees
from feeds.wsconnect import websocket_connect
from scanner.board import Board
from scanner.config import load_config
from scanner.engine import Engine, Leg
from scanner.sinks import NdjsonSink

VENUES = ("binance", "binanceus", "okx", "bybit", "coinbase", "kraken")
"""The venues of the whole-path run: those cryptofeed's handlers run on the same frames
(every venue's codec alone, on its recording: ``bench_venues``)."""
_BASES = "BTC ETH SOL BNB XRP DOGE ADA AVAX LINK DOT LTC TRX ATOM NEAR UNI APT FIL ARB OP SUI"
SYMBOLS = tuple(f"{base}/USDT" for base in _BASES.split(" "))
RATES = (1_000, 5_000, 10_000, 20_000, 25_000, 30_000, 40_000, 50_000)
QUICK_RATES = (5_000, 20_000, 30_000)
SUSTAINED_DRAIN_MS = 25.0
LATENCY_SLOTS = 1 << 21
SAMPLE_S = 0.005
Row = dict[str, object]
CLIENTS = ("picows", "picows-loop")
LOOPS = ("asyncio", "uvloop")
TLS_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tls"


def connector(client: str, tls: bool) -> Connector:
    """The feeds' connector for ``client``; with ``tls``, trusting the test certificate."""
    context = ssl.create_default_context(cafile=TLS_DIR / "localhost.pem") if tls else None
    fast = None if client == "picows" else False  # picows-loop: the event loop's transport
    return functools.partial(websocket_connect, ssl_context=context, use_aiofastnet=fast)


class Loadgen:
    """The load generator process and its line protocol (see :mod:`benchmarks.loadgen`)."""

    def __init__(
        self,
        frames: int,
        tls: bool = False,
        max_seconds: float = 200,
        symbols: Sequence[str] = SYMBOLS,
        per_symbol: bool = False,
    ) -> None:
        cmd = [sys.executable, "-m", "benchmarks.loadgen", "--venues", ",".join(VENUES)]
        cmd += ["--symbols", ",".join(symbols), "--frames", str(frames)]
        cmd += ["--max-seconds", str(max_seconds)] + (["--per-symbol"] if per_symbol else [])
        if tls:
            cmd += ["--tls", str(TLS_DIR / "localhost.pem"), str(TLS_DIR / "localhost.key")]
        self.tls = tls
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ws: dict[str, str] = {}
        self.rest: dict[str, str] = {}
        self.frames = 0

    def wait_ready(self) -> None:
        """Read the URLs and wait until the frames are recorded."""
        while not (line := self.readline()).startswith("ready"):
            venue, ws_url, rest_url = line.split()
            self.ws[venue], self.rest[venue] = ws_url, rest_url
        self.frames = int(line.split()[1])

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited ({self.proc.poll()})")
        return line.strip()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    async def areadline(self) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.readline)

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.send("quit")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()


class Probe:
    """Latency of every book update: wraps each engine leg, and after the engine has written
    the board, evaluated the symbol and emitted whatever events that produced, records wall
    clock minus the frame's receive time (a list append: the probe's own cost is part of what
    the run measures, ~0.2 µs per update)."""

    def __init__(self) -> None:
        self.lat_ns: list[int] = []

    def wrap(self, leg: Leg) -> ProbedLeg:
        return ProbedLeg(leg, self)


class ProbedLeg:
    """An engine leg with the probe after it (the feeds' BookListener)."""

    def __init__(self, leg: Leg, probe: Probe) -> None:
        self.leg = leg
        self._on_book, self._lat = leg.on_book, probe.lat_ns

    def on_book(self, book: Book, ts_ns: int) -> None:
        self._on_book(book, ts_ns)
        if len(self._lat) < LATENCY_SLOTS:
            self._lat.append(time.time_ns() - ts_ns)

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.leg.on_usable(usable, reason, ts_ns)


class Scanner:
    """The scanner side of one phase (one event loop): runners, engine, sink, probe."""

    def __init__(self, lg: Loadgen, http: httpx.AsyncClient, connect: Connector) -> None:
        config = load_config(None, default_fees=default_fees())
        self.sink = NdjsonSink(open(os.devnull, "wb"), owns=True)  # noqa: SIM115 (sink closes)
        self.probe = Probe()
        fees = {v: config.fee_bps(v) for v in VENUES}
        self.engine = Engine(config.scanner, VENUES, SYMBOLS, fees, self.sink.emit)
        options = SessionOptions(top_n=config.scanner.depth_levels, stale_after_s=30.0)
        self.states: list[tuple[str, str, str | None]] = []
        self.runners = [
            Runner(
                codec_class(v),
                SYMBOLS,
                functools.partial(self._leg, v),
                functools.partial(self._state, v),
                ws_url=lg.ws[v],
                rest_url=lg.rest[v],
                http=http,
                options=options,
                connect=connect,
            )
            for v in VENUES
        ]

    def _leg(self, venue: str, symbol: str) -> ProbedLeg:
        return self.probe.wrap(self.engine.leg(venue, symbol))

    def _state(self, venue: str, state: str, reason: str | None, ts: int) -> None:
        self.states.append((venue, state, reason))

    def frames(self) -> int:
        return sum(r.session.stats.frames for r in self.runners if r.session is not None)

    def faults(self) -> int:
        """Gaps, checksum failures, resyncs, malformed frames and reconnects so far."""
        total = sum(max(0, r.stats.connects - 1) for r in self.runners)
        for r in self.runners:
            if r.session is not None:
                st = r.session.stats
                total += st.gaps + st.checksum_fail + st.resyncs + st.malformed + st.codec_errors
        return total

    async def ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        legs = [self.engine.leg(v, s) for v in VENUES for s in SYMBOLS]
        while not all(leg.usable for leg in legs):
            if time.monotonic() > deadline:
                missing = [(leg.venue, leg.symbol) for leg in legs if not leg.usable][:5]
                raise RuntimeError(f"books not live after {timeout_s} s: {missing} {self.states}")
            await asyncio.sleep(0.02)


async def measure(
    sc: Scanner, lg: Loadgen, loop_name: str, rate: int, seconds: float, client: str
) -> Row:
    """One run at ``rate`` for ``seconds``: the row of figures."""
    sc.probe.lat_ns.clear()
    faults0, n0 = sc.faults(), sc.frames()
    stats = sc.engine.stats
    timed0, engine_ns0 = stats.timed, stats.engine_ns
    gc.collect()
    cpu0, w0 = time.process_time(), time.perf_counter()
    lg.send(f"run {rate} {seconds}")
    t0 = int((await lg.areadline()).split()[1])
    slots = int(seconds / SAMPLE_S) + 2000
    at, got = np.zeros(slots, dtype=np.int64), np.zeros(slots, dtype=np.int64)
    done: list[str] = []
    reply = asyncio.ensure_future(lg.areadline())
    reply.add_done_callback(lambda f: done.append(f.result()))
    k, sent, drained_ns = 0, -1, 0
    deadline = time.monotonic() + seconds + 8.0
    while time.monotonic() < deadline and k < slots:
        at[k], got[k] = time.time_ns(), sc.frames() - n0
        if done and sent < 0:
            sent = int(done[0].split()[1])
        k += 1
        if sent >= 0 and got[k - 1] >= sent:
            drained_ns = int(at[k - 1])
            break
        await asyncio.sleep(SAMPLE_S if sent < 0 else 0.001)
    await reply
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - w0
    _, _, lg_cpu, blocked, late_ms = done[0].split()
    t_end = t0 + seconds * 1e9
    window = at[:k] <= t_end
    lag = np.maximum(0.0, at[:k][window] - t0 - (got[:k][window] + 1) / rate * 1e9) / 1e6
    last = int(np.flatnonzero(window)[-1]) if window.any() else 0
    recv_rate = got[last] / max(1e-9, (at[last] - t0) / 1e9)
    drain_ms = (drained_ns - t_end) / 1e6 if drained_ns else float("inf")
    lat = np.array(sc.probe.lat_ns) / 1e3
    p50, p99, p999 = np.percentile(lat, [50, 99, 99.9]) if len(lat) else (np.nan,) * 3
    sustained = drain_ms <= SUSTAINED_DRAIN_MS
    saturated = "-"
    if not sustained:
        late_gen = float(late_ms) > SUSTAINED_DRAIN_MS and float(blocked) < 0.01
        saturated = "generator" if late_gen else "scanner"
    return {
        "client": client,
        "tls": lg.tls,
        "loop": loop_name,
        "offered": rate,
        "sent": sent,
        "recv_per_s": round(recv_rate),
        "updates": len(sc.probe.lat_ns),
        "lat_p50_us": round(float(p50), 1),
        "lat_p99_us": round(float(p99), 1),
        "lat_p999_us": round(float(p999), 1),
        "lag_p50_ms": round(float(np.median(lag)), 2) if len(lag) else 0.0,
        "lag_max_ms": round(float(lag.max()), 2) if len(lag) else 0.0,
        "drain_ms": round(drain_ms, 1),
        "cpu_us_per_msg": round(cpu / max(1, got[k - 1]) * 1e6, 1),
        "scanner_cpu_pct": round(100 * cpu / wall),
        "engine_us_per_update": round(
            (stats.engine_ns - engine_ns0) / 1e3 / max(1, stats.timed - timed0), 1
        ),
        "gen_cpu_pct": round(100 * float(lg_cpu) / seconds),
        "gen_blocked_s": float(blocked),
        "gen_late_max_ms": float(late_ms),
        "faults": sc.faults() - faults0,
        "sustained": sustained,
        "saturated": saturated,
    }


async def phase(
    lg: Loadgen, loop_name: str, rates: Sequence[int], seconds: float, client: str
) -> list[Row]:
    """Connect fresh feeds, wait until every book is live, run every rate, shut down."""
    rows: list[Row] = []
    verify: ssl.SSLContext | bool = True
    if lg.tls:
        verify = ssl.create_default_context(cafile=TLS_DIR / "localhost.pem")
    async with httpx.AsyncClient(timeout=10.0, verify=verify) as http:
        sc = Scanner(lg, http, connector(client, lg.tls))
        async with asyncio.TaskGroup() as tg:
            sink = tg.create_task(sc.sink.run())
            feeds_ = [tg.create_task(r.run()) for r in sc.runners]
            await sc.ready()
            for rate in rates:  # one after the other: each run waits for the previous to drain
                rows.append(await measure(sc, lg, loop_name, rate, seconds, client))  # noqa: PERF401
            for task in feeds_:
                task.cancel()
            await asyncio.gather(*feeds_, return_exceptions=True)
            sc.sink.close()
            await sink
    return rows


def book_memory(levels: int, keep_text: bool, n_books: int) -> float:
    """Bytes per :class:`Book` with ``levels`` string levels a side (tracemalloc; the shared,
    bounded text->float memo tables are emptied before reading, so only books count)."""
    rng = random.Random(levels)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    books = []
    for i in range(n_books):
        mid = 1000.0 + 7 * i
        bids = [
            [f"{mid - 0.01 * (k + 1):.2f}", f"{rng.uniform(0.01, 5):.5f}"] for k in range(levels)
        ]
        asks = [
            [f"{mid + 0.01 * (k + 1):.2f}", f"{rng.uniform(0.01, 5):.5f}"] for k in range(levels)
        ]
        book = Book(top_n=20, keep_text=keep_text)
        book.apply_snapshot(bids, asks)
        books.append(book)
        del bids, asks
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(books) == n_books
    return used / n_books


def memory_rows() -> list[Row]:
    rows: list[Row] = []
    for levels in (20, 1000):
        for keep_text in (False, True):
            per_book = book_memory(levels, keep_text, 200 if levels < 100 else 10)
            rows.append(
                {"levels": levels, "keep_text": keep_text, "bytes_per_book": round(per_book)}
            )
    board = Board(len(SYMBOLS), len(VENUES), 20, np.full(len(VENUES), 0.001))
    arrays = [a for a in (getattr(board, n) for n in dir(board)) if isinstance(a, np.ndarray)]
    per_leg = sum(a.nbytes for a in arrays) / (len(SYMBOLS) * len(VENUES))
    rows.append({"levels": 20, "keep_text": "board", "bytes_per_book": round(per_leg)})
    return rows


def _runner(name: str) -> Callable[[Coroutine[Any, Any, list[Row]]], list[Row]]:
    return uvloop.run if name == "uvloop" else asyncio.run


COLUMNS = (
    ("client", "client", 6),
    ("tls", "tls", 5),
    ("loop", "loop", 8),
    ("offered", "offered/s", 9),
    ("recv_per_s", "recv/s", 7),
    ("lat_p50_us", "p50 µs", 7),
    ("lat_p99_us", "p99 µs", 8),
    ("lat_p999_us", "p99.9 µs", 9),
    ("lag_p50_ms", "lag50 ms", 8),
    ("lag_max_ms", "lagmax ms", 9),
    ("drain_ms", "drain ms", 9),
    ("cpu_us_per_msg", "cpu µs/msg", 10),
    ("engine_us_per_update", "engine µs", 9),
    ("scanner_cpu_pct", "scan cpu%", 9),
    ("gen_cpu_pct", "gen cpu%", 8),
    ("gen_blocked_s", "gen held s", 10),
    ("faults", "faults", 6),
    ("sustained", "sustained", 9),
    ("sustained_runs", "sust runs", 9),
    ("saturated", "saturated", 9),
)


def print_table(rows: Sequence[Row], mem: Sequence[Row]) -> None:
    print(" ".join(f"{title:>{w}}" for _, title, w in COLUMNS))
    for row in rows:
        print(" ".join(f"{row[key]!s:>{w}}" for key, _, w in COLUMNS))
    best: dict[str, int] = {}
    for key in sorted({f"{r['client']} {r['loop']}" for r in rows}):
        ok = [r["offered"] for r in rows if f"{r['client']} {r['loop']}" == key and r["sustained"]]
        best[key] = max((int(str(o)) for o in ok), default=0)
        print(f"highest sustained rate, {key}: {best[key]} msgs/s")
    base = {(r["client"], r["offered"]): r for r in rows if r["loop"] == "asyncio"}
    for r in rows:
        b = base.get((r["client"], r["offered"]))
        if r["loop"] == "uvloop" and b is not None:
            cpu_a, cpu_u = float(str(b["cpu_us_per_msg"])), float(str(r["cpu_us_per_msg"]))
            print(
                f"{r['client']}: uvloop vs asyncio at {r['offered']}/s: "
                f"cpu/msg {cpu_a} -> {cpu_u} µs "
                f"({100 * (cpu_a / cpu_u - 1):+.0f}% msgs per cpu-s), "
                f"recv/s {b['recv_per_s']} -> {r['recv_per_s']}"
            )
    top = max(best.values())
    print(
        f"goal >= 50,000 msgs/s sustained on one core: {'MET' if top >= 50_000 else 'MISSED'}"
        f" (highest sustained {top} msgs/s)"
    )
    first = rows[0]["client"]  # the baseline: the first client named
    base_rows = {(r["tls"], r["loop"], r["offered"]): r for r in rows if r["client"] == first}
    for r in rows:
        o = base_rows.get((r["tls"], r["loop"], r["offered"]))
        if r["client"] != first and o is not None:
            cpu_o, cpu_r = float(str(o["cpu_us_per_msg"])), float(str(r["cpu_us_per_msg"]))
            print(
                f"{r['client']} vs {first}, tls={r['tls']}, {r['loop']}, {r['offered']}/s: cpu/msg "
                f"{cpu_o} [{o.get('cpu_us_per_msg_min')}-{o.get('cpu_us_per_msg_max')}] -> "
                f"{cpu_r} [{r.get('cpu_us_per_msg_min')}-{r.get('cpu_us_per_msg_max')}] µs "
                f"({100 * (cpu_r / cpu_o - 1):+.1f}%), sustained {o['sustained_runs']} -> "
                f"{r['sustained_runs']}"
            )
    for r in rows:
        if r["offered"] == 20_000:
            met = r["sustained"] and float(str(r["lat_p99_us"])) <= 1000
            print(
                f"goal p99 <= 1 ms at 20,000 msgs/s, {r['client']} {r['loop']}: "
                f"{'MET' if met else 'MISSED'}"
                f" (p99 {r['lat_p99_us']} µs, sustained={r['sustained']},"
                f" lag max {r['lag_max_ms']} ms)"
            )
    for m in mem:
        text = "scanner board row" if m["keep_text"] == "board" else f"keep_text={m['keep_text']}"
        print(f"memory per book, {m['levels']} levels a side ({text}): {m['bytes_per_book']} B")


def aggregate(runs: Sequence[Sequence[Row]]) -> list[Row]:
    """One row per (loop, rate) over repeated runs: the median of each figure, with
    ``<figure>_min``/``_max``; sustained only if every run sustained the rate, and
    ``sustained_runs`` says how many did ("2/3")."""
    out: list[Row] = []
    for same in zip(*runs, strict=True):
        row = dict(same[0])
        for key, value in same[0].items():
            if key != "offered" and isinstance(value, int | float) and not isinstance(value, bool):
                values = sorted(float(str(r[key])) for r in same)
                row[key] = round(statistics.median(values), 2)
                row[f"{key}_min"], row[f"{key}_max"] = values[0], values[-1]
        row["sustained"] = all(r["sustained"] for r in same)
        row["sustained_runs"] = f"{sum(bool(r['sustained']) for r in same)}/{len(same)}"
        row["saturated"] = next((r["saturated"] for r in same if r["saturated"] != "-"), "-")
        row["runs"] = len(same)
        out.append(row)
    return out


def run(
    quick: bool = False,
    rates: Sequence[int] | None = None,
    repeats: int | None = None,
    clients: Sequence[str] = ("picows",),
    loops: Sequence[str] = LOOPS,
    tls: bool = False,
) -> list[Row]:
    """Run the benchmark (each client, loop and rate ``repeats`` times, clients and loops in
    turn within each repeat), print the medians, return one row per (client, loop, rate) with
    min/median/max, then the memory rows."""
    default_rates, seconds, default_repeats = (QUICK_RATES, 1.0, 1) if quick else (RATES, 1.5, 3)
    rates = rates or default_rates
    repeats = repeats or default_repeats
    phases = repeats * len(clients) * len(loops)
    lg = Loadgen(int(sum(rates) * seconds * 1.02) + 1000, tls, 60 + phases * len(rates) * 15)
    try:
        mem = memory_rows()  # while the generator records
        lg.wait_ready()
        runs: list[list[Row]] = []
        pairs = [(c, n) for c in clients for n in loops]
        for i in range(repeats):  # every other repeat in reverse order: none always goes first
            rows: list[Row] = []
            for client, name in pairs if i % 2 == 0 else pairs[::-1]:
                rows += _runner(name)(phase(lg, name, rates, seconds, client))
                lg.send("rewind")
                if lg.readline() != "ok":
                    raise RuntimeError("load generator did not rewind")
            rows.sort(key=lambda r: pairs.index((str(r["client"]), str(r["loop"]))))  # stable
            runs.append(rows)
    finally:
        lg.close()
    table = aggregate(runs)
    print_table(table, mem)
    print_paired(runs)
    return table + mem


def print_paired(runs: Sequence[Sequence[Row]]) -> None:
    """Each other client against the first, repeat by repeat (they ran one after the other):
    the median and range of the ratio of their CPU per frame."""
    ratios: dict[tuple[object, ...], list[float]] = {}
    for rows in runs:
        first = rows[0]["client"]
        base = {(r["tls"], r["loop"], r["offered"]): r for r in rows if r["client"] == first}
        for r in rows:
            o = base.get((r["tls"], r["loop"], r["offered"]))
            if r["client"] != first and o is not None:
                cpu_o, cpu_r = float(str(o["cpu_us_per_msg"])), float(str(r["cpu_us_per_msg"]))
                key = (r["client"], first, r["tls"], r["loop"], r["offered"])
                ratios.setdefault(key, []).append(cpu_r / cpu_o)
    for (client, first, tls, loop, rate), vals in ratios.items():
        print(
            f"{client}/{first} cpu per frame, paired by repeat, tls={tls}, {loop}, {rate}/s: "
            f"median {100 * (statistics.median(vals) - 1):+.1f}% "
            f"[{100 * (min(vals) - 1):+.1f}% .. {100 * (max(vals) - 1):+.1f}%] over {len(vals)}"
        )


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_e2e", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 rates, 1 s each (< 30 s)")
    p.add_argument("--rates", type=_rates, help="comma-separated msgs/s, e.g. 50000 or 20000,50000")
    p.add_argument("--repeats", type=int, choices=range(1, 21), metavar="N", help="runs per rate")
    p.add_argument(
        "--client", type=_names(CLIENTS), default=["picows"], help="e.g. picows,picows-loop"
    )
    p.add_argument("--loops", type=_names(LOOPS), default=list(LOOPS), help="asyncio,uvloop")
    p.add_argument("--tls", action="store_true", help="wss:// with the test certificate")
    args = p.parse_args(list(argv))
    run(args.quick, args.rates, args.repeats, args.client, args.loops, args.tls)
    return 0


def _names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = text.split(",")
        if not names or any(n not in allowed for n in names) or len(set(names)) < len(names):
            raise argparse.ArgumentTypeError(f"a comma-separated subset of {','.join(allowed)}")
        return names

    return parse


def _rates(text: str) -> list[int]:
    rates = [int(r) for r in text.split(",")]
    if not all(100 <= r <= 200_000 for r in rates):
        raise argparse.ArgumentTypeError("each rate must be 100..200000 msgs/s")
    return rates


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
