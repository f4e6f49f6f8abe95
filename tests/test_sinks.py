"""Sinks: bounded queues with drop counters, byte-exact NDJSON, the WebSocket event server."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

from scanner.events import venue_event
from scanner.sinks import CallbackSink, NdjsonSink, Sinks, WsEventServer
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
        server = WsEventServer(client_queue=4)
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
                got = []
                for i in range(n):
                    server.emit({"schema": 1, "type": "venue", "venue": "okx", "state": "live",
                                 "reason": big, "ts": i})  # fmt: skip
                    got.append(await fast.recv())
            assert [orjson.loads(m)["ts"] for m in got] == list(range(n))
            assert (fast_client.sent, fast_client.queue.dropped) == (n, 0)
            # the slow client got only what the buffers held; every emit is accounted for
            assert slow_client.queue.dropped > 0 and slow_client.sent < n
            assert slow_client.queue.accepted + slow_client.queue.dropped == n
            slow.transport.abort()  # it never read; its sender ends with ConnectionClosed
        server.close()
        await task

    run(main)
