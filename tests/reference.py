"""One independent model of every venue's recording: plain dicts and the sequencing rules
written the brute-force way, never calling ``feeds/`` (only its event dataclasses).

A venue gives a :class:`Model`: ``read``, a tiny function that turns one raw record into the
events the venue means (plain ``json``/``gzip``, its own field names: never the codec), and
the exact counts of the replay. :func:`replay` applies them: a REST snapshot first replays
the deltas buffered for it; each delta must satisfy the rule of ``SeqRule`` (as worded
below); every checksum sent must equal ``Model.checksum`` over the model's own book; a
connection counter must go up by one; no book ever crosses. ``tests/test_reference.py``
then checks, for every case with a model, that the codec reads every recorded message as
``read`` does, that the model ends on the case's golden tops with the exact counts, and that
``FeedSession`` holds the model's book after every message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, ConnectionSeq, Event, SeqRule

Top = tuple[float, float, float, float]
Levels = tuple[list[float], list[float], list[float], list[float]]
Side = dict[float, list[Any]]
"""Price -> the level as sent (its text kept for checksums)."""


Read = Callable[[Record, dict[str, Any]], list[Event]]


@dataclass(frozen=True)
class Model:
    """How to read a venue's recording independently, and what the model must count."""

    read: Read
    """One record (``rest`` or ``in``; scratch state per replay) -> every event it means."""
    counts: Mapping[str, int]
    """Events read by type name, plus the rule's counts (see :class:`Replay`)."""
    checksum: Callable[[list[list[Any]], list[list[Any]]], int] | None = None
    """The venue's checksum over (bids best first, asks best first), written independently."""
    depth: int | None = None
    """The levels a side keeps (the subscribed depth), when the checksum needs it."""
    rest_url: Callable[[str], str] = str
    """A recorded REST request as the codec asks for it today."""
    drop_at_id: bool = False
    """RANGE: the first delta must end after the snapshot's id (Gate), not at it (Binance)."""
    change_seq: bool = False
    """RANGE: each change's third field is its sequence; only those after the book's id
    apply (KuCoin)."""
    ignore_early: bool = False
    """In-band books: a delta before its symbol's first snapshot is ignored (counted as
    "early"), not kept for it (bitFlyer)."""
    level_actions: bool = False
    """Each level's third field is its action: ``new`` adds an absent price, ``change`` and
    ``delete`` (its size 0) a held one (Deribit); counted by action."""


