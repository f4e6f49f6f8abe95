"""One venue under one fault, end to end on 127.0.0.1: the real emulator (stepped by the
test), the real Runner, FeedSession and codec, the real Engine; used by test_reliability.

The faulted venue quotes two symbols, each dislocated +50 bps for the whole run, against a
fixed counterparty book (venue ``ref``, fee 0, fed by the test), so one opportunity per
symbol (buy ``ref``, sell the venue) is open before the fault. The runner's clock is a
counter (every read is 1 µs later than the one before; each market step moves it on by the
step's 100 ms, and a case may jump it), so every received frame has its own receive time
and the capture the runner records names the frame behind every event. The runner's sleeps
(reconnect backoff, REST budget waits) last on that clock too: a wait of 1 s ends after the
market's 10th step, however long the steps take.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator import Emulator, EmulatorConfig, MarketConfig
from feeds.actions import SessionStats
from feeds.backoff import Backoff
from feeds.book import Book
from feeds.budget import RequestBudget
from feeds.capture import CaptureWriter, Record, read_capture
from feeds.protocol import BookDelta, BookSnapshot, Codec, Malformed, ParseError
from feeds.runner import Runner, RunnerStats, SessionOptions
from feeds.transport import Connection
from feeds.venues import codec_class
from feeds.wsconnect import websocket_connect
from scanner.config import ScannerConfig
from scanner.engine import Engine, EngineStats, Leg
from scanner.events import Event, venue_event
from tests.venue_helpers import model_top

T0 = 1_795_000_000_000_000_000
SYMBOLS = ("BTC/USDT", "ETH/USDT")
REF = "ref"
"""The counterparty venue: a fixed book at the model's base price."""
REF_PRICE = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}
DISLOCATION_BPS = 50.0
STALE_S = 1.0
"""``stale_after_s`` of the sessions (only a clock jump gets there)."""
REST_TIMEOUT_S = 1.0
"""The runner's REST timeout (generous: only a delayed answer may exceed it)."""
MAX_STEPS = 150
"""A phase that needs more market steps than this fails the case."""


