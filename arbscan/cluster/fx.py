"""Shared inputs: the conversion books (USDT/USD, USDC/USDT, USDT/KRW...), scanned by one
worker and read by every other.

A conversion book is leased like any symbol (:func:`arbscan.cluster.shards.is_conversion`);
its owner feeds its engine and, through :class:`FxPublisher`, writes what it fed to the
key-value bucket :data:`BUCKET` under ``<venue>.<BASE-QUOTE>`` (subject
``$KV.arbscan_fx.<venue>.<BASE-QUOTE>``): the top levels, the book's ts and whether the owner's
engine holds it usable (with the reason when not). Each book is written at most ``fx_rate_hz``
times a second (updates in between are coalesced: the latest wins), and rewritten unchanged
every ``fx_stale_ms / 3`` while it is quiet, so a live owner always looks alive. A worker
giving the book up writes it unusable (reason ``shutdown``) before it releases the lease.

Every other worker watches the bucket (:class:`FxReader`): a watcher gets the latest entry of
every key at once, then each new one. It feeds each remote book into its own engine as the
leg (venue, symbol), already warmed up (the owner's engine warmed it), and keeps its own
staleness gate: a remote book not rewritten within ``fx_stale_ms`` of local time is made
unusable here with reason ``stale``, so the opportunities converting through it close. The
bucket's entries expire ``fx_stale_ms`` after their last write: a dead owner's books vanish,
and a worker starting later never takes one of them for fresh.

Payload (JSON): ``{"worker", "venue", "symbol", "ts", "usable", "reason", "bids": [[px, sz],
...], "asks": [...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import orjson
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from arbscan.cluster.bus import NatsError
from scanner.board import BookView, Levels
from scanner.config import ClusterConfig
from scanner.engine import UNUSABLE_REASONS, Engine, Leg
from scanner.events import CloseReason

log = logging.getLogger(__name__)

BUCKET = "arbscan_fx"
Book = tuple[str, str]
"""(venue, symbol)."""


def fx_key(venue: str, symbol: str) -> str:
    """The bucket key of a conversion book (``okx``, ``USDT/USD`` -> ``okx.USDT-USD``)."""
    return f"{venue}.{symbol.replace('/', '-')}"


async def fx_bucket(js: JetStreamContext, config: ClusterConfig) -> KeyValue:
    """The bucket of the shared conversion books (one entry per book, expiring
    ``fx_stale_ms`` after its last write); an existing one is used as it is."""
    try:
        return await js.create_key_value(bucket=BUCKET, ttl=config.fx_stale_ms / 1e3, history=1)
    except nats.js.errors.BadRequestError:
        return await js.key_value(BUCKET)


class PublishingLeg:
    """The owner's listener of a conversion book: its engine's leg, then the publisher."""

    __slots__ = ("_leg", "_publisher")

    def __init__(self, leg: Leg, publisher: FxPublisher) -> None:
        self._leg, self._publisher = leg, publisher

    def on_book(self, book: BookView, ts_ns: int) -> None:
        self._leg.on_book(book, ts_ns)
        self._publisher.note(self._leg, ts_ns, book)

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self._leg.on_usable(usable, reason, ts_ns)
        self._publisher.note(self._leg, ts_ns, None, reason)


class FxPublisher:
    """Writes the conversion books this worker scans to the bucket, coalesced (see the module
    docstring). ``note`` is synchronous (called from the feeds); :meth:`run` writes."""

    def __init__(
        self,
        kv: KeyValue,
        worker: str,
        *,
        rate_hz: float,
        keepalive_s: float,
        depth: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kv, self.worker, self.depth, self.clock = kv, worker, depth, clock
        self.interval_s = 1.0 / rate_hz
        self.keepalive_s = keepalive_s
        self.latest: dict[Book, bytes] = {}
        """The payload to write next (or to rewrite while quiet), per book."""
        self._top: dict[Book, tuple[list[list[float]], list[list[float]]]] = {}
        self._reason: dict[Book, str | None] = {}
        self._dirty: set[Book] = set()
        self._retracted: set[Book] = set()
        self._sent: dict[Book, float] = {}
        self._wake = asyncio.Event()
        self._closed = False
        self.written = 0
        self.failed = 0

    def note(self, leg: Leg, ts: int, book: BookView | None, reason: str | None = None) -> None:
        """The owner's engine took an update (``book``) or a change of usability of ``leg``."""
        key = (leg.venue, leg.symbol)
        if book is not None:
            bid_px, bid_sz, ask_px, ask_sz = book.top(self.depth)
            bids = [[p, s] for p, s in zip(bid_px, bid_sz, strict=True)]
            asks = [[p, s] for p, s in zip(ask_px, ask_sz, strict=True)]
            self._top[key] = (bids, asks)
        if reason is not None:
            self._reason[key] = reason
        self._stage(key, ts, leg.usable, None if leg.usable else self._reason.get(key))

    def retract(self, symbol: str, ts: int) -> None:
        """This worker stops scanning ``symbol``: its books are written unusable
        (``shutdown``) once more, then no longer rewritten."""
        for key in [k for k in self.latest if k[1] == symbol]:
            self._stage(key, ts, False, CloseReason.SHUTDOWN)
            self._retracted.add(key)
            self._sent.pop(key, None)  # at once, whatever the rate

    def _stage(self, key: Book, ts: int, usable: bool, reason: str | None) -> None:
        bids, asks = self._top.get(key, ([], []))
        venue, symbol = key
        self.latest[key] = orjson.dumps(
            {
                "worker": self.worker,
                "venue": venue,
                "symbol": symbol,
                "ts": ts,
                "usable": usable,
                "reason": reason,
                "bids": bids,
                "asks": asks,
            }
        )
        self._retracted.discard(key)
        if key not in self._dirty:
            self._dirty.add(key)
            self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def run(self) -> None:
        """Write until closed (then what is still due, once)."""
        while not self._closed:
            now = self.clock()
            due = [self._sent.get(k, -math.inf) + self.interval_s for k in self._dirty]
            wait = min([*due, now + self.keepalive_s / 3]) - now
            self._wake.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            await self.flush()
        self._sent.clear()
        await self.flush()

    async def flush(self) -> None:
        """Write every book that is due: changed and not written for ``1 / rate_hz``, or
        quiet for ``fx_stale_ms / 3``."""
        now = self.clock()
        quiet = self.keepalive_s / 3
        due = []
        for k in self.latest:
            since = now - self._sent.get(k, -math.inf)
            if since >= (self.interval_s if k in self._dirty else quiet):
                due.append(k)
        if not due:
            return
        for key in due:
            self._dirty.discard(key)
            self._sent[key] = now
        payloads = [self.latest[k] for k in due]
        for key in due:
            if key in self._retracted:
                del self.latest[key]
        results = await asyncio.gather(
            *(self._put(fx_key(*k), p) for k, p in zip(due, payloads, strict=True))
        )
        self.written += sum(results)
        self.failed += len(results) - sum(results)

    async def _put(self, key: str, payload: bytes) -> bool:
        try:
            async with asyncio.timeout(2.0):
                await self.kv.put(key, payload)
        except NatsError as exc:
            if not self.failed:
                log.error("nats: cannot write conversion book %s (%r)", key, exc)
            return False
        return True


