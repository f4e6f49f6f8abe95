"""Ctrl-C (SIGINT) and SIGTERM stop every kind of run the same way: every opportunity still
open closes as ``shutdown``, a last ``stats`` event follows, every sink is flushed, and the
process exits 0 within the event server's deadline, whatever its clients do. The runs go
concurrently, each on its own loopback port, to keep the suite short."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.schema_check import check_all
from tests.test_serve_e2e import free_port, never_reads

ROOT = Path(__file__).resolve().parent.parent
SCAN = ["--venues", "binance,okx", "--symbols", "BTC/USDT,ETH/USDT", "--duration", "60"]
EXIT_DEADLINE_S = 5.0
"""From the signal to the exit: the server's close deadline (1 s) plus a loaded machine."""


@dataclass
class Run:
    name: str
    sig: signal.Signals
    proc: subprocess.Popen[bytes]
    out: Path
    capture: Path | None = None
    serve_port: int | None = None


def start(tmp: Path, name: str, sig: signal.Signals, extra: list[str]) -> Run:
    out = tmp / f"{name}.ndjson"
    capture = tmp / f"{name}.ndjson.gz" if extra[:1] == ["record"] else None
    args = [*extra[:1], *([str(capture)] if capture else []), *extra[1:]]
    port = free_port() if "--serve" in extra else None
    if port is not None:
        args[args.index("--serve") + 1] = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), *args, *SCAN, "--out", str(out)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return Run(name, sig, proc, out, capture, port)


def ready(run: Run) -> bool:
    """Both venues live and an opportunity open right now (so the signal has one to close)."""
    text = run.out.read_bytes() if run.out.exists() else b""
    if text.count(b'"state":"live"') < 2:
        return False
    events = [orjson.loads(line) for line in text.splitlines() if line.endswith(b"}")]
    opened = {e["id"] for e in events if e["type"] == "opened"}
    return bool(opened - {e["id"] for e in events if e["type"] == "closed"})


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_close_as_shutdown_flush_and_exit_on_time(
    tmp_path: Path, sig: signal.Signals
) -> None:
    runs = [
        start(tmp_path, "json", sig, ["scan", "--json"]),
        start(tmp_path, "console", sig, ["scan"]),
        start(tmp_path, "serve", sig, ["scan", "--json", "--serve", "PORT"]),
        start(tmp_path, "record", sig, ["record", "--json"]),
    ]
    stalled: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 40
        while any(r.serve_port is not None and not stalled for r in runs):
            try:  # a client that stops reading must not hold the exit
                stalled += [never_reads(r.serve_port) for r in runs if r.serve_port is not None]
            except OSError:  # not listening yet
                time.sleep(0.1)
        while not all(ready(r) for r in runs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(ready(r) for r in runs), [r.name for r in runs if not ready(r)]
        signalled = time.monotonic()
        for run in runs:
            run.proc.send_signal(run.sig)
        for run in runs:
            code = run.proc.wait(timeout=EXIT_DEADLINE_S + 10)
            took = time.monotonic() - signalled
            stderr = run.proc.stderr.read().decode() if run.proc.stderr else ""
            assert code == 0, (run.name, stderr)
            assert took < EXIT_DEADLINE_S, (run.name, took)
            assert "Traceback" not in stderr, (run.name, stderr)
    finally:
        for run in runs:
            run.proc.kill()
            run.proc.wait()
        for sock in stalled:
            sock.close()
    for run in runs:
        events = [orjson.loads(line) for line in run.out.read_bytes().splitlines()]
        check_all(events)
        opened = {e["id"] for e in events if e["type"] == "opened"}
        closed = {e["id"]: e["reason"] for e in events if e["type"] == "closed"}
        assert opened and opened == set(closed), run.name
        assert "disconnected" not in closed.values(), run.name
        # after the signal: the shutdown closes, the feeds going down, one last stats event
        first = next(i for i, e in enumerate(events) if e.get("reason") == "shutdown")
        after = events[first:]
        assert all(e["type"] in ("closed", "venue", "stats") for e in after), run.name
        assert {e["reason"] for e in after if e["type"] == "closed"} == {"shutdown"}, run.name
        assert events[-1]["type"] == "stats", run.name
        if run.capture is not None:  # the capture is whole: gzip's end marker is there
            with gzip.open(run.capture) as fh:
                records = [orjson.loads(line) for line in fh.read().splitlines()]
            assert records[-1]["dir"] == "close" and {r["dir"] for r in records} >= {
                "open",
                "in",
                "rest",
            }
