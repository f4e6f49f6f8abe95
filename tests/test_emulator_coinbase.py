"""Coinbase end to end on 127.0.0.1: the runner, session and codec against the emulator.

USDC symbols are served from the USD product (both legs reach the engine); a connection
carries only its own products, so a lost message resyncs only those (run.py's chunking).
(A malformed body resyncing only its product and unknown event types and sides skipped, on
the same connection: tests/test_reliability.py, coinbase-bad_body and coinbase-novel.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest

from arbscan.scan import chunk_symbols
from emulator import Emulator, EmulatorConfig, FaultSpec, MarketConfig
from emulator.venues.base import minimal
from feeds.actions import BookListener
from feeds.backoff import Backoff
from feeds.runner import Runner
from feeds.venues import codec_class
from scanner.config import ScannerConfig
from scanner.engine import Engine
from scanner.events import Event
from tests.test_emulator_e2e import T0, until
from tests.test_emulator_wire import harness
from tests.venue_helpers import LastBook, model_top

SYMBOLS = ("BTC/USDT", "ETH/USDT")
LIVE, DESYNCED, CLOSED = (True, None), (False, "desynced"), (False, "disconnected")
Coinbase = codec_class("coinbase")


@asynccontextmanager
async def feeds(
    chunks: Sequence[Sequence[str]],
    market: Sequence[str],
    listeners: Mapping[str, BookListener] | None = None,
    timeout: float = 10,
) -> AsyncIterator[tuple[Emulator, list[Runner], dict[str, LastBook]]]:
    """The emulator (stepped by the test) and one running runner per chunk of symbols, each
    connected before the next starts (connection ids follow the chunks)."""
    config = MarketConfig(
        venues=("coinbase",), symbols=tuple(market), seed=21, dislocations_per_min=0
    )
    legs = {s: LastBook() for chunk in chunks for s in chunk}
    listener_for = (listeners or legs).__getitem__
    async with (
        asyncio.timeout(timeout),
        Emulator(EmulatorConfig(market=config, autorun=False), clock=lambda: T0) as emu,
        httpx.AsyncClient() as http,
    ):
        runners: list[Runner] = []
        tasks: list[asyncio.Task[None]] = []
        for chunk in chunks:
            runners.append(
                Runner(
                    Coinbase,
                    chunk,
                    listener_for,
                    lambda *a: None,
                    ws_url=emu.ws_url("coinbase"),
                    http=http,
                    backoff=Backoff(base_s=0.01, cap_s=0.05),
                    tick_interval_s=0.01,
                )
            )
            tasks.append(asyncio.create_task(runners[-1].run()))
            await until(lambda: len(emu.connections("coinbase")) == len(tasks))
        try:
            yield emu, runners, legs
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def synced(emu: Emulator, legs: dict[str, LastBook], book_of: Mapping[str, str] = {}) -> bool:
    """Every leg's book equals the model's book (``book_of``: the model book serving it)."""
    return all(leg.top == model_top(emu, "coinbase", book_of.get(s, s)) for s, leg in legs.items())


async def steps(
    emu: Emulator, legs: dict[str, LastBook], n: int, book_of: Mapping[str, str] = {}
) -> None:
    for _ in range(n):
        emu.step(1)
        await until(lambda: synced(emu, legs, book_of))


async def usdc_scenario(
    symbols: tuple[str, ...], market: tuple[str, ...], book_of: dict[str, str]
) -> tuple[dict[str, LastBook], int, int]:
    async with feeds([symbols], market, timeout=5) as (emu, (runner,), legs):
        await until(lambda: synced(emu, legs, book_of))
        await steps(emu, legs, 3, book_of=book_of)
        assert runner.session is not None
        return legs, runner.stats.connects, runner.session.stats.malformed


def test_usdc_symbols_are_served_from_the_usd_book_end_to_end() -> None:
    # With BTC/USD on the connection too: one product, both legs get its book.
    both = ("BTC/USD", "BTC/USDC")
    legs, connects, malformed = asyncio.run(usdc_scenario(both, both, {"BTC/USDC": "BTC/USD"}))
    assert [leg.usable for leg in legs.values()] == [[LIVE, CLOSED]] * 2
    assert (connects, malformed) == (1, 0)
    # BTC/USDC alone: the venue still names the product BTC-USD.
    legs, connects, malformed = asyncio.run(usdc_scenario(("BTC/USDC",), ("BTC/USDC",), {}))
    assert legs["BTC/USDC"].usable == [LIVE, CLOSED]
    assert (connects, malformed) == (1, 0)


async def engine_scenario() -> None:
    symbols = ("BTC/USD", "BTC/USDC")
    events: list[Event] = []
    engine = Engine(ScannerConfig(), ("coinbase",), symbols, {"coinbase": 10.0}, events.append)
    listeners = {s: engine.leg("coinbase", s) for s in symbols}
    async with feeds([symbols], symbols, listeners) as (emu, _, _):
        for _ in range(3):
            await until(lambda: _boards_match(engine, emu))
            emu.step(1)
        assert engine.board.usable.tolist() == [[True], [True]]


def _boards_match(engine: Engine, emu: Emulator) -> bool:
    """Both symbols' coinbase rows of the engine's board hold the model's BTC/USD book."""
    want = model_top(emu, "coinbase", "BTC/USD", 5)
    rows = [engine.board.levels[s, 0] for s in range(2)]
    return all(tuple([float(x) for x in r[i, :5]] for i in range(4)) == want for r in rows)


