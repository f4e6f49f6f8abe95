"""``run.py console --nats URL`` (and ``run.py --json --nats URL``, ``--serve HOST:PORT
--nats URL``, ``--web [HOST:PORT] --nats URL``): the cluster's merged event stream to the
console, stdout, a file, the WebSocket event server and the dashboard, the same sinks a scan
feeds. ``--durable NAME`` resumes where the last reader of that name stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time

from arbscan.cluster.bus import STREAM, NatsError, connect, ensure_stream, read_stream
from arbscan.options import (
    UsageError,
    event_server_address,
    load_run_config,
    output_path,
    server_access,
    starting,
)
from arbscan.scan import Drained, listen
from scanner.console import LiveConsole, Status
from scanner.eventserver import WsEventServer
from scanner.routes import WebFiles
from scanner.sinks import CallbackSink, NdjsonSink, Sinks


def check(args: argparse.Namespace) -> None:
    """The options, checked before anything starts (UsageError naming the option)."""
    output_path("--out", args.out)
    event_server_address(args.serve, args.web)
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration: must be > 0, got {args.duration}")
    if args.durable is not None and not args.durable.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"--durable: letters, digits, - and _ only, got {args.durable!r}")


async def consume(args: argparse.Namespace) -> int:
    config = load_run_config(args.config, emulated=False)
    serve, web = event_server_address(args.serve, args.web)
    option = "--web" if web else "--serve"
    access = server_access(config.serve, args.serve_token, args.serve_origin, serve, option)
    nc = await connect(args.nats, "arbscan-console")
    try:
        js = nc.jetstream()
        try:
            await ensure_stream(js, config.cluster, update=False)
        except NatsError as exc:
            raise UsageError(f"--nats: {args.nats}: JetStream unavailable: {exc!r}") from None
        sinks = Sinks()
        drained: list[Drained] = []
        if serve is not None:  # the cluster's venues and symbols are the workers' to say
            webfiles = WebFiles() if web else None
            server = WsEventServer(*serve, venues=[], symbols=[], web=webfiles, access=access)
            await listen(server)
            drained.append(server)
            sinks.add(server, "serve")
        if args.json:
            drained.append(NdjsonSink.open("-"))
        if args.out:
            with starting("--out"):
                drained.append(NdjsonSink.open(args.out))
        for sink in drained[1 if serve else 0 :]:
            sinks.add(sink)
        started = time.monotonic()
        console = None
        if not args.json:

            def status() -> Status:
                up = time.monotonic() - started
                return Status(uptime_s=up, events_per_s=sinks.events / up if up > 0 else 0.0)

            console = LiveConsole(list, status)
            drained.append(CallbackSink(console.on_event))
            sinks.add(drained[-1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.duration is not None:
            loop.call_later(args.duration, stop.set)
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(s.run()) for s in drained]
            ui = tg.create_task(console.run()) if console else None
            count = await read_stream(js, sinks.emit, stop, durable=args.durable)
            if ui is not None:
                await asyncio.sleep(0)
                ui.cancel()
            for sink in drained:
                sink.close()
            await asyncio.gather(*tasks)
        print(f"{args.prog}: {count} events read from stream {STREAM}", file=sys.stderr)
        return 0
    finally:
        with contextlib.suppress(*NatsError):
            await nc.close()
