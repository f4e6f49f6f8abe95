"""The soak: the emulated scan (``run.py --json``, every venue, the default symbols) for a
bounded time with a fault injected every ``--fault-every`` seconds, rotating over the fault
kinds and the venues that can have each; its memory sampled every ``--sample-every`` seconds.

    python -m benchmarks.soak [--minutes 10] [--fault-every 30] [--max-growth-mb 25]

(``make soak ARGS=--minutes=1`` for a short one.) The scan runs in a child process: the command
line's own ``main`` with the rotation as ``--fault`` specs (``VENUE:KIND@DELAY:...``, fired on
the emulator's clock). The parent reads the NDJSON events, samples the child's RSS from
/proc, prints a table (time, RSS, events, venues live, the faults due) and a verdict, exit
status 0 when it holds:

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

import orjson

from emulator.venues import VENUES as EMULATED
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


# --- the rotation: fault specs for the scan's --fault -----------------------------------


def eligible(venues: Sequence[str], kind: str) -> list[str]:
    """The emulated venues among ``venues`` that can have ``kind``."""
    if kind == "bad_checksum":
        return [v for v in venues if EMULATED[v].has_checksum]
    if kind == "overlap":
        return [v for v in venues if EMULATED[v].has_ranges]
    if kind in ("bad_body", "novel"):
        return [v for v in venues if EMULATED[v].body_faults]
    if kind == "gap" or kind.startswith("rest_"):  # a REST fault comes with a gap
        venues = [v for v in venues if codec_class(v).integrity.detects_loss]
    if kind.startswith("rest_"):
        rest = SnapshotSource.REST
        return [v for v in venues if codec_class(v).integrity.snapshot is rest]
    return list(venues)


def fault_specs(venues: Sequence[str], i: int, at_s: float) -> tuple[str, list[str]]:
    """The ``i``-th fault of the rotation at ``at_s`` seconds: ``venue kind`` and its
    ``--fault`` specs (a REST fault comes with the gap whose resync needs the snapshot)."""
    kind, venue = KINDS[i % len(KINDS)], _rotation_venue(venues, i)
    at = f"{venue}:{{}}@{at_s:g}s"
    specs = {
        "slow": [at.format("slow") + ":delay_s=0.02,seconds=5"],
        # the venue's requests stop for Retry-After
        "rest_429": [at.format("rest_error") + ":status=429,retry_after=5", at.format("gap")],
        "rest_500": [at.format("rest_error") + ":status=500,count=2", at.format("gap")],
        # longer than the scan's HTTP timeout
        "rest_timeout": [at.format("rest_timeout") + ":delay_s=12", at.format("gap")],
        # longer than stale_after_s
        "silent": [at.format("silent") + ":seconds=15"],
    }.get(kind, [at.format(kind)])
    return f"{venue} {kind}", specs


def _rotation_venue(venues: Sequence[str], i: int) -> str:
    """The venue of the ``i``-th fault: of those that can have its kind, the one faulted
    least so far (the first of them on a tie), so that every venue is reached."""
    used: collections.Counter[str] = collections.Counter()
    venue = ""
    for j in range(i + 1):
        candidates = eligible(venues, KINDS[j % len(KINDS)])
        venue = min(candidates, key=lambda v: used[v])  # min keeps the first of a tie
        used[venue] += 1
    return venue


def rotation(
    venues: Sequence[str], every_s: float, seconds: float
) -> list[tuple[float, str, list[str]]]:
    """Every fault of a run of ``seconds``: (time, ``venue kind``, specs), one every
    ``every_s``, none in the last :data:`QUIET_END_S`."""
    times = [every_s * (i + 1) for i in range(int((seconds - QUIET_END_S) // every_s))]
    return [(t, *fault_specs(venues, i, t)) for i, t in enumerate(times)]


def child(every_s: float, seconds: float, seed: int) -> int:
    """The scan itself, with the rotation as ``--fault`` specs."""
    from arbscan.cli import main

    # every log line names its level, so the parent can count the errors
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    faults = [spec for _, _, specs in rotation(VENUES, every_s, seconds) for spec in specs]
    argv = ["--json", "--duration", str(seconds), "--seed", str(seed)]
    return main([*argv, *(arg for spec in faults for arg in ("--fault", spec))])


# --- the parent: sample, tabulate, judge ---------------------------------------------


@dataclass
class Watch:
    """What the parent saw of the child."""

    events: int = 0
    state: dict[str, str] = field(default_factory=dict)
    """Each venue's last state before the shutdown."""
    transitions: collections.Counter[str] = field(default_factory=collections.Counter)
    closed: collections.Counter[str] = field(default_factory=collections.Counter)
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
            if "Traceback" in line:
                watch.tracebacks += 1
            elif line.startswith(("ERROR ", "CRITICAL ")):
                watch.errors += 1
            elif line.startswith("WARNING "):
                watch.warnings += 1
            if args.verbose or "Traceback" in line or line.startswith(("ERROR", "CRITICAL")):
                print(f"  child: {line}", flush=True)

    readers = [asyncio.create_task(read_events()), asyncio.create_task(read_errors())]
    venues = list(VENUES)
    # the faults fire on the emulator's clock, which starts with the scan: close to these times
    schedule = [(t, fault) for t, fault, _ in rotation(venues, args.fault_every, seconds)]
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
            due = [(at, fault) for at, fault in schedule[len(watch.injected) :] if at <= t]
            watch.injected += due
            faults = ", ".join(fault for _, fault in due)
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
