"""What a feed session hands out: the actions it asks of its runner, the listener it tells
about each book, and its counters. The session itself is :mod:`feeds.session`."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from feeds.book import Book
from feeds.protocol import RestRequest


class FeedState(enum.StrEnum):
    """The state of one venue's feed, as ``on_state`` reports it (the text is the value)."""

    CONNECTING = "connecting"
    SYNCING = "syncing"
    LIVE = "live"
    RESYNCING = "resyncing"
    STALE = "stale"
    DOWN = "down"


class Unusable(enum.StrEnum):
    """Why a book stopped being usable (``on_usable(False, reason)``, :class:`Reconnect`)."""

    STALE = "stale"
    DESYNCED = "desynced"
    DISCONNECTED = "disconnected"
    CROSSED_BOOK = "crossed_book"


@dataclass(frozen=True, slots=True)
class Send:
    """Send this text frame on the connection."""

    frame: str


@dataclass(frozen=True, slots=True)
class FetchSnapshot:
    """Fetch this REST snapshot and hand it to :meth:`FeedSession.snapshot` (a newer request
    for the same symbol supersedes an older one)."""

    request: RestRequest


@dataclass(frozen=True, slots=True)
class Ping:
    """Send a WebSocket ping (a venue without an application ping): its pong is traffic."""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Close this connection and open a new one (``reason``: "stale", "desynced")."""

    reason: str


@dataclass(frozen=True, slots=True)
class Replace:
    """The venue will close this connection soon (``reason``: its notice): open a replacement
    while this one keeps delivering."""

    reason: str


Action: TypeAlias = Send | FetchSnapshot | Ping | Reconnect | Replace
StateCallback = Callable[[str, str | None, int], None]
"""``on_state(state, reason, ts_ns)`` with state in syncing / live / resyncing / stale."""


class BookListener(Protocol):
    """Receives one symbol's book (docs/contracts.md, the book listener interface;
    ``scanner.engine.Leg`` matches it: the board copies the top levels straight from the
    compiled book, ``Book.write_top``)."""

    def on_book(self, book: Book, ts_ns: int) -> None:
        """The book changed within its top ``top_n`` levels; once per frame that changed it,
        only while synced. The book is read-only for the listener and valid only during the
        call: read what you need (``book.top()``, ``book.write_top(...)``) before returning."""

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        """False with a reason (desynced, crossed_book, stale, disconnected); True (reason
        None) when the book is live again, immediately followed by :meth:`on_book`."""


@dataclass(slots=True)
class SessionStats:
    """Counters of one session (one connection)."""

    frames: int = 0
    book_msgs: int = 0
    """Snapshots and deltas applied to a book."""
    older: int = 0
    """Deltas dropped because the book already contains them (before the snapshot)."""
    malformed: int = 0
    codec_errors: int = 0
    gaps: int = 0
    checksum_ok: int = 0
    checksum_fail: int = 0
    crossed: int = 0
    resyncs: int = 0
    buffer_overflow: int = 0
    pings: int = 0
    """Pings sent: the venue's periodic application ping, or a probe of a quiet connection."""
    control_frames: int = 0
    """WebSocket pings and pongs received (reported by the transport, see ``alive``)."""
    budget_reconnects: int = 0
    """Resyncs that reconnected because the subscription-request budget was spent."""
    venue_errors: int = 0
    unknown_symbol: int = 0
    ignored: int = 0
    """Parts of frames of a kind the codec does not know (a new event type...), skipped."""
    snapshot_failures: int = 0
    snapshot_timeouts: int = 0
    """In-band venues: symbols subscribed again because no snapshot came within the codec's
    ``snapshot_timeout_s`` (default ``stale_after_s``) of subscribing."""
    notices: int = 0
    """Notices that the venue will close the connection soon (:class:`Replace`)."""
    suspensions: int = 0
    """Times the venue suspended its service (maintenance): every book unusable until it
    resumed."""
    snapshot_mismatch: int = 0
    """Whole books sent again that differ from the book the deltas built
    (:attr:`~feeds.protocol.Integrity.verify_snapshots`; the snapshot is taken)."""
    old_snapshots: int = 0
    """REST snapshots older than the first buffered event (fetched again)."""
    last_frame_ns: int = 0
    last_control_ns: int = 0
    """When the transport last reported a WebSocket ping or pong."""
    latency_ns: int | None = None
    """Receive time minus the venue's own timestamp, of the last book delta that carried one
    (includes any clock offset between the venue and this machine)."""
    book_updated_ns: dict[str, int] = field(default_factory=dict)
    """Per symbol, when its book was last applied (its age is ``now - value``)."""