@dataclass(slots=True)
class _Remote:
    seen_ns: int
    """Local (monotonic) time of the last entry."""
    ts: int
    """The book's ts in the last entry."""
    stale: bool = False


class FxReader:
    """Feeds the conversion books other workers publish into this worker's engine, with its
    own staleness gate (see the module docstring). ``local(symbol)``: this worker scans
    ``symbol`` itself (its entries are then ignored)."""

    def __init__(
        self,
        engine: Engine,
        worker: str,
        local: Callable[[str], bool],
        *,
        stale_ms: int,
        warmup_ms: int,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.engine, self.worker, self.local, self.clock = engine, worker, local, clock
        self.stale_ns = stale_ms * 1_000_000
        self.warmup_ns = warmup_ms * 1_000_000
        self.remote: dict[Book, _Remote] = {}
        self.entries = 0
        self.bad = 0

    def on_entry(self, data: bytes) -> None:
        """One entry of the bucket; a malformed one is dropped and counted."""
        try:
            msg: Any = orjson.loads(data)
            venue, symbol, worker = str(msg["venue"]), str(msg["symbol"]), str(msg["worker"])
            ts, usable, reason = int(msg["ts"]), bool(msg["usable"]), msg["reason"]
            if worker == self.worker or self.local(symbol):
                return
            leg = self.engine.leg(venue, symbol)
            book = None
            if usable:
                bids, asks = msg["bids"], msg["asks"]
                book = Levels(
                    [float(p) for p, _ in bids],
                    [float(s) for _, s in bids],
                    [float(p) for p, _ in asks],
                    [float(s) for _, s in asks],
                )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self.bad += 1
            if self.bad == 1:
                log.warning("nats: conversion book entry dropped (%r): %r", exc, data[:200])
            return
        self.entries += 1
        now = self.clock()
        last = self.remote.get((venue, symbol))
        self.remote[(venue, symbol)] = _Remote(now, ts)
        if book is None:
            if leg.usable or leg.since is not None:
                if reason in UNUSABLE_REASONS:
                    leg.on_usable(False, reason, ts)
                else:  # the owner stopped scanning it (all its venues together)
                    self.engine.stop_symbol(symbol, ts)
            return
        if leg.usable and last is not None and ts <= last.ts:
            return  # rewritten unchanged while quiet: only the gate is refreshed
        if not leg.usable:  # the owner's engine warmed it up already
            leg.on_usable(True, None, ts - self.warmup_ns)
        leg.on_book(book, ts)

    def check(self) -> None:
        """Make every remote book not rewritten within ``fx_stale_ms`` unusable (``stale``),
        at its last ts plus the local time elapsed since."""
        now = self.clock()
        for (venue, symbol), rec in list(self.remote.items()):
            if self.local(symbol):
                del self.remote[(venue, symbol)]
            elif not rec.stale and now - rec.seen_ns > self.stale_ns:
                rec.stale = True
                leg = self.engine.leg(venue, symbol)
                if leg.usable or leg.since is not None:
                    leg.on_usable(False, CloseReason.STALE, rec.ts + now - rec.seen_ns)

    async def run(self, kv: KeyValue, stop: asyncio.Event) -> None:
        """Watch the bucket until ``stop``, checking the gate every ``fx_stale_ms / 4``."""
        period_s = self.stale_ns / 4e9
        watcher = await kv.watchall()
        checked = self.clock()
        try:
            while not stop.is_set():
                try:
                    entry = await watcher.updates(timeout=period_s)  # type: ignore[no-untyped-call]
                except nats.errors.TimeoutError:
                    entry = None
                if entry is not None and entry.value and entry.operation is None:
                    self.on_entry(entry.value)
                if self.clock() - checked >= self.stale_ns // 4:
                    checked = self.clock()
                    self.check()
        finally:
            with contextlib.suppress(*NatsError):
                await watcher.stop()  # type: ignore[no-untyped-call]
