"""The state of a :class:`~feeds.session.FeedSession` and the rules it applies to each book.

:class:`SessionCore` holds the connection's symbols, counters and venue state, and applies
each input's events to the books: snapshots and the buffered deltas that bridge them,
sequencing, level sequences and actions, checksums, crossed books, per-symbol resync,
suspension and the venue state. :class:`~feeds.session.FeedSession` adds the inputs (frames,
REST snapshot bodies, ticks); the module docstring of :mod:`feeds.session` states the rules.
It logs as ``feeds.session``, the session's one logger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

from feeds.actions import (
    Action,
    BookListener,
    FeedState,
    FetchSnapshot,
    Reconnect,
    Send,
    SessionStats,
    StateCallback,
    Unusable,
)
from feeds.book import BadLevel, Book, Lane
from feeds.budget import ConnectionBudget
from feeds.codeckit import rfc3339_ns
from feeds.lane import LaneHit, lane
from feeds.levelrules import apply_level_actions, snapshot_is_older
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    ConnectionSeq,
    Event,
    Level,
    SeqRule,
    SnapshotSource,
)
from feeds.sequencing import APPLY, DROP, SeqState, lane_verdict, verdict
from feeds.symbolstate import SymbolState

log = logging.getLogger("feeds.session")
_LIVE = FeedState.LIVE

HOUR_NS: Final = 3600 * 1_000_000_000
"""The window of :attr:`Codec.requests_per_hour`."""


class SessionCore:
    """What a :class:`~feeds.session.FeedSession` knows and does between its inputs."""

    def __init__(
        self,
        codec: Codec,
        listener_for: Callable[[str], BookListener],
        on_state: StateCallback,
        *,
        rest_base: str = "",
        top_n: int = 20,
        stale_after_s: float = 10.0,
        max_book_age_s: float = 60.0,
        max_buffered: int = 1000,
        snapshot_wait_s: float = 1.0,
    ) -> None:
        self.codec = codec
        self._parse = codec.parse
        self._top_n = top_n
        self._snapshot_wait_ns = int(snapshot_wait_s * 1e9)
        self._on_state = on_state
        self._rest_base = rest_base
        self._stale_ns = int(stale_after_s * 1e9)
        timeout = codec.snapshot_timeout_s
        self._snapshot_timeout_ns = self._stale_ns if timeout is None else int(timeout * 1e9)
        self._max_age_ns = int(max_book_age_s * 1e9)
        self._max_buffered = max_buffered
        rule = codec.integrity
        self._seq_rule = rule.seq
        # REST snapshots, and snapshots asked for on the connection (SnapshotSource.REQUEST),
        # are requested and bridged alike: deltas are buffered until the snapshot is there.
        self._rest = rule.snapshot is not SnapshotSource.IN_BAND
        self._by_frame = rule.snapshot is SnapshotSource.REQUEST
        # In-band venues push a snapshot when a symbol is subscribed (snapshot-only venues
        # push whole books all the time, and their next push resyncs).
        self._asks_in_band = not self._rest and rule.seq is not SeqRule.SNAPSHOT_ONLY
        # The book computes the venue's checksum over its kept text, as the codec's layout
        # says (feeds.checksum holds the same definition in Python; tests prove them equal).
        layout = rule.checksum
        self._crc_code = None if layout is None else layout.code
        self._conn_counter = rule.connection_counter
        self._level_seq = rule.level_seq
        self._level_actions = rule.level_actions
        self._verify = rule.verify_snapshots
        # The common delta frame read straight into the book; not for books that keep the
        # venue's text (checksums): the lane carries numbers only.
        lanes = [] if rule.keep_text else [lane(s, codec.lane_ids()) for s in codec.shapes]
        self._lane = lanes.pop(0) if lanes else None
        self._lanes = lanes  # tried when the first declines (the one that reads moves first)
        # A venue that does not delete levels pushed out of the subscribed depth is kept (and
        # checksummed) at that depth.
        self._truncate = layout is not None and layout.truncate
        max_depth = codec.depth if self._truncate else None
        self.stats = SessionStats()
        self.books: dict[str, Book] = {}
        self._symbols: dict[str, SymbolState] = {}
        self._waiting: set[SymbolState] = set()  # see SymbolState.waiting
        for s in codec.symbols:
            book = Book(top_n=top_n, keep_text=rule.keep_text, max_depth=max_depth)
            self.books[s] = book
            sym = self._symbols[s] = SymbolState(s, book, listener_for(s), waiting=self._waiting)
            self._waiting.add(sym)
        self._state: FeedState | None = None
        self._was_live = False
        self._reason: str | None = None
        self._done = False
        self._suspended = False  # the venue paused its service (Suspended) until Resumed
        self._sync_lost = False  # a symbol lost sync since the last _update_state
        self._conn_seq: int | None = None
        self._opened_ns = 0
        self._last_ping_ns = 0
        limit = codec.requests_per_hour
        self.budget = None if limit is None else ConnectionBudget(limit, HOUR_NS)
        """The subscription requests this connection may still send (None: no limit)."""
        # What the current input produced: actions for the runner, books to publish.
        self._actions: list[Action] = []
        self._touched: dict[SymbolState, bool] = {}

    # -- rules ---------------------------------------------------------------------------
    def _unknown(self, symbol: str) -> None:
        self.stats.unknown_symbol += 1
        log.debug("%s: event for unknown symbol %r", self.codec.venue, symbol)

    def _snapshot(
        self, sym: SymbolState, ev: BookSnapshot, now_ns: int, lane: Lane | None = None
    ) -> None:
        """A whole book replaces the symbol's (its levels ``ev``'s, or ``lane``'s scan)."""
        held, ts = sym.seq.snap_ts, ev.venue_ts_ns
        if self._seq_rule is SeqRule.SNAPSHOT_ONLY and sym.synced and held and ts and ts < held:
            self.stats.older += 1  # a whole book older than the one held: stale
            return
        book = sym.book
        verify = self._verify and sym.synced and not sym.held
        before = book.copy() if verify else None
        sym.reset()
        sym.synced = sym.fresh = True
        self._waiting.discard(sym)
        sym.refetch_at = None
        sym.seq = SeqState(ev.seq, ev.venue_ts_ns)
        self._apply(sym, ev.bids, ev.asks, ev.checksum, True, now_ns, lane)
        if before is not None and sym.synced and not book.agrees(before):
            self.stats.snapshot_mismatch += 1
            log.info("%s: %s snapshot differs from the book", self.codec.venue, sym.symbol)

    def _seed(self, sym: SymbolState, ev: BookSnapshot, now_ns: int) -> None:
        """A requested snapshot: seed the book, then apply the buffered deltas that follow."""
        buffered = list(sym.buffer)
        if buffered and snapshot_is_older(self._seq_rule, ev, buffered[0]):
            # older than the stream: ask again, keep the buffer
            self.stats.old_snapshots += 1
            log.info("%s: %s snapshot older than %s", self.codec.venue, sym.symbol, buffered[0])
            self._actions.append(self._fetch(sym, now_ns))
            return
        self._snapshot(sym, ev, now_ns)
        for delta in buffered:
            if not sym.synced:
                break
            self._delta(sym, delta, now_ns)

    def _counted(self, events: list[Event]) -> bool:
        """Whether ``events`` are a connection counter that continues the connection's, then
        one delta (how a venue that counts every message of the connection sends a book message)."""
        if len(events) != 2:
            return False
        count = events[0]
        last = self._conn_seq
        return (
            count.__class__ is ConnectionSeq
            and self._conn_counter
            and last is not None
            and count.seq == last + 1
        )

    def _quick(self, sym: SymbolState, ev: BookDelta, now_ns: int) -> list[Action]:
        """The most common input, one delta without a checksum for a usable book, the venue's
        state unchanged by it: what :meth:`_delta`, :meth:`_apply` and :meth:`_publish` do
        for it, in one call. Anything else (a drop, a gap, a bad level, a crossed book) goes
        their way."""
        stats = self.stats
        ts = ev.venue_ts_ns
        if ts is not None:
            stats.latency_ns = now_ns - ts
        last, first = sym.seq.last, ev.first
        if (
            self._level_seq and last is not None and first is not None and first <= last
        ) or verdict(self._seq_rule, self._rest, sym.seq, ev) is not APPLY:
            # an overlap to cut by level sequences, a drop or a gap (the verdict changed
            # nothing): the general way
            self._actions = []
            self._delta(sym, ev, now_ns)
            return self._publish(now_ns)
        try:
            changed = sym.book.apply(ev.bids, ev.asks)
        except BadLevel as exc:
            self._actions = []
            self._bad_level(sym, exc, now_ns)
            return self._publish(now_ns)
        return self._applied(sym, changed, now_ns)

    def _applied(self, sym: SymbolState, changed: bool, now_ns: int) -> list[Action]:
        """After a quick path applied a delta: counted, then published at once unless the
        book crossed (then the general way, :meth:`_publish`)."""
        stats = self.stats
        stats.book_msgs += 1
        sym.updated_ns = stats.book_updated_ns[sym.symbol] = now_ns
        book = sym.book
        if book.crossed():
            self._actions = []
            self._touched[sym] = changed
            return self._publish(now_ns)
        if changed:
            sym.listener.on_book(book, now_ns)
        return []

    def _lane_quick(
        self, sym: SymbolState, lane: Lane, hit: LaneHit, now_ns: int
    ) -> list[Action] | None:
        """:meth:`_quick` for a frame the lane read (:mod:`feeds.lane`): None, with nothing
        changed, unless the delta's sequence is plainly applied or dropped
        (:func:`~feeds.sequencing.lane_verdict`; else the frame goes the ordinary way)."""
        _, first, last, prev, ts, counter = hit
        # the connection's counter must continue (else the codec's way says what happened)
        if counter is not None and not (self._conn_counter and counter - 1 == self._conn_seq):
            return None
        if ts.__class__ is str:
            ts = rfc3339_ns(ts)
            if ts is None:  # not a time: the codec says what is wrong
                return None
        found = lane_verdict(self._seq_rule, sym.seq, first, last, prev, ts, self._level_seq)  # type: ignore[arg-type]
        if found is None:
            return None
        if counter is not None:
            self._conn_seq = counter
        stats = self.stats
        if ts is not None:
            stats.latency_ns = now_ns - ts  # type: ignore[operator]
        if found is DROP:  # already in the book
            stats.older += 1
            return []
        changed = sym.book.apply_lane(lane)
        if changed is None:  # a level's action contradicts the book: as a sequence gap
            self._actions = []
            stats.gaps += 1
            log.info("%s: %s level actions contradict the book", self.codec.venue, sym.symbol)
            self._resync(sym, Unusable.DESYNCED, now_ns)
            return self._publish(now_ns)
        return self._applied(sym, changed, now_ns)

    def _lane_snapshot(
        self, sym: SymbolState, lane: Lane, hit: LaneHit, now_ns: int
    ) -> list[Action] | None:
        """A whole book the lane read: as the frame's one :class:`BookSnapshot` event would be
        (None when its time is unreadable: the codec says why; a counted frame, whose counter
        the ordinary way checks)."""
        ts = hit[4]
        if hit[5] is not None:
            return None
        if ts.__class__ is str:
            ts = rfc3339_ns(ts)
            if ts is None:
                return None
        self._actions = []
        event = BookSnapshot(sym.symbol, (), (), seq=hit[2], venue_ts_ns=ts)  # type: ignore[arg-type]
        self._snapshot(sym, event, now_ns, lane)
        return self._publish(now_ns)

    def _delta(self, sym: SymbolState, ev: BookDelta, now_ns: int) -> None:
        if ev.venue_ts_ns is not None:
            self.stats.latency_ns = now_ns - ev.venue_ts_ns
        if not sym.synced:
            if self._rest and not self._suspended:
                sym.buffer.append(ev)
                if len(sym.buffer) > self._max_buffered:
                    # Bounded: drop what we held and ask for a newer snapshot.
                    sym.buffer.clear()
                    self.stats.buffer_overflow += 1
                    log.warning("%s: %s buffer overflow", self.codec.venue, sym.symbol)
                    self._actions.append(self._fetch(sym, now_ns))
                elif not sym.requested:  # the stream delivers: now the snapshot
                    self._actions.append(self._fetch(sym, now_ns))
            return  # in-band: ignored until the (re)subscription's snapshot
        last = sym.seq.last
        if self._level_seq and last is not None and ev.first is not None and ev.first <= last:
            newer = self._newer(sym, ev, last, now_ns)
            if newer is None:
                return
            ev = newer
        found = verdict(self._seq_rule, self._rest, sym.seq, ev)
        if found is APPLY:
            self._apply(sym, ev.bids, ev.asks, ev.checksum, False, now_ns)
        elif found is DROP:
            self.stats.older += 1
        else:
            self.stats.gaps += 1
            log.info("%s: %s gap after %s: %s", self.codec.venue, sym.symbol, sym.seq.last, ev)
            self._resync(sym, Unusable.DESYNCED, now_ns)

    def _newer(self, sym: SymbolState, ev: BookDelta, last: int, now_ns: int) -> BookDelta | None:
        """A delta overlapping the book's id ``last`` with its own levels' sequences
        (:attr:`Integrity.level_seq`): only the levels above ``last``; None when it is older
        (counted) or a level's sequence is unreadable (malformed: the symbol resyncs)."""
        if ev.last is not None and ev.last <= last:
            self.stats.older += 1
            return None
        try:
            bids = [lv for lv in ev.bids if int(lv[2]) > last]
            asks = [lv for lv in ev.asks if int(lv[2]) > last]
        except (ValueError, TypeError, IndexError) as exc:
            self.stats.malformed += 1
            log.debug("%s: %s bad level sequence, resyncing: %s", self.codec.venue, sym.symbol, exc)
            self._resync(sym, Unusable.DESYNCED, now_ns)
            return None
        return BookDelta(ev.symbol, bids, asks, ev.first, ev.last, ev.prev, ev.checksum,
                         ev.venue_ts_ns)  # fmt: skip

    def _apply(
        self,
        sym: SymbolState,
        bids: Sequence[Level],
        asks: Sequence[Level],
        crc: int | None,
        full: bool,
        now_ns: int,
        lane: Lane | None = None,
    ) -> None:
        book = sym.book
        try:
            if full:
                if lane is None:
                    book.apply_snapshot(bids, asks)
                else:
                    book.apply_lane(lane)
                changed = True
            elif self._level_actions:
                agreed = apply_level_actions(book, bids, asks)
                if agreed is None:  # an update was missed: as a sequence gap
                    self.stats.gaps += 1
                    log.info("%s: %s level actions contradict the book", self.codec.venue,
                             sym.symbol)  # fmt: skip
                    self._resync(sym, Unusable.DESYNCED, now_ns)
                    return
                changed = agreed
            else:
                changed = book.apply(bids, asks)
        except BadLevel as exc:
            self._bad_level(sym, exc, now_ns)
            return
        stats = self.stats
        stats.book_msgs += 1
        sym.updated_ns = stats.book_updated_ns[sym.symbol] = now_ns
        if crc is not None and self._crc_code is not None:
            ours = book.crc32(self._crc_code)
            if ours != crc:
                stats.checksum_fail += 1
                log.info("%s: %s checksum %d != %d", self.codec.venue, sym.symbol, ours, crc)
                self._resync(sym, Unusable.DESYNCED, now_ns)
                return
            stats.checksum_ok += 1
        if changed:
            self._touched[sym] = True
        else:
            self._touched.setdefault(sym, False)

    def _bad_level(self, sym: SymbolState, exc: BadLevel, now_ns: int) -> None:
        """A venue's bad number or level shape: the book is unknown, it resyncs."""
        self.stats.malformed += 1
        log.debug("%s: %s dropped, resyncing: %s", self.codec.venue, sym.symbol, exc)
        self._resync(sym, Unusable.DESYNCED, now_ns)

    def _publish(self, now_ns: int) -> list[Action]:
        """After a whole input: crossed check, then the venue state (so a venue is reported
        live before any opportunity can use its books), then one on_book per changed synced
        book. Returns the actions collected."""
        touched = self._touched
        for sym in touched:
            fresh, sym.fresh = sym.fresh, False
            if not (sym.synced and sym.book.crossed()):
                if sym.held:
                    sym.held, self._sync_lost = False, True  # uncrossed: usable below
                    self._waiting.discard(sym)
                continue
            if sym.held:
                continue
            self.stats.crossed += 1
            log.info("%s: %s crossed book", self.codec.venue, sym.symbol)
            if fresh:  # the venue's own book: a new snapshot would be the same one
                self._hold(sym, now_ns)
            else:
                self._resync(sym, Unusable.CROSSED_BOOK, now_ns)
        if self._sync_lost or (self._state is not _LIVE and not self._waiting):
            self._update_state(now_ns)  # else it has nothing to do
        for sym, changed in touched.items():
            if not sym.synced or sym.held:
                continue
            if not sym.usable:
                sym.usable = True
                sym.listener.on_usable(True, None, now_ns)
                changed = True
            if changed:
                sym.listener.on_book(sym.book, now_ns)
        touched.clear()
        return self._actions

    def _resync(self, sym: SymbolState, reason: str, now_ns: int) -> None:
        """Resync one symbol; the others keep flowing."""
        self.stats.resyncs += 1
        self._reason = reason
        self._sync_lost = True
        sym.reset()
        if sym.usable:
            sym.usable = False
            sym.listener.on_usable(False, reason, now_ns)
        actions = self._actions
        if self._rest:
            actions.append(self._fetch(sym, now_ns))
        elif self._seq_rule is not SeqRule.SNAPSHOT_ONLY:  # snapshot-only: the next push resyncs
            unsubscribe = self.codec.unsubscribe_frames([sym.symbol])
            if not unsubscribe:  # no way to ask for a fresh snapshot of one symbol
                actions.append(Reconnect(reason))
                return
            frames = [*unsubscribe, *self.codec.subscribe_frames([sym.symbol])]
            sym.asked_ns = now_ns
            budget = self.budget
            if budget is not None and not budget.spend(len(frames), now_ns):
                # The venue would refuse these requests: a new connection has a new budget.
                self.stats.budget_reconnects += 1
                log.warning(
                    "%s: %d subscription requests per hour spent, reconnecting to resync %s",
                    self.codec.venue,
                    budget.limit,
                    sym.symbol,
                )
                actions.append(Reconnect(reason))
                return
            actions += [Send(f) for f in frames]

    def _suspend(self, reason: str, now_ns: int) -> None:
        """The venue paused its service: every book is unusable, nothing is asked for, until
        it resumes (then every book resyncs)."""
        self.stats.suspensions += 1
        log.warning("%s: service suspended (%s)", self.codec.venue, reason)
        self._suspended = self._sync_lost = True
        self._reason = Unusable.STALE
        for sym in self._symbols.values():
            sym.reset()
            sym.asked_ns = sym.refetch_at = None
            if sym.usable:
                sym.usable = False
                sym.listener.on_usable(False, Unusable.STALE, now_ns)

    def _hold(self, sym: SymbolState, now_ns: int) -> None:
        """A book crossed straight from its snapshot is the venue's own state: resyncing
        would fetch the same book again, as fast as the round trip allows. It stays synced
        (its updates keep applying) but unusable until an update uncrosses it."""
        sym.held = True
        self._waiting.add(sym)
        self._reason = Unusable.CROSSED_BOOK
        self._sync_lost = True
        if sym.usable:
            sym.usable = False
            sym.listener.on_usable(False, Unusable.CROSSED_BOOK, now_ns)

    def _fetch(self, sym: SymbolState, now_ns: int) -> FetchSnapshot | Send:
        sym.requested = True
        if self._by_frame:  # an answer lost or refused is asked for again (tick)
            sym.asked_ns = now_ns
            return Send(self.codec.snapshot_frame(sym.symbol))
        return FetchSnapshot(self.codec.snapshot_request(sym.symbol, self._rest_base, self._top_n))

    def _finish(self, reason: str, now_ns: int) -> None:
        """The connection is over (closed, stale, desynced): every book is unusable. The books
        keep their last levels for diagnostics (replay summaries); a new connection gets a
        new session."""
        self._done = True
        for sym in self._symbols.values():
            sym.synced = False
            self._waiting.add(sym)
            if sym.usable:
                sym.usable = False
                sym.listener.on_usable(False, reason, now_ns)

    def _update_state(self, now_ns: int) -> None:
        if self._done or (self._state is _LIVE and not self._sync_lost):
            return
        self._sync_lost = False
        if not self._waiting:
            self._was_live = True
            self._set_state(_LIVE, None, now_ns)
        elif self._was_live:
            self._set_state(FeedState.RESYNCING, self._reason, now_ns)

    def _set_state(self, state: FeedState, reason: str | None, now_ns: int) -> None:
        if state != self._state:
            self._state = state
            self._on_state(state, reason, now_ns)
