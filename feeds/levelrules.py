"""The pure level rules a :class:`~feeds.session.FeedSession` applies to its books.

Each function takes a book, a snapshot or deltas and returns a verdict; none keeps state,
logs or counts (the session does that with the answer): whether a REST snapshot is older than
the stream it must bridge, and the per-level actions some venues send with each level
(``new``/``change``/``delete``). Whether a re-sent snapshot agrees with the book it replaces
is the book's own (``Book.agrees``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from feeds.book import Book
from feeds.protocol import BookDelta, BookSnapshot, Level, SeqRule

RANGED: Final = (SeqRule.RANGE, SeqRule.PREV_LINK)
"""Rules whose deltas say where they start (``first``): a snapshot older than the first
buffered delta is asked for again."""


def snapshot_is_older(rule: SeqRule, snapshot: BookSnapshot, first: BookDelta) -> bool:
    """Whether a REST snapshot is older than the first event the stream delivered, so that
    events between them may be missing: by update ids (RANGE: the first event starts past the
    snapshot's id + 1) or by venue time (TIME: the first event is later than the snapshot)."""
    if rule in RANGED and snapshot.seq is not None and first.first is not None:
        return snapshot.seq + 1 < first.first
    if rule is SeqRule.TIME and snapshot.venue_ts_ns is not None and first.venue_ts_ns is not None:
        return snapshot.venue_ts_ns < first.venue_ts_ns
    return False


LEVEL_COUNT: Final = {"new": 1, "change": 0, "delete": -1}
"""What each level action does to its side's level count (:attr:`Integrity.level_actions`)."""


def apply_level_actions(book: Book, bids: Sequence[Level], asks: Sequence[Level]) -> bool | None:
    """Apply a delta level by level, each level's action checked against the book by the
    change of its side's level count: whether the top changed, None at the first level whose
    action the book contradicts (or an unknown action); the book then holds part of it."""
    changed = False
    for levels, is_bid in ((bids, True), (asks, False)):
        for level in levels:
            before = book.bid_count if is_bid else book.ask_count
            changed |= book.apply((level,), ()) if is_bid else book.apply((), (level,))
            action = level[2] if len(level) > 2 else None
            want = LEVEL_COUNT.get(action) if type(action) is str else None
            if want is None or (book.bid_count if is_bid else book.ask_count) - before != want:
                return None
    return changed
