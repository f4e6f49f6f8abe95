"""Standalone emulator: ``python -m emulator --venues binance,okx --symbols BTC/USDT --seed 7
--port-base 9100 --rate 500``. Prints one line per venue (``venue ws_url rest_url``), then one
JSON line per dislocation as it starts (the ground truth), until interrupted or
``--duration`` seconds have passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

from emulator.market import MarketConfig
from emulator.server import Emulator, EmulatorConfig
from emulator.venues import VENUES


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_args(argv: Sequence[str]) -> tuple[EmulatorConfig, float]:
    """The emulator configuration and the duration (s, 0: forever) from the arguments."""
    p = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    p.add_argument("--venues", type=_csv, default=tuple(VENUES), help="comma-separated ids")
    p.add_argument("--symbols", type=_csv, default=("BTC/USDT", "ETH/USDT"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port-base", type=int, default=0, help="0: ephemeral ports")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--rate", type=float, default=0.0, help="aggregate book msgs/s (default: 10/s per book)"
    )
    p.add_argument("--interval-ms", type=int, default=100, help="step (ignored with --rate)")
    p.add_argument("--dislocations-per-min", type=float, default=2.0, help="per symbol")
    p.add_argument("--okx-checksum-zero", action="store_true", help="OKX sends checksum 0")
    p.add_argument(
        "--quiet-symbols", type=_csv, default=(), help="symbols whose books never change"
    )
    p.add_argument(
        "--ping-interval", type=float, default=20.0, help="s between venue pings; 0: none"
    )
    p.add_argument("--bybit-ts-text", action="store_true", help="Bybit sends ts as a string")
    p.add_argument(
        "--okx-requests-per-hour", type=int, default=480, help="OKX subscribe budget per conn"
    )
    p.add_argument("--duration", type=float, default=0.0, help="seconds; 0 runs until killed")
    args = p.parse_args(list(argv))
    unknown = [v for v in args.venues if v not in VENUES]
    if unknown:
        p.error(f"unknown venues {unknown}; have {sorted(VENUES)}")
    if not set(args.quiet_symbols) <= set(args.symbols):
        p.error(f"--quiet-symbols: not among --symbols: {sorted(set(args.quiet_symbols))}")
    if args.ping_interval < 0 or args.okx_requests_per_hour < 1:
        p.error("--ping-interval must be >= 0 and --okx-requests-per-hour >= 1")
    interval = args.interval_ms
    if args.rate > 0:
        interval = max(1, round(1000 * len(args.venues) * len(args.symbols) / args.rate))
    market = MarketConfig(
        venues=args.venues,
        symbols=args.symbols,
        seed=args.seed,
        interval_ms=interval,
        dislocations_per_min=args.dislocations_per_min,
        quiet_symbols=frozenset(args.quiet_symbols),
    )
    config = EmulatorConfig(
        market=market,
        host=args.host,
        port_base=args.port_base,
        okx_checksum_zero=args.okx_checksum_zero,
        okx_requests_per_hour=args.okx_requests_per_hour,
        ping_interval_s=args.ping_interval or None,
        bybit_ts_text=args.bybit_ts_text,
    )
    return config, args.duration


async def serve(config: EmulatorConfig, duration: float) -> None:
    """Run the emulator, print its URLs and each dislocation as it starts."""
    async with Emulator(config) as emu:
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


def main(argv: Sequence[str]) -> int:
    """Entry point (``python -m emulator``; ``python run.py emulate`` calls it)."""
    config, duration = parse_args(argv)
    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    if sys.platform != "win32":  # uvloop is a dependency there (pyproject): ~30% more msgs/s
        import uvloop

        run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(config, duration))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
