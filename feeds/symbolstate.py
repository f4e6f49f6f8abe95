"""The per-symbol state of a :class:`~feeds.session.FeedSession`: one book, its listener,
its sequencing state and the bookkeeping of its (re)sync."""

from __future__ import annotations

from dataclasses import dataclass, field

from feeds.actions import BookListener
from feeds.book import Book
from feeds.protocol import BookDelta
from feeds.sequencing import SeqState


@dataclass(slots=True, eq=False)
class SymbolState:
    """One symbol of the connection: its book, listener and sequencing state."""

    symbol: str
    book: Book
    listener: BookListener
    synced: bool = False
    usable: bool = False  # what the listener was last told: True only while synced, not held
    seq: SeqState = field(default_factory=SeqState)
    buffer: list[BookDelta] = field(default_factory=list)  # before the REST snapshot; bounded
    updated_ns: int = 0
    refetch_at: int | None = None
    fresh: bool = False  # the current input (re)seeded the book from a snapshot
    held: bool = False  # crossed since its snapshot: unusable until an update uncrosses it
    requested: bool = False  # a REST snapshot was asked for since the last reset
    asked_ns: int | None = None  # when its in-band snapshot was last subscribed or asked for
    waiting: set[SymbolState] = field(default_factory=set, repr=False)
    """The session's symbols that are not synced or are held (shared by all of them), kept
    on each change so that whether the venue is live is known without walking them."""

    def reset(self) -> None:
        self.waiting.add(self)
        self.synced = self.fresh = self.held = False
        self.requested = False
        self.seq = SeqState()
        self.buffer.clear()
        self.book.clear()
