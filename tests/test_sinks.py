"""Sinks: bounded queues with drop counters, byte-exact NDJSON, the WebSocket event server."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

from scanner.events import (
    Figures,
    LegInfo,
    book_event,
    closed_event,
    opportunity_event,
    venue_event,
)
from scanner.eventserver import WsEventServer
from scanner.sinks import CallbackSink, NdjsonSink, Sinks
from tests.schema_check import check_all

T = 1_700_000_000_000_000_000


def ev(i: int) -> dict[str, Any]:
    return venue_event("okx", "live", None if i % 2 else "desynced", T + i)


def line(i: int) -> bytes:
    reason = "null" if i % 2 else '"desynced"'
    return b'{"schema":1,"type":"venue","venue":"okx","state":"live","reason":%s,"ts":%d}\n' % (
        reason.encode(),
        T + i,
    )


async def until(cond: Callable[[], bool]) -> None:
    """Yield to the loop until ``cond()`` (bounded by the caller's timeout)."""
    while not cond():
        await asyncio.sleep(0.001)


async def greeting(ws: ClientConnection) -> list[str]:
    """The types of what the server sends a client first: hello ... snapshot_end."""
    types = [orjson.loads(await ws.recv())["type"]]
    while types[-1] != "snapshot_end":
        types.append(orjson.loads(await ws.recv())["type"])
    return types


def run(coro: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(20):
            await coro()

    asyncio.run(bounded())


def test_ndjson_file_is_byte_exact_and_closed(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    events = [
        ev(0),
        {"schema": 1, "type": "book", "ts": T, "venue": "okx", "symbol": "BTC/USDT",
         "bids": [[0.1, 2.5]], "asks": [[1e-8, 3.0]]},
    ]  # fmt: skip
    check_all(events)

    async def main() -> None:
        sink = NdjsonSink.open(path)
        task = asyncio.create_task(sink.run())
        for e in events:
            sink.emit(e)
        sink.close()
        sink.emit(ev(1))  # after close: dropped
        await task
        assert (sink.written, sink.dropped) == (2, 1)

    run(main)
    assert path.read_bytes() == line(0) + (
        b'{"schema":1,"type":"book","ts":1700000000000000000,"venue":"okx","symbol":"BTC/USDT",'
        b'"bids":[[0.1,2.5]],"asks":[[1e-8,3.0]]}\n'
    )


def test_ndjson_queue_full_drops_newest() -> None:
    out = io.BytesIO()

    async def main() -> None:
        sink = NdjsonSink(out, max_events=3)
        for i in range(5):
            sink.emit(ev(i))
        sink.close()
        await sink.run()
        assert (sink.written, sink.dropped, sink.queue.accepted) == (3, 2, 3)

    run(main)
    assert out.getvalue() == line(0) + line(1) + line(2)


class BlockingStream(io.BytesIO):
    """A stream whose first write blocks until released (a consumer that stopped reading)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, data: Any) -> int:
        self.entered.set()
        assert self.release.wait(10)
        return super().write(data)


def test_blocked_writer_never_blocks_emit() -> None:
    out = BlockingStream()

    async def main() -> None:
        sink = NdjsonSink(out, max_events=4)
        task = asyncio.create_task(sink.run())
        sink.emit(ev(0))
        await asyncio.to_thread(out.entered.wait, 10)  # the worker is stuck writing ev(0)
        for i in range(1, 10):
            sink.emit(ev(i))  # returns at once: 4 queued, 5 dropped
        assert (sink.queue.accepted, sink.dropped, sink.written) == (5, 5, 0)
        out.release.set()
        sink.close()
        await task

    run(main)
    assert out.getvalue() == b"".join(line(i) for i in range(5))


def test_drained_paces_a_fast_producer_without_loss() -> None:
    """A replay driver awaits drained() when the queue is full: nothing is dropped."""
    out = io.BytesIO()

    async def main() -> None:
        sink = NdjsonSink(out, max_events=4)
        task = asyncio.create_task(sink.run())
        await sink.drained()  # nothing queued: returns at once
        for i in range(10):
            if len(sink.queue.items) == sink.queue.max_events:
                await sink.drained()
                assert sink.written == i
            sink.emit(ev(i))
        await sink.drained()
        assert (sink.written, sink.dropped) == (10, 0)
        sink.close()
        await task

    run(main)
    assert out.getvalue() == b"".join(line(i) for i in range(10))


def test_ndjson_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    async def main() -> None:
        sink = NdjsonSink.open("-")
        sink.emit(ev(3))
        sink.close()
        await sink.run()

    run(main)
    assert capsysbinary.readouterr().out == line(3)


def test_callback_sink_and_fanout() -> None:
    seen: list[dict[str, Any]] = []
    direct: list[dict[str, Any]] = []

    class Direct:
        def emit(self, event: dict[str, Any]) -> None:
            direct.append(event)

    async def main() -> None:
        cb = CallbackSink(seen.append, max_events=2)
        fan = Sinks([Direct(), cb])
        task = asyncio.create_task(cb.run())
        for i in range(3):
            fan.emit(ev(i))
        await asyncio.sleep(0)
        fan.emit(ev(3))
        cb.close()
        await task
        assert (fan.events, cb.dropped) == (4, 1)

    run(main)
    assert direct == [ev(0), ev(1), ev(2), ev(3)]
    assert seen == [ev(0), ev(1), ev(3)]


def test_ws_server_delivers_drops_and_closes_cleanly() -> None:
    async def main() -> None:
        server = WsEventServer(client_queue=2)
        task = asyncio.create_task(server.run())
        await until(lambda: server._server is not None)
        host, port = next(iter(server._server.sockets)).getsockname()[:2]  # type: ignore[union-attr]
        assert (host, port) == ("127.0.0.1", server.port) and port > 0
        server.emit(ev(0))  # no client yet: nothing queued, nothing dropped
        async with connect(f"ws://127.0.0.1:{server.port}") as ws:
            await until(lambda: len(server.clients) == 1)
            assert await greeting(ws) == ["hello", "venue", "snapshot_end"]  # ev(0): the present
            for i in range(1, 6):
                server.emit(ev(i))  # queue of 2: ev(1), ev(2) kept, 3 dropped
            assert server.dropped == 3
            assert [await ws.recv() for _ in range(2)] == [line(1)[:-1].decode(),
                                                           line(2)[:-1].decode()]  # fmt: skip
            server.emit(ev(6))
            server.close()
            assert await ws.recv() == line(6)[:-1].decode()  # queued before close: delivered
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()
        await task
        assert server.clients == [] and server.dropped == 3

    run(main)


def test_ws_slow_client_does_not_stall_another() -> None:
    big = "x" * 100_000
    n = 300  # 30 MB: far more than the buffers of the slow client's path can hold (~5 MB)

    async def main() -> None:
        server = WsEventServer(client_queue=4, max_lag_s=60.0)  # slow, never disconnected
        task = asyncio.create_task(server.run())
        await until(lambda: server._server is not None)
        url = f"ws://127.0.0.1:{server.port}"
        # The slow client: a fixed small receive buffer (no autotuning) and at most one frame
        # buffered by its library; it never reads.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.connect(("127.0.0.1", server.port))
        sock.setblocking(False)
        async with connect(url, sock=sock, max_size=None, max_queue=1) as slow:
            await until(lambda: len(server.clients) == 1)
            slow_client = server.clients[0]
            async with connect(url, max_size=None) as fast:
                await until(lambda: len(server.clients) == 2)
                fast_client = server.clients[1]
                assert await greeting(fast) == ["hello", "snapshot_end"]
                got = []
                for i in range(n):
                    server.emit({"schema": 1, "type": "venue", "venue": "okx", "state": "live",
                                 "reason": big, "ts": i})  # fmt: skip
                    got.append(await fast.recv())
            assert [orjson.loads(m)["ts"] for m in got] == list(range(n))
            assert (fast_client.sent, fast_client.queue.dropped) == (2 + n, 0)
            # the slow client got only what the buffers held; every emit is accounted for
            assert slow_client.queue.dropped > 0 and slow_client.sent < n
            assert slow_client.queue.accepted + slow_client.queue.dropped == 2 + n
            slow.transport.abort()  # it never read; its sender ends with ConnectionClosed
        server.close()
        await task

    run(main)


async def stalled_client(port: int) -> ClientConnection:
    """A client that never reads: a fixed small receive buffer and at most one frame buffered
    by its library, so the server's writes to it soon block."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return await connect(f"ws://127.0.0.1:{port}", sock=sock, max_size=None, max_queue=1)


def big(i: int) -> dict[str, Any]:
    return {"schema": 1, "type": "venue", "venue": "okx", "state": "live",
            "reason": "x" * 100_000, "ts": i}  # fmt: skip


def test_ws_stalled_client_is_disconnected_and_counted_while_another_gets_everything() -> None:
    async def main() -> None:
        server = WsEventServer(client_queue=8, max_lag_s=1.0, close_timeout_s=10.0)
        task = asyncio.create_task(server.run())
        await until(lambda: server._server is not None)
        slow = await stalled_client(server.port)
        await until(lambda: len(server.clients) == 1)
        async with connect(f"ws://127.0.0.1:{server.port}", max_size=None) as fast:
            await until(lambda: len(server.clients) == 2)
            fast_client = server.clients[1]
            assert await greeting(fast) == ["hello", "snapshot_end"]
            got = []
            i = 0
            while server.lagged == 0 and i < 1000:  # ~5 MB fill the slow path; 10 s bound
                server.emit(big(i))
                got.append(orjson.loads(await fast.recv())["ts"])
                i += 1
                await asyncio.sleep(0.01)
            assert server.lagged == 1 and server.clients == [fast_client]
            assert got == list(range(i))
            assert (fast_client.sent, fast_client.queue.dropped) == (2 + i, 0)
            # the slow client reads again: what was written to it, then the close code
            with pytest.raises(ConnectionClosedError) as closed:
                while True:
                    await slow.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too slow")
            server.emit(ev(0))
            assert await fast.recv() == line(0)[:-1].decode()
            server.close()
        await task

    run(main)


def test_ws_close_with_a_non_reading_client_returns_within_the_deadline() -> None:
    async def main() -> None:
        server = WsEventServer(client_queue=1000, max_lag_s=60.0, close_timeout_s=0.5)
        task = asyncio.create_task(server.run())
        await until(lambda: server._server is not None)
        slow = await stalled_client(server.port)
        await until(lambda: len(server.clients) == 1)
        client = server.clients[0]
        for i in range(200):  # 20 MB: far more than the buffers of its path hold
            server.emit(big(i))
        await until(lambda: client.sent > 0)
        await asyncio.sleep(0.2)
        assert client.sent < 2 + 200  # its sender is stuck: the socket does not take more
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        server.close()
        async with asyncio.timeout(5):
            await task
        assert loop.time() - t0 < 0.5 + 1.0  # the deadline, with a generous margin
        assert server.clients == [] and server.lagged == 0
        slow.transport.abort()

    run(main)


LONG_KEY = "é" * 200


@pytest.mark.parametrize(
    ("message", "code", "error"),
    [
        ("x" * 5000, 1009, None),  # over the 4 KiB cap: closed by the library, no error event
        (b'{"type":"subscribe"}', 1003, ("binary_message", "text messages only")),
        ("hello", 1008, ("bad_subscribe", "not JSON")),
        ('{"type":"unsubscribe"}', 1008, ("bad_subscribe", 'expected {"type": "subscribe", ...}')),
        (
            '{"type":"subscribe","symbol":["BTC/USDT"]}',
            1008,
            ("bad_subscribe", "unknown field 'symbol'"),
        ),
        (
            '{"type":"subscribe","symbols":"BTC/USDT"}',
            1008,
            ("bad_subscribe", "symbols: expected a list of at most 256 strings"),
        ),
        (
            '{"type":"subscribe","min_net_bps":"5"}',
            1008,
            ("bad_subscribe", "min_net_bps: expected a number"),
        ),
        (  # the close reason is cut to 123 bytes; the error event says it whole
            '{"type":"subscribe","' + LONG_KEY + '":1}',
            1008,
            ("bad_subscribe", f"unknown field {LONG_KEY!r}"),
        ),
    ],
)
def test_ws_bad_client_message_gets_an_error_event_then_its_close_code(
    message: str | bytes, code: int, error: tuple[str, str] | None
) -> None:
    async def main() -> None:
        server = WsEventServer()
        task = asyncio.create_task(server.run())
        await until(lambda: server._server is not None)
        url = f"ws://127.0.0.1:{server.port}"
        async with connect(url) as good, connect(url) as bad:
            await until(lambda: len(server.clients) == 2)
            assert await greeting(good) == await greeting(bad) == ["hello", "snapshot_end"]
            await bad.send(message)
            got = []
            with pytest.raises(ConnectionClosedError) as closed:
                async with asyncio.timeout(5):
                    while True:
                        got.append(orjson.loads(await bad.recv()))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code
            if error is None:
                assert got == []
            else:
                assert got == [
                    {"schema": 1, "type": "error", "error": error[0], "detail": error[1]}
                ]
                check_all(got)
            await until(lambda: len(server.clients) == 1)
            server.emit(ev(1))
            assert await good.recv() == line(1)[:-1].decode()
            server.close()
        await task
        assert server.lagged == 0

    run(main)


FIG = Figures(100.0, 101.0, 1.0, 100.0, 101.0, 100.1, 100.9, 0.8, 0.0, 100.0)


def opp(kind: str, oid: str, symbol: str, buy: str, sell: str, net_bps: float) -> dict[str, Any]:
    fig = dataclasses.replace(FIG, net_bps=net_bps)
    legs = LegInfo(buy, 10.0, 1.0), LegInfo(sell, 10.0, 1.0)
    if kind == "closed":
        return closed_event(oid, T, symbol, *legs, fig, reason="spread_closed",
                            duration_ms=5.0, peak_net_bps=net_bps, peak_profit=0.8)  # fmt: skip
    return opportunity_event(kind, oid, T, symbol, *legs, fig)


def test_ws_subscribe_filter_delivers_exactly_the_matching_events() -> None:
    book = book_event("okx", "BTC/USDT", [100.0], [1.0], [101.0], [1.0], T, 1)
    events = [
        opp("opened", "1", "BTC/USDT", "binance", "okx", 10.0),  # sent
        opp("opened", "2", "BTC/USDT", "okx", "binance", 5.0),  # below min_net_bps
        opp("updated", "2", "BTC/USDT", "okx", "binance", 9.0),  # sent: now above
        opp("updated", "1", "BTC/USDT", "binance", "okx", 7.0),  # below
        opp("opened", "3", "ETH/USDT", "binance", "okx", 50.0),  # other symbol
        opp("opened", "4", "BTC/USDT", "binance", "kraken", 50.0),  # a leg elsewhere
        opp("opened", "5", "BTC/USDT", "okx", "binance", 4.0),  # below
        opp("closed", "1", "BTC/USDT", "binance", "okx", 7.0),  # sent: 1 was sent
        opp("closed", "5", "BTC/USDT", "okx", "binance", 4.0),  # never sent
        opp("closed", "2", "BTC/USDT", "okx", "binance", 9.0),  # sent
        venue_event("okx", "live", None, T),  # sent
        venue_event("kraken", "live", None, T),  # other venue
        book,  # type not asked
    ]
    check_all(events)
    subscribe = {"type": "subscribe", "symbols": ["BTC/USDT"], "venues": ["binance", "okx"],
                 "types": ["opened", "updated", "closed", "venue"], "min_net_bps": 8}  # fmt: skip

    async def main() -> list[dict[str, Any]]:
        server = WsEventServer()
        task = asyncio.create_task(server.run())
        await until(lambda: server._server is not None)
        async with connect(f"ws://127.0.0.1:{server.port}") as ws:
            await until(lambda: len(server.clients) == 1)
            assert await greeting(ws) == ["hello", "snapshot_end"]
            await ws.send(orjson.dumps(subscribe).decode())
            assert await greeting(ws) == ["hello", "snapshot_end"]  # the answer: the present
            for e in events:
                server.emit(e)
            server.close()
            got = [orjson.loads(m) async for m in ws]
        await task
        return got

    got: list[dict[str, Any]] = []

    async def collect() -> None:
        got.extend(await main())

    run(collect)
    assert got == [events[0], events[2], events[7], events[9], events[10]]
