"""Standalone emulator: ``python -m emulator --venues binance,okx --symbols BTC/USDT --seed 7
--port-base 9100 --rate 500 --fault okx:gap@10s``. Prints one line per venue (``venue ws_url
rest_url``), then one JSON line per dislocation as it starts (the ground truth), until
interrupted or ``--duration`` seconds have passed. Faults: :mod:`emulator.faults`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import math
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

from emulator.faults import FaultSpecError, parse_fault
from emulator.market import MarketConfig
from emulator.server import Emulator, EmulatorConfig
from emulator.venues import VENUES

_SYMBOL = re.compile(r"[A-Z0-9]+/[A-Z0-9]+")


class StartError(Exception):
    """The emulator could not start (a port in use, an address not on this machine)."""


def _names(p: argparse.ArgumentParser, option: str, text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        p.error(f"{option}: expected a comma-separated list without empty items, got {text!r}")
    if len(set(names)) != len(names):
        p.error(f"{option}: duplicate in {text!r}")
    return names


def _host(text: str) -> str:
    """A local address to listen on: an IP address or ``localhost`` (IPv6 in brackets or not)."""
    host = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an IP address or localhost, got {text!r}"
            ) from None
    return host


def _check(
    p: argparse.ArgumentParser, option: str, value: float, lo: float, hi: float = math.inf
) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        bounds = f">= {lo:g}" if hi == math.inf else f"between {lo:g} and {hi:g}"
        p.error(f"{option}: must be a number {bounds}, got {value:g}")


def parse_args(
    argv: Sequence[str], prog: str = "python -m emulator"
) -> tuple[EmulatorConfig, float]:
    """The emulator configuration and the duration (s, 0: forever) from the arguments; a bad
    value is argparse's one-line error (exit status 2)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--venues", default=",".join(VENUES), help="comma-separated ids")
    p.add_argument("--symbols", default="BTC/USDT,ETH/USDT", help="comma-separated BASE/QUOTE")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port-base", type=int, default=0, help="0: ephemeral ports")
    p.add_argument("--host", type=_host, default="127.0.0.1", help="IP address or localhost")
    p.add_argument(
        "--rate", type=float, default=0.0, help="aggregate book msgs/s (default: 10/s per book)"
    )
    p.add_argument("--interval-ms", type=int, help="step (default 100; not with --rate)")
    p.add_argument("--dislocations-per-min", type=float, default=2.0, help="per symbol")
    p.add_argument(
        "--quiet-symbols", help="comma-separated symbols (of --symbols) whose books stay still"
    )
    p.add_argument(
        "--ping-interval", type=float, default=20.0, help="s between venue pings; 0: none"
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        help="VENUE:KEY[=VALUE], a venue option, e.g. okx:checksum_zero, "
        "okx:requests_per_hour=3, bybit:ts_text (repeatable)",
    )
    p.add_argument("--duration", type=float, default=0.0, help="seconds; 0 runs until killed")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        help="VENUE:KIND[@DELAY][:key=value,...], e.g. okx:gap@10s (repeatable)",
    )
    args = p.parse_args(list(argv))
    venues = _names(p, "--venues", args.venues)
    unknown = [v for v in venues if v not in VENUES]
    if unknown:
        p.error(f"--venues: unknown venues {unknown}; have {sorted(VENUES)}")
    symbols = _names(p, "--symbols", args.symbols)
    for symbol in symbols:
        base, _, quote = symbol.partition("/")
        if not _SYMBOL.fullmatch(symbol) or base == quote:
            p.error(f"--symbols: {symbol!r} is not a canonical BASE/QUOTE symbol")
    if args.port_base:
        _check(p, "--port-base", args.port_base, 1, 65536 - len(venues))
    _check(p, "--rate", args.rate, 0.0)
    _check(p, "--dislocations-per-min", args.dislocations_per_min, 0.0, 60_000.0)
    _check(p, "--duration", args.duration, 0.0)
    _check(p, "--ping-interval", args.ping_interval, 0.0)
    quiet: tuple[str, ...] = ()
    if args.quiet_symbols is not None:
        quiet = _names(p, "--quiet-symbols", args.quiet_symbols)
        if not set(quiet) <= set(symbols):
            p.error(f"--quiet-symbols: not among --symbols: {sorted(set(quiet) - set(symbols))}")
    interval = 100 if args.interval_ms is None else args.interval_ms
    _check(p, "--interval-ms", interval, 1, 60_000)
    if args.rate > 0:
        if args.interval_ms is not None:
            p.error("--interval-ms: not with --rate (the rate sets the step)")
        interval = max(1, round(1000 * len(venues) * len(symbols) / args.rate))
        if interval > 60_000:
            slowest = len(venues) * len(symbols) / 60
            p.error(f"--rate: at least one message a minute per book ({slowest:g}/s here)")
    options: dict[str, dict[str, object]] = {}
    for text in args.option:
        venue, _, setting = text.partition(":")
        key, eq, value = setting.partition("=")
        if venue not in venues:
            p.error(f"--option: {text!r}: {venue} is not among the venues")
        given = options.setdefault(venue, {})
        words = {"true": True, "false": False}
        given[key] = int(value) if value.isdigit() else words.get(value, value) if eq else True
        try:
            VENUES[venue].check_options(given)
        except ValueError as exc:
            p.error(f"--option: {text!r}: {exc}")
    try:
        faults = tuple(parse_fault(f, venues=venues, symbols=symbols) for f in args.fault)
    except FaultSpecError as exc:
        p.error(f"--fault: {exc}")
    market = MarketConfig(
        venues=venues,
        symbols=symbols,
        seed=args.seed,
        interval_ms=interval,
        dislocations_per_min=args.dislocations_per_min,
        quiet_symbols=frozenset(quiet),
    )
    config = EmulatorConfig(
        market=market,
        host=args.host,
        port_base=args.port_base,
        faults=faults,
        venue_options=options,
        ping_interval_s=args.ping_interval or None,
    )
    return config, args.duration


async def serve(config: EmulatorConfig, duration: float) -> None:
    """Run the emulator, print its URLs and each dislocation as it starts."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            emu = await stack.enter_async_context(Emulator(config))
        except OSError as exc:
            raise StartError(f"cannot listen: {exc.strerror or exc}") from None
        for venue in config.market.venues:
            print(venue, emu.ws_url(venue), emu.rest_url(venue), flush=True)
        loop = asyncio.get_running_loop()
        end = loop.time() + duration if duration > 0 else float("inf")
        shown = 0
        while loop.time() < end:
            await asyncio.sleep(min(0.2, max(0.0, end - loop.time())))
            for d in emu.dislocations[shown:]:
                print(orjson.dumps(d).decode(), flush=True)
            shown = len(emu.dislocations)


def main(argv: Sequence[str], prog: str = "python -m emulator") -> int:
    """Entry point (``python -m emulator``; ``python run.py emulate`` calls it)."""
    config, duration = parse_args(argv, prog)
    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    if sys.platform != "win32":  # uvloop is a dependency there (pyproject): ~30% more msgs/s
        import uvloop

        run = uvloop.run
    try:
        run(serve(config, duration))
    except StartError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
