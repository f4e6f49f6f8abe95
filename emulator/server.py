"""The emulator's I/O shell: one WebSocket + REST server per venue on 127.0.0.1.

``async with Emulator(config) as emu:`` starts every venue on its own port (ephemeral unless
``port_base``), drives the market model from the loop clock (or not: ``autorun=False`` and
the test calls :meth:`Emulator.step`), and publishes each step to every connection. Plain
HTTP GETs (POSTs on the venue's ``post_paths``) on the same port are the venue's REST
endpoints (``process_request`` answers them before any WebSocket handshake). Faults are
injected with :meth:`Emulator.inject`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import gzip
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from emulator.market import Dislocation, MarketConfig, MarketModel
from emulator.ratelimit import WeightLimiter
from emulator.venues import VENUES, Venue
from emulator.venues.base import Out, Session
from feeds.budget import SlidingWindow


class FaultKind(enum.StrEnum):
    """Every fault the emulator can inject (the text of a fault spec is the value)."""

    DISCONNECT = "disconnect"
    ABORT = "abort"
    GAP = "gap"
    OVERLAP = "overlap"
    BAD_CHECKSUM = "bad_checksum"
    BAD_BODY = "bad_body"
    NOVEL = "novel"
    MALFORMED = "malformed"
    STALL = "stall"
    SILENT = "silent"
    SLOW = "slow"
    CROSSED = "crossed"
    REST_ERROR = "rest_error"
    REST_TIMEOUT = "rest_timeout"


FAULTS: Final[frozenset[str]] = frozenset(FaultKind)
CONN_FAULTS: Final[frozenset[str]] = FAULTS - {
    FaultKind.CROSSED,
    FaultKind.REST_ERROR,
    FaultKind.REST_TIMEOUT,
}
"""The faults applied to connections (the others: to the market or the REST side)."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault applied at start-up (to the first connection of the venue, or its REST), or
    ``delay_s`` later on the market clock (to every connection open then, or the next one);
    repeated every ``every_s`` seconds when that is > 0. Text form: :mod:`emulator.faults`."""

    venue: str
    fault: str
    params: Mapping[str, object] = field(default_factory=dict)
    delay_s: float = 0.0
    every_s: float = 0.0


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    market: MarketConfig = field(default_factory=MarketConfig)
    host: str = "127.0.0.1"
    port_base: int = 0
    """0: every venue on an ephemeral port; else venue i of ``market.venues`` on base + i."""
    autorun: bool = True
    """Step the model from the loop clock; False: only :meth:`Emulator.step` moves it."""
    venue_options: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """Per venue id, options of its emulation: ``checksum_zero`` (a venue with checksums sends
    0), ``requests_per_hour`` (the subscribe budget per connection of a venue whose spec has
    one, instead of the spec's), and the venue's own (its adapter's ``option_names``)."""
    ping_interval_s: float | None = 20.0
    """WebSocket pings the venue sends on every connection (every 20 s); None: none.
    A ping unanswered for as long closes the connection."""
    connection_lifetime_s: float | None = None
    """Close every connection this long after it opens (code 1001), like a venue's 24 h
    limit; None: connections live until a fault or the client ends them."""
    shutdown_notice_s: float | None = None
    """Send the venue's shutdown notice this long before that close (its adapter's
    ``notice``; venues without one send nothing); None: none."""
    faults: tuple[FaultSpec, ...] = ()
    max_queued: int = 10_000
    """Frames queued for one connection before the emulator drops it as too slow."""
    rest_limit: tuple[int, float] | None = None
    """Every limited venue's REST budget as (weight, seconds) instead of its real one, bans
    scaled alike (tests: the same weights against a shorter window)."""


@dataclass(slots=True)
class _Conn:
    cid: int
    ws: ServerConnection
    session: Session
    queue: asyncio.Queue[str]
    gap: int = 0
    corrupt: int = 0
    bad_body: int = 0
    zipped: bool = False  # frames sent gzip-compressed (Venue.gzip_frames)
    binary: bool = False  # frames sent as binary UTF-8 (Venue.binary_frames)
    stall_until: float = 0.0
    slow_delay: float = 0.0
    slow_until: float = 0.0
    last: str = ""


@dataclass(slots=True)
class _VenueServer:
    venue: Venue
    server: Server | None = None
    port: int = 0
    conns: dict[int, _Conn] = field(default_factory=dict)
    pending: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    rest_faults: deque[tuple[str, dict[str, object]]] = field(default_factory=deque)
    rest_served: int = 0
    limiter: WeightLimiter | None = None
    too_fast: int = 0
    """Connections closed for sending faster than the venue's ``sends_per_s``."""


class Emulator:
    """The local venue emulator (see the module docstring)."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], int] = time.time_ns) -> None:
        unknown = [v for v in config.market.venues if v not in VENUES]
        if unknown:
            raise ValueError(f"no emulated venue {unknown} (have {sorted(VENUES)})")
        self.config, self.clock = config, clock
        self.model = MarketModel(config.market, clock())
        self._venues = {
            v: _VenueServer(VENUES[v](self.model, config.venue_options.get(v, {})))
            for v in config.market.venues
        }
        for vs in self._venues.values():
            limit = config.rest_limit or vs.venue.rest_limit
            if vs.venue.rest_limit is not None and limit is not None:
                ban_s = 120.0 * limit[1] / 60.0
                vs.limiter = WeightLimiter(limit[0], limit[1], ban_s=ban_s)
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._steps_per_s = max(1, round(1000 / config.market.interval_ms))
        self._scheduled: list[tuple[int, FaultSpec]] = []
        for spec in config.faults:
            start = self.model.now_ns + round(spec.delay_s * 1e9)
            if spec.delay_s <= 0:
                self._inject(spec.venue, spec.fault, None, spec.params)
                start += round(spec.every_s * 1e9)
            if spec.delay_s > 0 or spec.every_s > 0:
                self._scheduled.append((start, spec))

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Emulator:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        for i, vs in enumerate(self._venues.values()):
            port = self.config.port_base + i if self.config.port_base else 0
            vs.server = await serve(
                functools.partial(self._handle, vs),
                self.config.host,
                port,
                process_request=functools.partial(self._process_request, vs),
                compression=None,
                max_size=2**16,
                ping_interval=self.config.ping_interval_s,
                ping_timeout=self.config.ping_interval_s,
            )
            vs.port = next(iter(vs.server.sockets)).getsockname()[1]
            vs.venue.origin = f"ws://{self._netloc(vs.port)}"
        if self.config.autorun:
            self._task = asyncio.create_task(self._run(), name="emulator-clock")

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for vs in self._venues.values():
            if vs.server is not None:
                vs.server.close()
                await vs.server.wait_closed()

    # -- addresses and ground truth --------------------------------------------------------
    def ws_url(self, venue: str) -> str:
        """The WebSocket URL to give the feed as its override (the venue's real path)."""
        vs = self._venues[venue]
        path = vs.venue.ws_path if vs.venue.ws_path != "/" else ""
        return f"ws://{self._netloc(vs.port)}{path}"

    url = ws_url

    def rest_url(self, venue: str) -> str:
        """The REST base URL (same port as the WebSocket server)."""
        return f"http://{self._netloc(self._venues[venue].port)}"

    def _netloc(self, port: int) -> str:
        host = self.config.host
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def dislocations(self) -> list[Dislocation]:
        """Every dislocation so far (random and injected), in start order: ground truth."""
        return self.model.dislocations

    def connections(self, venue: str) -> list[int]:
        """Ids of the venue's open connections, oldest first."""
        return list(self._venues[venue].conns)

    def venue(self, name: str) -> Venue:
        return self._venues[name].venue

    def too_fast(self, venue: str) -> int:
        """Connections of ``venue`` closed (1008) for sending frames too fast."""
        return self._venues[venue].too_fast

    def rest_requests(self, venue: str) -> int:
        """REST requests answered so far (including injected errors)."""
        return self._venues[venue].rest_served

    def rest_limits(self, venue: str) -> WeightLimiter | None:
        """The venue's request-weight limiter: ``max_used`` in any window, 429s and 418s
        answered (None for a venue without limits)."""
        return self._venues[venue].limiter

    # -- time ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance the model ``n`` steps and queue every resulting frame."""
        for _ in range(n):
            changes = self.model.step()
            now = self.model.now_ns
            if self._scheduled:
                self._fire_scheduled(now)
            beat = self.model.steps % self._steps_per_s == 0
            for name, vs in self._venues.items():
                mine = {s: ch for (v, s), ch in changes.items() if v == name}
                vs.venue.advance(mine, now)
                for conn in list(vs.conns.values()):
                    corrupt = conn.corrupt > 0 and vs.venue.has_checksum
                    outs = conn.session.publish(mine, now, corrupt)
                    if corrupt and any(o.book for o in outs):
                        conn.corrupt -= 1
                    if beat:
                        outs += conn.session.heartbeat(now)
                    self._put(vs, conn, outs)

    async def _run(self) -> None:
        interval = self.model.interval_ns
        while True:
            behind = (self.clock() - self.model.now_ns) // interval
            if behind > 50:  # the loop was blocked: skip ahead rather than flood
                self.model.skip(int(behind) - 1)
                behind = 1
            if behind > 0:
                self.step(int(behind))
            await asyncio.sleep(max(0.0, (self.model.now_ns + interval - self.clock()) / 1e9))

    # -- faults ----------------------------------------------------------------------------
    def inject(self, venue: str, fault: str, *, conn: int | None = None, **params: object) -> None:
        """Inject ``fault`` on ``venue`` (on connection ``conn``, or on every open one; with
        none open, on the next that opens). Faults and their parameters:

        ``disconnect`` (code=1001, reason), ``abort`` (transport dropped, no close frame),
        ``gap`` (count=1 book frames not sent: a sequence skip), ``overlap`` (count=1 book
        events whose update-id range also covers the previous event's, as allowed by
        update-id ranges; venues with ranges), ``bad_checksum`` (count=1
        frames with a wrong checksum; venues with checksums), ``malformed`` (a truncated frame),
        ``bad_body`` (count=1 book frames keep their envelope and counter, their updates
        are malformed; venues with ``body_faults``), ``novel`` (count=1 frames of an event
        type and a side no client knows, changing no book; the same venues),
        ``stall`` (seconds=inf: send nothing, keep the connection), ``silent`` (seconds=inf:
        send nothing and read nothing, so not even a WebSocket ping is answered: a black
        hole; reading resumes after ``seconds``), ``slow`` (delay_s per
        frame for seconds=inf), ``crossed`` (symbol=all, steps=1: a bid above the best ask,
        venue-wide), ``rest_error`` (status=429, count=1,
        retry_after: a ``Retry-After`` header of that many seconds), ``rest_timeout`` (delay_s=30,
        count=1: REST answers late).
        """
        self._inject(venue, fault, conn, params)

    def _fire_scheduled(self, now: int) -> None:
        """Inject the scheduled faults that are due; a repeated one is not queued again while
        its previous injection still waits for a connection or a REST request."""
        due = [(at, spec) for at, spec in self._scheduled if at <= now]
        if not due:
            return
        self._scheduled = [(at, spec) for at, spec in self._scheduled if at > now]
        for at, spec in due:
            vs = self._venues[spec.venue]
            waiting = (spec.fault, dict(spec.params))
            if waiting not in vs.pending and waiting not in vs.rest_faults:
                self._inject(spec.venue, spec.fault, None, spec.params)
            if spec.every_s > 0:
                period = round(spec.every_s * 1e9)
                later = at + period * (1 + (now - at) // period)
                self._scheduled.append((later, spec))

    def _inject(
        self, venue: str, fault: str, conn: int | None, params: Mapping[str, object]
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r} (have {sorted(FAULTS)})")
        vs = self._venues[venue]
        if fault == FaultKind.BAD_CHECKSUM and not vs.venue.has_checksum:
            raise ValueError(f"{venue} sends no checksum")
        if fault == FaultKind.OVERLAP and not vs.venue.has_ranges:
            raise ValueError(f"{venue} sends no update-id ranges")
        if fault in (FaultKind.BAD_BODY, FaultKind.NOVEL) and not vs.venue.body_faults:
            raise ValueError(f"{venue} has no {fault} fault")
        if fault == FaultKind.CROSSED:
            symbol = params.get("symbol")
            market = self.config.market
            for s in [symbol] if isinstance(symbol, str) else market.symbols:
                if market.lists(venue, s):
                    self.model.cross(venue, s, int(_num(params.get("steps", 1))))
            return
        if fault in (FaultKind.REST_ERROR, FaultKind.REST_TIMEOUT):
            for _ in range(int(_num(params.get("count", 1)))):
                vs.rest_faults.append((fault, dict(params)))
            return
        targets = [vs.conns[conn]] if conn is not None else list(vs.conns.values())
        if not targets:
            vs.pending.append((fault, dict(params)))
        for target in targets:
            self._apply(vs, target, fault, params)

    def _apply(
        self, vs: _VenueServer, conn: _Conn, fault: str, params: Mapping[str, object]
    ) -> None:
        now = asyncio.get_running_loop().time()
        seconds = _num(params.get("seconds", math.inf))
        count = int(_num(params.get("count", 1)))
        if fault == FaultKind.DISCONNECT:
            code, reason = int(_num(params.get("code", 1001))), str(params.get("reason", ""))
            task = asyncio.get_running_loop().create_task(conn.ws.close(code, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        elif fault == FaultKind.ABORT:
            conn.ws.transport.abort()
        elif fault == FaultKind.GAP:
            conn.gap += count
        elif fault == FaultKind.OVERLAP:
            conn.session.overlap(count)
        elif fault == FaultKind.BAD_CHECKSUM:
            conn.corrupt += count
        elif fault == FaultKind.BAD_BODY:
            conn.bad_body += count
        elif fault == FaultKind.NOVEL:
            self._put(
                vs, conn, [o for _ in range(count) for o in conn.session.novel(self.model.now_ns)]
            )
        elif fault == FaultKind.MALFORMED:
            text = conn.last or '{"channel":"book","type":"update","data":[{"symbol":'
            self._put(vs, conn, [Out(text[: max(1, len(text) // 2)])] * count)
        elif fault in (FaultKind.STALL, FaultKind.SILENT):
            conn.stall_until = now + seconds
            if fault == FaultKind.SILENT:
                _silence(conn.ws, seconds)
        elif fault == FaultKind.SLOW:
            conn.slow_delay, conn.slow_until = _num(params.get("delay_s", 0.05)), now + seconds

    # -- connections -----------------------------------------------------------------------
    def _put(self, vs: _VenueServer, conn: _Conn, outs: list[Out]) -> None:
        for out in outs:
            if out.book and conn.gap > 0:
                conn.gap -= 1
                continue
            if out.book and conn.bad_body > 0:
                conn.bad_body -= 1
                out = conn.session.bad_body(out)
            try:
                conn.queue.put_nowait(out.frame)
            except asyncio.QueueFull:
                conn.ws.transport.abort()  # a consumer this slow is dropped, like a venue does
                return

    async def _process_request(
        self, vs: _VenueServer, connection: ServerConnection, request: Request
    ) -> Response | None:
        if "upgrade" in request.headers.get("Connection", "").lower():
            if vs.venue.session(request.path, 0, self.model.now_ns) is None:
                return connection.respond(404, "no such stream\n")
            return None  # a WebSocket: the handler makes its session
        url = urlsplit(request.path)
        if (request.method == "POST") != (url.path in vs.venue.post_paths):
            return connection.respond(405, "method not allowed\n")
        vs.rest_served += 1
        if vs.rest_faults:
            fault, params = vs.rest_faults.popleft()
            if fault == FaultKind.REST_TIMEOUT:
                await asyncio.sleep(_num(params.get("delay_s", 30.0)))
            else:
                status = int(_num(params.get("status", 429)))
                wait = params.get("retry_after")
                extra = {} if wait is None else {"Retry-After": str(wait)}
                return _json(connection, status, '{"code":-1003,"msg":"Too many requests."}', extra)
        query = dict(parse_qsl(url.query))
        headers: dict[str, str] = {}
        if vs.limiter is not None:
            ip = str(connection.remote_address[0]) if connection.remote_address else ""
            weight = vs.venue.rest_weight(url.path, query)
            admission = vs.limiter.admit(ip, weight, time.monotonic_ns())
            if vs.venue.used_weight_header:
                headers[vs.venue.used_weight_header] = str(admission.used)
            if admission.retry_after_s is not None:
                headers["Retry-After"] = str(admission.retry_after_s)
            if admission.status == 429:
                body = '{"code":-1003,"msg":"Too many requests; current limit is exceeded."}'
                return _json(connection, 429, body, headers)
            if admission.status == 418:
                body = '{"code":-1003,"msg":"Way too many requests; IP banned."}'
                return _json(connection, 418, body, headers)
        answer = vs.venue.rest(url.path, query, self.model.now_ns)
        if answer is None:
            return connection.respond(404, "not found\n")
        return _json(connection, answer.status, answer.body, headers)

    async def _handle(self, vs: _VenueServer, ws: ServerConnection) -> None:
        cid = next(self._ids)
        session = vs.venue.session(ws.request.path if ws.request else "", cid, self.model.now_ns)
        if session is None:  # process_request refused such paths already
            raise RuntimeError(f"no session for {ws.request}")
        queue = asyncio.Queue[str](self.config.max_queued)
        zipped, binary = vs.venue.gzip_frames, vs.venue.binary_frames
        conn = _Conn(cid, ws, session, queue, zipped=zipped, binary=binary)
        vs.conns[cid] = conn
        pending, vs.pending = vs.pending, []
        writer = asyncio.create_task(self._write(conn), name=f"emulator-{vs.venue.name}-{cid}")
        timers = self._planned_close(vs, conn)
        try:
            self._put(vs, conn, session.opened(self.model.now_ns))
            for fault, params in pending:
                self._apply(vs, conn, fault, params)
            per_s = vs.venue.sends_per_s
            window = SlidingWindow(1_000_000_000) if per_s is not None else None
            async for message in ws:
                if window is not None and per_s is not None:  # it closes a client too fast
                    now = self.clock()
                    window.add(1, now)
                    if window.used(now) > per_s:
                        vs.too_fast += 1
                        await ws.close(1008, "Too many requests")
                        return
                text = message if isinstance(message, str) else message.decode()
                self._put(vs, conn, session.received(text, self.model.now_ns))
        except ConnectionClosed:
            pass  # the client went away: nothing to answer
        finally:
            for timer in timers:
                timer.cancel()
            del vs.conns[cid]
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _planned_close(self, vs: _VenueServer, conn: _Conn) -> list[asyncio.TimerHandle]:
        """Schedule the connection's close at its lifetime, and the notice before it."""
        life = self.config.connection_lifetime_s
        if life is None:
            return []
        loop = asyncio.get_running_loop()
        cut = {"code": 1001, "reason": "connection lifetime reached"}
        timers = [loop.call_later(life, self._apply, vs, conn, FaultKind.DISCONNECT, cut)]
        notice = self.config.shutdown_notice_s
        if notice is not None:

            def announce() -> None:
                self._put(vs, conn, conn.session.shutdown_notice(self.model.now_ns))

            timers.append(loop.call_later(max(0.0, life - notice), announce))
        return timers

    async def _write(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await conn.queue.get()
                now = loop.time()
                if now < conn.stall_until:
                    continue  # stalled: the frame is never sent
                if now < conn.slow_until:
                    await asyncio.sleep(conn.slow_delay)
                conn.last = frame
                if conn.zipped:
                    await conn.ws.send(gzip.compress(frame.encode(), 1, mtime=0))
                else:
                    await conn.ws.send(frame.encode() if conn.binary else frame)


def _silence(ws: ServerConnection, seconds: float) -> None:
    """A black hole for ``seconds``: nothing read, and no keepalive ping sent either (a real
    venue whose socket hangs sends no WebSocket ping, and a ping is traffic to the feeds)."""
    ws.transport.pause_reading()
    if ws.keepalive_task is not None:
        ws.keepalive_task.cancel()
        ws.keepalive_task = None

    def speak_again() -> None:
        ws.transport.resume_reading()  # also when closing: the close handshake needs it
        if ws.state is State.OPEN:
            ws.start_keepalive()

    if math.isfinite(seconds):
        asyncio.get_running_loop().call_later(seconds, speak_again)


def _num(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _json(
    connection: ServerConnection, status: int, body: str, extra: Mapping[str, str] | None = None
) -> Response:
    response = connection.respond(status, body)
    headers = Headers(response.headers)
    del headers["Content-Type"]
    headers["Content-Type"] = "application/json;charset=UTF-8"
    for name, value in (extra or {}).items():
        headers[name] = value
    return Response(response.status_code, response.reason_phrase, headers, response.body)
