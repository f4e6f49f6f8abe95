"""Event sinks: every consumer sits behind its own bounded queue with a drop counter.

``emit(event)`` is synchronous, O(1) and never blocks: it appends to a bounded deque, or counts
a drop when the deque is full (the newest event is the one dropped). A task (``run()``, to be
owned by the caller's TaskGroup) drains the queue. So a slow consumer loses events, counted,
but never stalls detection. ``emit`` must be called from the event loop's thread.

* :class:`NdjsonSink`: one orjson line per event to a binary stream (stdout or a file). Writes
  and flushes run on the sink's own single worker thread, in order, so a blocked pipe never
  blocks the event loop.
* :class:`CallbackSink`: hands events to a plain callable (the console) off the hot path.
* :class:`scanner.eventserver.WsEventServer` (its own module): the WebSocket event server, with
  a bounded queue per client.
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

    def put(self, item: Any, *, force: bool = False) -> None:
        """Append ``item`` or count a drop; never blocks. ``force`` appends to a full queue
        too (for what is bounded elsewhere, such as an event server client's snapshot)."""
        if self.closed or (len(self.items) >= self.max_events and not force):
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


class QueuedSink:
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


class NdjsonSink(QueuedSink):
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


class CallbackSink(QueuedSink):
    """Calls ``callback(event)`` for each event from a drain task (the console's sink)."""

    def __init__(self, callback: Callable[[Event], None], *, max_events: int = 10000) -> None:
        super().__init__(max_events)
        self._callback = callback

    async def run(self) -> None:
        while batch := await self.queue.take():
            for event in batch:
                self._callback(event)


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
