"""Make-before-break replacement of a connection the venue is about to close (sans-I/O).

Venues close connections on purpose: Binance after 24 h, and any venue that announces a
shutdown or upgrade (:class:`~feeds.protocol.PlannedClose`). The runner opens the
replacement while the old connection still delivers, and switches the books over once every
book of the new one is live, so the book listeners never see an unusable gap.

:class:`ReplacePlan` decides *when* to start the replacement, from the injected clock, the
codec's :attr:`~feeds.protocol.Codec.max_connection_s` and the venue's notice.
:class:`Feed` and :class:`Tap` decide *who* a symbol's listener hears: each session talks to
its own tap, and only the tap that owns the feed reaches the listener, so the old session's
close is silent after the switch and the new session's sync is silent before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from feeds.actions import BookListener
from feeds.book import Book


@dataclass(slots=True)
class ReplacePlan:
    """When to start replacing one connection opened at ``opened_ns``.

    Without a notice, the replacement starts ``margin_s`` before the planned lifetime, but
    never before half of it (a short lifetime still serves half its time). A notice starts it
    at once. Once per connection: a replacement that fails is not tried again, the old
    connection serves until it drops.
    """

    opened_ns: int
    max_connection_s: float | None
    margin_s: float = 300.0
    notice: str | None = None
    started: bool = False

    @property
    def start_ns(self) -> int | None:
        """When the lifetime rule starts the replacement (None: no planned lifetime)."""
        life = self.max_connection_s
        if life is None:
            return None
        return self.opened_ns + int(max(life - self.margin_s, life / 2) * 1e9)

    def noticed(self, reason: str) -> None:
        """The venue announced that it will close the connection soon."""
        if self.notice is None:
            self.notice = reason

    def due(self, now_ns: int) -> str | None:
        """The reason to start the replacement now (the notice, or ``"lifetime"``), once;
        None when it is not time, or it was started already."""
        if self.started:
            return None
        start = self.start_ns
        reason = self.notice or ("lifetime" if start is not None and now_ns >= start else None)
        if reason is not None:
            self.started = True
        return reason


class Feed:
    """One symbol's listener, shared by the sessions of one runner; ``usable`` is what the
    listener was last told."""

    __slots__ = ("listener", "owner", "usable")

    def __init__(self, listener: BookListener) -> None:
        self.listener = listener
        self.owner: Tap | None = None
        self.usable = False

    def tap(self, own: bool) -> Tap:
        """A tap for a new session; ``own``: it reaches the listener from now on."""
        tap = Tap(self)
        if own:
            self.owner = tap
        return tap


class Tap:
    """A session's listener for one symbol: forwards to the feed's listener while it owns the
    feed, and remembers what its session said either way."""

    __slots__ = ("book", "feed", "usable")

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.usable = False
        self.book: Book | None = None

    def on_book(self, book: Book, ts_ns: int) -> None:
        self.book = book
        if self.feed.owner is self:
            self.feed.listener.on_book(book, ts_ns)

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable = usable
        feed = self.feed
        if feed.owner is self:
            feed.usable = usable
            feed.listener.on_usable(usable, reason, ts_ns)

    def take(self, ts_ns: int) -> None:
        """Own the feed (a usable tap: the switch): the listener gets this session's book;
        it hears ``on_usable`` only if it was not usable already."""
        feed = self.feed
        feed.owner = self
        if not self.usable or self.book is None:
            return
        if not feed.usable:
            feed.usable = True
            feed.listener.on_usable(True, None, ts_ns)
        feed.listener.on_book(self.book, ts_ns)