def test_the_engine_sees_both_the_usd_and_the_usdc_leg() -> None:
    asyncio.run(engine_scenario())


async def chunked_scenario() -> tuple[dict[str, LastBook], list[int]]:
    symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT"]
    chunks = chunk_symbols(Coinbase, symbols, 2)
    assert chunks == [["BTC/USDT", "ETH/USDT"], ["SOL/USDT", "XRP/USDT"], ["ADA/USDT"]]
    async with feeds(chunks, symbols) as (emu, runners, legs):
        await until(lambda: synced(emu, legs))
        conns = emu.connections("coinbase")
        emu.inject("coinbase", "gap", conn=conns[1])  # the SOL/XRP connection loses a message
        while not any(DESYNCED in leg.usable for leg in legs.values()):
            emu.step(1)
            await asyncio.sleep(0.005)
        await until(lambda: all(leg.usable[-1] == LIVE for leg in legs.values()))
        await steps(emu, legs, 2)
        connects = [r.stats.connects for r in runners]
    return legs, connects


def test_a_lost_message_resyncs_only_the_products_of_its_connection() -> None:
    legs, connects = asyncio.run(chunked_scenario())
    assert connects == [1, 2, 1]
    assert {s: leg.usable for s, leg in legs.items()} == {
        "BTC/USDT": [LIVE, CLOSED],
        "ETH/USDT": [LIVE, CLOSED],
        "SOL/USDT": [LIVE, DESYNCED, LIVE, CLOSED],
        "XRP/USDT": [LIVE, DESYNCED, LIVE, CLOSED],
        "ADA/USDT": [LIVE, CLOSED],
    }


# -- the emulated venue itself (sans-I/O) ---------------------------------------------------


def test_emulated_usdc_subscriptions_are_served_the_usd_product() -> None:
    model, venue, session = harness("coinbase", "/", symbols=("BTC/USD", "BTC/USDC"))
    request = '{"type":"subscribe","product_ids":["BTC-USDC","BTC-USD"],"channel":"level2"}'
    subs, snap = (orjson.loads(o.frame) for o in session.received(request, T0))
    assert subs["events"] == [{"subscriptions": {"level2": ["BTC-USD"]}}]
    assert snap["events"][0]["product_id"] == "BTC-USD"
    bids, _ = model.books[("coinbase", "BTC/USD")].top(1)
    assert snap["events"][0]["updates"][0]["price_level"] == minimal(bids[0][0], 2)
    # Alone, BTC/USDC's own book is the product BTC-USD; USDT-USDC is a product of its own.
    _, venue, _ = harness("coinbase", "/", symbols=("BTC/USDC", "USDT/USDC"))
    assert venue.symbols == {"BTC-USD": "BTC/USDC", "USDT-USDC": "USDT/USDC"}


def test_emulated_bad_body_and_novel_frames_keep_the_counter() -> None:
    _, _, session = harness("coinbase", "/", symbols=("BTC/USD",))
    request = '{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}'
    _, snap = session.received(request, T0)
    bad = orjson.loads(session.bad_body(snap).frame)
    assert (bad["sequence_num"], bad["channel"]) == (1, "l2_data")
    assert bad["events"][0]["updates"] == [{"side": "bid"}]
    (novel,) = (orjson.loads(o.frame) for o in session.novel(T0))
    assert novel["sequence_num"] == 2
    assert [(e["type"], e["updates"][0]["side"]) for e in novel["events"]] == [
        ("summary", "bid"),
        ("update", "mid"),
    ]
    with pytest.raises(ValueError, match="okx has no bad_body fault"):
        Emulator(EmulatorConfig(faults=(FaultSpec("okx", "bad_body"),)))
