"""The ``arbscan`` command line (``python run.py`` is the same): sub-commands, options and
configuration checked into a :class:`~arbscan.options.Plan`, then the scan, the replay or the
emulator. Every bad command line or configuration is one line on stderr and exit status 2.

    arbscan                        scan the simulated market (local emulator), console
    arbscan live   --venues ... --symbols ...     scan the real venues
    arbscan record OUT.ndjson.gz [--live] ...     scan and write a capture (v1)
    arbscan replay CAPTURE [--serve H:P] ...      replay a capture, print the events
    arbscan emulate ...                           run the venue emulator alone
    arbscan worker --nats URL [--name N] ...      scan the symbols this worker leases
    arbscan console --nats URL [--json] ...       the cluster's merged event stream
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from arbscan.options import (
    DEFAULT_SYMBOLS,
    DEFAULT_WEB,
    Plan,
    UsageError,
    check_books,
    distinct_files,
    event_loop_runner,
    event_server_address,
    load_run_config,
    output_path,
    server_access,
    symbol_list,
    venue_list,
)
from arbscan.quotes import emulated_market, identity_map
from arbscan.replay import replay_main
from arbscan.scan import scan
from feeds.capture import CaptureError
from feeds.venues import VENUES, UnknownVenue, canonical_venue, codec_class
from scanner.config import ConfigError

if TYPE_CHECKING:
    from emulator.server import FaultSpec


def _faults(plan: Plan, given: Sequence[str]) -> list[FaultSpec]:
    """The config's fault specs, then the command line's, checked by the emulator's parser
    against the scanned venues and symbols."""
    from emulator.faults import FaultSpecError, parse_fault

    found: list[FaultSpec] = []
    named = [(f"emulator.faults[{i}]", t) for i, t in enumerate(plan.config.emulator_faults)]
    for where, text in [*named, *(("--fault", t) for t in given)]:
        try:  # a fault on one venue's symbol: among those that venue is scanned for
            symbols = plan.symbols_of(canonical_venue(text.partition(":")[0].strip()))
        except ValueError:
            symbols = plan.symbols  # the parser names the unknown venue
        try:
            spec = parse_fault(
                text,
                venue=canonical_venue,
                venues=tuple(plan.venues),
                symbols=tuple(symbols),
            )
        except FaultSpecError as exc:
            error = ConfigError if where != "--fault" else UsageError
            raise error(f"{where}: {exc}") from None
        found.append(spec)
    return found


def _emulated(text: str | None) -> list[str]:
    """The simulated market's venues: by default every venue the emulator serves (in the
    registry's order); a venue it does not serve is a usage error."""
    from emulator.venues import VENUES as SERVED

    venues = venue_list(text, [v for v in VENUES if v in SERVED])
    absent = [v for v in venues if v not in SERVED]
    if absent:
        raise UsageError(
            f"--venues: the emulator does not serve {', '.join(absent)} "
            f"(it serves {', '.join(v for v in VENUES if v in SERVED)}; `live` scans every venue)"
        )
    return venues


