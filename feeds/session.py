"""The sans-I/O feed session: one per connection, written once for every venue.

A :class:`FeedSession` takes what the connection delivers (frames, REST snapshot bodies,
clock ticks, all with their time as ``now_ns``) and returns what the runner must do
(:data:`Action`). It applies the venue's :class:`~feeds.protocol.Integrity` rule as data:
snapshot buffering, sequencing, connection counter, checksums, crossed-book detection,
per-symbol resync and staleness; and it tells each symbol's :class:`BookListener` its top
levels and whether the book can be used.

Liveness is per connection and counts everything that arrives: frames of any kind (book
messages, acks, pongs, heartbeats, errors) and the WebSocket pings and pongs the transport
reports (:meth:`FeedSession.alive`). A connection is stale only when nothing at all arrived
for ``stale_after_s``; once it has been quiet for half that, the session asks for traffic
(the venue's application ping, else a WebSocket :class:`Ping`), so a quiet symbol on a live
connection never looks dead. Whether a *book* is fresh is a separate, per-symbol rule
(``max_book_age_s``).

Venues that limit subscription requests per connection (:attr:`Codec.requests_per_hour`)
have the budget tracked here with the injected clock: the opening subscribe and every
resync by unsubscribe + subscribe spend from it, and a resync the budget cannot pay for
reconnects instead (a new connection has a new budget).

Errors a codec raises: :class:`~feeds.protocol.ParseError` means a malformed frame (dropped,
counted in ``stats.malformed``, logged at debug with the raw frame). A codec that can read
part of a frame returns that part and a :class:`~feeds.protocol.Malformed` for the rest
(counted as ``malformed``; the books it names resync, every book when it names none) or an
:class:`~feeds.protocol.Ignored` for a kind it does not know (counted in ``stats.ignored``).
The exception types a codec bug raises on an unexpected frame shape (``ValueError``, ``KeyError``,
``IndexError``, ``TypeError``, ``AttributeError``) also drop the frame, but are counted in
``stats.codec_errors`` and logged at ERROR with the traceback: one odd frame must not take
a live venue down, and tests assert ``codec_errors == 0``. Anything else propagates.

Level values are validated by the book, once (:class:`~feeds.book.BadLevel`: a price that is
not a finite number > 0, a size that is not a finite number >= 0, a level of the wrong
shape): such a message is counted as ``malformed``, logged once at debug, and its symbol
resyncs with reason ``desynced`` (the book may hold part of the message).
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
    Ping,
    Reconnect,
    Replace,
    Send,
    SessionStats,
    StateCallback,
    Unusable,
)
from feeds.book import BadLevel, Book
from feeds.budget import ConnectionBudget
from feeds.levelrules import apply_level_actions, snapshot_agrees, snapshot_is_older
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    ConnectionSeq,
    Event,
    Ignored,
    Level,
    Malformed,
    ParseError,
    PlannedClose,
    Reply,
    Resumed,
    SeqRule,
    SnapshotSource,
    Subscribed,
    Suspended,
    VenueError,
)
from feeds.sequencing import APPLY, DROP, SeqState, verdict
from feeds.symbolstate import SymbolState

log = logging.getLogger(__name__)
_LIVE = FeedState.LIVE

CODEC_BUGS: Final = (ValueError, KeyError, IndexError, TypeError, AttributeError)
"""Exception types from a codec that drop one frame and are counted as ``codec_errors``
(``ParseError`` is counted as ``malformed`` first)."""

REFETCH_DELAY_NS: Final = 1_000_000_000
"""After an unparsable REST snapshot, wait this long before asking again (via tick)."""
HOUR_NS: Final = 3600 * 1_000_000_000
# REST snapshots follow the documented order for a local book seeded from REST (the venue
# procedure feeds/sequencing.py cites):
# open the stream and buffer its events; request a symbol's snapshot once its first event is
# buffered (or ``snapshot_wait_s`` after opening, for a symbol with no event yet); drop the
# buffered events the snapshot already holds; the first one applied bridges it; a snapshot
# older than the first buffered event is fetched again, the buffer kept.


class FeedSession:
    """The books of one connection; see the module docstring and docs/contracts.md.

    ``stats`` counts what happened; ``books`` maps each canonical symbol to its book.
    """

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

    # -- inputs --------------------------------------------------------------------------
    def opened(self, now_ns: int) -> list[Action]:
        """The connection is open: subscribe. REST snapshots are requested once the stream
        delivers (the order noted after :data:`REFETCH_DELAY_NS`)."""
        self._opened_ns = self._last_ping_ns = now_ns
        self._set_state(FeedState.SYNCING, None, now_ns)
        frames = self.codec.subscribe_frames(self.codec.symbols)
        if self.budget is not None:
            self.budget.spend(len(frames), now_ns)
        if self._asks_in_band:
            for sym in self._symbols.values():
                sym.asked_ns = now_ns
        actions: list[Action] = [Send(f) for f in frames]
        if self._rest and self._snapshot_wait_ns <= 0:  # no wait: right after subscribing
            actions += [self._fetch(s, now_ns) for s in self._symbols.values()]
        return actions

    def frame(self, data: str | bytes, now_ns: int) -> list[Action]:
        """One received frame."""
        stats = self.stats
        stats.frames += 1
        stats.last_frame_ns = now_ns
        if self._done:
            return []
        try:
            events = self._parse(data)
        except ParseError as exc:
            stats.malformed += 1
            log.debug("%s: malformed frame dropped (%s): %.500r", self.codec.venue, exc, data)
            return []
        except CODEC_BUGS:
            stats.codec_errors += 1
            log.exception("%s: codec failed on frame %.500r", self.codec.venue, data)
            return []
        if not events:  # another channel, an ack...: nothing changes
            return []
        ev = events[-1]
        if (
            ev.__class__ is BookDelta
            and ev.checksum is None
            and not self._level_actions  # each level checked against the book: the general way
            and not self._sync_lost
            and (self._state is _LIVE or self._waiting)  # else the venue turns live now
            and (len(events) == 1 or self._counted(events))
        ):
            sym = self._symbols.get(ev.symbol)
            if sym is not None and sym.usable:
                if len(events) == 2:
                    self._conn_seq = events[0].seq  # type: ignore[union-attr]
                return self._quick(sym, ev, now_ns)
        actions = self._actions = []
        symbols = self._symbols
        for ev in events:
            if isinstance(ev, BookDelta):
                sym = symbols.get(ev.symbol)
                if sym is None:
                    self._unknown(ev.symbol)
                else:
                    self._delta(sym, ev, now_ns)
            elif isinstance(ev, BookSnapshot):
                sym = symbols.get(ev.symbol)
                if sym is None:
                    self._unknown(ev.symbol)
                elif self._suspended:
                    continue  # nothing applies until the venue resumes
                elif not self._by_frame:
                    self._snapshot(sym, ev, now_ns)
                elif not sym.synced:  # asked for on this connection; else superseded
                    self._seed(sym, ev, now_ns)
            elif isinstance(ev, ConnectionSeq) and self._conn_counter:
                if self._conn_seq is not None and ev.seq != self._conn_seq + 1:
                    # One counter for the whole connection (Integrity.connection_counter).
                    stats.gaps += 1
                    log.warning(
                        "%s: connection seq %d -> %d", self.codec.venue, self._conn_seq, ev.seq
                    )
                    self._touched.clear()
                    self._finish(Unusable.DESYNCED, now_ns)
                    return [*actions, Reconnect(Unusable.DESYNCED)]
                self._conn_seq = ev.seq
            elif isinstance(ev, Reply):
                actions.append(Send(ev.frame))
            elif isinstance(ev, Subscribed):
                if ev.depth is not None and self._truncate:
                    for s in symbols.values():
                        if ev.symbol is None or ev.symbol == s.symbol:
                            s.book.max_depth = ev.depth
            elif isinstance(ev, VenueError):
                stats.venue_errors += 1
                log.warning("%s: venue error (%s): %s", self.codec.venue, ev.symbol, ev.message)
            elif isinstance(ev, Malformed):
                stats.malformed += 1
                log.debug("%s: malformed part dropped (%s): %.500r", self.codec.venue, ev, data)
                if ev.lost is None:  # any book may have missed it: start the connection over
                    self._touched.clear()
                    self._finish(Unusable.DESYNCED, now_ns)
                    return [*actions, Reconnect(Unusable.DESYNCED)]
                for lost in ev.lost:
                    sym = symbols.get(lost)
                    if sym is not None:
                        self._resync(sym, Unusable.DESYNCED, now_ns)
            elif isinstance(ev, PlannedClose):
                stats.notices += 1
                log.info("%s: the venue will close the connection: %s", self.codec.venue, ev)
                actions.append(Replace(ev.reason))
            elif isinstance(ev, Ignored):
                stats.ignored += 1
                log.debug("%s: skipped %s", self.codec.venue, ev.what)
            elif isinstance(ev, Suspended):
                self._suspend(ev.reason, now_ns)
            elif isinstance(ev, Resumed) and self._suspended:
                log.warning("%s: service resumed (%s), resyncing", self.codec.venue, ev.reason)
                self._suspended = False
                for sym in symbols.values():
                    self._resync(sym, Unusable.STALE, now_ns)
        return self._publish(now_ns)

    def alive(self, now_ns: int, count: int = 1) -> None:
        """``count`` WebSocket pings or pongs arrived (the transport answers pings itself):
        the connection is alive."""
        self.stats.control_frames += count
        self.stats.last_control_ns = now_ns

    def snapshot(self, symbol: str, body: bytes, now_ns: int) -> list[Action]:
        """The answer to a :class:`FetchSnapshot` (REST venues). Ignored when the symbol is
        already synced (a superseded request)."""
        sym = self._symbols.get(symbol)
        if self._done or self._suspended or sym is None or sym.synced:
            return []
        try:
            ev = self.codec.parse_snapshot(symbol, body)
        except (ParseError, *CODEC_BUGS) as exc:
            if isinstance(exc, ParseError):
                self.stats.malformed += 1
            else:
                self.stats.codec_errors += 1
            log.warning("%s: bad %s snapshot (%s): %.500r", self.codec.venue, symbol, exc, body)
            sym.refetch_at = now_ns + REFETCH_DELAY_NS
            return []
        self._actions = []
        self._seed(sym, ev, now_ns)
        return self._publish(now_ns)

    def snapshot_failed(self, symbol: str, error: str, now_ns: int) -> list[Action]:
        """A REST snapshot request failed (the runner retries it with backoff)."""
        self.stats.snapshot_failures += 1
        log.info("%s: snapshot of %s failed: %s", self.codec.venue, symbol, error)
        return []

    def tick(self, now_ns: int) -> list[Action]:
        """Periodic: app pings that are due, connection and book staleness, refetches."""
        if self._done or not self._opened_ns:
            return []
        actions: list[Action] = []
        self._actions = actions  # a resync below adds its frames here
        stats = self.stats
        seen = max(stats.last_frame_ns, stats.last_control_ns, self._opened_ns)
        quiet = now_ns - seen
        if quiet > self._stale_ns:
            self._finish(Unusable.STALE, now_ns)
            self._set_state(FeedState.STALE, f"no frame for {quiet / 1e9:.1f} s", now_ns)
            return [Reconnect(Unusable.STALE)]
        interval = self.codec.ping_interval_s
        due = interval is not None and now_ns - self._last_ping_ns >= interval * 1e9
        # Quiet for half of stale_after_s and not probed since: ask the venue for traffic.
        probe = 2 * quiet >= self._stale_ns and self._last_ping_ns <= seen
        if due or probe:
            ping = self.codec.ping_frame()
            if ping is not None:
                actions.append(Send(ping))
                stats.pings += 1
            elif probe:
                actions.append(Ping())
                stats.pings += 1
            self._last_ping_ns = now_ns
        if self._suspended:  # nothing to check or ask for until the venue resumes
            return actions
        for sym in self._symbols.values():
            if sym.usable and now_ns - sym.updated_ns > self._max_age_ns:
                # the connection is alive (heartbeats) but this book has not moved
                sym.usable = False
                sym.listener.on_usable(False, Unusable.STALE, now_ns)
            if sym.refetch_at is not None and now_ns >= sym.refetch_at:
                sym.refetch_at = None
                if not sym.synced:
                    actions.append(self._fetch(sym, now_ns))
            elif (
                self._rest
                and not sym.requested
                and not sym.synced
                and now_ns - self._opened_ns >= self._snapshot_wait_ns
            ):
                actions.append(self._fetch(sym, now_ns))  # no event yet: the stream is open by now
            elif (
                sym.asked_ns is not None
                and not sym.synced
                and now_ns - sym.asked_ns >= self._snapshot_timeout_ns
            ):
                # The venue pushes a snapshot on subscribing: one lost (or never sent) would
                # leave the book waiting for ever while its deltas flow. Ask again.
                stats.snapshot_timeouts += 1
                log.warning(
                    "%s %s: no snapshot %.1f s after asking, asking again",
                    self.codec.venue,
                    sym.symbol,
                    (now_ns - sym.asked_ns) / 1e9,
                )
                self._resync(sym, Unusable.DESYNCED, now_ns)
        return actions

    def closed(self, now_ns: int, reason: str = Unusable.DISCONNECTED) -> None:
        """The connection closed: every usable leg becomes unusable with ``reason``."""
        if not self._done:
            self._finish(reason, now_ns)

    # -- rules ---------------------------------------------------------------------------
    def _unknown(self, symbol: str) -> None:
        self.stats.unknown_symbol += 1
        log.debug("%s: event for unknown symbol %r", self.codec.venue, symbol)

    def _snapshot(self, sym: SymbolState, ev: BookSnapshot, now_ns: int) -> None:
        held, ts = sym.seq.snap_ts, ev.venue_ts_ns
        if self._seq_rule is SeqRule.SNAPSHOT_ONLY and sym.synced and held and ts and ts < held:
            self.stats.older += 1  # a whole book older than the one held: stale
            return
        book = sym.book
        verify = self._verify and sym.synced and not sym.held
        before = (book.side(True), book.side(False)) if verify else None
        sym.reset()
        sym.synced = sym.fresh = True
        self._waiting.discard(sym)
        sym.refetch_at = None
        sym.seq = SeqState(ev.seq, ev.venue_ts_ns)
        self._apply(sym, ev.bids, ev.asks, ev.checksum, True, now_ns)
        if before is not None and sym.synced and not snapshot_agrees(before, book):
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
        one delta (Bitfinex sends every book message so)."""
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
        book = sym.book
        try:
            changed = book.apply(ev.bids, ev.asks)
        except BadLevel as exc:
            self._actions = []
            self._bad_level(sym, exc, now_ns)
            return self._publish(now_ns)
        stats.book_msgs += 1
        sym.updated_ns = stats.book_updated_ns[sym.symbol] = now_ns
        if book.crossed():
            self._actions = []
            self._touched[sym] = changed
            return self._publish(now_ns)
        if changed:
            sym.listener.on_book(book, now_ns)
        return []

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
    ) -> None:
        book = sym.book
        try:
            if full:
                book.apply_snapshot(bids, asks)
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
