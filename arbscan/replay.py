"""The replay command: a capture through the same codecs, books and engine, its events on
stdout (and a file, and the event server, paced by the capture's timing)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import Callable, Iterable, Iterator

import orjson

from arbscan.options import (
    UsageError,
    check_books,
    distinct_files,
    event_loop_runner,
    event_server_address,
    load_run_config,
    output_path,
    server_access,
    starting,
    symbol_list,
    venue_list,
)
from arbscan.quotes import identity_map
from arbscan.scan import listen
from feeds.actions import BookListener
from feeds.capture import CaptureCutShort, CaptureError, CaptureReader, Record
from feeds.protocol import Codec
from feeds.replay import CaptureIndex, Replayer, ReplaySummary
from feeds.runner import SessionOptions
from feeds.venues import UnknownVenue, canonical_venue, replay_codec_class
from scanner.engine import Engine, Leg
from scanner.events import Event, venue_event
from scanner.eventserver import WsEventServer
from scanner.metrics import Readings
from scanner.routes import WebFiles

MAX_LINE_WARNINGS = 10
"""Malformed capture lines named on stderr; the others are only counted."""


def _replay_codec(venue: str, conn_text: str, symbols: list[str], *, narrow: bool) -> Codec:
    """The codec of one recorded connection: the venue's codec (or that of the venue's
    older protocol the connection speaks), serving ``symbols``; with ``narrow``, only those
    whose venue ids that connection subscribed (all when none is named)."""
    cls = replay_codec_class(venue, conn_text)
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
    venues = venue_list(args.venues) if args.venues is not None else recorded
    for venue in venues:
        if venue not in recorded:
            raise UsageError(f"--venues: {venue!r} is not in the capture ({', '.join(recorded)})")
    for venue in venues:
        canonical_venue(venue)  # a venue replay has no codec for is an error
    chosen = {raw: key for raw, key in keys.items() if key[0] in venues}
    named = [s for raw in chosen for s in index.symbols.get(raw, ())]
    if args.symbols is not None:
        symbols = symbol_list(args.symbols, ())
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
    config = load_run_config(args.config, emulated=False)
    check_books(args.books, config)
    out_path = output_path("--out", args.out)  # never the capture itself: it is read twice
    distinct_files(("--config", args.config), ("CAPTURE", args.capture), ("--out", out_path))
    serve, web = event_server_address(args.serve, args.web, announced=True)
    option = "--web" if web else "--serve"
    access = server_access(config.serve, args.serve_token, args.serve_origin, serve, option)
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
            warnings.append(f"{args.prog}: warning: {error}")  # the summary reports a cut short

    index = CaptureIndex.read(args.capture, damage)
    venues, symbols, served = _replay_plan(args, index)
    for warning in warnings:
        print(warning, file=sys.stderr)
    end_t = index.reader.last_t or 0
    out = sys.stdout.buffer
    with starting("--out"):
        files = [open(out_path, "wb")] if out_path else []  # noqa: SIM115 - closed below
    server = (
        WsEventServer(
            *serve,
            venues=venues,
            symbols=symbols,
            web=WebFiles() if web else None,
            access=access,
        )
        if serve
        else None
    )

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
        quotes=config.quotes,
        identity=identity_map(config.identity, venues).asset,
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
    if server is not None:
        live = server  # the replay's counters for /health and /metrics
        live.readings = lambda: replay_readings(replayer.summary, engine, live)
    # damage was reported by the first pass: the second one counts it again, silently
    second = CaptureReader(args.capture, on_error=lambda error: None)
    # only the chosen venues' connections, and of those only the ones serving a symbol
    records = (r for r in second if served.get((_canonical(r.venue), r.conn), []) != [])
    try:
        if server is None and speed == 0:
            replayer.run(records)
            engine.shutdown(end_t)
        else:
            event_loop_runner()(
                _replay_paced(replayer, records, engine, end_t, speed, server, args)
            )
    finally:
        out.flush()
        for fh in files:
            fh.close()
    print(f"{args.prog}: {_replay_summary(index, replayer.summary.records)}", file=sys.stderr)
    return 0


def replay_readings(summary: ReplaySummary, engine: Engine, server: WsEventServer) -> Readings:
    """What /health and /metrics report of a replay so far: its sessions' counters by
    (canonical) venue (no frame ages: the capture's clock is not now), the event server as
    the only sink, the engine's counters."""
    venues: dict[str, dict[str, int]] = {}
    for raw, sessions in summary.stats.items():
        totals = venues.setdefault(
            _canonical(raw),
            dict.fromkeys(
                ("frames", "book_updates", "resyncs", "malformed", "reconnects"),
                0,
            ),
        )
        conns = sum(venue == raw for venue, _ in summary.sessions)
        totals["reconnects"] += len(sessions) - conns
        for st in sessions:
            totals["frames"] += st.frames
            totals["book_updates"] += st.book_msgs
            totals["resyncs"] += st.resyncs
            totals["malformed"] += st.malformed
    return Readings(venues, {f"serve:{server.address}": server.counts()}, engine.stats)


def replay_symbols(
    capture: str,
    symbols: list[str],
    engine: Engine,
    on_state: Callable[[str, str, str | None, int], None],
    options: SessionOptions,
    listener: Callable[[str, str], BookListener] | None = None,
) -> tuple[int, Iterator[None]]:
    """Replay the records of ``symbols`` from ``capture`` into ``engine`` (whose venues are
    the capture's), as ``replay --symbols`` does: the capture's last record time, and an
    iterator that replays one record per step (so a caller can interleave other work).
    The same symbol gives the same events whichever others are replayed with it.
    ``listener(venue, symbol)``: the book listener instead of the engine's leg."""
    index = CaptureIndex.read(capture, lambda error: None)
    args = argparse.Namespace(venues=None, symbols=",".join(symbols))
    _, _, served = _replay_plan(args, index)

    def codec_for(venue: str, conn: int) -> Codec:
        key = (canonical_venue(venue), conn)
        text = "\n".join(index.texts.get((venue, conn), ())).lower()
        mine = served.get(key)
        return _replay_codec(key[0], text, mine or symbols, narrow=mine is None)

    def listener_for(venue: str, symbol: str) -> BookListener:
        return (listener or engine.leg)(canonical_venue(venue), symbol)

    replayer = Replayer(
        index.rest,
        codec_for,
        listener_for,
        lambda venue, state, reason, ts: on_state(canonical_venue(venue), state, reason, ts),
        options=options,
    )

    def steps() -> Iterator[None]:
        for r in CaptureReader(capture, on_error=lambda error: None):
            if served.get((_canonical(r.venue), r.conn), []) != []:
                replayer.feed(r)
                yield
        replayer.finish()

    return index.reader.last_t or 0, steps()


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
            await listen(server, f"{args.prog}: serving events on")
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