@dataclass
class Replay:
    """The model's books and counts after the records it was fed."""

    model: Model
    rule: SeqRule
    books: dict[str, tuple[Side, Side]] = field(default_factory=dict)
    last: dict[str, int | None] = field(default_factory=dict)
    time: dict[str, int | None] = field(default_factory=dict)
    pending: dict[str, list[BookDelta]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    memo: dict[str, Any] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    counter: int | None = None

    def record(self, record: Record) -> list[Event]:
        events = self.model.read(record, self.memo)
        self.counts["no event"] += not events
        for event in events:
            self.counts[type(event).__name__] += 1
            if isinstance(event, BookSnapshot):
                self.snapshot(event)
            elif isinstance(event, BookDelta):
                self.delta(event)
            elif isinstance(event, ConnectionSeq):
                assert self.counter is None or event.seq == self.counter + 1, "a counter gap"
                self.counts["counter continued"] += self.counter is not None
                self.counter = event.seq
        return events

    def snapshot(self, snap: BookSnapshot) -> None:
        before = self.last.get(snap.symbol)
        assert before is None or snap.seq is None or snap.seq >= before, "a version back"
        time = self.time.get(snap.symbol)
        assert time is None or snap.venue_ts_ns is None or snap.venue_ts_ns >= time, "time back"
        self.books[snap.symbol] = ({}, {})
        self.last[snap.symbol], self.time[snap.symbol] = snap.seq, snap.venue_ts_ns
        self.apply(snap.symbol, snap.bids, snap.asks, snap.checksum)
        for delta in self.pending.pop(snap.symbol, []):
            self.delta(delta)

    def delta(self, d: BookDelta) -> None:
        """RANGE: ``last`` below the book's id is dropped; ``first`` at most id + 1 (a gap
        otherwise), "bridged" when it overlaps the id, "continued" when it is id + 1.
        PREV_LINK: ``prev`` is the book's id (when either is sent). COUNTER: ``last`` is the
        book's id + 1 (the first ones at or below a requested snapshot's id are dropped).
        TIME: at or before the snapshot's time is dropped. Then the book's id
        is ``last``."""
        if d.symbol not in self.books:
            if self.model.ignore_early:
                self.counts["early"] += 1
            else:
                self.pending.setdefault(d.symbol, []).append(d)
            return
        local, first = self.last[d.symbol], d.symbol not in self.started
        if self.rule is SeqRule.RANGE:
            assert local is not None and d.first is not None and d.last is not None
            if d.last < local + (self.model.drop_at_id and first):
                self.counts["dropped"] += 1
                return
            assert d.first <= local + 1, "a gap"
            self.counts["bridged" if d.first <= local else "continued"] += 1
        elif self.rule is SeqRule.PREV_LINK and (d.prev is not None or local is not None):
            assert d.prev == local, "a broken link"
            self.counts["linked"] += 1
        elif self.rule is SeqRule.COUNTER:
            assert local is not None and d.last is not None
            if first and d.last <= local:  # buffered before its snapshot, which holds it
                self.counts["dropped"] += 1
                return
            assert d.last == local + 1, "a gap"
            self.counts["continued"] += 1
        elif self.rule is SeqRule.TIME:
            snap_time = self.time[d.symbol]
            assert d.venue_ts_ns is not None and snap_time is not None
            if d.venue_ts_ns <= snap_time:
                self.counts["dropped"] += 1
                return
        self.started.add(d.symbol)
        self.last[d.symbol] = d.last
        self.counts["applied"] += 1
        bids, asks = d.bids, d.asks
        if self.model.change_seq:
            assert local is not None
            bids, asks = ([lv for lv in side if int(lv[2]) > local] for side in (bids, asks))
        self.apply(d.symbol, bids, asks, d.checksum)

    def apply(self, symbol: str, bids: Any, asks: Any, checksum: int | None) -> None:
        sides = self.books[symbol]
        for side, levels in zip(sides, (bids, asks), strict=True):
            for level in levels:
                if self.model.level_actions:
                    action = level[2]
                    assert (float(level[0]) in side) == (action != "new"), "an action vs the book"
                    assert (float(level[1]) == 0.0) == (action == "delete"), "a delete's size"
                    self.counts[action] += 1
                if float(level[1]) == 0.0:  # a delete: of a level held, or of none
                    self.counts[
                        "absent" if side.pop(float(level[0]), None) is None else "removed"
                    ] += 1
                else:
                    side[float(level[0])] = list(level)
        if self.model.depth is not None:
            for side, worst_first in zip(sides, (False, True), strict=True):
                for price in sorted(side, reverse=worst_first)[
                    : max(0, len(side) - self.model.depth)
                ]:
                    del side[price]
        if checksum is not None:
            assert self.model.checksum is not None
            bid_levels, ask_levels = self.sorted(symbol)
            assert self.model.checksum(bid_levels, ask_levels) == checksum, "a checksum mismatch"
            self.counts["checksums"] += 1
        if sides[0] and sides[1]:
            assert max(sides[0]) < min(sides[1]), "a crossed book"

    def sorted(self, symbol: str) -> tuple[list[list[Any]], list[list[Any]]]:
        bids, asks = self.books[symbol]
        return [bids[p] for p in sorted(bids, reverse=True)], [asks[p] for p in sorted(asks)]

    def top(self, symbol: str, n: int) -> Levels:
        bids, asks = self.sorted(symbol)
        return (
            [float(b[0]) for b in bids[:n]],
            [float(b[1]) for b in bids[:n]],
            [float(a[0]) for a in asks[:n]],
            [float(a[1]) for a in asks[:n]],
        )

    def best(self, symbol: str) -> Top:
        bid_px, bid_sz, ask_px, ask_sz = self.top(symbol, 1)
        return (bid_px[0], bid_sz[0], ask_px[0], ask_sz[0])
