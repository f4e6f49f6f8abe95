"""The async shell around one :class:`feeds.session.FeedSession` per connection.

A :class:`Runner` owns one logical connection to a venue: it connects, feeds every received
frame to a fresh session, executes the session's actions, calls ``session.tick`` a few times
a second, and reconnects with capped, jittered exponential backoff when the connection closes,
is refused, or the session asks (stale, desynced). REST snapshots are fetched by separate
tasks, at most one per symbol and a bounded number at once, so a resync never blocks the read
loop or other symbols; a failed fetch is reported to the session and retried with backoff.
Every snapshot request waits for room in the venue's :class:`~feeds.budget.RequestBudget`
(one per venue, shared by all its runners): a 429/418 stops the whole venue for its
``Retry-After``, and the venue's used-weight header corrects the estimate.
A close the venue plans (its notice, or the codec's ``max_connection_s``) is make-before-break
(:mod:`feeds.handover`): the runner opens a replacement, and once every book of it is live it
switches the listeners over and closes the old connection without reporting it; a
replacement not live within ``replace_sync_s`` is dropped and the old one serves on.
Every task is owned by an :class:`asyncio.TaskGroup`; cancelling :meth:`Runner.run` closes
the connection and returns cleanly. With a recorder, every open/out/in/close/rest (and ctl:
WebSocket pings and pongs) is written as capture v1 with ``t`` from the injected clock
(``open`` names the connection's canonical symbols), and the tick loop lets the recorder flush
what it holds.

Failures map to one action each (docs/contracts.md): :class:`~feeds.transport.ConnectFailed` and
:class:`~feeds.transport.TransportClosed` -> state ``down`` + reconnect with backoff;
``httpx.TimeoutException`` / ``httpx.HTTPStatusError`` / other ``httpx.HTTPError`` ->
``session.snapshot_failed`` + retry that symbol with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import httpx

from feeds.actions import (
    Action,
    BookListener,
    FeedState,
    FetchSnapshot,
    Ping,
    Reconnect,
    Replace,
    Send,
    StateCallback,
)
from feeds.backoff import Backoff
from feeds.budget import RequestBudget, SendPacer, retry_after, used_weight
from feeds.capture import CaptureWriter, Direction, Record
from feeds.handover import Feed, ReplacePlan, Tap
from feeds.protocol import Codec, ParseError, RestRequest, SnapshotSource
from feeds.session import FeedSession
from feeds.transport import ConnectFailed, Connection, Connector, Frame, TransportClosed
from feeds.wsconnect import websocket_connect

log = logging.getLogger(__name__)

CodecFactory = Callable[[Sequence[str]], Codec]
"""Builds the codec of one connection from its canonical symbols (a codec class fits)."""


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """The knobs of each :class:`~feeds.session.FeedSession` (docs/contracts.md, session
    options), shared by live runs and replay so both apply the same rules."""

    top_n: int = 20
    stale_after_s: float = 10.0
    max_book_age_s: float = 60.0
    max_buffered: int = 1000
    snapshot_wait_s: float = 1.0
    """REST venues: request a symbol's snapshot this long after opening even if the stream
    has sent nothing for it yet (it is requested at its first event otherwise)."""

    def new_session(
        self,
        codec: Codec,
        listener_for: Callable[[str], BookListener],
        on_state: StateCallback,
        rest_base: str,
    ) -> FeedSession:
        """A fresh session for one connection."""
        return FeedSession(
            codec,
            listener_for,
            on_state,
            rest_base=rest_base,
            top_n=self.top_n,
            stale_after_s=self.stale_after_s,
            max_book_age_s=self.max_book_age_s,
            max_buffered=self.max_buffered,
            snapshot_wait_s=self.snapshot_wait_s,
        )


PACED_SHARE: Final = 0.8
"""The share of a venue's ``sends_per_s`` the runner sends at: what the runner does not pace
(the WebSocket library's pongs) may count against the same limit."""


@dataclass(slots=True)
class RunnerStats:
    """What the runner did, across all its connections."""

    connects: int = 0
    """Connections opened (replacements are counted apart: ``replacements``)."""
    refused: int = 0
    """Connection attempts that failed (replacements: ``replace_failures``)."""
    snapshot_fetches: int = 0
    """REST snapshots received and handed to the session."""
    snapshot_failures: int = 0
    """REST snapshot requests that failed (HTTP error, timeout, transport error)."""
    replacements: int = 0
    """Replacements started before a planned close (a notice, or the connection's lifetime)."""
    handovers: int = 0
    """Replacements that took the books over."""
    replace_failures: int = 0
    """Replacements that failed to connect or were not live within ``replace_sync_s`` (the
    old connection served on)."""
    paced: int = 0
    """Times a frame waited for room in the venue's send rate (``sends_per_s``)."""
    backoff_s: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    """The reconnect delays waited, in order (the last 64)."""


@dataclass(slots=True, eq=False)
class _Live:
    """The state of one open connection (one session)."""

    conn: Connection
    tasks: asyncio.TaskGroup
    stop: asyncio.Future[str]
    fetch_slots: asyncio.Semaphore
    plan: ReplacePlan
    forward: bool
    """Whether its states reach ``on_state`` (the current connection, not a replacement
    still syncing)."""
    session: FeedSession = field(init=False)
    taps: dict[str, Tap] = field(default_factory=dict)
    fetches: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    loops: list[asyncio.Task[None]] = field(default_factory=list)
    pacer: SendPacer | None = None
    """Paces the frames sent, for venues that limit them (else they are sent at once)."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the pacer has frames queued."""
    successor: _Live | None = None
    """The connection that replaced this one (it then closes quietly)."""
    closed: bool = False
    recording: bool = True
    """Whether its records reach the capture: while a replacement (written under the same
    connection number) syncs, the old connection's are not."""

    def finish(self, reason: str) -> None:
        if not self.stop.done():
            self.stop.set_result(reason)

    def cancel_all(self) -> None:
        for task in (*self.loops, *self.fetches.values()):
            task.cancel()

    def usable(self) -> bool:
        """Every book of this connection is live."""
        return all(tap.usable for tap in self.taps.values())


class Runner:
    """One venue connection, kept alive until :meth:`run` is cancelled (docs/contracts.md,
    the runner).

    ``codec_factory(symbols)`` builds the codec (a fresh one per connection); the session
    reports states through ``on_state`` (``syncing``/``live``/``resyncing``/``stale``) and the
    runner adds ``connecting`` before each attempt and ``down`` (with the reason) after each
    failed attempt or closed connection. ``http`` is required for REST-snapshot venues.
    ``connect``, ``clock`` and ``sleep`` (backoff and budget waits) are injectable for
    tests. ``conn`` is the connection number written into capture records. ``budget`` is the
    venue's REST request budget, shared by every runner of the venue (default: a new one from
    the codec's :attr:`~feeds.protocol.Codec.rest_limits`, for this runner alone).
    ``replace_margin_s`` before the codec's planned connection lifetime, or at the venue's
    notice, a replacement is opened; it must be live within ``replace_sync_s``.
    """

    def __init__(
        self,
        codec_factory: CodecFactory,
        symbols: Sequence[str],
        listener_for: Callable[[str], BookListener],
        on_state: StateCallback,
        *,
        ws_url: str = "",
        rest_url: str = "",
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], int] = time.time_ns,
        recorder: CaptureWriter | None = None,
        conn: int = 0,
        connect: Connector = websocket_connect,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Backoff | None = None,
        options: SessionOptions | None = None,
        max_frame_bytes: int = 16 * 1024 * 1024,
        tick_interval_s: float = 0.25,
        healthy_after_s: float = 30.0,
        rest_timeout_s: float = 10.0,
        max_concurrent_fetches: int = 4,
        budget: RequestBudget | None = None,
        replace_margin_s: float = 300.0,
        replace_sync_s: float = 60.0,
    ) -> None:
        self.codec_factory = codec_factory
        self.symbols = tuple(symbols)
        probe = codec_factory(self.symbols)
        if probe.integrity.snapshot is SnapshotSource.REST and http is None:
            raise ValueError(f"{probe.venue}: REST snapshots need an httpx.AsyncClient")
        if probe.connect_request(rest_url) is not None and http is None:
            raise ValueError(f"{probe.venue}: its connect request needs an httpx.AsyncClient")
        self.venue = probe.venue
        limits = probe.rest_limits
        if budget is None and limits is not None:
            budget = RequestBudget.of(limits)
        self.budget = budget
        self._used_header = limits.used_weight_header if limits is not None else None
        self.ws_url = probe.ws_url(ws_url or probe.endpoints.ws)
        self.rest_url = rest_url or probe.endpoints.rest
        self.listener_for = listener_for
        self.on_state = on_state
        self.http = http
        self.clock = clock
        self.recorder = recorder
        self.conn = conn
        self._connect = connect
        self._sleep = sleep
        self.backoff = backoff if backoff is not None else Backoff()
        self.options = options if options is not None else SessionOptions()
        self.max_frame_bytes = max_frame_bytes
        self.tick_interval_s = tick_interval_s
        self.healthy_after_ns = int(healthy_after_s * 1e9)
        self.rest_timeout_s = rest_timeout_s
        self.max_concurrent_fetches = max_concurrent_fetches
        self.replace_margin_s = replace_margin_s
        self.replace_sync_ns = int(replace_sync_s * 1e9)
        self._replacing = False
        self._feeds: dict[str, Feed] = {}
        self.stats = RunnerStats()
        self.session: FeedSession | None = None
        """The session of the current (or last) connection."""

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; forever, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            while True:
                self.on_state(FeedState.CONNECTING, None, self.clock())
                try:
                    codec, conn = await self._dial()
                except ConnectFailed as exc:
                    self.stats.refused += 1
                    log.warning("%s: %s: %s", self.venue, self.ws_url, exc.reason)
                    self.on_state(FeedState.DOWN, exc.reason, self.clock())
                else:
                    self.stats.connects += 1
                    if await self._serve(tasks, conn, codec) >= self.healthy_after_ns:
                        self.backoff.reset()
                delay = self.backoff.next()
                self.stats.backoff_s.append(delay)
                await self._sleep(delay)

    async def _dial(self) -> tuple[Codec, Connection]:
        """A new connection and its codec. A codec with a :meth:`~Codec.connect_request`
        learns the URL (and token) from the venue's answer first, anew for every connection;
        a failed request is a failed connection (ConnectFailed)."""
        codec = self.codec_factory(self.symbols)
        codec.clock = self.clock  # for venues whose requests carry the time
        url, request = self.ws_url, codec.connect_request(self.rest_url)
        if request is not None:
            body, error = await self._request(request)
            if body is None:
                raise ConnectFailed(f"{request.url}: {error}")
            try:
                url = codec.connect_url(body)
            except ParseError as exc:
                raise ConnectFailed(f"{request.url}: {exc}") from None
        return codec, await self._connect(url, self.max_frame_bytes)

    async def _serve(self, tasks: asyncio.TaskGroup, conn: Connection, codec: Codec) -> int:
        """Serve one open connection and the ones that replace it, until the last one ends;
        returns how long they lived (ns)."""
        live = await self._open(tasks, conn, codec, forward=True)
        opened_ns = live.plan.opened_ns
        try:
            while True:
                reason = await live.stop
                successor = live.successor
                await self._close(live, reason, quiet=successor is not None)
                if successor is None:
                    return self.clock() - opened_ns
                live = successor
        finally:
            if not live.closed:  # cancelled: run() is stopping
                await self._close(live, "stopped", quiet=False)

    async def _open(
        self, tasks: asyncio.TaskGroup, conn: Connection, codec: Codec, forward: bool
    ) -> _Live:
        """Start serving ``conn`` with a fresh session; ``forward``: it is the current
        connection (else a replacement, heard by nobody until :meth:`_switch`)."""
        opened_ns = self.clock()
        live = _Live(
            conn,
            tasks,
            asyncio.get_running_loop().create_future(),
            asyncio.Semaphore(self.max_concurrent_fetches),
            ReplacePlan(opened_ns, codec.max_connection_s, self.replace_margin_s),
            forward,
        )
        if codec.sends_per_s is not None:
            live.pacer = SendPacer(codec.sends_per_s * PACED_SHARE)
            live.loops.append(tasks.create_task(self._send_loop(live, live.pacer)))
        self._record(live, "open", self.ws_url, "", opened_ns, self.symbols)

        def tap(symbol: str) -> Tap:
            feed = self._feeds.get(symbol)
            if feed is None:
                feed = self._feeds[symbol] = Feed(self.listener_for(symbol))
            live.taps[symbol] = feed.tap(own=live.forward)
            return live.taps[symbol]

        def on_state(state: str, reason: str | None, ts_ns: int) -> None:
            if live.forward:
                self.on_state(state, reason, ts_ns)

        live.session = self.options.new_session(codec, tap, on_state, self.rest_url)
        if forward:
            self.session = live.session
        await self._execute(live, live.session.opened(opened_ns))
        live.loops.append(tasks.create_task(self._read_loop(live)))
        live.loops.append(tasks.create_task(self._tick_loop(live)))
        return live

    async def _close(self, live: _Live, reason: str, quiet: bool) -> None:
        """Close one connection; ``quiet``: replaced (its books were handed over: its close
        reaches no listener, and the venue is not down)."""
        live.closed = True
        live.finish(reason)
        live.cancel_all()
        try:
            await live.conn.close()
        finally:
            closed_ns = self.clock()
            live.session.closed(closed_ns)
            self._record(live, "close", self.ws_url, "", closed_ns)
            if self.recorder is not None:
                self.recorder.flush()
            log.info("%s: connection %d down: %s", self.venue, self.conn, reason)
            if not quiet:
                self.on_state(FeedState.DOWN, reason, closed_ns)

    def _consider_replacing(self, live: _Live, now: int) -> None:
        """Start replacing the current connection when its plan says so (one at a time)."""
        if not live.forward or live.stop.done() or self._replacing:
            return
        reason = live.plan.due(now)
        if reason is not None:
            self._replacing = True
            live.tasks.create_task(self._replace(live, reason))

    async def _replace(self, old: _Live, reason: str) -> None:
        """Open a replacement of ``old``, wait until every book of it is live, then switch
        the books over; ``old`` then closes quietly. A replacement that cannot connect, drops,
        or is not live within ``replace_sync_s`` of the start is closed: ``old`` serves until
        it ends."""
        log.info("%s: connection %d: replacing it (%s)", self.venue, self.conn, reason)
        self.stats.replacements += 1
        new: _Live | None = None
        deadline = self.clock() + self.replace_sync_ns
        try:
            try:
                codec, conn = await self._dial()
            except ConnectFailed as exc:
                failure = exc.reason
            else:
                old.recording = False  # a capture replays one session per connection number
                new = await self._open(old.tasks, conn, codec, forward=False)
                while not (new.usable() or new.stop.done() or old.stop.done()):
                    if self.clock() >= deadline:
                        break
                    await asyncio.sleep(self.tick_interval_s)
                if new.usable() and not new.stop.done() and not old.stop.done():
                    self._switch(old, new)
                    return
                failure = "not live in time" if not new.stop.done() else new.stop.result()
            self.stats.replace_failures += 1
            log.warning(
                "%s: replacement failed (%s), keeping the old connection", self.venue, failure
            )
        finally:
            self._replacing = False
            if new is not None and not new.forward:
                await self._close(new, "replacement failed", quiet=True)
                if not old.closed:  # the capture goes on with the old connection, anew
                    old.recording = True
                    self._record(old, "open", self.ws_url, "", self.clock(), self.symbols)

    def _switch(self, old: _Live, new: _Live) -> None:
        """Hand every book from ``old`` to ``new`` at once: the listeners hear ``new`` from
        now on, and ``old`` ends as replaced."""
        now = self.clock()
        new.forward = True
        old.forward = False
        for tap in new.taps.values():
            tap.take(now)
        self.session = new.session
        old.successor = new
        old.finish("replaced")
        self.stats.handovers += 1
        log.info("%s: connection %d handed over", self.venue, self.conn)

    async def _read_loop(self, live: _Live) -> None:
        recv, frame, clock, stop = live.conn.recv, live.session.frame, self.clock, live.stop
        while not stop.done():
            try:
                data: Frame = await recv()
            except TransportClosed as exc:
                live.finish(exc.reason)
                return
            now = clock()
            if self.recorder is not None:
                self._record(live, "in", self.ws_url, data, now)
            actions = frame(data, now)
            if actions:  # most frames produce none: no coroutine to create and await
                await self._execute(live, actions)

    async def _tick_loop(self, live: _Live) -> None:
        conn, session = live.conn, live.session
        control = 0
        while not live.stop.done():
            await asyncio.sleep(self.tick_interval_s)
            now = self.clock()
            # WebSocket pings and pongs never reach recv: they count as traffic here, once a
            # tick, before the session checks the connection's liveness.
            if conn.control_frames != control:
                count, control = conn.control_frames - control, conn.control_frames
                session.alive(now, count)
                self._record(live, "ctl", self.ws_url, str(count), now)
            if self.recorder is not None:
                self.recorder.tick()  # a killed recorder loses at most its last second
            await self._execute(live, session.tick(now))
            self._consider_replacing(live, now)

    async def _execute(self, live: _Live, actions: Iterable[Action]) -> None:
        for action in actions:
            if live.stop.done():
                return
            if isinstance(action, Send):
                if live.pacer is None:
                    await self._send(live, action.frame)
                elif live.pacer.put(action.frame):
                    live.wake.set()
                else:
                    live.finish("send queue full")
            elif isinstance(action, Ping):
                try:
                    await live.conn.ping()
                except TransportClosed as exc:
                    live.finish(exc.reason)
            elif isinstance(action, FetchSnapshot):
                symbol = action.request.symbol
                previous = live.fetches.get(symbol)
                if previous is not None and previous is not asyncio.current_task():
                    previous.cancel()  # the newer request supersedes it
                live.fetches[symbol] = live.tasks.create_task(self._fetch(live, action.request))
            elif isinstance(action, Reconnect):
                live.finish(action.reason)
            elif isinstance(action, Replace):
                live.plan.noticed(action.reason)
                self._consider_replacing(live, self.clock())

    async def _send(self, live: _Live, frame: str) -> None:
        self._record(live, "out", self.ws_url, frame, self.clock())
        try:
            await live.conn.send(frame)
        except TransportClosed as exc:
            live.finish(exc.reason)

    async def _send_loop(self, live: _Live, pacer: SendPacer) -> None:
        """Send the paced frames of ``live`` in order, as the venue's rate allows."""
        while not live.stop.done():
            await live.wake.wait()
            frame, wait_ns = pacer.take(self.clock())
            if frame is not None:
                await self._send(live, frame)
            elif wait_ns:
                self.stats.paced += 1
                await self._sleep(wait_ns / 1e9)
            else:
                live.wake.clear()

    async def _fetch(self, live: _Live, request: RestRequest) -> None:
        """Fetch one symbol's snapshot until it arrives; failures go to the session and are
        retried with this symbol's own backoff."""
        backoff = self.backoff.fresh()
        while True:
            body, error = await self._get(live, request)
            now = self.clock()
            if body is not None:
                self.stats.snapshot_fetches += 1
                self._record(live, "rest", request.url, _text_or_bytes(body), now)
                await self._execute(live, live.session.snapshot(request.symbol, body, now))
                return
            self.stats.snapshot_failures += 1
            actions = live.session.snapshot_failed(request.symbol, error, now)
            again = [
                a
                for a in actions
                if isinstance(a, FetchSnapshot) and a.request.symbol == request.symbol
            ]
            await self._execute(live, (a for a in actions if a not in again))
            if again:
                request = again[-1].request
            await self._sleep(backoff.next())

    async def _get(self, live: _Live, request: RestRequest) -> tuple[bytes | None, str]:
        """One snapshot request within the concurrency bound and the venue's budget."""
        async with live.fetch_slots:
            return await self._request(request)

    async def _request(self, request: RestRequest) -> tuple[bytes | None, str]:
        """One REST request within the venue's budget: ``(body, "")`` or ``(None, error)``."""
        assert self.http is not None  # checked in __init__ for venues that make requests
        budget = self.budget
        if budget is not None:
            while (wait_ns := budget.take(request.weight, self.clock())) > 0:
                await self._sleep(wait_ns / 1e9)
        try:
            response = await self.http.request(
                request.method, request.url, timeout=self.rest_timeout_s
            )
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:  # connect, read and protocol errors
            return None, f"{type(exc).__name__}: {exc}"
        if budget is not None:
            headers, name = response.headers, self._used_header
            budget.answered(
                response.status_code,
                self.clock(),
                used_weight=used_weight(headers.get(name)) if name else None,
                retry_after_s=retry_after(headers.get("retry-after")),
            )
        if not response.is_success:
            return None, f"HTTP {response.status_code}"
        return response.content, ""

    def _record(
        self,
        live: _Live,
        direction: Direction,
        url: str,
        data: Frame,
        t: int,
        symbols: tuple[str, ...] | None = None,
    ) -> None:
        if self.recorder is not None and live.recording:
            self.recorder.write(Record(t, self.venue, direction, url, data, self.conn, symbols))


def _text_or_bytes(body: bytes) -> Frame:
    """A REST body as capture data: text when it is UTF-8 (the usual JSON), else bytes."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body
