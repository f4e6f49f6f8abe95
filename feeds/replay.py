"""Replay a capture through the same sessions, books and listeners as a live run.

Synchronous and deterministic: the clock is each record's ``t``; records are replayed in file
order, so one earlier than a record before it is replayed where it stands (it does not move
the clock back). One
:class:`~feeds.session.FeedSession` per recorded connection (``venue`` + ``conn``): ``open``
starts it, ``in`` frames are fed to it, ``ctl`` records (WebSocket pings and pongs) keep it
alive, ``close`` ends it; ``out`` records are ignored (the session makes its own frames,
which go nowhere). ``session.tick`` runs as replay time advances, every ``tick_interval_s``
of replay time, so staleness replays too; a ``Reconnect`` the session asks for ends it
(state ``down``) and its frames are skipped until the connection's next ``open``, as a live
runner would have stopped reading.

REST snapshots: each ``FetchSnapshot`` is answered by the next unused ``rest`` record of the
same venue whose URL has the same path and the same symbol query parameters
(:data:`SYMBOL_PARAMS`; host and other parameters such as ``limit`` are ignored), delivered
when the replay clock reaches that record's ``t`` (at once if it is already past). A request
no record answers gets ``snapshot_failed``; a re-request for that symbol returned by that very
call, if unanswerable too, is dropped and counted (no record can ever answer it).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from feeds.actions import Action, BookListener, FeedState, FetchSnapshot, Reconnect, SessionStats
from feeds.capture import CaptureError, CaptureReader, Record, read_capture
from feeds.protocol import Codec
from feeds.runner import SessionOptions
from feeds.session import FeedSession

SYMBOL_PARAMS: Final = frozenset(
    {
        "symbol",  # Binance, KuCoin, MEXC...
        "currency_pair",  # Gate
        "pair",
        "instid",  # OKX
        "market",
        "product_id",
        "instrument_name",  # Deribit
        "primarycurrencycode",  # Independent Reserve names a pair by two parameters
        "secondarycurrencycode",
    }
)
"""Query parameters (compared case-insensitively by name) that name the symbol of a REST
snapshot request. Venues that put the symbol in the path are matched by the path alone."""

CodecFor = Callable[[str, int], Codec]
"""``codec_for(venue, conn)``: the codec of one recorded connection, with that connection's
own symbols. This matters for REST venues split over several connections: each session asks
for a snapshot of every symbol of its codec, and each ``rest`` record answers one request,
so a codec holding another connection's symbols would take that connection's answers."""
ListenerFor = Callable[[str, str], BookListener]
"""``listener_for(venue, symbol)``."""
VenueStateCallback = Callable[[str, str, str | None, int], None]
"""``on_state(venue, state, reason, ts_ns)``."""

_RestKey = tuple[str, str, tuple[tuple[str, str], ...]]


def rest_key(venue: str, url: str) -> _RestKey:
    """What a REST snapshot request is matched on: venue, URL path, symbol parameters."""
    parts = urlsplit(url)
    params = sorted(
        (name.lower(), value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() in SYMBOL_PARAMS
    )
    return venue, parts.path, tuple(params)


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did."""

    records: int = 0
    frames: int = 0
    """``in`` records fed to a session."""
    skipped: int = 0
    """``in`` records of a connection with no session (never opened, or after a Reconnect)."""
    rest_served: int = 0
    """REST snapshot requests answered from ``rest`` records."""
    rest_unanswered: int = 0
    """REST snapshot requests no ``rest`` record could answer."""
    reconnects: int = 0
    """Sessions ended by their own ``Reconnect`` request."""
    stats: dict[str, list[SessionStats]] = field(default_factory=dict)
    """Per venue, the stats of each session in the order they started."""
    sessions: dict[tuple[str, int], FeedSession] = field(default_factory=dict)
    """The last session of each ``(venue, conn)``, with its books as the replay left them."""


@dataclass(slots=True)
class CaptureIndex:
    """What one reading pass learns of a capture before it is replayed."""

    reader: CaptureReader
    """The pass's reader, with its counts (records, malformed, out of order, cut short)."""
    texts: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    """Per recorded connection ``(venue, conn)``: its URLs and the text frames it sent."""
    symbols: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    """Per recorded connection: the canonical symbols its ``open`` records name."""
    rest: list[Record] = field(default_factory=list)
    """The ``rest`` records, in file order."""

    @classmethod
    def read(
        cls, path: str | Path, on_error: Callable[[CaptureError], None] | None = None
    ) -> CaptureIndex:
        """Read ``path`` once (damage goes to ``on_error``, see ``CaptureReader``)."""
        index = cls(CaptureReader(path, on_error))
        for r in index.reader:
            key = (r.venue, r.conn)
            texts = index.texts.setdefault(key, [])
            if r.dir == "open":
                texts.append(r.url)
                known = index.symbols.setdefault(key, []) if r.symbols else []
                known.extend(s for s in r.symbols or () if s not in known)
            elif r.dir == "out" and isinstance(r.data, str):
                texts.append(r.data)
            elif r.dir == "rest":
                index.rest.append(r)
        return index


