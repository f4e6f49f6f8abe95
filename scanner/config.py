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
    [connections]           # venue products per WebSocket connection, per venue
    coinbase = 10           # (default: the venue's own limit)
    [emulator]              # the simulated market only (make run)
    faults = ["okx:gap@10s"]  # fault specs, checked by run.py with the emulator's parser
    [serve]                 # the event server (--serve, --web)
    token = "..."           # clients must present it; required to listen off loopback
    origins = ["https://dash.example"]  # browser origins allowed besides the server's own
    max_clients = 64        # connected clients at most; more: HTTP 503
    token_exempt = ["/health"]  # of /health and /metrics: those answered without the token
    [quotes]                # across quote currencies (docs/quotes.md)
    groups = [["USD", "USDT", "USDC", "FDUSD"]]  # quotes convertible into each other
    fx_max_age_ms = 10000   # a conversion book older than this is not used; 0 = feed rules only
    max_gross_bps = 1000.0  # a pair whose gross spread exceeds this is a "suspect", never traded
    premium_interval_ms = 1000  # premiums of one base computed at most this often
    premium_update_bps = 5.0    # a premium event when it moved this much since the last one
    [quotes.fx.KRW]         # a rate given by hand: units of KRW per USD, and when it was set
    per_usd = 1380.0
    set_at = 2026-12-05T00:00:00Z
    [identity]
    equal = ["htx:GTC"]     # venue tickers known to differ, declared the same asset anyway
    metadata = false        # confirm identity with venues' public asset metadata at start-up
    metadata_cache = ""     # file the fetched metadata is cached in
    [cluster]               # workers over NATS (run.py worker, console --nats)
    lease_ttl_s = 6.0       # a dead worker's symbols move within about this long
    stream_max_age_s = 86400.0  # the event stream keeps events this long...
    stream_max_msgs = 10000000  # ...and at most this many
    fx_stale_ms = 3000      # a conversion book published by another worker and not refreshed
                            # within this long is unusable (stale) here
    fx_rate_hz = 10.0       # each conversion book is published at most this often

Venue names under ``[fees]``, ``[urls]`` and ``[connections]`` go through the resolver given
to :func:`load_config` (``run.py`` gives the feeds' registry, which maps old ids to current
ones and refuses unknown venues); without one they are taken as written.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


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


DEFAULT_GROUPS: tuple[tuple[str, ...], ...] = (("USD", "USDT", "USDC", "FDUSD"),)


@dataclass(frozen=True, slots=True)
class FixedRate:
    """A rate given by hand: units of the quote per USD, and when it was set (ns)."""

    per_usd: float
    set_ns: int


@dataclass(frozen=True, slots=True)
class QuotesConfig:
    groups: tuple[tuple[str, ...], ...] = DEFAULT_GROUPS
    fx_max_age_ms: int = 10_000
    max_gross_bps: float = 1000.0
    premium_interval_ms: int = 1000
    premium_update_bps: float = 5.0
    fx: Mapping[str, FixedRate] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    equal: tuple[tuple[str, str], ...] = ()
    """(venue, ticker) declared the same asset as the ticker elsewhere."""
    metadata: bool = False
    metadata_cache: str = ""


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    lease_ttl_s: float = 6.0
    stream_max_age_s: float = 86400.0
    stream_max_msgs: int = 10_000_000
    fx_stale_ms: int = 3000
    fx_rate_hz: float = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    ws: str | None = None
    rest: str | None = None


@dataclass(frozen=True, slots=True)
class ServeConfig:
    token: str | None = None
    origins: tuple[str, ...] = ()
    max_clients: int = 64
    token_exempt: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    scanner: ScannerConfig = ScannerConfig()
    feeds: FeedsConfig = FeedsConfig()
    fees_bps: Mapping[str, float] = field(default_factory=dict)
    """Taker fee per venue id: the defaults given to :func:`load_config`, then ``[fees]``."""
    urls: Mapping[str, Endpoint] = field(default_factory=dict)
    connections: Mapping[str, int] = field(default_factory=dict)
    """Venue products per connection, per venue id (unset: the venue's own limit)."""
    emulator_faults: tuple[str, ...] = ()
    """Fault specs for the emulated market (text; run.py parses them)."""
    serve: ServeConfig = ServeConfig()
    quotes: QuotesConfig = QuotesConfig()
    identity: IdentityConfig = IdentityConfig()
    cluster: ClusterConfig = ClusterConfig()

    def fee_bps(self, venue: str) -> float:
        """Taker fee of ``venue`` in bps; ConfigError if none is known."""
        try:
            return self.fees_bps[venue]
        except KeyError:
            raise ConfigError(f"fees.{venue}: no taker fee known for this venue; set it") from None


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(*parts: str) -> str:
    """A dotted key as TOML writes it: a part that is not a bare key is quoted (and escaped,
    so a message naming it stays on one line)."""
    return ".".join(p if _BARE_KEY.fullmatch(p) else json.dumps(p) for p in parts)


