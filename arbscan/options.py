"""The command line's values, each checked on its own (a mistake is one :class:`UsageError`
naming the option), the checked configuration, and the :class:`Plan` a scan runs from."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.venues import VENUES, UnknownVenue, canonical_venue, default_fees
from scanner.access import Access, is_loopback
from scanner.config import ORIGIN, TOKEN, Config, ConfigError, ServeConfig, load_config
from scanner.identity import IdentityMap

if TYPE_CHECKING:
    from emulator.server import FaultSpec

DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
"""The embedded default market: every venue quotes these in the emulator."""


class UsageError(ValueError):
    """A bad command line (named option)."""


@contextlib.contextmanager
def starting(option: str) -> Iterator[None]:
    """Turn an OSError while opening what ``option`` names into a UsageError naming it."""
    try:
        yield
    except OSError as exc:
        where = f"cannot open {exc.filename}: " if exc.filename else ""
        raise UsageError(f"{option}: {where}{exc.strerror or exc}") from None


@dataclass(slots=True)
class Plan:
    """What to scan and where the events go, resolved from the command line and config."""

    config: Config
    venues: list[str]
    symbols: list[str]
    json: bool = False
    out: str | None = None
    serve: tuple[str, int] | None = None
    web: bool = False
    """The event server also serves the dashboard (``--web``)."""
    access: Access = field(default_factory=Access)
    """Who may use the event server (token, origins, clients)."""
    duration: float | None = None
    books: int = 0
    record: str | None = None
    emulated: bool = True
    seed: int = 1
    prog: str = "run.py"
    """The program named in the messages on stderr (``arbscan`` when installed)."""
    ws_urls: dict[str, str] = field(default_factory=dict)
    rest_urls: dict[str, str] = field(default_factory=dict)
    per_connection: dict[str, int] = field(default_factory=dict)
    """Venue products per connection, from the config's [connections] (canonical ids)."""
    faults: list[FaultSpec] = field(default_factory=list)
    listings: dict[str, list[str]] = field(default_factory=dict)
    """Per venue, the symbols it is scanned for (the simulated default market); a venue not
    named: every symbol."""
    identity: IdentityMap | None = None
    """Which tickers are one asset across venues (None: every ticker is itself)."""

    def symbols_of(self, venue: str) -> list[str]:
        """The symbols ``venue`` is subscribed to."""
        return self.listings.get(venue, self.symbols)


def _csv(option: str, text: str) -> list[str]:
    """A comma-separated list given on the command line: never empty, no empty item."""
    items = [part.strip() for part in text.split(",")]
    if not all(items):
        raise UsageError(f"{option}: expected a comma-separated list, got {text!r}")
    return items


_SYMBOL = re.compile(r"[A-Z0-9]+/[A-Z0-9]+")


def symbol_list(text: str | None, default: Sequence[str]) -> list[str]:
    symbols = list(default) if text is None else _csv("--symbols", text)
    for symbol in symbols:
        base, _, quote = symbol.partition("/")
        if not _SYMBOL.fullmatch(symbol) or base == quote:
            raise UsageError(f"--symbols: {symbol!r} is not a canonical BASE/QUOTE symbol")
    if len(set(symbols)) != len(symbols):
        raise UsageError(f"--symbols: duplicate symbol in {symbols}")
    return symbols


def venue_list(text: str | None, default: Sequence[str] = VENUES) -> list[str]:
    """The venues ``--venues`` names (old ids accepted); ``all`` or nothing: ``default``
    (every venue, or for the simulated market every venue the emulator serves)."""
    every = text is None or text.strip().lower() == "all"
    names = list(default) if every else _csv("--venues", text or "")
    try:
        venues = [canonical_venue(name) for name in names]
    except UnknownVenue as exc:
        raise UsageError(f"--venues: {exc}") from None
    if len(set(venues)) != len(venues):
        raise UsageError(f"--venues: duplicate venue in {names}")
    return venues


DEFAULT_WEB = "127.0.0.1:8080"
"""Where ``--web`` without an address serves the dashboard."""


