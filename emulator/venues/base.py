"""What every emulated venue implements (sans-I/O), and the number formatting they share.

A :class:`Venue` holds the venue-wide state (its books live in the market model; its
per-symbol sequence ids live here, shared by every connection like on the real venue) and
makes one :class:`Session` per WebSocket connection. Sessions turn client frames into
replies and market changes into the venue's frames; the server does the I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final

from emulator.market import Book, Change, MarketModel, VenueProfile


@dataclass(frozen=True, slots=True)
class Out:
    """A frame to send. ``book`` marks book frames (those a ``gap`` fault may drop)."""

    frame: str
    book: bool = False


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: str


class Session:
    """One connection's protocol state."""

    def opened(self, now_ns: int) -> list[Out]:
        """Frames sent as soon as the connection opens."""
        return []

    def received(self, text: str, now_ns: int) -> list[Out]:
        """Replies to one client frame (acks, snapshots, pongs, errors)."""
        raise NotImplementedError

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        """Book frames for this step's ``changes`` of the subscribed symbols (venue state
        already advanced by :meth:`Venue.advance`); ``corrupt``: the first book frame carries
        a wrong checksum (venues with checksums)."""
        raise NotImplementedError

    def heartbeat(self, now_ns: int) -> list[Out]:
        """Frames sent once a second (venue heartbeats)."""
        return []

    def shutdown_notice(self, now_ns: int) -> list[Out]:
        """The frames announcing that the venue will close this connection soon (none for
        a venue that sends no such notice)."""
        return []

    def overlap(self, count: int) -> None:
        """Make the next ``count`` book events of each symbol also cover the previous event's
        update ids (only venues with :attr:`Venue.has_ranges`)."""
        raise NotImplementedError

    def bad_body(self, out: Out) -> Out:
        """Book frame ``out`` with its envelope (and counter) intact and its book content
        malformed (venues with :attr:`Venue.body_faults`)."""
        raise NotImplementedError

    def novel(self, now_ns: int) -> list[Out]:
        """Frames of kinds no client knows yet (a new event type, a new side) that change
        no book (venues with :attr:`Venue.body_faults`)."""
        raise NotImplementedError


class Venue:
    """One emulated venue: paths, venue-wide state, sessions, REST."""

    name: ClassVar[str]
    ws_path: ClassVar[str]
    """The path the real venue serves (the feed's default URL path)."""
    profile: ClassVar[VenueProfile] = VenueProfile()
    """How the market model renders the common price on this venue (lag, spread, grid)."""
    has_checksum: ClassVar[bool] = False
    has_ranges: ClassVar[bool] = False
    """Book events carry update-id ranges ``[U, u]`` (the ``overlap`` fault applies)."""
    body_faults: ClassVar[bool] = False
    gzip_frames: ClassVar[bool] = False
    """Every frame is sent gzip-compressed, as a binary frame."""
    binary_frames: ClassVar[bool] = False
    """Every frame is sent as its UTF-8 text in a binary frame."""
    """Whether sessions implement the ``bad_body`` and ``novel`` faults."""
    rest_limit: ClassVar[tuple[int, float] | None] = None
    """REST request weight allowed per window (weight, seconds) per IP; None: unlimited."""
    used_weight_header: ClassVar[str | None] = None
    """The response header reporting the weight used in the window."""
    post_paths: ClassVar[frozenset[str]] = frozenset()
    """REST paths served to POST requests (every other path to GET)."""
    origin: str = ""
    """``ws://host:port`` the venue is served at (set by the server once it listens)."""
    sends_per_s: ClassVar[float | None] = None
    """Client frames a connection may send per second; one more closes it with 1008."""

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        self.model = model
        self.options = options
        listed = [s for s in model.config.symbols if model.config.lists(self.name, s)]
        self.symbols: dict[str, str] = {self.venue_symbol(s): s for s in listed}

    @classmethod
    def check_options(cls, options: Mapping[str, object]) -> None:
        """Raise ValueError naming an option the venue does not take (or its bad value)."""
        if options:
            raise ValueError(f"{cls.name} has no option {next(iter(options))!r}")

    def venue_symbol(self, symbol: str) -> str:
        raise NotImplementedError

    def book(self, symbol: str) -> Book:
        return self.model.books[(self.name, symbol)]

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        """Move the venue-wide ids for this step's changes (before sessions publish)."""

    def session(self, path: str, conn_id: int, now_ns: int) -> Session | None:
        """A session for a connection to ``path`` (with query), or None to refuse (404)."""
        raise NotImplementedError

    def rest(self, path: str, query: Mapping[str, str], now_ns: int) -> HttpAnswer | None:
        """Answer a REST GET (or POST, on :attr:`post_paths`), or None if the venue serves no
        such path."""
        return None

    def rest_weight(self, path: str, query: Mapping[str, str]) -> int:
        """The request weight the venue charges for this GET."""
        return 1


# -- number text -------------------------------------------------------------------------

# Prices repeat from step to step, sizes mostly do not: 4096 entries per cache keep the hits
# (number formatting ~13 % faster than uncached) in ~1 MB; 65,536 entries were no faster than
# none and grew an emulated scan by ~50 MB over its first minutes.
_NUMBER_CACHE: Final = 1 << 12


@functools.lru_cache(maxsize=_NUMBER_CACHE)
def fixed(units: int, decimals: int, places: int | None = None) -> str:
    """``units * 10**-decimals`` with exactly ``places`` (default ``decimals``) decimals."""
    places = decimals if places is None else places
    if places < decimals:
        raise ValueError("cannot drop precision")
    units *= 10 ** (places - decimals)
    if places == 0:
        return str(units)
    whole, frac = divmod(units, 10**places)
    return f"{whole}.{frac:0{places}d}"


@functools.lru_cache(maxsize=_NUMBER_CACHE)
def minimal(units: int, decimals: int) -> str:
    """The shortest plain decimal: ``30316``, ``30238.8``, ``0.00029527`` (OKX, Coinbase)."""
    text = fixed(units, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def rfc3339(now_ns: int, digits: int = 9, trim: bool = False) -> str:
    """``2023-10-06T17:35:55.440295Z`` (``digits`` fraction digits; ``trim`` drops trailing
    zeros like Go's RFC3339Nano, and the point when nothing is left)."""
    seconds, ns = divmod(now_ns, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns:09d}"[:digits]
    if trim:
        frac = frac.rstrip("0")
    return f"{whole}.{frac}Z" if frac else f"{whole}Z"
