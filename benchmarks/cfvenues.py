"""cryptofeed 2.4.1's own feed handler for a venue, driven on a capture's recorded frames.

The same frames that :mod:`benchmarks.bench_venues` gives this project's feeds go, in one
process and without a network, through ``Feed.message_handler`` (the coroutine cryptofeed's
websocket loop calls per frame), book only: a no-op ``L2_BOOK`` callback, and the feed's
trade, ticker, candle, funding and similar handlers replaced by no-ops, so a frame of
another channel costs cryptofeed its JSON parse and routing, as it costs ours its parse.

What the handler would otherwise fetch comes from the capture:

* the symbol table (normally an HTTP request): cryptofeed's names are the venue's own ids,
  both ways, so any symbol of the recording is known;
* REST snapshots: ``http_conn.read`` answers the capture's ``rest`` record for that URL.
  Time spent in the feed's ``_snapshot`` is not counted, as ours applies its snapshots
  before timing;
* the connection: a fake with the recorded URL (Bybit reads its market from it), a
  ``uuid`` and a ``write`` that sends nothing;
* per venue, a :class:`Driver` (in :data:`benchmarks.bench_venues.TABLE`): checksum
  validation where the frames carry checksums, and a ``start`` step for what cryptofeed
  does outside the handler (Bitstamp's snapshots, fetched when it subscribes; Gemini's books,
  made for the subscribed symbols; KuCoin's signed snapshot request, given an empty header;
  its connection token, the recorded one).

cryptofeed is imported lazily (``importlib``): the project and its tests never need it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from feeds.capture import Record

Top = tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]
"""Best bids then best asks, (price, size) each."""

Start = Callable[[Any, Any, Sequence[Record]], Awaitable[None]]

NOT_BOOK = (
    "_trade",
    "_trades",
    "_ticker",
    "_candle",
    "_candles",
    "_funding",
    "_liquidation",
    "_liquidations",
    "_open_interest",
    "_ticker_open_interest_funding_index",
)
"""cryptofeed's handlers of other channels, made no-ops: the benchmark is the book path."""


async def bitstamp_start(feed: Any, conn: Any, records: Sequence[Record]) -> None:
    """Bitstamp's ``subscribe`` fetches the snapshots after a 5 s wait, before any frame is
    handled: do what it does (the wait skipped; no frame sent), untimed like ours."""
    feed.last_update_id = {}
    module: Any = importlib.import_module(type(feed).__module__)
    pairs = [r.url.rstrip("/").rsplit("/", 1)[-1] for r in records if r.dir == "rest"]
    real = module.asyncio
    module.asyncio = SimpleNamespace(sleep=_no_wait)
    try:
        await feed._snapshot(pairs, conn)
    finally:
        module.asyncio = real


async def _no_wait(_seconds: float) -> None:
    pass


async def kucoin_start(feed: Any, conn: Any, _records: Sequence[Record]) -> None:
    """KuCoin's snapshot request is signed with API keys; the recorded answer needs none."""
    feed.generate_token = lambda _text: {}
    await feed.subscribe(conn)


async def gemini_start(feed: Any, conn: Any, records: Sequence[Record]) -> None:
    """Gemini's ``subscribe`` makes the books of the connection's symbols: the recorded ones."""
    sent = next(json.loads(r.data) for r in records if r.dir == "out" and isinstance(r.data, str))
    conn.subscription = {"l2": sent["subscriptions"][0]["symbols"]}
    await feed.subscribe(conn)


def kucoin_bullet(records: Sequence[Record]) -> dict[str, object]:
    """KuCoin's constructor asks for a connection token and endpoint: the recorded ones."""
    url = next(r.url for r in records if r.dir == "open")
    endpoint, _, token = url.partition("?token=")
    server = {"endpoint": endpoint, "pingInterval": 18000}
    answer = {"data": {"token": token, "instanceServers": [server]}}
    return {"https://api.kucoin.com/api/v1/bullet-public": answer}


@dataclass(frozen=True, slots=True)
class Driver:
    """How cryptofeed runs one venue's recording."""

    exchange: str
    """The class in ``cryptofeed.exchanges``."""
    checksums: bool = False
    """``checksum_validation=True``: the recorded frames carry the venue's checksum."""
    start: Start | None = None
    """What stands for cryptofeed's ``subscribe`` before the timed frames (by default its
    own, on the fake connection: it resets the feed's state and sends nothing)."""
    http: Callable[[Sequence[Record]], dict[str, object]] | None = None
    """Answers, from the capture, to the HTTP requests the feed's constructor makes."""


