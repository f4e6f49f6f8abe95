"""Event sinks: every consumer sits behind its own bounded queue with a drop counter.

``emit(event)`` is synchronous, O(1) and never blocks: it appends to a bounded deque, or counts
a drop when the deque is full (the newest event is the one dropped). A task (``run()``, to be
owned by the caller's TaskGroup) drains the queue. So a slow consumer loses events, counted,
but never stalls detection. ``emit`` must be called from the event loop's thread.

* :class:`NdjsonSink`: one orjson line per event to a binary stream (stdout or a file). Writes
  and flushes run on the sink's own single worker thread, in order, so a blocked pipe never
  blocks the event loop.
* :class:`CallbackSink`: hands events to a plain callable (the console) off the hot path.
* :class:`WsEventServer`: a WebSocket server (127.0.0.1 by default); each client has its own
  filter, bounded queue, drop counter and sender task, so a slow client cannot stall the
  others, and every write, read and close is bounded in time and size.
* :class:`Sinks`: the fan-out the engine's ``emit`` goes to.

Shutdown: ``close()`` then await ``run()``: everything queued before ``close()`` is delivered,
then the stream is flushed (and closed if the sink opened it). Events emitted after ``close()``
are counted as dropped.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from scanner.subscribe import BadSubscribe, Filter, parse_subscribe

log = logging.getLogger(__name__)

Event = dict[str, Any]


class Sink(Protocol):
    """Anything with a synchronous, non-blocking ``emit(event)``."""

    def emit(self, event: Event) -> None: ...


class CountedSink(Sink, Protocol):
    """A sink that counts the events it took and the events it dropped."""

    @property
    def events(self) -> int: ...

    @property
    def dropped(self) -> int: ...


class BoundedQueue:
    """A bounded FIFO of events with a drop counter and a wake-up for one consumer task."""

    def __init__(self, max_events: int) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.max_events = max_events
        self.items: deque[Any] = deque()
        self.dropped = 0
        self.accepted = 0
        self.closed = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def put(self, item: Any) -> None:
        """Append ``item`` or count a drop; never blocks."""
        if self.closed or len(self.items) >= self.max_events:
            self.dropped += 1
            return
        self.items.append(item)
        self.accepted += 1
        self._idle.clear()
        self._wake.set()

    def close(self) -> None:
        """No more items: :meth:`take` returns [] once the queue is empty."""
        self.closed = True
        self._wake.set()

    async def idle(self) -> None:
        """Wait until the queue is empty and the consumer has processed every item taken."""
        await self._idle.wait()

    async def take(self) -> list[Any]:
        """Wait for items and return all of them in order; [] when closed and drained."""
        while not self.items:
            self._idle.set()  # everything handed out before has been processed
            if self.closed:
                return []
            self._wake.clear()
            await self._wake.wait()
        batch = list(self.items)
        self.items.clear()
        return batch


class _QueuedSink:
    """The part every queued sink shares: a bounded queue, drops, close and drain."""

    def __init__(self, max_events: int) -> None:
        self.queue = BoundedQueue(max_events)

    @property
    def events(self) -> int:
        """Events queued (each is then written)."""
        return self.queue.accepted

    @property
    def dropped(self) -> int:
        """Events dropped because the queue was full (or emitted after close)."""
        return self.queue.dropped

    def emit(self, event: Event) -> None:
        """Queue ``event``, or count a drop; never blocks."""
        self.queue.put(event)

    def close(self) -> None:
        """Accept no more events; ``run()`` returns once the queue is written."""
        self.queue.close()

    async def drained(self) -> None:
        """Wait until every queued event is written: lossless pacing for a replay driver."""
        await self.queue.idle()


class NdjsonSink(_QueuedSink):
    """NDJSON lines to a binary stream, written by a worker thread behind a bounded queue."""

    def __init__(self, out: IO[bytes], *, max_events: int = 65536, owns: bool = False) -> None:
        super().__init__(max_events)
        self.written = 0
        self._out = out
        self._owns = owns
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ndjson-sink")

    @classmethod
    def open(cls, target: str | Path, *, max_events: int = 65536) -> NdjsonSink:
        """``"-"`` for stdout, else a file path (truncated)."""
        if str(target) == "-":
            return cls(sys.stdout.buffer, max_events=max_events)
        return cls(Path(target).open("wb"), max_events=max_events, owns=True)

    async def run(self) -> None:
        """Drain until :meth:`close` and the queue is empty; then flush (and close if owned).

        If cancelled or failing, the batch being written is finished and the stream flushed
        (and closed if owned) by the worker thread afterwards; events still queued are lost.
        """
        loop = asyncio.get_running_loop()
        drained = False
        try:
            while batch := await self.queue.take():
                # shield: if run() is cancelled, the batch handed over is still written (the
                # single worker then runs _finish after it)
                await asyncio.shield(loop.run_in_executor(self._pool, self._write, batch))
            drained = True
        finally:
            if drained:
                await loop.run_in_executor(self._pool, self._finish)
            else:
                self._pool.submit(self._finish).add_done_callback(_log_failure)
            self._pool.shutdown(wait=False)

    def _write(self, batch: list[Event]) -> None:
        self._out.write(b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in batch))
        self._out.flush()
        self.written += len(batch)

    def _finish(self) -> None:
        self._out.flush()
        if self._owns:
            self._out.close()


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.error("event sink: final flush failed: %r", exc)


class CallbackSink(_QueuedSink):
    """Calls ``callback(event)`` for each event from a drain task (the console's sink)."""

    def __init__(self, callback: Callable[[Event], None], *, max_events: int = 10000) -> None:
        super().__init__(max_events)
        self._callback = callback

    async def run(self) -> None:
        while batch := await self.queue.take():
            for event in batch:
                self._callback(event)


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


CLOSE_SHUTDOWN = 1001
"""Close code at shutdown (going away), after the client's queued events."""
CLOSE_BINARY = 1003
"""Close code for a binary message (unsupported data)."""
CLOSE_POLICY = 1008
"""Close code for a text message that is not a valid subscribe message, and for a client too
slow to keep up (policy violation). A message over the size cap gets 1009 (message too big)."""


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
    ) -> None:
        self.host = host
        self.requested_port = port
        self.client_queue = client_queue
        self.max_lag_s = max_lag_s
        self.close_timeout_s = close_timeout_s
        self.max_message_bytes = max_message_bytes
        self.write_limit = write_limit
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
    def events(self) -> int:
        """Events queued for clients, over all clients ever connected."""
        return self._gone_events + sum(c.queue.accepted for c in self.clients)

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
            open_timeout=5.0,
            close_timeout=self.close_timeout_s,
            create_connection=Tracked,
        )

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every connected client that wants it (a drop counted per full
        client)."""
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
        client = WsClient(ws, self.client_queue)
        self.clients.append(client)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send(client))
                await self._read(client)
                self._detach(client)  # the connection is over: the sender stops
        finally:
            self._detach(client)

    async def _read(self, client: WsClient) -> None:
        """Read every message as it comes (never left to pile up) until the connection ends."""
        try:
            async for message in client.ws:
                if isinstance(message, bytes):
                    await self._disconnect(client, CLOSE_BINARY, "text messages only")
                    return
                try:
                    client.filter = parse_subscribe(message)
                except BadSubscribe as exc:
                    await self._disconnect(client, CLOSE_POLICY, f"bad subscribe: {exc}"[:120])
                    return
        except ConnectionClosed as exc:
            log.debug("event client %s: %s", client.remote, exc)

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
        try:
            async with asyncio.timeout(self.close_timeout_s):
                await client.ws.close(code, reason)
        except TimeoutError:
            client.ws.transport.abort()

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


class Sinks:
    """Fan-out: ``emit`` passes each event to every sink in order and counts it."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self._emitters: list[Callable[[Event], None]] = [sink.emit for sink in sinks]
        self.events = 0
        self.named: dict[str, CountedSink] = {}

    def add(self, sink: CountedSink, name: str | None = None) -> None:
        """Add ``sink``; a named one appears in :meth:`counts`."""
        self._emitters.append(sink.emit)
        if name is not None:
            self.named[name] = sink

    def counts(self) -> dict[str, dict[str, int]]:
        """Per named sink, the events it took and dropped so far."""
        return {n: {"events": s.events, "dropped": s.dropped} for n, s in self.named.items()}

    def emit(self, event: Event) -> None:
        """Pass ``event`` to every sink, in the order they were given."""
        self.events += 1
        for emit in self._emitters:
            emit(event)
