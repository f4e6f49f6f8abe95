"""The NATS shell: connection, the event stream and the lease bucket, the publishing sink and
the stream reader. ``nats-py`` is imported here only (the ``nats`` extra).

Subjects: every event goes to ``arbscan.<type>.<token>``, where the token is the event's
symbol with ``/`` as ``-`` (``arbscan.opened.BTC-USDT``), the venue for ``venue`` events
(``arbscan.venue.okx``) and the worker's name for ``stats`` events. The payload is the
event's schema-1 JSON, byte for byte what ``--json`` prints, with a worker-unique ``id``;
headers: ``Nats-Msg-Id`` (unique per published event: the stream drops a retried duplicate
within its window) and ``Arbscan-Worker``. Every event is acknowledged by the stream, and
sent again until it is (:class:`NatsSink`). The stream :data:`STREAM` captures ``arbscan.>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.kv import KeyValue

from arbscan.options import UsageError
from scanner.config import ClusterConfig
from scanner.sinks import Event, QueuedSink

log = logging.getLogger(__name__)

STREAM = "ARBSCAN"
ACK_WAIT_S = 30.0
"""How long the server waits for a durable reader's acknowledgement before delivering the
events again (JetStream's default)."""
SUBJECTS = "arbscan.>"
BUCKET = "arbscan_leases"
NatsError = (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError)
"""What a NATS call can raise when the server is away or refuses."""


def subject(event: Event, worker: str) -> str:
    """The subject of ``event`` (see the module docstring)."""
    kind = event["type"]
    if "symbol" in event:
        token = str(event["symbol"]).replace("/", "-")
    elif kind == "venue":
        token = str(event["venue"])
    else:
        token = worker
    return f"arbscan.{kind}.{token}"


async def connect(url: str, name: str) -> Client:
    """A connection that reconnects for ever (every 0.5 s); one UsageError naming ``--nats``
    when the first connection fails."""

    async def on_error(exc: Exception) -> None:
        log.debug("nats: %r", exc)

    try:
        async with asyncio.timeout(5.0):  # the client would retry the first connection for ever
            return await nats.connect(
                url,
                name=name,
                connect_timeout=2,
                reconnect_time_wait=0.5,
                max_reconnect_attempts=-1,
                error_cb=on_error,
            )
    except TimeoutError:
        raise UsageError(f"--nats: cannot connect to {url}: no answer within 5 s") from None
    except (*NatsError, ValueError) as exc:
        raise UsageError(f"--nats: cannot connect to {url}: {exc!r}") from None


async def ensure_stream(
    js: JetStreamContext, config: ClusterConfig, *, update: bool = True
) -> None:
    """Create the event stream with ``config``'s limits; if it exists, bring its limits to
    ``config`` (``update``) or leave it as it is (the workers and readers: an operator may have
    created it with replicas and limits of their own)."""
    stream = StreamConfig(
        name=STREAM,
        subjects=[SUBJECTS],
        storage=StorageType.FILE,
        max_age=config.stream_max_age_s,
        max_msgs=config.stream_max_msgs,
        duplicate_window=min(120.0, config.stream_max_age_s),
    )
    if not update:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.stream_info(STREAM)
            return
    try:
        await js.add_stream(stream)
    except nats.js.errors.BadRequestError:
        await js.update_stream(stream)


async def lease_bucket(js: JetStreamContext, config: ClusterConfig) -> KeyValue:
    """The lease bucket: one entry per key, each expiring ``lease_ttl_s`` after its last
    write. Every worker of a cluster must run with the same ``lease_ttl_s``."""
    try:
        return await js.create_key_value(bucket=BUCKET, ttl=config.lease_ttl_s, history=1)
    except nats.js.errors.BadRequestError:
        kv = await js.key_value(BUCKET)
        ttl = (await kv.status()).ttl
        if ttl is None or abs(ttl - config.lease_ttl_s) > 1e-3:
            raise UsageError(
                f"cluster.lease_ttl_s: the cluster's bucket has a TTL of {ttl} s, "
                f"not {config.lease_ttl_s}"
            ) from None
        return kv


ACK_TIMEOUT_S = 2.0
"""How long one publish waits for the stream's acknowledgement."""
GIVE_UP_S = 30.0
"""How long an event is retried (a NATS server restarting, JetStream recovering its streams)
before it is counted as dropped; at shutdown, :data:`SHUTDOWN_GIVE_UP_S`."""
SHUTDOWN_GIVE_UP_S = 3.0
RETRY_S = (0.05, 1.0)
"""First and longest wait between two attempts (doubling)."""
WINDOW = 256
"""Events sent before their acknowledgements are awaited."""

Message = tuple[str, bytes, dict[str, str]]
"""(subject, payload, headers) of one event."""


class NatsSink(QueuedSink):
    """Publishes each event to its subject through JetStream, behind a bounded queue with a
    drop counter (the engine's ``emit`` never waits for NATS).

    Events are sent in emission order, up to :data:`WINDOW` before their acknowledgements
    are awaited. Each carries its own ``Nats-Msg-Id``: an event not acknowledged (no
    responder while the server or JetStream restarts, an acknowledgement timeout) is sent
    again, in order, one at a time, and a retry whose first attempt was stored after all is
    dropped by the stream as a duplicate, so every event is stored once. (Only an event whose
    acknowledgement alone is lost while later ones arrive can be stored after those.) An
    event still refused after :data:`GIVE_UP_S` is counted in :attr:`failed` (and
    :attr:`dropped`); while the server stays away, events wait in the bounded queue, and
    those beyond it are dropped and counted. At shutdown (the queue closed), an event is
    retried for :data:`SHUTDOWN_GIVE_UP_S` at most, and once one has failed the rest are
    counted without a wait, so a missing server never holds the exit."""

    def __init__(self, nc: Client, worker: str, *, max_events: int = 65536) -> None:
        super().__init__(max_events)
        self.worker = worker
        self.published = 0
        self.failed = 0
        self._js = nc.jetstream()
        self._origin = secrets.token_hex(6)
        """Message ids are ``<origin>-<n>``: unique across workers and restarts."""
        self._n = 0
        self._failing = False

    @property
    def dropped(self) -> int:
        """Dropped from the full queue, or never stored (:attr:`failed`)."""
        return self.queue.dropped + self.failed

    async def run(self) -> None:
        """Publish until closed and drained."""
        while batch := await self.queue.take():
            for start in range(0, len(batch), WINDOW):
                await self._send([self._message(e) for e in batch[start : start + WINDOW]])

    def _message(self, event: Event) -> Message:
        self._n += 1
        headers = {"Arbscan-Worker": self.worker, "Nats-Msg-Id": f"{self._origin}-{self._n}"}
        return subject(event, self.worker), orjson.dumps(event), headers

    async def _send(self, messages: list[Message]) -> None:
        """``messages`` pipelined, then those not acknowledged one by one, in order."""
        futures: list[asyncio.Future[Any]] = []
        if not (self.queue.closed and self._failing):
            with contextlib.suppress(*NatsError):
                for to, data, headers in messages:
                    futures.append(await self._js.publish_async(to, data, headers=headers))
        acks = await asyncio.gather(
            *(asyncio.wait_for(f, ACK_TIMEOUT_S) for f in futures), return_exceptions=True
        )
        for i, message in enumerate(messages):
            if i < len(acks) and not isinstance(acks[i], BaseException):
                self.published += 1
                self._failing = False
            else:
                await self._again(*message)

    async def _again(self, to: str, data: bytes, headers: dict[str, str]) -> None:
        closing = self.queue.closed
        if closing and self._failing:
            self.failed += 1
            return
        loop = asyncio.get_running_loop()
        give_up = loop.time() + (SHUTDOWN_GIVE_UP_S if closing else GIVE_UP_S)
        wait = RETRY_S[0]
        while True:
            try:
                await self._js.publish(to, data, timeout=ACK_TIMEOUT_S, headers=headers)
            except NatsError as exc:
                if loop.time() + wait > give_up:
                    self.failed += 1
                    self._failing = True
                    log.error("nats: %s not stored (%r); counted as dropped", to, exc)
                    return
                await asyncio.sleep(wait)
                wait = min(2 * wait, RETRY_S[1])
            else:
                self.published += 1
                self._failing = False
                return


async def read_stream(
    js: JetStreamContext,
    emit: Callable[[Event], None],
    stop: asyncio.Event,
    *,
    durable: str | None = None,
    batch: int = 256,
) -> int:
    """Hand every event of the stream to ``emit`` until ``stop``; returns the count.

    With ``durable``, a durable consumer of that name: it starts at the stream's first event,
    and a reader that restarts with the same name resumes after the last event it handed on
    (each batch is acknowledged, with its server's confirmation, once handed on). An event the
    server delivers again (its acknowledgement lost, e.g. across a server restart) is not
    handed on twice: events go on in stream order, each once. Without ``durable``, only events
    published from now on. A payload that is not a JSON object is dropped and counted in the
    log."""
    config = ConsumerConfig(
        ack_wait=ACK_WAIT_S,
        ack_policy=AckPolicy.ALL if durable else AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL if durable else DeliverPolicy.NEW,
        max_ack_pending=batch * 4,
        inactive_threshold=None if durable else 60.0,
    )
    sub = await js.pull_subscribe(SUBJECTS, durable=durable, stream=STREAM, config=config)
    count = bad = 0
    handed = 0  # the stream sequence of the last event handed on (durable)
    while not stop.is_set():
        try:
            msgs = await sub.fetch(batch, timeout=0.5)
        except nats.errors.TimeoutError:
            continue
        except NatsError as exc:  # the server is away: the client reconnects
            log.debug("nats: fetch failed: %r", exc)
            await asyncio.sleep(0.25)
            continue
        for msg in msgs:
            if durable:
                seq = msg.metadata.sequence.stream
                if seq <= handed:  # delivered again: handed on already
                    continue
                handed = seq
            try:
                event: Any = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                event = None
            if not isinstance(event, dict):
                bad += 1
                if bad == 1:
                    log.warning("nats: %s: not a JSON object, dropped: %r", msg.subject, msg.data)
                continue
            emit(event)
            count += 1
        if msgs and durable:
            with contextlib.suppress(*NatsError):
                await msgs[-1].ack_sync(timeout=2)
    return count
