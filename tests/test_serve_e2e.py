"""``run.py --serve`` against hostile event clients, end to end: clients that never read, send
~1 MB messages or garbage neither grow the process's memory nor delay its exit; and the
``stats`` events of the run validate, and the last one says what stderr says at exit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from tests.schema_check import check_all

ROOT = Path(__file__).resolve().parent.parent
DURATION = 3.0
HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kb(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    raise AssertionError("no VmRSS")


def never_reads(port: int) -> socket.socket:
    """A client that completes the WebSocket handshake and then never reads."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(HANDSHAKE)
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (masked with a zero key, so the payload reads as is)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


BIG = frame(1, b"x" * 1_000_000)


async def session(port: int, frames: list[bytes], handshake: bytes = HANDSHAKE) -> None:
    """One connection: the handshake, then ``frames``; then read until the server closes."""
    with contextlib.suppress(OSError, EOFError):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(handshake)
            if handshake == HANDSHAKE:
                await reader.readuntil(b"\r\n\r\n")
            for data in frames:
                writer.write(data)
                await writer.drain()
            while await reader.read(65536):
                pass
        finally:
            writer.close()


async def sends_big_messages(port: int) -> None:
    """Sends ~1 MB messages, reconnecting when closed (at most 16 connections)."""
    for _ in range(16):
        await session(port, [BIG] * 20)


async def sends_garbage(port: int) -> None:
    """Raw bytes without a handshake, then text and binary garbage (at most 3 x 16 tries)."""
    for _ in range(16):
        await session(port, [], handshake=bytes(range(256)) * 64)
        await session(port, [frame(1, b"{not json")])
        await session(port, [frame(2, b"\x00\x01" * 10)])


async def attack(port: int, peak: list[int], pid: int) -> None:
    async def sample() -> None:
        while True:
            peak.append(rss_kb(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        async with asyncio.timeout(DURATION - 1.5):  # bounded: over well before the scan ends
            await asyncio.gather(
                *(sends_big_messages(port) for _ in range(7)),
                *(sends_garbage(port) for _ in range(6)),
            )
    except TimeoutError:
        pass
    finally:
        sampler.cancel()


def test_hostile_event_clients_neither_grow_memory_nor_delay_exit(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "arbscan.toml"
    config.write_text("[feeds]\nstats_interval_s = 0.5\n")
    out = tmp_path / "events.ndjson"
    argv = [sys.executable, str(ROOT / "run.py"), "--json", "--serve", f"127.0.0.1:{port}",
            "--duration", str(DURATION), "--venues", "binance,okx", "--symbols", "BTC/USDT",
            "--books", "5", "--config", str(config)]  # fmt: skip
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    silent: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, "no server"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        up = time.monotonic()
        time.sleep(0.3)
        baseline = rss_kb(proc.pid)
        silent = [never_reads(port) for _ in range(7)]
        peak: list[int] = []
        asyncio.run(attack(port, peak, proc.pid))
        _, err = proc.communicate(timeout=30)
        exited = time.monotonic() - up
    finally:
        proc.kill()
        for sock in silent:
            sock.close()
    assert proc.returncode == 0, err
    assert (max(peak) - baseline) < 20 * 1024, (baseline, max(peak))
    assert exited < DURATION + 2.5, exited

    events: list[dict[str, Any]] = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    check_all(events)
    stats = [e for e in events if e["type"] == "stats"]
    assert len(stats) >= 3 and events[-1] is stats[-1]
    final = stats[-1]
    serve = f"serve:127.0.0.1:{port}"
    assert list(final["sinks"]) == ["stdout", serve] and list(final["venues"]) == ["binance", "okx"]
    assert final["sinks"]["stdout"] == {"events": len(events) - 1, "dropped": 0}
    assert (final["clients"], final["clients_dropped"]) == (7, 0)  # the silent ones, still there
    summary = [
        f"run.py: sink stdout: {len(events) - 1} events, 0 dropped",
        f"run.py: sink {serve}: {final['sinks'][serve]['events']} events, "
        f"{final['sinks'][serve]['dropped']} dropped",
        "run.py: event clients: 7 connected at exit, 0 disconnected for lagging",
    ] + [
        f"run.py: venue {v}: {c['frames']} frames, {c['malformed']} malformed, "
        f"{c['resyncs']} resyncs, {c['reconnects']} reconnects"
        for v, c in final["venues"].items()
    ]
    assert [ln for ln in err.decode().splitlines() if ln.startswith("run.py: ")] == summary
    assert all(c["frames"] > 0 for c in final["venues"].values())
