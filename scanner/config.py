"""Configuration: a TOML file with defaults, validated at start-up.

Every key is checked; an unknown key or a bad value raises :class:`ConfigError` whose message
names the key (``scanner.open_bps: expected a number, got 'x'``). ``run.py`` prints it and exits
non-zero. The public keys::

    [scanner]
    open_bps = 5.0          # open when net_bps >= this (and profit >= min_profit)
    close_bps = 2.0         # close when net_bps < this (hysteresis: close_bps <= open_bps)
    update_bps = 1.0        # material change of net_bps for an "updated" event
    min_profit = 0.0        # quote units, condition to open only
    depth_levels = 20       # levels per side kept per book for the depth walk
    max_notional = 0.0      # cap on cost per opportunity, 0 = none
    update_interval_ms = 250  # at most one "updated" per opportunity per interval
    [feeds]
    stale_after_s = 10.0    # no frame on a connection for this long -> stale, reconnect
    max_book_age_s = 60.0   # a book not updated for this long (venue heartbeats) -> stale
    warmup_ms = 0           # a (re)synced book is used only after being live this long
    stats_interval_s = 10.0 # a "stats" event this often (and one at shutdown); 0 = none
    [fees]                  # taker fee in basis points, per venue id
    binance = 10.0
    [urls.binance]          # endpoint overrides (emulator, testnet, proxy)
    ws = "wss://stream.binance.com:9443/ws"
    rest = "https://api.binance.com"
    [connections]           # venue products per WebSocket connection, per venue id
    coinbase = 10           # (default: the venue's own limit; run.py checks the venue ids)
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# Taker fees of the lowest-volume tier, in basis points, from each venue's public schedule
# (checked 2026-11; fees change: override them in [fees] with your own tier).
DEFAULT_TAKER_FEES_BPS: dict[str, float] = {
    "binance": 10.0,  # 0.100 % VIP 0 spot  https://www.binance.com/en/fee/schedule
    "binanceus": 60.0,  # 0.600 % Tier 0 (Tier II pairs)  https://www.binance.us/fees
    "okx": 10.0,  # 0.100 % Regular Lv1 spot  https://www.okx.com/fees
    "bybit": 10.0,  # 0.100 % non-VIP spot  https://www.bybit.com/en/announcement-info/fee-rate/
    # 1.20 % Coinbase Advanced, $0-1K tier:
    # https://help.coinbase.com/en/coinbase/trading-and-funding/advanced-trade/advanced-trade-fees
    "coinbase": 120.0,
    "kraken": 40.0,  # 0.40 % Kraken Pro $0-10K  https://www.kraken.com/features/fee-schedule
}


class ConfigError(ValueError):
    """A configuration problem; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class ScannerConfig:
    open_bps: float = 5.0
    close_bps: float = 2.0
    update_bps: float = 1.0
    min_profit: float = 0.0
    depth_levels: int = 20
    max_notional: float = 0.0
    update_interval_ms: int = 250


@dataclass(frozen=True, slots=True)
class FeedsConfig:
    stale_after_s: float = 10.0
    max_book_age_s: float = 60.0
    warmup_ms: int = 0
    stats_interval_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    ws: str | None = None
    rest: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    scanner: ScannerConfig = ScannerConfig()
    feeds: FeedsConfig = FeedsConfig()
    fees_bps: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TAKER_FEES_BPS))
    urls: Mapping[str, Endpoint] = field(default_factory=dict)
    connections: Mapping[str, int] = field(default_factory=dict)
    """Venue products per connection, per venue id (unset: the venue's own limit)."""

    def fee_bps(self, venue: str) -> float:
        """Taker fee of ``venue`` in bps; ConfigError if none is known."""
        try:
            return self.fees_bps[venue]
        except KeyError:
            raise ConfigError(f"fees.{venue}: no taker fee known for this venue; set it") from None


