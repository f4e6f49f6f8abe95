"""The peers' book handlers driven in-process on the same raw messages, no network, one thread.

Every runner takes a :class:`benchmarks.messages.Stream`, processes the snapshot untimed, then
times the messages and returns ``(seconds, top10)`` so the caller can check that each variant
did the same work. The peers (``cryptofeed==2.4.1``, ``ccxt==4.5.90``; the ``bench`` extra)
are imported lazily inside the runners: the rest of the project and its tests never need them.

How each peer is driven (learned by reading the installed sources):

* cryptofeed: ``Feed.message_handler(msg, conn, timestamp)`` is the coroutine its websocket
  loop calls per frame. The symbol table (normally fetched over HTTP) is preset through
  ``cryptofeed.symbols.Symbols.set``; Binance's REST snapshot is answered by a fake
  ``http_conn`` whose ``read`` returns the snapshot body; Kraken's snapshot is its first frame.
* ccxt.pro: ``binance.handle_message(client, message)`` is what its client calls per parsed
  frame; it routes ``depthUpdate`` to ``handle_order_book``. Markets are preset with
  ``set_markets``; the order book is created and ``reset`` with the parsed REST snapshot, as
  ``fetch_order_book_snapshot`` does, and the client is a minimal fake (url, resolve, reject).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from benchmarks.messages import Stream, Top

Result = tuple[float, Top]
"""(seconds spent on the timed messages, top 10 levels after the last one)."""


def floor(stream: Stream) -> Result:
    """(a) ``orjson.loads`` of every message and nothing else; the top is the expected one."""
    loads = orjson.loads
    start = time.perf_counter()
    for m in stream.messages:
        loads(m)
    return time.perf_counter() - start, stream.top10


class _FakeHttp:
    """Stands in for cryptofeed's ``HTTPAsyncConn``: every read answers the snapshot body."""

    def __init__(self, body: str) -> None:
        self.body = body

    async def read(self, *_args: object, **_kwargs: object) -> str:
        return self.body


def _cryptofeed(venue: str, stream: Stream, read_top: bool) -> Result:
    # import_module: typed as Any, so mypy needs neither the peers nor stubs for them.
    defines = importlib.import_module("cryptofeed.defines")
    exchanges = importlib.import_module("cryptofeed.exchanges")
    symbols = importlib.import_module("cryptofeed.symbols").Symbols
    l2 = defines.L2_BOOK

    books: list[Any] = []

    async def reading(book: Any, _receipt: float) -> None:
        # What a strategy does on every update: read the best bid and ask.
        books.append((book.book.bids.index(0), book.book.asks.index(0)))
        books.clear()

    async def noop(book: Any, _receipt: float) -> None:
        pass

    callback = reading if read_top else noop
    feed: Any
    if venue == "binance":
        info = {"instrument_type": {"BTC-USDT": "spot"}}
        symbols.set(defines.BINANCE, {"BTC-USDT": "BTCUSDT"}, info)
        feed = exchanges.Binance(symbols=["BTC-USDT"], channels=[l2], callbacks={l2: callback})
        feed.http_conn = _FakeHttp(stream.snapshot)
        first = stream.messages[:1]  # its handler fetches the snapshot on the first delta
        timed = stream.messages[1:]
    else:
        symbols.set(
            defines.KRAKEN, {"BTC-USD": "XBT/USD"}, {"instrument_type": {"BTC-USD": "spot"}}
        )
        feed = exchanges.Kraken(
            symbols=["BTC-USD"],
            channels=[l2],
            callbacks={l2: callback},
            max_depth=1000,
            checksum_validation=True,
        )
        first = [stream.snapshot]
        timed = stream.messages
    handler: Callable[[str, None, float], Coroutine[Any, Any, None]] = feed.message_handler

    async def drive() -> float:
        for m in first:
            await handler(m, None, 0.0)
        start = time.perf_counter()
        for m in timed:
            await handler(m, None, 0.0)
        return time.perf_counter() - start

    seconds = asyncio.run(drive())
    book = next(iter(feed._l2_book.values())).book
    n = 10
    top = (
        [(float(p), float(q)) for p, q in (book.bids.index(i) for i in range(n))],
        [(float(p), float(q)) for p, q in (book.asks.index(i) for i in range(n))],
    )
    # Binance: the first delta was untimed; scale so the figure is per timed message.
    return seconds * len(stream.messages) / max(len(timed), 1), top


def cryptofeed_reading(venue: str, stream: Stream) -> Result:
    """(b) cryptofeed 2.4.1's handler with a callback that reads the best bid and ask."""
    return _cryptofeed(venue, stream, read_top=True)


def cryptofeed_noop(venue: str, stream: Stream) -> Result:
    """(c) cryptofeed 2.4.1's handler with a no-op callback: its book-only path."""
    return _cryptofeed(venue, stream, read_top=False)


class _FakeClient:
    """The part of ccxt.pro's ``Client`` that ``handle_order_book`` touches."""

    url = "wss://stream.binance.com:9443/stream"  # a spot ("/stream") endpoint

    def __init__(self) -> None:
        self.subscriptions: dict[str, object] = {}
        self.resolved = 0

    def resolve(self, _result: object, _message_hash: str) -> None:
        self.resolved += 1

    def reject(self, error: BaseException, _message_hash: str) -> None:
        raise error


def ccxt_pro(stream: Stream) -> Result:
    """(d) ccxt.pro binance: ``json.loads`` + ``handle_message`` -> ``handle_order_book``."""
    exchange: Any = importlib.import_module("ccxt.pro").binance()
    market = {
        "id": "BTCUSDT",
        "symbol": "BTC/USDT",
        "base": "BTC",
        "quote": "USDT",
        "baseId": "BTC",
        "quoteId": "USDT",
        "type": "spot",
        "spot": True,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "active": True,
        "precision": {"price": 0.01, "amount": 0.00000001},
        "limits": {},
    }
    exchange.set_markets([market])
    snapshot = exchange.parse_order_book(json.loads(stream.snapshot), "BTC/USDT")
    snapshot["nonce"] = json.loads(stream.snapshot)["lastUpdateId"]
    book = exchange.order_book({})
    book.reset(snapshot)
    exchange.orderbooks["BTC/USDT"] = book
    client = _FakeClient()
    handle, loads = exchange.handle_message, json.loads  # ccxt's client parses with json.loads
    start = time.perf_counter()
    for m in stream.messages:
        handle(client, loads(m))
    seconds = time.perf_counter() - start
    if client.resolved != len(stream.messages):
        raise RuntimeError(f"ccxt.pro applied {client.resolved} of {len(stream.messages)}")
    top = exchange.orderbooks["BTC/USDT"]
    return seconds, (
        [(float(p), float(q)) for p, q in top["bids"][:10]],
        [(float(p), float(q)) for p, q in top["asks"][:10]],
    )
