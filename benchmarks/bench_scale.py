"""The cluster against a real nats-server (JetStream, file store, on a free loopback port, its
store in a temporary folder) with the cluster's stream: what NATS adds to each event of a
worker, then 1 and 2 worker processes fed per symbol by the load generator.

    python -m benchmarks.bench_scale            # 50,000 events; latency at 2,000/s for 3 s;
                                                # workers: 2-s steps from 10,000 frames/s
    python -m benchmarks.bench_scale --quick    # 10,000 events; latency for 1 s; 8 symbols

* ``publish``: CPU µs per event in the publishing process (the worker's
  :class:`~arbscan.cluster.bus.NatsSink`: subject, orjson, headers, the client's write),
  events of the shape and size of an ``updated`` event, as fast as the sink takes them; and
  how many per second reach the stream (the stream's count when the last is stored);
* ``latency``: emit-to-consumer: an event is stamped when the engine would emit it, goes
  through the sink, the server and its stream, and a durable pull reader (the one ``console
  --nats`` uses) in another process, which takes ``now - stamp``: p50/p99/max in µs.

Then the workers themselves (:mod:`benchmarks.scaleout`): aggregate frames/s with 1 and with
2 ``run.py worker`` processes fed per symbol by the load generator, their frame-to-consumer
latency through NATS, and the CPU of every process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson

Row = dict[str, object]
ROOT = Path(__file__).resolve().parent.parent


def _event(i: int, ts: int) -> dict[str, object]:
    return {
        "schema": 1, "type": "updated", "id": f"w1-7-{i}", "ts": ts, "symbol": "BTC/USDT",
        "buy_venue": "binance", "sell_venue": "okx", "buy_price": 59995.5, "sell_price": 60328.4,
        "size": 8.32561, "buy_vwap": 60019.03961117564, "sell_vwap": 60305.09295401971,
        "cost": 500194.81149357714, "proceeds": 501574.6082639671, "profit": 1379.7967703899485,
        "net_bps": 27.585187584611045, "gross_bps": 55.48749489545073, "buy_fee_bps": 10.0,
        "sell_fee_bps": 10.0, "buy_age_ms": 0.323055, "sell_age_ms": 0.0,
    }  # fmt: skip


async def _publish(url: str, n: int) -> Row:
    from arbscan.cluster.bus import STREAM, NatsSink, connect, ensure_stream
    from scanner.config import ClusterConfig

    nc = await connect(url, "bench")
    js = nc.jetstream()
    await ensure_stream(js, ClusterConfig())
    sink = NatsSink(nc, "w1", max_events=n + 1)
    task = asyncio.ensure_future(sink.run())
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(n):
        sink.emit(_event(i, time.time_ns()))
    await sink.drained()
    cpu = time.process_time() - cpu0
    while (await js.stream_info(STREAM)).state.messages < n:
        await asyncio.sleep(0.005)
    wall = time.perf_counter() - t0
    sink.close()
    await task
    await js.delete_stream(STREAM)
    await nc.close()
    return {
        "bench": "publish",
        "events": n,
        "cpu_us_per_event": round(cpu / n * 1e6, 2),
        "stored_per_s": round(n / wall),
        "dropped": sink.dropped,
    }


async def _latency(url: str, rate: int, seconds: float) -> Row:
    from arbscan.cluster.bus import STREAM, NatsSink, connect, ensure_stream
    from scanner.config import ClusterConfig

    nc = await connect(url, "bench")
    js = nc.jetstream()
    await ensure_stream(js, ClusterConfig())
    n = int(rate * seconds)
    reader = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_scale", "--read", url, str(n)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    await asyncio.sleep(1.5)  # the reader's consumer exists
    sink = NatsSink(nc, "w1")
    task = asyncio.ensure_future(sink.run())
    t0 = time.perf_counter()
    for i in range(n):
        due = t0 + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        sink.emit(_event(i, time.time_ns()))
    sink.close()
    await task
    out, _ = await asyncio.get_running_loop().run_in_executor(None, reader.communicate)
    lat = np.array(orjson.loads(out), dtype=np.float64) / 1e3
    await js.delete_stream(STREAM)
    await nc.close()
    p50, p99 = np.percentile(lat, [50, 99])
    return {
        "bench": "latency",
        "events": len(lat),
        "rate": rate,
        "p50_us": round(float(p50), 1),
        "p99_us": round(float(p99), 1),
        "max_us": round(float(lat.max()), 1),
    }


async def _read(url: str, n: int) -> None:
    """The reader process: a durable pull consumer, ``now - ts`` per event, as JSON."""
    from arbscan.cluster.bus import connect, ensure_stream, read_stream
    from scanner.config import ClusterConfig

    nc = await connect(url, "bench-reader")
    js = nc.jetstream()
    await ensure_stream(js, ClusterConfig(), update=False)
    lat: list[int] = []
    stop = asyncio.Event()

    def take(event: dict[str, object]) -> None:
        lat.append(time.time_ns() - int(str(event["ts"])))
        if len(lat) >= n:
            stop.set()

    async with asyncio.timeout(60):
        await read_stream(js, take, stop, durable="bench", batch=64)
    await nc.close()
    sys.stdout.buffer.write(orjson.dumps(lat))


def run(quick: bool = False) -> list[Row]:
    """Start a nats-server, run every measurement, print them, stop it."""
    from benchmarks.scaleout import workers_rows
    from tests.natsserver import NatsServer

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        server = NatsServer(Path(tmp) / "js")
        server.start()
        try:
            rows.append(asyncio.run(_publish(server.url, 10_000 if quick else 50_000)))
            rows.append(asyncio.run(_latency(server.url, 2_000, 1.0 if quick else 3.0)))
            for row in rows:
                print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            rows += workers_rows(server.url, server.proc.pid if server.proc else 0, quick)
        finally:
            server.stop()
    return rows


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer events, short windows")
    p.add_argument("--read", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(list(argv))
    if args.read:
        asyncio.run(_read(args.read[0], int(args.read[1])))
        return 0
    os.chdir(ROOT)
    run(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