def _number(key: str, value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{key}: expected {kind}, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:  # TOML integers are 64-bit
        raise ConfigError(f"{key}: out of range, got {value!r}")
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
            raise ConfigError(f"{_key(name, key)}: unknown key (known: {', '.join(known)})")
        integer = known[key].type == "int"
        number = _number(_key(name, key), value, integer=integer)
        lo, hi = checks[key]
        if not lo <= number <= hi:
            raise ConfigError(
                f"{_key(name, key)}: must be between {lo:g} and {hi:g}, got {value!r}"
            )
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
_CLUSTER_RANGES = {
    "lease_ttl_s": (1.0, 300.0),
    "stream_max_age_s": (1.0, 365 * 86400.0),
    "stream_max_msgs": (1, 2**62),
    "fx_stale_ms": (100, 3_600_000),
    "fx_rate_hz": (0.1, 1000.0),
}


_URL_SCHEMES: Mapping[str, tuple[str, ...]] = {"ws": ("ws", "wss"), "rest": ("http", "https")}

VenueResolver = Callable[[str], str]
"""Maps a venue name as written (an id or an alias) to its id; a ValueError refuses it."""


def _venue_tables(
    section: str, raw: dict[str, Any], resolve: VenueResolver | None
) -> dict[str, tuple[str, Any]]:
    """``raw``'s entries by venue id (with the key as written, for messages)."""
    out: dict[str, tuple[str, Any]] = {}
    for key, value in raw.items():
        try:
            venue = resolve(key) if resolve is not None else key
        except ValueError as exc:
            raise ConfigError(f"{_key(section, key)}: {exc}") from None
        if venue in out:
            raise ConfigError(
                f"{_key(section, key)}: the same venue as {_key(section, out[venue][0])}"
            )
        out[venue] = (key, value)
    return out


def _url(key: str, value: Any, schemes: tuple[str, ...]) -> str:
    want = " or ".join(f"{s}://" for s in schemes)
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a {want} URL, got {value!r}")
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{key}: not a valid URL: {value!r}") from None
    if url.scheme not in schemes or not url.hostname:
        raise ConfigError(f"{key}: expected a {want} URL with a host, got {value!r}")
    return value


def _emulator(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, dict):
        raise ConfigError("emulator: expected a table")
    for key in raw:
        if key != "faults":
            raise ConfigError(f"{_key('emulator', key)}: unknown key (known: faults)")
    faults = raw.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise ConfigError(f"emulator.faults: expected a list of strings, got {faults!r}")
    return tuple(faults)


TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,256}")
"""An event server token: 16 to 256 characters that need no escaping in a URL."""
ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")
"""A browser origin: scheme and host (lower case), an optional port, no path."""
OPERATOR_PATHS = ("/health", "/metrics")


def _strings(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    return value


def _serve(raw: Any) -> ServeConfig:
    if not isinstance(raw, dict):
        raise ConfigError("serve: expected a table")
    known = [f.name for f in fields(ServeConfig)]
    for key in raw:
        if key not in known:
            raise ConfigError(f"{_key('serve', key)}: unknown key (known: {', '.join(known)})")
    token = raw.get("token")
    if token is not None and (not isinstance(token, str) or not TOKEN.fullmatch(token)):
        raise ConfigError(
            "serve.token: expected 16 to 256 characters among A-Z a-z 0-9 . _ ~ - "
            "(python -c 'import secrets; print(secrets.token_urlsafe(24))' makes one)"
        )
    origins = _strings("serve.origins", raw.get("origins", []))
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"serve.origins: expected http(s)://host[:port] in lower case, got {origin!r}"
            )
    max_clients = _number("serve.max_clients", raw.get("max_clients", 64), integer=True)
    if not 1 <= max_clients <= 10_000:
        raise ConfigError(f"serve.max_clients: must be between 1 and 10000, got {max_clients!r}")
    exempt = _strings("serve.token_exempt", raw.get("token_exempt", []))
    for path in exempt:
        if path not in OPERATOR_PATHS:
            raise ConfigError(f"serve.token_exempt: expected /health or /metrics, got {path!r}")
    return ServeConfig(token, tuple(origins), int(max_clients), tuple(exempt))