def _levels(text: str) -> int:
    """A number of book levels (argparse type)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _add_scan_options(p: argparse.ArgumentParser, *, symbols_help: str) -> None:
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument(
        "--venues",
        help="comma-separated venue ids, or all (the default: every venue; the simulated "
        "market: every venue the emulator serves)",
    )
    p.add_argument("--symbols", help=symbols_help)
    p.add_argument("--json", action="store_true", help="NDJSON events on stdout, no console")
    p.add_argument("--out", help="also write NDJSON events to this file")
    _add_server_options(p)
    p.add_argument(
        "--books", type=_levels, default=0, help="add a book event of N levels per update"
    )


def _add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--serve", help="WebSocket event server on HOST:PORT ([::1]:PORT for IPv6)")
    p.add_argument(
        "--web",
        nargs="?",
        const=DEFAULT_WEB,
        metavar="HOST:PORT",
        help=f"the dashboard, and the event server on /ws, on HOST:PORT (default {DEFAULT_WEB})",
    )
    p.add_argument(
        "--serve-token",
        metavar="TOKEN",
        help="event server clients must present TOKEN (needed off loopback; or serve.token)",
    )
    p.add_argument(
        "--serve-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept browsers from ORIGIN, e.g. https://dash.example (repeatable)",
    )


COMMANDS = ("scan", "live", "record", "replay", "emulate", "worker", "console")


def _add_cluster_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("worker", help="scan the symbols leased from a NATS cluster")
    p.add_argument("--nats", required=True, help="NATS server URL (nats://host:4222)")
    p.add_argument("--name", help="worker name, unique in the cluster (default: host-pid)")
    p.add_argument(
        "--min-workers", type=int, default=1, help="take no symbol until N workers are live"
    )
    p.add_argument("--replay", metavar="CAPTURE", help="replay each leased symbol from CAPTURE")
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--venues", help="comma-separated venue ids, or all (the default)")
    p.add_argument("--symbols", help="comma-separated BASE/QUOTE: the cluster's symbols")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.set_defaults(seed=None, fault=[], books=0, json=False, out=None, live=True)
    p.set_defaults(serve=None, web=None, serve_token=None, serve_origin=[])
    p = sub.add_parser("console", help="read the cluster's event stream from NATS")
    p.add_argument("--nats", required=True, help="NATS server URL (nats://host:4222)")
    p.add_argument("--durable", help="resume where the last reader of this name stopped")
    p.add_argument("--config", help="TOML configuration file ([cluster])")
    p.add_argument("--json", action="store_true", help="NDJSON events on stdout, no console")
    p.add_argument("--out", help="also write NDJSON events to this file")
    _add_server_options(p)
    p.add_argument("--duration", type=float, help="stop after this many seconds")


def parser(prog: str = "run.py") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="cross-exchange arbitrage scanner; no sub-command: scan the simulated market",
    )
    ap.set_defaults(prog=prog)  # the program named in the messages on stderr
    sub = ap.add_subparsers(dest="command")
    default_help = f"comma-separated BASE/QUOTE (default: {','.join(DEFAULT_SYMBOLS)})"
    for name, helptext in (
        ("scan", "scan the simulated market (the default)"),
        ("live", "scan the real venues"),
        ("record", "scan and record a capture"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "record":
            p.add_argument("capture", help="capture file to write (.gz compresses)")
            p.add_argument("--live", action="store_true", help="record the real venues")
        _add_scan_options(p, symbols_help=default_help)
        p.add_argument("--duration", type=float, help="stop after this many seconds")
        simulated = name != "live"  # live refuses these with a message; its help omits them
        p.add_argument(
            "--seed",
            type=int,
            help="seed of the simulated market (default 1)" if simulated else argparse.SUPPRESS,
        )
        p.add_argument(
            "--fault",
            action="append",
            default=[],
            help="emulator fault VENUE:KIND[@DELAY][:key=value,...], e.g. okx:gap@10s"
            if simulated
            else argparse.SUPPRESS,
        )
    p = sub.add_parser("replay", help="replay a capture and print the event stream")
    p.add_argument("capture", help="capture v1 file (.ndjson or .ndjson.gz)")
    _add_scan_options(
        p, symbols_help="comma-separated BASE/QUOTE (default: those the capture's connections name)"
    )
    p.add_argument(
        "--strict", action="store_true", help="a malformed or cut-short capture is an error"
    )
    p.add_argument(
        "--speed",
        type=float,
        help="pace at the capture's timing x SPEED (0: at once; default 1 with --serve, else 0)",
    )
    p.add_argument(
        "--wait-clients",
        type=int,
        default=0,
        metavar="N",
        help="with --serve: start once N clients are connected",
    )
    sub.add_parser("emulate", help="run the venue emulator alone", add_help=False)
    _add_cluster_commands(sub)
    return ap


def plan_from(args: argparse.Namespace) -> Plan:
    emulated = args.command == "scan" or (args.command == "record" and not args.live)
    config = load_run_config(args.config, emulated=emulated)
    if not emulated:
        for option, given in (("--seed", args.seed is not None), ("--fault", args.fault)):
            if given:
                raise UsageError(f"{option}: only for the simulated market, not the real venues")
    check_books(args.books, config)
    duration = args.duration
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise UsageError(f"--duration: must be a finite number of seconds > 0, got {duration:g}")
    record = output_path("CAPTURE", getattr(args, "capture", None))
    out = output_path("--out", args.out)
    distinct_files(("--config", args.config), ("CAPTURE", record), ("--out", out))
    serve, web = event_server_address(args.serve, args.web)
    option = "--web" if web else "--serve"
    access = server_access(config.serve, args.serve_token, args.serve_origin, serve, option)
    venues = _emulated(args.venues) if emulated else venue_list(args.venues)
    symbols = symbol_list(args.symbols, DEFAULT_SYMBOLS)
    listings: dict[str, list[str]] = {}
    if emulated and args.symbols is None:  # the default market: each venue its own quotes
        symbols, listings = emulated_market(venues)
    plan = Plan(
        config=config,
        venues=venues,
        symbols=symbols,
        listings=listings,
        json=args.json,
        out=out,
        serve=serve,
        web=web,
        access=access,
        duration=duration,
        books=args.books,
        record=record,
        emulated=emulated,
        seed=1 if args.seed is None else args.seed,
        prog=args.prog,
    )
    plan.per_connection = dict(config.connections)  # venue ids: the config resolved them
    if emulated:
        plan.faults = _faults(plan, args.fault)
    for venue in plan.venues:
        config.fee_bps(venue)  # a venue without a fee is a configuration error
        try:  # the venue's codec refuses a symbol it cannot name, or two with one venue id
            codec_class(venue)(plan.symbols_of(venue))
        except ValueError as exc:
            raise UsageError(f"--symbols: {exc}") from None
        endpoint = config.urls.get(venue)
        if endpoint is not None and endpoint.ws:
            plan.ws_urls[venue] = endpoint.ws
        if endpoint is not None and endpoint.rest:
            plan.rest_urls[venue] = endpoint.rest
    plan.identity = identity_map(config.identity, plan.venues, None if emulated else fetch_json)
    return plan


def fetch_json(url: str) -> object:
    """GET ``url`` at start-up (a venue's public asset metadata), its JSON; a failure is a
    configuration error naming the key that asked for it."""
    import httpx

    try:
        response = httpx.get(url, timeout=10.0)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"identity.metadata: fetching {url} failed: {exc}") from None


def main(argv: Sequence[str] | None = None, *, prog: str = "run.py") -> int:
    """Run the command line ``argv``; ``prog`` names the program in usage and error messages."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulate"]:
        from emulator.cli import main as emulate

        return emulate(argv[1:], prog=f"{prog} emulate")
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        # no sub-command: the options are the emulated scan's, or with --nats the stream's
        nats = any(a == "--nats" or a.startswith("--nats=") for a in argv)
        argv = ["console" if nats else "scan", *argv]
    args = parser(prog).parse_args(argv)
    if args.command in ("worker", "console"):
        return _cluster_main(args)
    try:
        if args.command == "replay":
            return replay_main(args)
        plan = plan_from(args)
    except (ConfigError, UsageError, UnknownVenue, CaptureError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a replay stopped by Ctrl-C
        return 130
    run = event_loop_runner()
    try:
        result = run(scan(plan))
    except UsageError as exc:  # raised only while starting, before anything runs
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result) if isinstance(result, int) else 0


def _cluster_main(args: argparse.Namespace) -> int:
    """The worker or the stream's reader (the ``nats`` extra: imported only here)."""
    try:
        from arbscan.cluster import consume, worker
    except ImportError as exc:
        print(f"{args.prog}: {args.command}: needs the nats extra ({exc})", file=sys.stderr)
        return 2
    try:
        if args.command == "console":
            consume.check(args)
            coro = consume.consume(args)
        else:
            if args.min_workers < 1:
                raise UsageError(f"--min-workers: must be >= 1, got {args.min_workers}")
            name = args.name or f"{socket.gethostname()}-{os.getpid()}"
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise UsageError(f"--name: letters, digits, - and _ only, got {name!r}")
            plan = plan_from(args)
            options = worker.WorkerOptions(args.nats, name, args.min_workers, args.replay)
            coro = worker.run_worker(plan, options)
        result = event_loop_runner()(coro)
        return result if isinstance(result, int) else 0
    except (ConfigError, UsageError, UnknownVenue, OSError) as exc:
        print(f"{args.prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The installed ``arbscan`` command (``[project.scripts]`` in pyproject.toml)."""
    raise SystemExit(main(prog="arbscan"))


if __name__ == "__main__":
    raise SystemExit(main())
