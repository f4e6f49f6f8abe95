"""The WebSocket event server: the event stream to any number of clients, none of which can
hold the process's memory or time.

Each client has its own filter (:mod:`scanner.subscribe`), bounded queue, drop counter and
sender task, so a slow client cannot stall the others, and every write, read and close is
bounded in time and size. ``emit`` is synchronous, O(clients) and never blocks.

Protocol 1: a client is first sent ``hello``, then a snapshot of the present
(:mod:`scanner.present`) under its filter, then ``snapshot_end``, then the live stream; each
subscribe message is answered the same way under the new filter. The WebSocket endpoint is
``/ws`` (and ``/``); plain HTTP GETs are answered by :mod:`scanner.routes` (the dashboard's
files) and :mod:`scanner.metrics` (``/health``, ``/metrics``). Who may connect:
:mod:`scanner.access`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from scanner import routes
from scanner.access import Access
from scanner.config import OPERATOR_PATHS
from scanner.events import SNAPSHOT_END, error_event, hello_event
from scanner.metrics import Metrics, Readings, health
from scanner.present import Present
from scanner.sinks import BoundedQueue, Event
from scanner.subscribe import BadSubscribe, Filter, parse_subscribe

log = logging.getLogger(__name__)


class WsClient:
    """One connected client of :class:`WsEventServer`: its filter and queue of serialized lines."""

    def __init__(self, ws: ServerConnection, max_events: int) -> None:
        self.ws = ws
        self.remote = str(ws.remote_address)
        self.queue = BoundedQueue(max_events)
        self.filter: Filter | None = None
        """None until a subscribe message: every event."""
        self.sent = 0
        self.attached = True
        self.subscribed: deque[float] = deque(maxlen=MAX_SUBSCRIBES_PER_S)
        """Loop times of its last subscribe messages."""


CLOSE_SHUTDOWN = 1001
"""Close code at shutdown (going away), after the client's queued events."""
CLOSE_BINARY = 1003
"""Close code for a binary message (unsupported data)."""
CLOSE_POLICY = 1008
"""Close code for a text message that is not a valid subscribe message, and for a client too
slow to keep up (policy violation). A message over the size cap gets 1009 (message too big)."""
CLOSE_TRY_LATER = 1013
"""Close code for a client over the cap that got past the handshake's check."""
MAX_SUBSCRIBES_PER_S = 10
"""Subscribe messages a client may send within one second (each is answered with a
snapshot); one more is refused like a bad subscribe message."""
WS_PATHS = ("/ws", "/")
"""Where the WebSocket endpoint answers (``/`` for clients older than the dashboard)."""