_ASSET = re.compile(r"[A-Z0-9][A-Z0-9.]{0,19}")
_QUOTES_RANGES = {
    "fx_max_age_ms": (0, 86_400_000),
    "max_gross_bps": (0.0, _INF),
    "premium_interval_ms": (0, 3_600_000),
    "premium_update_bps": (0.0, _INF),
}


def _quotes(raw: Any) -> QuotesConfig:
    if not isinstance(raw, dict):
        raise ConfigError("quotes: expected a table")
    numbers = {k: v for k, v in raw.items() if k not in ("groups", "fx")}
    base = _section(QuotesConfig, "quotes", numbers, _QUOTES_RANGES)
    groups = raw.get("groups", [list(g) for g in DEFAULT_GROUPS])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(q, str) for q in g) for g in groups
    ):
        raise ConfigError(f"quotes.groups: expected a list of lists of 2+ quotes, got {groups!r}")
    seen: set[str] = set()
    for group in groups:
        for quote in group:
            if not _ASSET.fullmatch(quote):
                raise ConfigError(f"quotes.groups: {quote!r} is not an upper-case asset code")
            if quote in seen:
                raise ConfigError(f"quotes.groups: {quote!r} is in more than one group")
            seen.add(quote)
    fx_raw = raw.get("fx", {})
    if not isinstance(fx_raw, dict):
        raise ConfigError("quotes.fx: expected tables [quotes.fx.<QUOTE>]")
    fx: dict[str, FixedRate] = {}
    for quote, table in fx_raw.items():
        key = _key("quotes", "fx", quote)
        if not _ASSET.fullmatch(quote):
            raise ConfigError(f"{key}: not an upper-case asset code")
        if not isinstance(table, dict) or set(table) != {"per_usd", "set_at"}:
            raise ConfigError(f"{key}: expected exactly the keys per_usd and set_at")
        per_usd = _number(_key("quotes", "fx", quote, "per_usd"), table["per_usd"])
        if not per_usd > 0.0:
            raise ConfigError(f"{key}.per_usd: must be > 0, got {per_usd!r}")
        set_at = table["set_at"]
        if not isinstance(set_at, dt.datetime) or set_at.tzinfo is None:
            raise ConfigError(
                f"{key}.set_at: expected an offset date-time (2026-12-05T00:00:00Z), got {set_at!r}"
            )
        fx[quote] = FixedRate(float(per_usd), int(set_at.timestamp()) * 1_000_000_000)
    return QuotesConfig(
        groups=tuple(tuple(g) for g in groups),
        fx_max_age_ms=base.fx_max_age_ms,
        max_gross_bps=base.max_gross_bps,
        premium_interval_ms=base.premium_interval_ms,
        premium_update_bps=base.premium_update_bps,
        fx=fx,
    )


def _identity(raw: Any, resolve: VenueResolver | None) -> IdentityConfig:
    if not isinstance(raw, dict):
        raise ConfigError("identity: expected a table")
    for key in raw:
        if key not in ("equal", "metadata", "metadata_cache"):
            raise ConfigError(
                f"{_key('identity', key)}: unknown key (known: equal, metadata, metadata_cache)"
            )
    equal_raw = raw.get("equal", [])
    if not isinstance(equal_raw, list) or not all(isinstance(e, str) for e in equal_raw):
        raise ConfigError(f'identity.equal: expected a list of "venue:TICKER", got {equal_raw!r}')
    equal = []
    for entry in equal_raw:
        venue, _, ticker = entry.partition(":")
        if not venue or not _ASSET.fullmatch(ticker):
            raise ConfigError(f'identity.equal: {entry!r} is not "venue:TICKER"')
        try:
            venue = resolve(venue) if resolve is not None else venue
        except ValueError as exc:
            raise ConfigError(f"identity.equal: {entry!r}: {exc}") from None
        equal.append((venue, ticker))
    metadata = raw.get("metadata", False)
    if not isinstance(metadata, bool):
        raise ConfigError(f"identity.metadata: expected true or false, got {metadata!r}")
    cache = raw.get("metadata_cache", "")
    if not isinstance(cache, str):
        raise ConfigError(f"identity.metadata_cache: expected a file path, got {cache!r}")
    return IdentityConfig(tuple(equal), metadata, cache)


