"""A load generator for the end-to-end benchmark: emulator frames made once, replayed at a rate.

The emulator renders every frame when it sends it (about 6,000 frames/s per process on this
machine), so it cannot offer the rates the scanner is measured at. This process builds the
same frames ahead of time with the emulator's sans-I/O pieces (:class:`~emulator.market.
MarketModel`, the emulated venues and their sessions), in parallel worker processes split by
venue, and then replays them over loopback WebSockets at the rate asked for:

1. Each venue's connection is recorded once, in memory: what the venue sends on open and in
   reply to each subscribe frame of the feeds' codec (in-band snapshots), its REST snapshots,
   then ``steps`` market steps of book frames (with scheduled dislocations, so the scanner
   also opens and closes opportunities). Each frame is framed once as an unmasked RFC 6455
   text frame (https://www.rfc-editor.org/rfc/rfc6455#section-5.2).
2. A client that connects gets the recorded handshake, snapshots and, on ``run``, the book
   frames, written straight to the transport at the target aggregate rate (paced per frame,
   across venues in turn). A client that reconnects gets the recording from its start again
   after ``rewind``; the books it was seeded with then match the frames that follow.

With ``--per-symbol``, each (venue, symbol) is its own recording, made by a session
subscribed to that symbol alone: a client's first subscribe frame (the feeds' codec for one
symbol) picks the recording it is served, so connections of several processes each receive
the frames of the symbols they subscribed to only (a cluster's workers, one connection per
venue and symbol).

Control, one command per line on stdin, answers on stdout (``python -m benchmarks.loadgen``
prints ``venue ws_url rest_url`` lines, then ``ready FRAMES``):
``run RATE SECONDS`` -> ``start T0_NS`` then ``done SENT CPU_S BLOCKED_S LATE_MAX_MS`` (the run
ends after SECONDS even if frames were held back);
``rewind`` -> ``ok`` (clients must then connect again); ``clients`` -> ``clients N M S`` (N of
the M recordings have a subscribed client; S connections subscribed since the rewind);
``quit`` or end of input exits, and so does ``--max-seconds``.
With ``--tls CERT KEY`` it serves ``wss://`` and ``https://`` (TLS 1.3 by default).
``BLOCKED_S`` is time held back because a client's send buffer was full (the receiver is
slow); ``LATE_MAX_MS`` is the worst lateness of a frame when sent (this process is slow).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import random
import ssl
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from emulator.market import MarketConfig, MarketModel
from emulator.venues import VENUES as EMULATED
from feeds.protocol import SnapshotSource
from feeds.venues import codec_class

MAX_BUFFERED = 1 << 20
"""Bytes waiting in a client's transport before the replay holds back (bounded buffers)."""


def ws_text_frame(payload: bytes) -> bytes:
    """One unmasked text frame, FIN set (server to client, RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


@dataclass(slots=True)
class Recording:
    """One venue's connection: handshake, REST answers and its book frames, step by step."""

    venue: str
    symbols: tuple[str, ...]
    path: str
    subscribes: list[str]
    opened: list[str]
    replies: list[list[str]]
    rest: dict[str, tuple[int, str]]
    blob: bytes = b""
    offsets: list[int] = field(default_factory=lambda: [0])
    """Frame i is ``blob[offsets[i]:offsets[i + 1]]``."""
    per_step: list[int] = field(default_factory=list)
    """Frames in each step."""


Dislocations = list[tuple[int, str, str, float, int]]
"""(step, symbol, venue, bps, duration in steps)."""


def schedule(venues: Sequence[str], symbols: Sequence[str], steps: int, seed: int) -> Dislocations:
    """A dislocation every 40 steps on a random (venue, symbol): 20-60 bps for 20-100 steps."""
    rng = random.Random(seed)
    plan: Dislocations = []
    for k in range(40, steps, 40):
        symbol, venue = rng.choice(symbols), rng.choice(venues)
        bps = rng.uniform(20, 60) * rng.choice((-1, 1))
        plan.append((k, symbol, venue, bps, rng.randint(20, 100)))
    return plan