def serve_address(
    text: str | None, *, announced: bool = False, option: str = "--serve"
) -> tuple[str, int] | None:
    """``HOST:PORT`` (IPv6 in brackets: ``[::1]:8765``; no host: 127.0.0.1). The host is an IP
    address or ``localhost``: a name would need a DNS lookup to listen on. Port 0 (any free
    port) only where the port taken is ``announced`` (replay and ``--web`` print it)."""
    if text is None:
        return None
    if text.startswith("["):
        bracketed = re.fullmatch(r"\[([^\]]*)\]:([0-9]+)", text)
        if bracketed is None:
            raise UsageError(f"{option}: expected [IPV6]:PORT, got {text!r}")
        host, port = bracketed[1], bracketed[2]
    else:
        host, _, port = text.rpartition(":")
        if ":" in host:
            raise UsageError(f"{option}: an IPv6 host goes in brackets ([::1]:PORT), got {text!r}")
    lowest = 0 if announced else 1
    if not port.isdigit() or not lowest <= int(port) < 65536:
        raise UsageError(f"{option}: expected HOST:PORT with a port {lowest}-65535, got {text!r}")
    if host and host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise UsageError(
                f"{option}: the host must be an IP address or localhost, got {host!r}"
            ) from None
    return host or "127.0.0.1", int(port)


def event_server_address(
    serve: str | None, web: str | None, *, announced: bool = False
) -> tuple[tuple[str, int] | None, bool]:
    """The event server's address, from ``--serve`` or ``--web`` (which serves the dashboard
    as well: the second value)."""
    if serve is not None and web is not None:
        raise UsageError(
            "--web: the dashboard's server serves the events too (on /ws): "
            "give --serve or --web, not both"
        )
    if web is not None:
        return serve_address(web, announced=True, option="--web"), True
    return serve_address(serve, announced=announced), False


def server_access(
    config: ServeConfig,
    token: str | None,
    origins: Sequence[str],
    address: tuple[str, int] | None,
    option: str,
) -> Access:
    """The event server's access rules: the config's, ``--serve-token`` replacing its token
    and ``--serve-origin`` adding origins. Listening off loopback needs a token."""
    if token is not None and not TOKEN.fullmatch(token):
        raise UsageError(
            "--serve-token: expected 16 to 256 characters among A-Z a-z 0-9 . _ ~ - "
            "(python -c 'import secrets; print(secrets.token_urlsafe(24))' makes one)"
        )
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise UsageError(
                f"--serve-origin: expected http(s)://host[:port] in lower case, got {origin!r}"
            )
    token = token if token is not None else config.token
    if address is not None and token is None and not is_loopback(address[0]):
        raise UsageError(
            f"{option}: listening on {address[0]} (not loopback) needs a token: "
            "--serve-token TOKEN or serve.token in the config"
        )
    return Access(
        token=token,
        origins=frozenset([*config.origins, *origins]),
        max_clients=config.max_clients,
        token_exempt=frozenset(config.token_exempt),
    )


def listen_error(option: str, address: tuple[str, int], exc: OSError) -> UsageError:
    """One clear message for a server that cannot listen on ``address``."""
    host, port = address
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return UsageError(
            f"{option}: {where} is already in use (another arbscan?); "
            f"give another port: {option} HOST:PORT"
        )
    return UsageError(f"{option}: cannot listen on {where}: {exc.strerror or exc}")


def output_path(option: str, path: str | None) -> str | None:
    """A file to write: its folder must exist and it must not be a folder itself."""
    if path is None:
        return None
    if path == "-":
        raise UsageError(f"{option}: '-' is not a file (--json writes the events to stdout)")
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option}: {path!r} is a directory")
    if not p.parent.is_dir():
        raise UsageError(f"{option}: the folder {str(p.parent)!r} does not exist")
    return path


def distinct_files(*named: tuple[str, str | None]) -> None:
    """Each (option, path) given names a different file: an output never overwrites an input
    or another output."""
    seen: dict[Path, str] = {}
    for option, path in named:
        if path is not None:
            other = seen.setdefault(Path(path).resolve(), option)
            if other != option:
                raise UsageError(f"{option}: the same file as {other}")


def check_books(books: int, config: Config) -> None:
    if books > config.scanner.depth_levels:
        raise UsageError(
            f"--books: at most scanner.depth_levels ({config.scanner.depth_levels}) levels "
            f"are kept, got {books}"
        )


def load_run_config(path: str | None, *, emulated: bool) -> Config:
    """The config, refusing what the run would ignore: faults outside the simulated market,
    endpoint overrides inside it (its venues are served on 127.0.0.1, never those URLs)."""
    config = load_config(path, venue=canonical_venue, default_fees=default_fees())
    if config.emulator_faults and not emulated:
        raise ConfigError("emulator.faults: faults are for the simulated market only")
    if config.urls and emulated:
        raise ConfigError(
            f"urls.{next(iter(config.urls))}: endpoint overrides are for the real venues "
            "(run.py live, record --live); the simulated market serves its own"
        )
    return config


def event_loop_runner() -> Callable[..., object]:
    try:
        import uvloop
    except ImportError:  # uvloop does not exist on Windows; asyncio's loop is the fallback
        return asyncio.run
    return uvloop.run
