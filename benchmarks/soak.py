"""The soak: the emulated scan (``run.py --json``, every venue, the default symbols) for a
bounded time with a fault injected every ``--fault-every`` seconds, rotating over the fault
kinds and the venues that can have each; its memory sampled every ``--sample-every`` seconds.

    python -m benchmarks.soak [--minutes 10] [--fault-every 30] [--max-growth-mb 25]

(``make soak ARGS=--minutes=1`` for a short one.) The scan runs in a child process: run.py's
own ``main`` with the emulator's ``__aenter__`` wrapped so the fault rotation starts on the
emulator run.py creates (the emulator's Python API, nothing else changed). The parent reads the
NDJSON events, samples the child's RSS from /proc, prints a table (time, RSS, events, venues
live, the fault injected) and a verdict, exit status 0 when it holds:

* RSS grew less than ``--max-growth-mb`` from minute 2 (half the run when shorter) to the end;
* every venue was live at the end (its last state before the shutdown);
* the child exited with status 0 and logged no error and no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from emulator.server import Emulator
from feeds.protocol import SnapshotSource
from feeds.venues import VENUES, codec_class

ROOT = Path(__file__).resolve().parent.parent
KINDS = (
    "disconnect",
    "abort",
    "gap",
    "bad_checksum",
    "malformed",
    "stall",
    "slow",
    "crossed",
    "rest_429",
    "rest_500",
    "rest_timeout",
    "overlap",
    "bad_body",
    "novel",
    "silent",
)
EMULATOR_FAULT = {"rest_429": "rest_error", "rest_500": "rest_error"}
"""The emulator's fault behind each kind named otherwise."""
QUIET_END_S = 30.0
"""No fault is injected in the last this many seconds: every venue has time to recover."""
INJECTED = "soak: injected "


# --- the child: run.py with the fault rotation ----------------------------------------


def eligible(emu: Emulator, kind: str) -> list[str]:
    """The emulated venues that can have ``kind``."""
    venues = list(emu.config.market.venues)
    if kind == "bad_checksum":
        return [v for v in venues if emu.venue(v).has_checksum]
    if kind == "overlap":
        return [v for v in venues if emu.venue(v).has_ranges]
    if kind in ("bad_body", "novel"):
        return [v for v in venues if emu.venue(v).body_faults]
    if kind.startswith("rest_"):
        rest = SnapshotSource.REST
        return [v for v in venues if codec_class(v).integrity.snapshot is rest]
    return venues


def inject(emu: Emulator, i: int) -> str:
    """Inject the ``i``-th fault of the rotation; returns ``venue kind``."""
    kind = KINDS[i % len(KINDS)]
    venues = eligible(emu, kind)
    venue = venues[i % len(venues)]
    if kind == "slow":
        emu.inject(venue, kind, delay_s=0.02, seconds=5.0)
    elif kind == "rest_429":  # the venue's requests stop for Retry-After
        emu.inject(venue, "rest_error", status=429, retry_after=5)
        emu.inject(venue, "gap")
    elif kind == "rest_500":
        emu.inject(venue, "rest_error", status=500, count=2)
        emu.inject(venue, "gap")  # the resync that needs the snapshot
    elif kind == "rest_timeout":
        emu.inject(venue, kind, delay_s=12.0)  # longer than run.py's HTTP timeout
        emu.inject(venue, "gap")
    elif kind == "silent":
        emu.inject(venue, kind, seconds=15.0)  # longer than run.py's stale_after_s
    else:
        emu.inject(venue, kind)
    return f"{venue} {kind}"