class WsEventServer:
    """Serves the event stream to WebSocket clients, one text frame (JSON object) per event.

    No client can hold memory or time: each has a queue of at most ``client_queue`` events
    (beyond: dropped, counted), a socket write buffer capped at ``write_limit`` bytes, and
    ``max_lag_s`` to write what it has queued, else it is disconnected with
    :data:`CLOSE_POLICY` and counted in :attr:`lagged`. Its messages are read as they come,
    at most ``max_message_bytes`` each: a valid subscribe message sets its filter
    (:mod:`scanner.subscribe`); anything else closes it.

    :meth:`close` stops listening and lets each client receive what was queued for it before
    its connection is closed with 1001; connections still open ``close_timeout_s`` later are
    aborted. Cancelling :meth:`run` aborts every connection still open.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_queue: int = 1000,
        max_lag_s: float = 2.0,
        close_timeout_s: float = 1.0,
        max_message_bytes: int = 4096,
        write_limit: int = 64 * 1024,
        venues: Sequence[str] = (),
        symbols: Sequence[str] = (),
        web: routes.WebFiles | None = None,
        access: Access | None = None,
        readings: Callable[[], Readings] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """``venues`` and ``symbols`` are what ``hello`` announces; with ``web``, plain HTTP
        GETs are answered with the dashboard's files; ``readings``: the counters that
        ``/health`` and ``/metrics`` report besides the server's own; ``clock``: wall clock
        ns."""
        self.host = host
        self.requested_port = port
        self.client_queue = client_queue
        self.max_lag_s = max_lag_s
        self.close_timeout_s = close_timeout_s
        self.max_message_bytes = max_message_bytes
        self.write_limit = write_limit
        self.venues = list(venues)
        self.symbols = list(symbols)
        self.web = web
        self.access = access or Access()
        self.readings: Callable[[], Readings] = readings or (
            lambda: Readings(sinks={"serve": self.counts()})
        )
        """What ``/health`` and ``/metrics`` read besides the server's own state (settable)."""
        self.clock = clock
        self.metrics = Metrics(self)
        self.rejected: Counter[str] = Counter()
        """Handshakes refused, by reason: ``origin``, ``token``, ``full``."""
        self.present = Present()
        self.clients: list[WsClient] = []
        self.lagged = 0
        """Clients disconnected because they fell behind."""
        self._gone_events = 0
        self._gone_dropped = 0
        self._server: Server | None = None
        self._closing = False
        self._stop = asyncio.Event()
        self._sockets: set[ServerConnection] = set()
        """Every TCP connection, from accept (before the WebSocket handshake) to loss."""

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("server not started")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def address(self) -> str:
        """``HOST:PORT`` of the bound server (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, scheme: str = "ws") -> str:
        """``scheme://HOST:PORT`` of the bound server."""
        return f"{scheme}://{self.address}"

    @property
    def events(self) -> int:
        """Events queued for clients, over all clients ever connected."""
        return self._gone_events + sum(c.queue.accepted for c in self.clients)

    def counts(self) -> dict[str, int]:
        """``events`` and ``dropped`` (a sink's counters)."""
        return {"events": self.events, "dropped": self.dropped}

    @property
    def dropped(self) -> int:
        """Events not delivered, over all clients ever connected: refused because a client's
        queue was full, or discarded from its queue when its connection ended."""
        return self._gone_dropped + sum(c.queue.dropped for c in self.clients)

    async def start(self) -> None:
        """Bind and listen."""
        sockets = self._sockets

        class Tracked(ServerConnection):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                sockets.add(self)

            def connection_lost(self, exc: Exception | None) -> None:
                sockets.discard(self)
                super().connection_lost(exc)

        # No permessage-deflate: compressing per client would cost CPU on the loop that also
        # runs the feeds and the engine.
        self._server = await serve(
            self._handler,
            self.host,
            self.requested_port,
            compression=None,
            max_size=self.max_message_bytes,
            max_queue=4,
            write_limit=self.write_limit,
            process_request=self._route,
            open_timeout=5.0,
            close_timeout=self.close_timeout_s,
            create_connection=Tracked,
        )

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every connected client that wants it (a drop counted per full
        client)."""
        self.present.see(event)
        line = None
        for client in self.clients:
            if client.filter is None or client.filter.wants(event):
                if line is None:
                    line = orjson.dumps(event)  # serialized once for all clients
                client.queue.put(line)

    async def run(self) -> None:
        """Start if needed and serve until :meth:`close` (then all clients done, or aborted
        ``close_timeout_s`` later) or cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._stop.wait()
            try:
                async with asyncio.timeout(self.close_timeout_s):
                    await self._server.wait_closed()
            except TimeoutError:
                log.warning(
                    "event server: %d connection(s) still open %.1f s after close: aborted",
                    len(self._sockets),
                    self.close_timeout_s,
                )
                self._abort_all()
                async with asyncio.timeout(self.close_timeout_s):
                    await self._server.wait_closed()
        finally:
            if not self._closing:  # cancelled: stop listening too
                self.close()
            self._abort_all()

    def close(self) -> None:
        """Stop listening; each client gets its queued events, then its connection closes."""
        self._closing = True
        self._stop.set()
        for client in self.clients:
            client.queue.close()
        if self._server is not None:
            self._server.close(close_connections=False)

    def _abort_all(self) -> None:
        for ws in list(self._sockets):
            ws.transport.abort()

    async def _handler(self, ws: ServerConnection) -> None:
        if self._closing:
            return
        if len(self.clients) >= self.access.max_clients:  # handshakes that passed together
            self.rejected["full"] += 1
            await self._close_bounded(ws, CLOSE_TRY_LATER, "too many clients")
            return
        client = WsClient(ws, self.client_queue)
        self._greet(client)
        self.clients.append(client)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send(client))
                await self._read(client)
                self._detach(client)  # the connection is over: the sender stops
        finally:
            self._detach(client)

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer a plain HTTP GET, or let a WebSocket handshake on :data:`WS_PATHS` go on
        if :mod:`scanner.access` admits it."""
        path = request.path.partition("?")[0]
        if any("websocket" in v.lower() for v in request.headers.get_all("Upgrade")):
            if path not in WS_PATHS:
                return routes.text(404, "the WebSocket endpoint is /ws")
            return self._admit(request)
        if path in OPERATOR_PATHS:
            if path not in self.access.token_exempt and not self.access.token_ok(request):
                return routes.text(401, "a token is required", routes.BEARER)
            if path == "/health":
                status, body = health(self, self.readings(), self.clock())
                return routes.response(status, body, routes.JSON)
            return routes.response(200, self.metrics.text(), routes.PROMETHEUS)
        if self.web is not None:
            return self.web.get(path)
        return None  # not a WebSocket handshake: the library answers 426

    def _admit(self, request: Request) -> Response | None:
        """None to accept a WebSocket handshake, else the refusal (counted)."""
        if not self.access.origin_ok(request, self.host, self.port):
            self.rejected["origin"] += 1
            return routes.text(403, "origin not allowed")
        if not self.access.token_ok(request):
            self.rejected["token"] += 1
            return routes.text(401, "a token is required", routes.BEARER)
        if len(self.clients) >= self.access.max_clients:
            self.rejected["full"] += 1
            return routes.text(503, "too many clients")
        return None

    def _greet(self, client: WsClient) -> None:
        """Queue ``hello``, the present under the client's filter and ``snapshot_end``; what
        was queued before is dropped (counted): the snapshot supersedes it. A snapshot may
        exceed the queue's cap: it is bounded by the present's size."""
        queue, wants = client.queue, client.filter.wants if client.filter else None
        queue.dropped += len(queue.items)
        queue.items.clear()
        queue.put(orjson.dumps(hello_event(self.clock(), self.venues, self.symbols)), force=True)
        for event in self.present.snapshot():
            if wants is None or wants(event):
                queue.put(orjson.dumps(event), force=True)
        queue.put(orjson.dumps(SNAPSHOT_END), force=True)

    async def _read(self, client: WsClient) -> None:
        """Read every message as it comes (never left to pile up) until the connection ends."""
        try:
            async for message in client.ws:
                if isinstance(message, bytes):
                    detail = "text messages only"
                    await self._refuse(client, "binary_message", detail, CLOSE_BINARY, detail)
                    return
                try:
                    client.filter = self._subscribe(client, message)
                except BadSubscribe as exc:
                    reason = f"bad subscribe: {exc}".encode()[:120]  # a close reason: <= 123 B
                    close = reason.decode(errors="ignore")
                    await self._refuse(client, "bad_subscribe", str(exc), CLOSE_POLICY, close)
                    return
                self._greet(client)
        except ConnectionClosed as exc:
            log.debug("event client %s: %s", client.remote, exc)

    def _subscribe(self, client: WsClient, message: str) -> Filter:
        """The filter of ``message``; BadSubscribe also for one too many within a second."""
        now, last = asyncio.get_running_loop().time(), client.subscribed
        if len(last) == MAX_SUBSCRIBES_PER_S and now - last[0] < 1.0:
            raise BadSubscribe(f"more than {MAX_SUBSCRIBES_PER_S} subscribe messages in 1 s")
        last.append(now)
        return parse_subscribe(message)

    async def _refuse(
        self, client: WsClient, error: str, detail: str, code: int, reason: str
    ) -> None:
        """Send ``client`` an ``error`` event (what it had queued is dropped), then close it."""
        self._detach(client)
        try:
            async with asyncio.timeout(self.close_timeout_s):
                await client.ws.send(orjson.dumps(error_event(error, detail)), text=True)
        except TimeoutError:
            client.ws.transport.abort()
            return
        await self._disconnect(client, code, reason)

    async def _send(self, client: WsClient) -> None:
        ws, queue = client.ws, client.queue
        try:
            while batch := await queue.take():
                try:
                    async with asyncio.timeout(self.max_lag_s):
                        for line in batch:
                            await ws.send(line, text=True)
                            client.sent += 1
                except TimeoutError:
                    self.lagged += 1
                    log.warning(
                        "event client %s: fell %.1f s behind: disconnected",
                        client.remote,
                        self.max_lag_s,
                    )
                    await self._disconnect(client, CLOSE_POLICY, "too slow")
                    return
            await self._disconnect(client, CLOSE_SHUTDOWN, "server shutting down")
        except ConnectionClosed:
            log.debug("event client %s went away", client.remote)

    async def _disconnect(self, client: WsClient, code: int, reason: str) -> None:
        """Close ``client``'s connection with ``code``; abort it if that takes too long."""
        self._detach(client)
        await self._close_bounded(client.ws, code, reason)

    async def _close_bounded(self, ws: ServerConnection, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self.close_timeout_s):
                await ws.close(code, reason)
        except TimeoutError:
            ws.transport.abort()

    def _detach(self, client: WsClient) -> None:
        """No more events for ``client``: fold its counters, free its queue."""
        if not client.attached:
            return
        client.attached = False
        self.clients.remove(client)
        queue = client.queue
        self._gone_events += queue.accepted
        self._gone_dropped += queue.dropped + len(queue.items)
        queue.items.clear()
        queue.close()
