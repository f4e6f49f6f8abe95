"""The emulator over real sockets on 127.0.0.1 (a plain websockets client and httpx): URLs,
REST on the WebSocket port, pings, heartbeats, and every fault observed at the wire.

The model is stepped by the test (``autorun=False``), so what each frame holds is exact.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus

from emulator import Emulator, EmulatorConfig, FaultSpec, MarketConfig
from feeds.checksum import OKX, crc32
from tests.test_emulator_wire import TextBook

T0 = 1_795_000_000_000_000_000
OKX_SUB = '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}'
BIN_SUB = '{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}'
BYBIT_SUB = '{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}'


def sync(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test on a fresh event loop (the project uses no pytest async plugin)."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())

    return run


def config(*faults: FaultSpec, autorun: bool = False) -> EmulatorConfig:
    market = MarketConfig(symbols=("BTC/USDT",), dislocations_per_min=0.0)
    return EmulatorConfig(market=market, autorun=autorun, faults=faults)


@asynccontextmanager
async def running(*faults: FaultSpec) -> AsyncIterator[Emulator]:
    async with asyncio.timeout(10), Emulator(config(*faults), clock=lambda: T0) as emu:
        yield emu


async def recv(ws: ClientConnection) -> str:
    frame = await ws.recv()
    assert isinstance(frame, str)
    return frame


async def subscribed(emu: Emulator, venue: str, request: str, replies: int) -> ClientConnection:
    ws = await websockets.connect(emu.ws_url(venue))
    await ws.send(request)
    for _ in range(replies):
        await recv(ws)
    return ws


@sync
async def test_urls_use_the_real_paths_on_127_0_0_1() -> None:
    async with running() as emu:
        ports = {emu.ws_url(v).split(":")[2].split("/")[0] for v in emu.config.market.venues}
        assert len(ports) == 5
        assert emu.ws_url("binance").endswith("/ws") and emu.url("okx").endswith("/ws/v5/public")
        assert (
            emu.ws_url("bybit").endswith("/v5/public/spot") and emu.ws_url("kraken")[-3:] == "/v2"
        )
        assert emu.ws_url("coinbase").startswith("ws://127.0.0.1:")
        assert emu.rest_url("binance") == emu.ws_url("binance").replace("ws://", "http://")[:-3]
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(emu.rest_url("okx").replace("http", "ws") + "/nope")
        assert refused.value.response.status_code == 404


@sync
async def test_binance_combined_stream_and_rest_snapshot_bridge() -> None:
    async with running() as emu, httpx.AsyncClient() as http:
        url = emu.ws_url("binance").replace("/ws", "/stream?streams=btcusdt@depth@100ms")
        async with websockets.connect(url) as ws:
            got = await http.get(emu.rest_url("binance") + "/api/v3/depth?symbol=BTCUSDT&limit=5")
            assert got.headers["content-type"] == "application/json;charset=UTF-8"
            snapshot = got.json()
            assert len(snapshot["bids"]) == len(snapshot["asks"]) == 5
            emu.step(2)
            first = orjson.loads(await recv(ws))
            second = orjson.loads(await recv(ws))
            assert first["stream"] == "btcusdt@depth@100ms"
            assert first["data"]["U"] == snapshot["lastUpdateId"] + 1
            assert second["data"]["U"] == first["data"]["u"] + 1
        missing = await http.get(emu.rest_url("binance") + "/api/v3/depth?symbol=NOPE")
        assert (missing.status_code, missing.json()) == (
            400,
            {"code": -1121, "msg": "Invalid symbol."},
        )


@sync
async def test_pings_acks_and_heartbeats() -> None:
    async with running() as emu:
        async with websockets.connect(emu.ws_url("okx")) as ws:
            await ws.send("ping")
            assert await recv(ws) == "pong"
        async with websockets.connect(emu.ws_url("bybit")) as ws:
            await ws.send('{"op":"ping","req_id":"7"}')
            pong = orjson.loads(await recv(ws))
            assert (pong["ret_msg"], pong["op"], pong["req_id"]) == ("pong", "ping", "7")
        ws = await subscribed(emu, "kraken", '{"method":"ping","req_id":5}', 1)
        assert orjson.loads(await recv(ws))["method"] == "pong"
        await ws.send(
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT"],"depth":10}}'
        )
        await recv(ws)
        await recv(ws)
        emu.step(10)  # one second of model time: the update frames, then a heartbeat
        frames = [await recv(ws) for _ in range(11)]
        assert frames[-1] == '{"channel":"heartbeat"}'
        await ws.close()


@sync
async def test_disconnect_is_a_clean_close_and_abort_is_not() -> None:
    async with running() as emu:
        ws = await subscribed(emu, "okx", OKX_SUB, 2)
        emu.inject("okx", "disconnect", code=1001, reason="maintenance")
        with pytest.raises(ConnectionClosedOK) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "maintenance")
        ws = await subscribed(emu, "okx", OKX_SUB, 2)
        emu.inject("okx", "abort")
        with pytest.raises(ConnectionClosedError) as aborted:
            await ws.recv()
        assert aborted.value.rcvd is None  # no close frame: the transport just went away


@sync
async def test_gap_skips_exactly_the_dropped_update_ids() -> None:
    async with running() as emu:
        ws = await subscribed(emu, "binance", BIN_SUB, 1)
        venue = emu.venue("binance")
        emu.step(1)
        first = orjson.loads(await recv(ws))
        emu.inject("binance", "gap", count=2)
        emu.step(2)
        dropped_to = venue.last_id["BTC/USDT"]  # type: ignore[attr-defined]
        emu.step(1)
        after = orjson.loads(await recv(ws))
        assert after["U"] == dropped_to + 1 and after["U"] > first["u"] + 1
        await ws.close()


@sync
async def test_coinbase_gap_skips_a_sequence_num() -> None:
    async with running() as emu:
        request = '{"type":"subscribe","product_ids":["BTC-USDT"],"channel":"level2"}'
        ws = await subscribed(emu, "coinbase", request, 2)  # subscriptions (0), snapshot (1)
        emu.inject("coinbase", "gap")
        emu.step(2)
        assert orjson.loads(await recv(ws))["sequence_num"] == 3
        await ws.close()


@sync
async def test_bad_checksum_then_good_again_and_malformed_frame() -> None:
    async with running() as emu:
        ws = await websockets.connect(emu.ws_url("okx"))
        await ws.send(OKX_SUB)
        await recv(ws)
        snap = orjson.loads(await recv(ws))["data"][0]
        book = TextBook()
        book.apply(snap["bids"], snap["asks"])
        emu.inject("okx", "bad_checksum")
        emu.step(2)
        verdicts = []
        for _ in range(2):
            data = orjson.loads(await recv(ws))["data"][0]
            book.apply(data["bids"], data["asks"])
            verdicts.append(crc32(OKX, *book.top(25)) == data["checksum"])
        assert verdicts == [False, True]
        emu.inject("okx", "malformed")
        text = await recv(ws)
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(text)
        assert text.startswith('{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update"')
        await ws.close()
        with pytest.raises(ValueError, match="sends no checksum"):
            emu.inject("binance", "bad_checksum")
        with pytest.raises(ValueError, match="unknown fault"):
            emu.inject("okx", "meteor")


@sync
async def test_stall_sends_nothing_until_the_close() -> None:
    async with running() as emu:
        ws = await subscribed(emu, "bybit", BYBIT_SUB, 2)
        emu.inject("bybit", "stall")
        emu.step(5)
        await ws.send('{"op":"ping"}')
        await asyncio.sleep(0.05)
        emu.inject("bybit", "disconnect")
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()  # the first thing received is the close: nothing was sent


@sync
async def test_slow_sending_delays_every_frame() -> None:
    async with running() as emu:
        ws = await subscribed(emu, "bybit", BYBIT_SUB, 2)
        emu.inject("bybit", "slow", delay_s=0.02)
        loop = asyncio.get_running_loop()
        start = loop.time()
        emu.step(3)
        us = [orjson.loads(await recv(ws))["data"]["u"] for _ in range(3)]
        assert loop.time() - start >= 0.06  # a lower bound: each frame waited delay_s
        assert us == [us[0], us[0] + 1, us[0] + 2]
        await ws.close()


@sync
async def test_crossed_book_for_one_step() -> None:
    async with running() as emu:
        ws = await websockets.connect(emu.ws_url("bybit"))
        await ws.send(BYBIT_SUB)
        await recv(ws)
        snap = orjson.loads(await recv(ws))["data"]
        book = TextBook()
        book.apply(snap["b"], snap["a"])
        emu.inject("bybit", "crossed", steps=1)
        crossed = []
        for _ in range(2):
            emu.step(1)
            data = orjson.loads(await recv(ws))["data"]
            book.apply(data["b"], data["a"])
            bids, asks = book.top(1)
            crossed.append(float(bids[0][0]) >= float(asks[0][0]))
        assert crossed == [True, False]
        await ws.close()


@sync
async def test_rest_errors_and_timeouts_then_recovery() -> None:
    async with running() as emu, httpx.AsyncClient(timeout=0.2) as http:
        url = emu.rest_url("binance") + "/api/v3/depth?symbol=BTCUSDT&limit=5"
        emu.inject("binance", "rest_error", status=429, retry_after=3)
        emu.inject("binance", "rest_error", status=500)
        emu.inject("binance", "rest_timeout", delay_s=0.5)
        limited = await http.get(url)
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
        failed = await http.get(url)
        assert (failed.status_code, failed.headers.get("retry-after")) == (500, None)
        with pytest.raises(httpx.TimeoutException):
            await http.get(url)
        assert (await http.get(url)).status_code == 200
        assert emu.rest_requests("binance") == 4


@sync
async def test_faults_configured_at_start_up_hit_the_first_connection() -> None:
    async with running(FaultSpec("bybit", "gap", {"count": 1})) as emu:
        ws = await subscribed(emu, "bybit", BYBIT_SUB, 1)  # the ack; the snapshot is dropped
        emu.step(1)
        delta = orjson.loads(await recv(ws))
        assert delta["type"] == "delta"
        await ws.close()


@sync
async def test_autorun_publishes_from_the_loop_clock() -> None:
    market = MarketConfig(symbols=("BTC/USDT",), interval_ms=20, dislocations_per_min=0.0)
    async with asyncio.timeout(10), Emulator(EmulatorConfig(market=market)) as emu:
        ws = await subscribed(emu, "binance", BIN_SUB, 1)
        events = [orjson.loads(await recv(ws)) for _ in range(3)]
        assert [e["U"] for e in events[1:]] == [e["u"] + 1 for e in events[:-1]]
        await ws.close()


@sync
async def test_a_fault_on_one_connection_leaves_the_others_alone() -> None:
    async with running() as emu:
        first = await subscribed(emu, "bybit", BYBIT_SUB, 2)
        second = await subscribed(emu, "bybit", BYBIT_SUB, 2)
        one, two = emu.connections("bybit")
        emu.inject("bybit", "gap", conn=one)
        emu.step(2)
        u_first = [orjson.loads(await recv(first))["data"]["u"]]
        u_second = [orjson.loads(await recv(second))["data"]["u"] for _ in range(2)]
        assert u_first == [u_second[1]]  # the first connection lost the first delta only
        assert u_second[1] == u_second[0] + 1 and two == one + 1
        await first.close()
        await second.close()


@sync
async def test_a_driver_far_behind_its_clock_skips_ahead_instead_of_flooding() -> None:
    now = [T0]
    async with Emulator(config(autorun=True), clock=lambda: now[0]) as emu:
        now[0] = T0 + 10_000_000_000  # 100 intervals late before the driver first runs
        await asyncio.sleep(0.01)
        assert (emu.model.steps, emu.model.now_ns) == (1, T0 + 10_000_000_000)


def test_a_client_sending_faster_than_the_venue_allows_is_closed() -> None:
    """Binance takes 5 frames per second per connection: the sixth within a second closes
    the connection with 1008; the same frames spread over time are answered."""
    now = [T0]

    async def scenario() -> tuple[list[str], int | None, int]:
        async with asyncio.timeout(10), Emulator(config(), clock=lambda: now[0]) as emu:
            ws = await websockets.connect(emu.ws_url("binance"))
            answers = []
            for i in range(1, 7):  # six within 1 s ...
                await ws.send(BIN_SUB.replace('"id":1', f'"id":{i}'))
                if i <= 5:
                    answers.append(await recv(ws))
            with pytest.raises(ConnectionClosedError) as closed:
                await ws.recv()
            code = closed.value.rcvd.code if closed.value.rcvd else None
            ws = await websockets.connect(emu.ws_url("binance"))
            for i in range(7, 13):  # ... and six at 0.25 s intervals
                await ws.send(BIN_SUB.replace('"id":1', f'"id":{i}'))
                answers.append(await recv(ws))
                now[0] += 250_000_000
            await ws.close()
            return answers, code, emu.too_fast("binance")

    answers, code, too_fast = asyncio.run(scenario())
    assert answers == [f'{{"result":null,"id":{i}}}' for i in (*range(1, 6), *range(7, 13))]
    assert (code, too_fast) == (1008, 1)