async def rotate(emu: Emulator, every_s: float, until_s: float) -> None:
    started = time.monotonic()
    for i in range(int(until_s // every_s)):
        await asyncio.sleep(started + (i + 1) * every_s - time.monotonic())
        print(f"{INJECTED}{inject(emu, i)}", file=sys.stderr, flush=True)


def child(every_s: float, seconds: float, seed: int) -> int:
    import run

    # every log line names its level, so the parent can count the errors
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    entered, exited = Emulator.__aenter__, Emulator.__aexit__
    tasks: dict[int, asyncio.Task[None]] = {}

    async def aenter(self: Emulator) -> Emulator:
        emu = await entered(self)
        until = seconds - QUIET_END_S
        tasks[id(emu)] = asyncio.create_task(rotate(emu, every_s, until), name="soak-faults")
        return emu

    async def aexit(self: Emulator, *exc: Any) -> None:
        task = tasks.pop(id(self), None)
        if task is not None:
            task.cancel()
        await exited(self, *exc)

    Emulator.__aenter__ = aenter  # type: ignore[method-assign]
    Emulator.__aexit__ = aexit  # type: ignore[method-assign,assignment]
    return run.main(["--json", "--duration", str(seconds), "--seed", str(seed)])


# --- the parent: sample, tabulate, judge ---------------------------------------------


@dataclass
class Watch:
    """What the parent saw of the child."""

    events: int = 0
    state: dict[str, str] = field(default_factory=dict)
    """Each venue's last state before the shutdown."""
    transitions: collections.Counter[str] = field(default_factory=collections.Counter)
    closed: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: list[str] = field(default_factory=list)
    """Faults injected since the last sample."""
    injected: list[tuple[float, str]] = field(default_factory=list)
    tracebacks: int = 0
    errors: int = 0
    """ERROR and CRITICAL log lines."""
    warnings: int = 0

    def on_event(self, line: bytes) -> None:
        self.events += 1
        if b'"type":"venue"' in line:
            ev = orjson.loads(line)
            if ev["state"] == "down" and ev["reason"] == "stopped":
                return  # the shutdown
            self.state[ev["venue"]] = ev["state"]
            if ev["state"] in ("down", "resyncing", "stale"):
                self.transitions[f"{ev['venue']} {ev['state']}"] += 1
        elif b'"type":"closed"' in line:
            self.closed[orjson.loads(line)["reason"]] += 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def parent(args: argparse.Namespace) -> int:
    seconds = args.minutes * 60.0
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.soak",
        "--child",
        f"--minutes={args.minutes}",
        f"--fault-every={args.fault_every}",
        f"--seed={args.seed}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=2**22,
    )
    assert proc.stdout is not None and proc.stderr is not None
    watch = Watch()
    started = time.monotonic()

    async def read_events() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            watch.on_event(line)

    async def read_errors() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(INJECTED):
                fault = line.removeprefix(INJECTED)
                watch.faults.append(fault)
                watch.injected.append((time.monotonic() - started, fault))
            elif "Traceback" in line:
                watch.tracebacks += 1
            elif line.startswith(("ERROR ", "CRITICAL ")):
                watch.errors += 1
            elif line.startswith("WARNING "):
                watch.warnings += 1
            if args.verbose or "Traceback" in line or line.startswith(("ERROR", "CRITICAL")):
                print(f"  child: {line}", flush=True)

    readers = [asyncio.create_task(read_events()), asyncio.create_task(read_errors())]
    venues = list(VENUES)
    samples: list[tuple[float, float]] = []
    print(f"{'time s':>7} {'RSS MB':>8} {'events':>9} {'live':>5}  faults injected", flush=True)
    while proc.returncode is None:
        try:
            await asyncio.wait_for(proc.wait(), args.sample_every)
        except TimeoutError:
            t = time.monotonic() - started
            try:
                rss = rss_mb(proc.pid)
            except (OSError, RuntimeError):
                break  # the child is exiting
            samples.append((t, rss))
            live = sum(watch.state.get(v) == "live" for v in venues)
            faults, watch.faults = ", ".join(watch.faults), []
            row = f"{t:7.0f} {rss:8.1f} {watch.events:9d} {live:>2}/{len(venues)}  {faults}"
            print(row, flush=True)
    code = await proc.wait()
    await asyncio.gather(*readers)
    return verdict(args, seconds, samples, watch, venues, code)


def verdict(
    args: argparse.Namespace,
    seconds: float,
    samples: Sequence[tuple[float, float]],
    watch: Watch,
    venues: Sequence[str],
    code: int,
) -> int:
    print(f"faults injected: {len(watch.injected)}; closed: {dict(sorted(watch.closed.items()))}")
    print(f"venue transitions: {dict(sorted(watch.transitions.items()))}")
    print(f"log lines: {watch.warnings} warnings, {watch.errors} errors")
    failures = []
    if len(samples) < 2:
        failures.append("fewer than two RSS samples")
    else:
        from_t = min(120.0, seconds / 2)
        base = next((rss for t, rss in samples if t >= from_t), samples[0][1])
        growth = samples[-1][1] - base
        print(f"RSS growth from {from_t:.0f} s to the end: {growth:+.1f} MB")
        if growth >= args.max_growth_mb:
            failures.append(f"RSS grew {growth:.1f} MB (limit {args.max_growth_mb} MB)")
    not_live = [v for v in venues if watch.state.get(v) != "live"]
    if not_live:
        failures.append(f"not live at the end: {', '.join(not_live)}")
    if watch.tracebacks or watch.errors:
        failures.append(f"{watch.tracebacks} traceback(s), {watch.errors} error log(s)")
    if code != 0:
        failures.append(f"run.py exited with status {code}")
    print("verdict:", "PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 0 if not failures else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0, help="how long the scan runs")
    ap.add_argument("--fault-every", type=float, default=30.0, help="seconds between faults")
    ap.add_argument("--sample-every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--max-growth-mb", type=float, default=25.0, help="RSS growth allowed")
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulated market")
    ap.add_argument("--verbose", action="store_true", help="echo the child's stderr")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.fault_every <= 0 or args.sample_every <= 0:
        print("soak: --minutes, --fault-every and --sample-every must be > 0", file=sys.stderr)
        return 2
    if args.child:
        return child(args.fault_every, args.minutes * 60.0, args.seed)
    return asyncio.run(parent(args))


if __name__ == "__main__":
    raise SystemExit(main())