def record(
    venues: tuple[str, ...],
    symbols: tuple[str, ...],
    seed: int,
    steps: int,
    dislocations: Dislocations,
    start_ns: int,
    per_symbol: bool = False,
) -> list[Recording]:
    """Record ``venues`` (run in a worker), each as one connection or, ``per_symbol``, one
    connection per symbol. Every worker's model walks the same common price: the walk
    depends on the seed and the symbols only, random dislocations are off and the scheduled
    ones are added for the worker's own venues."""
    config = MarketConfig(venues, symbols, seed, interval_ms=1, dislocations_per_min=0.0)
    model = MarketModel(config, start_ns)
    recs, objs = [], []
    sets = [(s,) for s in symbols] if per_symbol else [symbols]
    for name, subset in ((n, x) for n in venues for x in sets):
        venue = EMULATED[name](model, {})
        codec = codec_class(name)(subset)
        base = "ws://127.0.0.1:1" + (venue.ws_path if venue.ws_path != "/" else "")
        url = urlsplit(codec.ws_url(base))  # as the emulator gives it (Emulator.ws_url)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        session = venue.session(path, 1, model.now_ns)
        if session is None:
            raise RuntimeError(f"{name}: the emulator refuses {path}")
        rest: dict[str, tuple[int, str]] = {}
        if codec.integrity.snapshot is SnapshotSource.REST:
            for symbol in subset:
                req = urlsplit(codec.snapshot_request(symbol, "http://127.0.0.1:1").url)
                answer = venue.rest(req.path, dict(parse_qsl(req.query)), model.now_ns)
                if answer is None:
                    raise RuntimeError(f"{name}: no REST answer for {req.path}")
                rest[f"{req.path}?{req.query}"] = (answer.status, answer.body)
        opened = [o.frame for o in session.opened(model.now_ns)]
        subscribes = list(codec.subscribe_frames(subset))
        replies = [[o.frame for o in session.received(f, model.now_ns)] for f in subscribes]
        recs.append(Recording(name, subset, path, subscribes, opened, replies, rest))
        objs.append((venue, session, bytearray()))
    todo = sorted(d for d in dislocations if d[2] in venues)
    for k in range(steps):
        while todo and todo[0][0] <= k:
            _, symbol, name, bps, duration = todo.pop(0)
            model.add_dislocation(symbol, name, round(bps, 2), duration)  # 1 step = 1 ms
        changes = model.step()
        for rec, (venue, session, blob) in zip(recs, objs, strict=True):
            mine = {s: ch for (v, s), ch in changes.items() if v == rec.venue}
            venue.advance(mine, model.now_ns)
            outs = session.publish(mine, model.now_ns, False)
            for out in outs:
                blob += ws_text_frame(out.frame.encode())
                rec.offsets.append(len(blob))
            rec.per_step.append(len(outs))
    for rec, (_, _, blob) in zip(recs, objs, strict=True):
        rec.blob = bytes(blob)
    return recs


def record_all(
    venues: Sequence[str],
    symbols: Sequence[str],
    frames: int,
    seed: int,
    workers: int,
    per_symbol: bool = False,
) -> list[Recording]:
    """Record every venue in ``workers`` processes, enough steps for ``frames`` frames."""
    steps = frames // (len(venues) * len(symbols)) + 3
    plan = schedule(venues, symbols, steps, seed)
    start = time.time_ns()
    groups = [tuple(venues[i::workers]) for i in range(workers) if venues[i::workers]]
    with ProcessPoolExecutor(len(groups)) as pool:
        futures = [
            pool.submit(record, g, tuple(symbols), seed, steps, plan, start, per_symbol)
            for g in groups
        ]
        by_name: dict[str, list[Recording]] = {}
        for f in futures:
            for r in f.result():
                by_name.setdefault(r.venue, []).append(r)
    return [r for v in venues for r in by_name[v]]


def interleave(recs: Sequence[Recording]) -> np.ndarray:
    """The send order: step by step, venues in turn within a step (venue index per frame)."""
    order: list[int] = []
    for k in range(len(recs[0].per_step)):
        counts = [r.per_step[k] for r in recs]
        for i in range(max(counts)):
            order += [v for v, c in enumerate(counts) if i < c]
    return np.array(order, dtype=np.int64)