class Clock:
    """Strictly increasing: each read returns 1 µs more than the last; :meth:`jump` skips."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1_000
        return self.now

    def jump(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)

    async def sleep(self, seconds: float) -> None:
        """Returns once this clock has moved ``seconds`` on (the runner's ``sleep``)."""
        until = self.now + int(seconds * 1e9)
        while self.now < until:
            await asyncio.sleep(0.002)


@dataclass
class Tap:
    """The feed's listener of one symbol: records the book top and every usability change
    (also into the shared timeline), and forwards everything to the engine's leg."""

    leg: Leg
    timeline: list[Event]
    top: tuple[list[float], ...] | None = None
    usable: list[tuple[bool, str | None]] = field(default_factory=list)

    def on_book(self, book: Book, ts_ns: int) -> None:
        self.top = book.top()
        self.leg.on_book(book, ts_ns)

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable.append((usable, reason))
        mark = {"type": "usable", "symbol": self.leg.symbol, "usable": usable, "reason": reason}
        self.timeline.append({**mark, "ts": ts_ns})
        self.leg.on_usable(usable, reason, ts_ns)


@dataclass
class Outcome:
    """What one case produced, everything taken before the runner was cancelled."""

    timeline: list[Event]
    """Engine events, venue events and the taps' usability marks, in order."""
    tape: list[Record]
    mark: int
    """The runner clock just before the fault was injected."""
    usable: dict[str, list[tuple[bool, str | None]]]
    runner: RunnerStats
    session: SessionStats
    engine: EngineStats
    rest_requests: int
    rest: list[tuple[int, int | None]]
    """Every REST request the runner sent: (time sent, HTTP status; None: no answer yet)."""
    budget: RequestBudget | None
    alive: bool
    """The runner task was still running (no exception escaped it)."""
    steps: int
    """Market steps since the fault."""
    about: list[str | None] = field(default_factory=list)
    """Which symbol each record of the tape is about (None: none of them, or both)."""
    checksummed: list[bool] = field(default_factory=list)
    """Whether each record carries a book checksum."""


Inject = Callable[[Emulator, str, Clock], Awaitable[None] | None]
"""Injects the fault; may be a coroutine (to step the market between several faults)."""


def ref_book(symbol: str) -> Book:
    price = REF_PRICE[symbol]
    book = Book(top_n=20)
    bids = [[str(price * (1 - (k + 1) * 1e-4)), "1000"] for k in range(5)]
    asks = [[str(price * (1 + k * 1e-4)), "1000"] for k in range(5)]
    book.apply_snapshot(bids, asks)
    return book


async def _poll(condition: Callable[[], bool], timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not condition():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.002)
    return True


def _opened(timeline: list[Event], symbol: str, since: int = 0) -> list[Event]:
    return [e for e in timeline[since:] if e["type"] == "opened" and e["symbol"] == symbol]


async def run_case(
    venue: str,
    inject: Inject,
    done: Callable[[Outcome], bool],
    tape_path: Path,
    after: Callable[[Emulator], None] | None = None,
) -> Outcome:
    """Sync, open one opportunity per symbol, inject the fault, step the market until
    ``done(outcome)`` holds, call ``after`` (to end a fault that lasts), then step until
    every symbol is live again with its book equal to the model's and an opportunity open."""
    market = MarketConfig(
        venues=(venue,), symbols=SYMBOLS, seed=3, vol_bps=0.0, dislocations_per_min=0.0
    )
    timeline: list[Event] = []
    # every material change is an "updated" event: more events on the leg to check
    config = ScannerConfig(update_bps=0.1, update_interval_ms=0)
    engine = Engine(config, (venue, REF), SYMBOLS, {venue: 10.0, REF: 0.0}, timeline.append)
    taps = {s: Tap(engine.leg(venue, s), timeline) for s in SYMBOLS}
    clock = Clock(T0)
    recorder = CaptureWriter(tape_path)

    def on_state(state: str, reason: str | None, ts: int) -> None:
        timeline.append(venue_event(venue, state, reason, ts))

    rest: list[tuple[int, int | None]] = []

    async def sent(request: httpx.Request) -> None:
        request.extensions["arbscan.index"] = len(rest)
        rest.append((clock.now, None))

    async def answered(response: httpx.Response) -> None:
        i = response.request.extensions["arbscan.index"]
        rest[i] = (rest[i][0], response.status_code)

    async def connect(url: str, max_frame_bytes: int) -> Connection:
        # a venue that reads nothing never answers the close: do not wait long for it
        return await websocket_connect(url, max_frame_bytes, close_timeout_s=0.05)

    async with (
        asyncio.timeout(60),
        Emulator(EmulatorConfig(market=market, autorun=False), clock=lambda: T0) as emu,
        httpx.AsyncClient(event_hooks={"request": [sent], "response": [answered]}) as http,
    ):
        runner = Runner(
            codec_class(venue),
            SYMBOLS,
            taps.__getitem__,
            on_state,
            ws_url=emu.ws_url(venue),
            rest_url=emu.rest_url(venue),
            http=http,
            clock=clock,
            sleep=clock.sleep,
            connect=connect,
            recorder=recorder,
            backoff=Backoff(base_s=0.01, cap_s=0.05),
            options=SessionOptions(stale_after_s=STALE_S),
            tick_interval_s=0.01,
            rest_timeout_s=REST_TIMEOUT_S,
        )
        for s in SYMBOLS:
            ref = engine.leg(REF, s)
            ref.on_usable(True, None, T0)
            ref.on_book(ref_book(s), T0)
            emu.model.add_dislocation(s, venue, DISLOCATION_BPS, 3_600_000)
        task = asyncio.create_task(runner.run())

        def synced() -> bool:
            return all(
                t.usable and t.usable[-1][0] and t.top == model_top(emu, venue, s)
                for s, t in taps.items()
            )

        def outcome() -> Outcome:
            assert runner.session is not None
            return Outcome(
                timeline=list(timeline),
                tape=[],
                mark=mark,
                usable={s: list(t.usable) for s, t in taps.items()},
                runner=runner.stats,
                session=runner.session.stats,
                engine=engine.stats,
                rest_requests=emu.rest_requests(venue),
                rest=list(rest),
                budget=runner.budget,
                alive=not task.done(),
                steps=emu.model.steps - steps_at_mark,
            )

        async def drive(condition: Callable[[], bool]) -> None:
            for _ in range(MAX_STEPS):
                if condition():
                    return
                emu.step(1)
                clock.jump(market.interval_ms / 1000)  # the runner's time follows the market's
                await _poll(lambda: synced() or condition(), 0.1)
            raise AssertionError(f"{venue}: not reached in {MAX_STEPS} steps")

        mark = steps_at_mark = 0
        await drive(lambda: synced() and all(_opened(timeline, s) for s in SYMBOLS))
        start = len(timeline)
        mark, steps_at_mark = clock(), emu.model.steps
        pending = inject(emu, venue, clock)
        if pending is not None:
            await pending
        await drive(lambda: done(outcome()))
        if after is not None:
            after(emu)
        await drive(
            lambda: (
                synced()
                and all(t.usable[-1] == (True, None) for t in taps.values())
                and all(
                    e["type"] != "closed" or _opened(timeline, e["symbol"], timeline.index(e))
                    for e in timeline[start:]
                )
            )
        )
        result = outcome()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    recorder.close()
    result.tape = list(read_capture(tape_path))
    result.about, result.checksummed = _about(venue, result.tape)
    return result


def _about(venue: str, tape: list[Record]) -> tuple[list[str | None], list[bool]]:
    """The symbol each received frame names, else the one its book events are about as the
    venue's codec reads them (one codec per connection, fed the connection's frames in
    order: some venues name a book only by the channel id their subscribe answer gave it)."""
    names = {codec_class(venue)(SYMBOLS).venue_symbol(s).lower(): s for s in SYMBOLS}
    codecs: dict[int, Codec] = {}
    about: list[str | None] = []
    checksummed: list[bool] = []
    for r in tape:
        if r.dir == "open" or r.conn not in codecs:  # a new connection: no channel ids yet
            codecs[r.conn] = codec_class(venue)(SYMBOLS)
        codec = codecs[r.conn]
        if r.dir != "in":
            about.append(None)
            checksummed.append(False)
            continue
        try:
            events = codec.parse(r.data)
        except ParseError:
            events = []
        data = r.data
        if isinstance(data, bytes):  # a gzip frame is read in its text
            data = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()
        text = data.lower()
        found = {s for name, s in names.items() if name in text}
        for e in events if not found else ():
            if isinstance(e, BookSnapshot | BookDelta):
                found.add(e.symbol)
            elif isinstance(e, Malformed):
                found.update(e.lost or ())
        about.append(found.pop() if len(found) == 1 else None)
        books = [e for e in events if isinstance(e, BookSnapshot | BookDelta)]
        checksummed.append(any(e.checksum is not None for e in books))
    return about, checksummed


def first_after(
    out: Outcome,
    direction: str,
    symbol: str | None = None,
    *,
    any_frame: bool = False,
    checksum: bool = False,
) -> Record:
    """The first record of ``direction`` after the fault (of ``symbol``'s frames, or of any
    frame that names a symbol, or with ``any_frame`` of any frame at all; with ``checksum``
    only frames that carry a book checksum)."""
    for r, about, summed in zip(out.tape, out.about, out.checksummed, strict=True):
        if r.t <= out.mark or r.dir != direction or (checksum and not summed):
            continue
        if direction != "in" or any_frame:
            return r
        if about is not None and symbol in (None, about):
            return r
    raise AssertionError(f"no {direction} record after the fault")


def events_after(out: Outcome, *kinds: str) -> list[dict[str, Any]]:
    return [e for e in out.timeline if e["type"] in kinds and e["ts"] > out.mark]