def errors() -> tuple[type[Exception], ...]:
    """What cryptofeed raises on a recording it cannot run: its own errors (a bad checksum,
    a missed sequence number...) and a missing key or recorded answer."""
    module = importlib.import_module("cryptofeed.exceptions")
    own = [e for e in vars(module).values() if isinstance(e, type) and issubclass(e, Exception)]
    return (LookupError, ValueError, TypeError, ArithmeticError, *own)


def available() -> bool:
    """Whether cryptofeed is installed (``make bench`` installs it into ``.bench-venv``)."""
    return importlib.util.find_spec("cryptofeed") is not None


class _Same(dict[str, str]):
    """A symbol table that knows every name: the venue's id is cryptofeed's name too."""

    def __missing__(self, key: str) -> str:
        return key


class _Http:
    """Stands in for cryptofeed's ``HTTPAsyncConn``: answers the capture's REST records."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.bodies = {r.url: r.data for r in records if r.dir == "rest"}

    async def read(self, url: str, *_args: object, **_kwargs: object) -> str | bytes:
        try:
            return self.bodies[url]
        except KeyError:
            raise LookupError(f"no recorded REST answer for {url}") from None


class _HttpSync:
    """Stands in for cryptofeed's blocking ``HTTPSync``: recorded answers or an error, so a
    constructor never reaches the network."""

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers

    def _answer(self, url: str, *_args: object, **_kwargs: object) -> object:
        try:
            return self.answers[url]
        except KeyError:
            raise LookupError(f"no recorded answer for {url}") from None

    read = write = _answer


class _Conn:
    """The part of cryptofeed's ``AsyncConnection`` the handlers touch."""

    def __init__(self, url: str) -> None:
        self.address = url
        self.uuid = "replay"
        self.subscription: dict[str, list[str]] = {}

    async def write(self, _data: str) -> None:
        pass


async def _noop(*_args: object, **_kwargs: object) -> None:
    pass


def feed(driver: Driver, records: Sequence[Record]) -> Any:
    """A fresh cryptofeed feed for ``driver``, book only, with the symbol table preset."""
    defines = importlib.import_module("cryptofeed.defines")
    cls = getattr(importlib.import_module("cryptofeed.exchanges"), driver.exchange)
    info: dict[str, defaultdict[str, str]] = {
        "instrument_type": defaultdict(lambda: "spot"),
        "tick_size": defaultdict(str),
    }
    importlib.import_module("cryptofeed.symbols").Symbols.set(cls.id, {}, info)
    f = cls.__new__(cls)
    f.http_sync = _HttpSync({} if driver.http is None else driver.http(records))
    f.__init__(callbacks={defines.L2_BOOK: _noop}, checksum_validation=driver.checksums)
    f.exchange_symbol_mapping = _Same()
    f.normalized_symbol_mapping = _Same()
    for name in NOT_BOOK:
        if hasattr(f, name):
            setattr(f, name, _noop)
    return f


def replay(driver: Driver, records: Sequence[Record]) -> tuple[float, dict[str, Top]]:
    """(seconds in ``message_handler`` over every received frame, less the time in the
    feed's ``_snapshot``; the top 5 of each book at the end). Raises what cryptofeed
    raises on the recording (a checksum or sequence error, a missing snapshot...)."""
    f = feed(driver, records)
    f.http_conn = _Http(records)
    url = next((r.url for r in records if r.dir == "open"), "")
    conn = _Conn(url)
    frames = [(r.data, r.t / 1e9) for r in records if r.dir == "in"]
    in_snapshots = [0.0]
    inner = getattr(f, "_snapshot", None)
    if inner is not None:

        async def snapshot(*args: object, **kwargs: object) -> None:
            start = time.perf_counter()
            try:
                await inner(*args, **kwargs)
            finally:
                in_snapshots[0] += time.perf_counter() - start

        f._snapshot = snapshot

    async def drive() -> float:
        await (f.subscribe(conn) if driver.start is None else driver.start(f, conn, records))
        in_snapshots[0] = 0.0
        handler = f.message_handler
        start = time.perf_counter()
        for data, t in frames:
            await handler(data, conn, t)
        return time.perf_counter() - start - in_snapshots[0]

    log = logging.getLogger("feedhandler")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its warnings about frames it does not handle
    try:
        seconds = asyncio.run(drive())
    finally:
        log.setLevel(level)
    return seconds, {str(pair): top(book.book) for pair, book in f._l2_book.items()}


def top(book: Any, n: int = 5) -> Top:
    """The best ``n`` levels of each side of a cryptofeed book, as floats."""
    bids = tuple(_level(book.bids.index(i)) for i in range(min(n, len(book.bids))))
    asks = tuple(_level(book.asks.index(i)) for i in range(min(n, len(book.asks))))
    return bids, asks


def _level(level: tuple[Any, Any]) -> tuple[float, float]:
    return float(level[0]), float(level[1])