class Replayer:
    """Serves the recordings and replays them on command."""

    def __init__(self, recs: list[Recording], tls: ssl.SSLContext | None = None) -> None:
        self.recs = recs
        self.tls = tls
        self.order = interleave(recs)
        self.clients: dict[int, ServerConnection] = {}
        self.subscribed = 0
        """Connections that subscribed since the last rewind."""
        """The connection each recording is replayed to (by index in ``recs``)."""
        self.ptr = 0
        self.vptr = [0] * len(recs)
        self.urls: list[tuple[str, str, str]] = []

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        by_venue: dict[str, list[int]] = {}
        for i, rec in enumerate(self.recs):
            by_venue.setdefault(rec.venue, []).append(i)
        for indices in by_venue.values():
            rec = self.recs[indices[0]]
            rest = {k: v for i in indices for k, v in self.recs[i].rest.items()}
            server = await stack.enter_async_context(
                serve(
                    functools.partial(self._handle, indices),
                    "127.0.0.1",
                    0,
                    process_request=functools.partial(self._rest, rest),
                    compression=None,
                    ping_interval=None,
                    ssl=self.tls,
                )
            )
            port = next(iter(server.sockets)).getsockname()[1]
            path = rec.path if rec.path != "/" else ""
            ws, http = ("wss", "https") if self.tls else ("ws", "http")
            self.urls.append(
                (rec.venue, f"{ws}://127.0.0.1:{port}{path}", f"{http}://127.0.0.1:{port}")
            )

    def _rest(
        self, rest: dict[str, tuple[int, str]], conn: ServerConnection, request: Request
    ) -> Response | None:
        if "upgrade" in request.headers.get("Connection", "").lower():
            return None
        status, body = rest.get(request.path, (404, '{"msg":"not recorded"}'))
        return conn.respond(status, body)

    async def _handle(self, indices: list[int], ws: ServerConnection) -> None:
        """Serve the venue's recording whose first subscribe frame the client sends (the only
        one when the venue has a single recording)."""
        index = indices[0]
        rec = self.recs[index]
        for frame in rec.opened:
            await ws.send(frame)
        seen = 0
        if not rec.replies:
            self.clients[index] = ws
            self.subscribed += 1
        async for message in ws:  # later client frames (app pings) get no answer
            if seen == 0 and len(indices) > 1:
                chosen = [i for i in indices if self.recs[i].subscribes[:1] == [message]]
                if not chosen:
                    await ws.close(1008, "subscribe frame not recorded")
                    return
                index = chosen[0]
                rec = self.recs[index]
            if seen < len(rec.replies):
                for frame in rec.replies[seen]:
                    await ws.send(frame)
            seen += 1
            if seen == len(rec.replies):
                self.clients[index] = ws
                self.subscribed += 1

    async def run(self, rate: float, seconds: float) -> str:
        """Replay from where the last run stopped; returns the ``done`` line."""
        missing = [
            f"{r.venue} {','.join(r.symbols)}"
            for i, r in enumerate(self.recs)
            if i not in self.clients
        ]
        if missing:
            return f"error not connected: {'; '.join(missing[:3])}"
        transports = [self.clients[i].transport for i in range(len(self.recs))]
        cpu0, t0 = time.process_time(), time.perf_counter()
        print(f"start {time.time_ns()}", flush=True)
        first, total = self.ptr, min(len(self.order), self.ptr + int(rate * seconds))
        blocked = late = 0.0
        while self.ptr < total:
            now = time.perf_counter()
            if now - t0 >= seconds:
                break  # the frames held back by a slow receiver are sent in the next run
            due = min(total, first + int((now - t0) * rate) + 1)
            if due > self.ptr:
                if any(t.get_write_buffer_size() > MAX_BUFFERED for t in transports):
                    blocked += 0.001
                else:
                    late = max(late, now - t0 - (self.ptr - first) / rate)
                    counts = np.bincount(self.order[self.ptr : due], minlength=len(self.recs))
                    for v, count in enumerate(counts.tolist()):
                        if count:
                            rec, i = self.recs[v], self.vptr[v]
                            transports[v].write(rec.blob[rec.offsets[i] : rec.offsets[i + count]])
                            self.vptr[v] = i + count
                    self.ptr = due
            await asyncio.sleep(0.001)
        cpu = time.process_time() - cpu0
        return f"done {self.ptr - first} {cpu:.4f} {blocked:.3f} {late * 1e3:.2f}"

    def rewind(self) -> None:
        """From the start again, for the clients that connect from now on."""
        self.ptr, self.vptr = 0, [0] * len(self.recs)
        self.clients.clear()
        self.subscribed = 0


async def serve_commands(
    recs: list[Recording], max_seconds: float, tls: ssl.SSLContext | None = None
) -> None:
    """Serve, print the URLs and ``ready``, then obey stdin until quit, EOF or timeout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with contextlib.AsyncExitStack() as stack:
        replayer = Replayer(recs, tls)
        await replayer.start(stack)
        for venue, ws_url, rest_url in replayer.urls:  # one line per venue
            print(venue, ws_url, rest_url, flush=True)
        print(f"ready {len(replayer.order)}", flush=True)
        async with asyncio.timeout(max_seconds):
            while line := (await reader.readline()).decode().split():
                if line[0] == "run":
                    print(await replayer.run(float(line[1]), float(line[2])), flush=True)
                elif line[0] == "rewind":
                    replayer.rewind()
                    print("ok", flush=True)
                elif line[0] == "clients":
                    n, subscribed = len(replayer.clients), replayer.subscribed
                    print(f"clients {n} {len(recs)} {subscribed}", flush=True)
                else:
                    break


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__)
    p.add_argument("--venues", default=",".join(EMULATED))
    p.add_argument("--symbols", required=True, help="comma-separated BASE/QUOTE")
    p.add_argument("--frames", type=int, required=True, help="book frames to record")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="recording processes")
    p.add_argument("--per-symbol", action="store_true", help="one recording per (venue, symbol)")
    p.add_argument("--max-seconds", type=float, default=300.0, help="exit after this long")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve wss:// and https://")
    args = p.parse_args(list(argv))
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*args.tls)
    venues, symbols = args.venues.split(","), args.symbols.split(",")
    recs = record_all(venues, symbols, args.frames, args.seed, args.workers, args.per_symbol)
    with contextlib.suppress(TimeoutError, KeyboardInterrupt):
        uvloop.run(serve_commands(recs, args.max_seconds, tls))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