def _number(key: str, value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{key}: expected {kind}, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be finite, got {value!r}")
    return value


def _section(cls: type[Any], name: str, raw: Any, checks: Mapping[str, tuple[float, float]]) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, int | float] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key (known: {', '.join(known)})")
        integer = known[key].type == "int"
        number = _number(f"{name}.{key}", value, integer=integer)
        lo, hi = checks[key]
        if not lo <= number <= hi:
            raise ConfigError(f"{name}.{key}: must be between {lo:g} and {hi:g}, got {value!r}")
        values[key] = int(number) if integer else float(number)
    return cls(**values)


_INF = math.inf
_SCANNER_RANGES = {
    "open_bps": (-_INF, _INF),
    "close_bps": (-_INF, _INF),
    "update_bps": (0.0, _INF),
    "min_profit": (0.0, _INF),
    "depth_levels": (1, 1000),
    "max_notional": (0.0, _INF),
    "update_interval_ms": (0, 3_600_000),
}
MAX_PER_CONNECTION = 1000
"""The most venue products one connection may carry, whatever the configuration says."""
_FEEDS_RANGES = {
    "stale_after_s": (0.1, 3600.0),
    "max_book_age_s": (0.1, 86400.0),
    "warmup_ms": (0, 3_600_000),
    "stats_interval_s": (0.0, 86400.0),
}


def parse_config(raw: Mapping[str, Any]) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    allowed = {"scanner", "feeds", "fees", "urls", "connections"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{key}: unknown section (known: {', '.join(sorted(allowed))})")
    scanner = _section(ScannerConfig, "scanner", raw.get("scanner", {}), _SCANNER_RANGES)
    if scanner.close_bps > scanner.open_bps:
        raise ConfigError(
            f"scanner.close_bps: must be <= scanner.open_bps ({scanner.close_bps} > "
            f"{scanner.open_bps})"
        )
    feeds = _section(FeedsConfig, "feeds", raw.get("feeds", {}), _FEEDS_RANGES)
    fees = dict(DEFAULT_TAKER_FEES_BPS)
    raw_fees = raw.get("fees", {})
    if not isinstance(raw_fees, dict):
        raise ConfigError("fees: expected a table of venue = bps")
    for venue, value in raw_fees.items():
        bps = _number(f"fees.{venue}", value)
        if not 0.0 <= bps < 10_000.0:
            raise ConfigError(f"fees.{venue}: must be between 0 and 10000 bps, got {value!r}")
        fees[venue] = bps
    urls: dict[str, Endpoint] = {}
    raw_urls = raw.get("urls", {})
    if not isinstance(raw_urls, dict):
        raise ConfigError("urls: expected tables [urls.<venue>] with ws/rest keys")
    for venue, table in raw_urls.items():
        if not isinstance(table, dict):
            raise ConfigError(f"urls.{venue}: expected a table with ws/rest keys")
        for key, value in table.items():
            if key not in ("ws", "rest"):
                raise ConfigError(f"urls.{venue}.{key}: unknown key (known: ws, rest)")
            if not isinstance(value, str) or "://" not in value:
                raise ConfigError(f"urls.{venue}.{key}: expected a URL, got {value!r}")
        urls[venue] = Endpoint(ws=table.get("ws"), rest=table.get("rest"))
    connections: dict[str, int] = {}
    raw_connections = raw.get("connections", {})
    if not isinstance(raw_connections, dict):
        raise ConfigError("connections: expected a table of venue = products per connection")
    for venue, value in raw_connections.items():
        size = _number(f"connections.{venue}", value, integer=True)
        if not 1 <= size <= MAX_PER_CONNECTION:
            raise ConfigError(
                f"connections.{venue}: must be between 1 and {MAX_PER_CONNECTION}, got {value!r}"
            )
        connections[venue] = int(size)
    return Config(scanner=scanner, feeds=feeds, fees_bps=fees, urls=urls, connections=connections)


def load_config(path: str | Path | None) -> Config:
    """Defaults when ``path`` is None; else the validated TOML file."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(raw)