def parse_config(
    raw: Mapping[str, Any],
    *,
    venue: VenueResolver | None = None,
    default_fees: Mapping[str, float] | None = None,
) -> Config:
    """Validate a parsed TOML document into a :class:`Config` (``venue``: the venue-name
    resolver for ``[fees]``, ``[urls]`` and ``[connections]``; ``default_fees``: the taker
    fees in bps of venues ``[fees]`` does not name, the venues' own defaults)."""
    allowed = {
        "scanner", "feeds", "fees", "urls", "connections", "emulator", "serve", "quotes",
        "identity", "cluster",
    }  # fmt: skip
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{_key(key)}: unknown section (known: {', '.join(sorted(allowed))})")
    scanner = _section(ScannerConfig, "scanner", raw.get("scanner", {}), _SCANNER_RANGES)
    if scanner.close_bps > scanner.open_bps:
        raise ConfigError(
            f"scanner.close_bps: must be <= scanner.open_bps ({scanner.close_bps} > "
            f"{scanner.open_bps})"
        )
    feeds = _section(FeedsConfig, "feeds", raw.get("feeds", {}), _FEEDS_RANGES)
    fees = dict(default_fees or {})
    raw_fees = raw.get("fees", {})
    if not isinstance(raw_fees, dict):
        raise ConfigError("fees: expected a table of venue = bps")
    for name, (key, value) in _venue_tables("fees", raw_fees, venue).items():
        bps = _number(_key("fees", key), value)
        if not 0.0 <= bps < 10_000.0:
            raise ConfigError(
                f"{_key('fees', key)}: must be between 0 and 10000 bps, got {value!r}"
            )
        fees[name] = bps
    urls: dict[str, Endpoint] = {}
    raw_urls = raw.get("urls", {})
    if not isinstance(raw_urls, dict):
        raise ConfigError("urls: expected tables [urls.<venue>] with ws/rest keys")
    for name, (key, table) in _venue_tables("urls", raw_urls, venue).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{_key('urls', key)}: expected a table with ws/rest keys")
        for kind, value in table.items():
            if kind not in _URL_SCHEMES:
                raise ConfigError(f"{_key('urls', key, kind)}: unknown key (known: ws, rest)")
            _url(_key("urls", key, kind), value, _URL_SCHEMES[kind])
        urls[name] = Endpoint(ws=table.get("ws"), rest=table.get("rest"))
    connections: dict[str, int] = {}
    raw_connections = raw.get("connections", {})
    if not isinstance(raw_connections, dict):
        raise ConfigError("connections: expected a table of venue = products per connection")
    for name, (key, value) in _venue_tables("connections", raw_connections, venue).items():
        size = _number(_key("connections", key), value, integer=True)
        if not 1 <= size <= MAX_PER_CONNECTION:
            raise ConfigError(
                f"{_key('connections', key)}: must be between 1 and {MAX_PER_CONNECTION}, "
                f"got {value!r}"
            )
        connections[name] = int(size)
    return Config(
        scanner=scanner,
        feeds=feeds,
        fees_bps=fees,
        urls=urls,
        connections=connections,
        emulator_faults=_emulator(raw.get("emulator", {})),
        serve=_serve(raw.get("serve", {})),
        quotes=_quotes(raw.get("quotes", {})),
        identity=_identity(raw.get("identity", {}), venue),
        cluster=_section(ClusterConfig, "cluster", raw.get("cluster", {}), _CLUSTER_RANGES),
    )


def load_config(
    path: str | Path | None,
    *,
    venue: VenueResolver | None = None,
    default_fees: Mapping[str, float] | None = None,
) -> Config:
    """Defaults when ``path`` is None; else the validated TOML file (``venue``: the
    venue-name resolver for ``[fees]``, ``[urls]`` and ``[connections]``; ``default_fees``:
    each venue's default taker fee in bps, which ``[fees]`` overrides)."""
    if path is None:
        return Config(fees_bps=dict(default_fees or {}))
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # a BOM is tolerated
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}: not UTF-8 text (line {line})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(raw, venue=venue, default_fees=default_fees)