@dataclass(order=True, slots=True)
class _Pending:
    t: int
    seq: int
    index: int = field(compare=False)
    key: tuple[str, int] = field(compare=False)
    session: FeedSession = field(compare=False)
    symbol: str = field(compare=False)


class _RestAnswers:
    """The ``rest`` records by match key, each used at most once, in file order."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records = [r for r in records if r.dir == "rest"]
        self._by_key: dict[_RestKey, list[int]] = {}
        for i, r in enumerate(self.records):
            self._by_key.setdefault(rest_key(r.venue, r.url), []).append(i)
        self._used = [False] * len(self.records)

    def take(self, venue: str, url: str) -> int | None:
        for i in self._by_key.get(rest_key(venue, url), ()):
            if not self._used[i]:
                self._used[i] = True
                return i
        return None

    def give_back(self, index: int) -> None:
        self._used[index] = False


class Replayer:
    """One replay driven record by record: :meth:`feed` every record in file order, then
    :meth:`finish` (or :meth:`run` does both). ``rest_records`` are the records whose
    ``rest`` ones answer snapshot requests (the others are ignored), usually the whole
    capture read once beforehand. ``rest_bases`` maps a venue to the REST base its codec
    builds requests from (default: the codec's own endpoint); only the path of a request
    matters for matching."""

    def __init__(
        self,
        rest_records: Iterable[Record],
        codec_for: CodecFor,
        listener_for: ListenerFor,
        on_state: VenueStateCallback,
        *,
        rest_bases: Mapping[str, str] | None = None,
        options: SessionOptions | None = None,
        tick_interval_s: float = 0.25,
    ) -> None:
        self.answers = _RestAnswers(rest_records)
        self.codec_for = codec_for
        self.listener_for = listener_for
        self.on_state = on_state
        self.rest_bases = rest_bases or {}
        self.options = options or SessionOptions()
        self.tick_ns = max(1, int(tick_interval_s * 1e9))
        self.next_tick: int | None = None
        self.active: dict[tuple[str, int], FeedSession] = {}
        self.pending: list[_Pending] = []
        self.seq = itertools.count()
        self.summary = ReplaySummary()

    def run(self, records: Iterable[Record]) -> ReplaySummary:
        for r in records:
            self.feed(r)
        return self.finish()

    def feed(self, r: Record) -> None:
        """Replay one record at its own time."""
        self.summary.records += 1
        self.advance(r.t)
        key = (r.venue, r.conn)
        if r.dir == "open":
            self.end(key, "reopened", r.t)
            self.start(key, r.t)
        elif r.dir == "close":
            self.end(key, "closed", r.t)
        elif r.dir == "in":
            session = self.active.get(key)
            if session is None:
                self.summary.skipped += 1
            else:
                self.summary.frames += 1
                self.execute(key, session, session.frame(r.data, r.t), r.t)
        elif r.dir == "ctl" and key in self.active:  # pings/pongs: the connection lived
            self.active[key].alive(r.t, int(r.data))

    def finish(self) -> ReplaySummary:
        """Deliver the answers still due (recorded out of time order, at their own time)."""
        while self.pending:
            self.advance(self.pending[0].t)
        return self.summary

    def advance(self, t: int) -> None:
        """Deliver the snapshots due by ``t`` and tick every session when one is due."""
        while self.pending and self.pending[0].t <= t:
            due = heapq.heappop(self.pending)
            self.tick(due.t)
            if self.active.get(due.key) is due.session:
                self.deliver(due.key, due.session, due.symbol, due.index, due.t)
        self.tick(t)

    def tick(self, t: int) -> None:
        if self.next_tick is not None and t < self.next_tick:
            return
        self.next_tick = t + self.tick_ns
        for key, session in list(self.active.items()):
            if self.active.get(key) is session:
                self.execute(key, session, session.tick(t), t)

    def start(self, key: tuple[str, int], t: int) -> None:
        venue, conn = key
        codec = self.codec_for(venue, conn)

        def on_state(state: str, reason: str | None, ts_ns: int) -> None:
            self.on_state(venue, state, reason, ts_ns)

        def listener_for(symbol: str) -> BookListener:
            return self.listener_for(venue, symbol)

        self.on_state(venue, FeedState.CONNECTING, None, t)
        rest_base = self.rest_bases.get(venue, codec.endpoints.rest)
        session = self.options.new_session(codec, listener_for, on_state, rest_base)
        self.active[key] = session
        self.summary.sessions[key] = session
        self.summary.stats.setdefault(venue, []).append(session.stats)
        self.execute(key, session, session.opened(t), t)

    def end(self, key: tuple[str, int], reason: str, t: int) -> None:
        session = self.active.pop(key, None)
        if session is not None:
            session.closed(t)
            self.on_state(key[0], FeedState.DOWN, reason, t)
            for p in self.pending:
                if p.session is session:
                    self.answers.give_back(p.index)  # never delivered: free for a later request
            self.pending = [p for p in self.pending if p.session is not session]
            heapq.heapify(self.pending)

    def execute(
        self,
        key: tuple[str, int],
        session: FeedSession,
        actions: Sequence[Action],
        t: int,
        unanswerable: str | None = None,
    ) -> None:
        for action in actions:
            if self.active.get(key) is not session:
                return
            if isinstance(action, FetchSnapshot):
                self.fetch(key, session, action, t, unanswerable)
            elif isinstance(action, Reconnect):
                self.summary.reconnects += 1
                self.end(key, action.reason, t)
            # Send, Ping: the session's own frames go nowhere in a replay

    def fetch(
        self,
        key: tuple[str, int],
        session: FeedSession,
        action: FetchSnapshot,
        t: int,
        unanswerable: str | None,
    ) -> None:
        symbol = action.request.symbol
        for p in self.pending:  # a newer request for the symbol supersedes the older one
            if p.session is session and p.symbol == symbol:
                self.answers.give_back(p.index)
        self.pending = [
            p for p in self.pending if not (p.session is session and p.symbol == symbol)
        ]
        heapq.heapify(self.pending)
        index = self.answers.take(key[0], action.request.url)
        if index is None:
            self.summary.rest_unanswered += 1
            if symbol != unanswerable:
                failed = session.snapshot_failed(symbol, "no recorded snapshot", t)
                self.execute(key, session, failed, t, unanswerable=symbol)
            return
        answer_t = self.answers.records[index].t
        if answer_t <= t:
            self.deliver(key, session, symbol, index, t)
        else:
            heapq.heappush(
                self.pending, _Pending(answer_t, next(self.seq), index, key, session, symbol)
            )

    def deliver(
        self, key: tuple[str, int], session: FeedSession, symbol: str, index: int, t: int
    ) -> None:
        self.summary.rest_served += 1
        data = self.answers.records[index].data
        body = data.encode() if isinstance(data, str) else data
        self.execute(key, session, session.snapshot(symbol, body, t), t)


def replay(
    records: Iterable[Record],
    codec_for: CodecFor,
    listener_for: ListenerFor,
    on_state: VenueStateCallback,
    *,
    rest_bases: Mapping[str, str] | None = None,
    options: SessionOptions | None = None,
    tick_interval_s: float = 0.25,
) -> ReplaySummary:
    """Replay ``records`` (file order) and return what happened (see :class:`Replayer`).
    Deterministic: the same records and the same callbacks give the same calls in the same
    order, every run."""
    materialized = records if isinstance(records, Sequence) else list(records)
    return Replayer(
        materialized,
        codec_for,
        listener_for,
        on_state,
        rest_bases=rest_bases,
        options=options,
        tick_interval_s=tick_interval_s,
    ).run(materialized)


def replay_file(
    path: str | Path,
    codec_for: CodecFor,
    listener_for: ListenerFor,
    on_state: VenueStateCallback,
    *,
    rest_bases: Mapping[str, str] | None = None,
    options: SessionOptions | None = None,
    tick_interval_s: float = 0.25,
) -> ReplaySummary:
    """:func:`replay` a capture file in two streaming passes (REST answers first), so a long
    capture is never held in memory. Damage in the file raises
    :class:`~feeds.capture.CaptureError` (read it with a
    :class:`~feeds.capture.CaptureReader` and :class:`Replayer` to read through damage)."""
    return Replayer(
        read_capture(path),
        codec_for,
        listener_for,
        on_state,
        rest_bases=rest_bases,
        options=options,
        tick_interval_s=tick_interval_s,
    ).run(read_capture(path))
