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
from typing import Final

from feeds.actions import (
    Action,
    FeedState,
    Ping,
    Reconnect,
    Replace,
    Send,
    Unusable,
)
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ConnectionSeq,
    Ignored,
    Malformed,
    ParseError,
    PlannedClose,
    Reply,
    Resumed,
    Subscribed,
    Suspended,
    VenueError,
)
from feeds.sessioncore import HOUR_NS as HOUR_NS
from feeds.sessioncore import SessionCore

log = logging.getLogger(__name__)
_LIVE = FeedState.LIVE

CODEC_BUGS: Final = (ValueError, KeyError, IndexError, TypeError, AttributeError)
"""Exception types from a codec that drop one frame and are counted as ``codec_errors``
(``ParseError`` is counted as ``malformed`` first)."""

REFETCH_DELAY_NS: Final = 1_000_000_000
"""After an unparsable REST snapshot, wait this long before asking again (via tick)."""

# REST snapshots follow the documented order for a local book seeded from REST (the venue
# procedure feeds/sequencing.py cites):
# open the stream and buffer its events; request a symbol's snapshot once its first event is
# buffered (or ``snapshot_wait_s`` after opening, for a symbol with no event yet); drop the
# buffered events the snapshot already holds; the first one applied bridges it; a snapshot
# older than the first buffered event is fetched again, the buffer kept.


class FeedSession(SessionCore):
    """The books of one connection; see the module docstring and docs/contracts.md.

    ``stats`` counts what happened; ``books`` maps each canonical symbol to its book. The
    constructor, the state and the rules applied to each book are :class:`SessionCore`'s
    (:mod:`feeds.sessioncore`); this class takes the inputs.
    """

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
        lane = self._lane
        if lane is not None and not self._sync_lost and (self._state is _LIVE or self._waiting):
            hit = lane.scan(data)
            if hit is None and self._lanes:  # another of the codec's shapes, kept if it reads
                for other in self._lanes:
                    hit = other.scan(data)
                    if hit is not None:
                        self._lanes.remove(other)
                        self._lanes.append(lane)
                        self._lane = lane = other
                        break
            if hit is not None:
                state = self._symbols[hit[0]]
                done = None
                if lane.whole:  # a whole book, as a BookSnapshot event would go (below)
                    if not self._suspended and not self._by_frame:
                        done = self._lane_snapshot(state, lane, hit, now_ns)
                elif state.usable:
                    done = self._lane_quick(state, lane, hit, now_ns)
                if done is not None:
                    return done
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
