"""The async runner (feeds/runner.py) and its transport seam (feeds/transport.py), driven
through the real runner and the real FeedSession with a fake transport, a fake clock and
``httpx.MockTransport``; plus the real ``websockets`` transport against a 127.0.0.1 server."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from feeds.backoff import Backoff
from feeds.book import Book
from feeds.capture import CaptureWriter
from feeds.checksum import OKX
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    Endpoints,
    Event,
    Heartbeat,
    Integrity,
    Level,
    ParseError,
    RestRequest,
    SeqRule,
    SnapshotSource,
)
from feeds.runner import Runner, SessionOptions
from feeds.transport import ConnectFailed, FakeConnection, FakeConnector, TransportClosed
from feeds.wsconnect import websocket_connect

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


# --- two toy venues: one seeded by REST with update-id ranges, one in-band with checksums --


def _loads(frame: str | bytes) -> dict[str, object]:
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise ParseError(f"not JSON: {frame!r}") from None
    if not isinstance(obj, dict):
        raise ParseError(f"not an object: {frame!r}")
    return obj


def _levels(value: object) -> list[Level]:
    if not isinstance(value, list):
        raise ParseError("levels must be a list")
    return value


class RangeToy(Codec):
    """REST snapshot ``{"id", "bids", "asks"}``; deltas ``{"s", "U", "u", "b", "a"}``."""

    venue = "toyrest"
    integrity = Integrity(seq=SeqRule.RANGE, snapshot=SnapshotSource.REST)
    endpoints = Endpoints(ws="ws://toy.invalid/ws", rest="https://toy.invalid")

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [orjson.dumps({"sub": [self.venue_symbol(s) for s in symbols]}).decode()]

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> RestRequest:
        url = f"{rest_base}/depth?symbol={self.venue_symbol(symbol)}&limit=100"
        return RestRequest(url, symbol)

    def parse_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        obj = _loads(body)
        seq = obj["id"]
        assert isinstance(seq, int)
        return BookSnapshot(symbol, _levels(obj["bids"]), _levels(obj["asks"]), seq=seq)

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = _loads(frame)
        if "hb" in obj:
            return [Heartbeat()]
        canonical = {self.venue_symbol(s): s for s in self.symbols}
        first, last, sym = obj.get("U"), obj.get("u"), obj.get("s")
        if not (isinstance(first, int) and isinstance(last, int) and sym in canonical):
            raise ParseError(f"not a delta: {frame!r}")
        bids, asks = _levels(obj.get("b", [])), _levels(obj.get("a", []))
        return [BookDelta(canonical[str(sym)], bids, asks, first=first, last=last)]


class CrcToy(Codec):
    """In-band ``{"t": "s"|"u", "s", "b", "a", "cs"}`` with OKX's CRC32 over the top 25."""

    venue = "toycrc"
    integrity = Integrity(seq=SeqRule.NONE, checksum=OKX, keep_text=True)
    endpoints = Endpoints(ws="ws://crc.invalid/ws")

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "-")

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [f"sub {self.venue_symbol(s)}" for s in symbols]

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [f"unsub {self.venue_symbol(s)}" for s in symbols]

    def parse(self, frame: str | bytes) -> list[Event]:
        obj = _loads(frame)
        canonical = {self.venue_symbol(s): s for s in self.symbols}
        kind, sym, cs = obj.get("t"), obj.get("s"), obj.get("cs")
        if sym not in canonical or not isinstance(cs, int):
            raise ParseError(f"not a book message: {frame!r}")
        symbol = canonical[str(sym)]
        bids, asks = _levels(obj.get("b", [])), _levels(obj.get("a", []))
        if kind == "s":
            return [BookSnapshot(symbol, bids, asks, checksum=cs)]
        return [BookDelta(symbol, bids, asks, checksum=cs)]


def okx_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Independent reference: signed CRC32 of ``bid:bidsz:ask:asksz:...`` over the top 25."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


# --- harness -------------------------------------------------------------------------


class Clock:
    """The injected clock: int ns, moved only by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


Call = tuple[object, ...]


class Listener:
    def __init__(self, symbol: str, log: list[Call]) -> None:
        self.symbol, self.log = symbol, log

    def on_book(self, book: Book, ts_ns: int) -> None:
        bid_px, bid_sz, ask_px, ask_sz = book.top()
        self.log.append(("book", self.symbol, bid_px, bid_sz, ask_px, ask_sz, ts_ns))

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.log.append(("usable", self.symbol, usable, reason, ts_ns))


class Harness:
    """A runner wired to a fake connector, clock, sleep and HTTP handler, with call logs."""

    def __init__(
        self,
        codec: type[Codec],
        symbols: Sequence[str],
        *,
        handler: Callable[[httpx.Request], Awaitable[httpx.Response]] | None = None,
        recorder: CaptureWriter | None = None,
        options: SessionOptions | None = None,
        backoff: Backoff | None = None,
        max_frame_bytes: int = 1 << 20,
        conn: int = 0,
    ) -> None:
        self.clock = Clock()
        self.connector = FakeConnector()
        self.log: list[Call] = []
        self.states: list[Call] = []
        self.sleeps: list[float] = []
        self.requests: list[str] = []
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))
        self._handler = handler
        self.runner = Runner(
            codec,
            symbols,
            lambda s: Listener(s, self.log),
            lambda state, reason, ts: self.states.append((state, reason, ts)),
            rest_url="https://toy.invalid",
            http=self.http,
            clock=self.clock,
            recorder=recorder,
            conn=conn,
            connect=self.connector,
            sleep=self._sleep,
            backoff=backoff or Backoff(rng=random.Random(7)),
            options=options or SessionOptions(snapshot_wait_s=0.0),
            max_frame_bytes=max_frame_bytes,
            tick_interval_s=0.001,
        )

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        assert self._handler is not None
        return await self._handler(request)

    async def _sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(0)

    def session_stat(self, name: str) -> int:
        assert self.runner.session is not None
        value = getattr(self.runner.session.stats, name)
        assert isinstance(value, int)
        return value

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the runner for the body of the block (bounded to 5 s), then cancel it."""
        async with asyncio.timeout(5):
            task = asyncio.create_task(self.runner.run())
            try:
                yield
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                await self.http.aclose()


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run (in 1 ms steps) until ``condition`` holds."""
    while not condition():
        await asyncio.sleep(0.001)


def delta(symbol: str, first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    return orjson.dumps({"s": symbol, "U": first, "u": last, "b": bids, "a": asks}).decode()


def snapshot_body(seq: int, bids: list[list[str]], asks: list[list[str]]) -> bytes:
    return orjson.dumps({"id": seq, "bids": bids, "asks": asks})


def books(log: list[Call], symbol: str) -> list[Call]:
    return [c for c in log if c[0] == "book" and c[1] == symbol]


def usables(log: list[Call]) -> list[Call]:
    return [c for c in log if c[0] == "usable"]


# --- backoff -------------------------------------------------------------------------


def test_backoff_is_capped_and_jittered_exactly() -> None:
    backoff = Backoff(base_s=0.5, factor=2.0, cap_s=4.0, jitter=0.5, rng=random.Random(7))
    # ceilings 0.5, 1, 2, 4, 4, 4 times (1 - 0.5 u) with u from Random(7)
    assert [backoff.next() for _ in range(6)] == [
        0.4190418087917094,
        0.924575413037749,
        1.3490655269601461,
        3.8551274266649145,
        2.9282359913866216,
        3.268622166174829,
    ]
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.ceiling(0) == 0.5
    assert backoff.ceiling(10_000) == 4.0  # no float overflow however long it keeps failing
    fresh = backoff.fresh()
    assert (fresh.attempts, fresh.rng) == (0, backoff.rng)


@pytest.mark.parametrize(
    ("base", "factor", "cap", "jitter"),
    [(-1.0, 2.0, 30.0, 0.5), (0.5, 2.0, 0.1, 0.5), (0.5, 0.5, 30.0, 0.5), (0.5, 2.0, 30.0, 1.5)],
)
def test_backoff_rejects_bad_policy(base: float, factor: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base, factor, cap, jitter)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    base=st.floats(0.01, 5.0),
    extra=st.floats(0.0, 60.0),
    factor=st.floats(1.0, 4.0),
    jitter=st.floats(0.0, 1.0),
)
def test_backoff_delays_stay_in_the_jitter_band(
    seed: int, base: float, extra: float, factor: float, jitter: float
) -> None:
    backoff = Backoff(base, factor, base + extra, jitter, random.Random(seed))
    for n in range(40):
        ceiling = backoff.ceiling(n)
        delay = backoff.next()
        assert (1.0 - jitter) * ceiling - 1e-12 <= delay <= ceiling <= base + extra
        assert ceiling >= backoff.ceiling(n - 1) if n else ceiling == base


# --- the real websockets transport on 127.0.0.1 ----------------------------------------


async def _toy_server(ws: ServerConnection) -> None:
    with suppress(ConnectionClosed):
        async for msg in ws:
            if msg == "big":
                await ws.send("x" * 100)
            elif msg == "bin":
                await ws.send(b"\x00\x01")
            elif msg == "bye":
                await ws.close(4000, "go away")
            else:
                await ws.send(f"echo {msg!s}")


def test_websocket_transport_frames_cap_and_close_reasons() -> None:
    async def body() -> None:
        async with asyncio.timeout(10), serve(_toy_server, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
            conn = await websocket_connect(url, 64)
            await conn.send("hi")
            assert await conn.recv() == "echo hi"
            await conn.send("bin")
            assert await conn.recv() == b"\x00\x01"
            await conn.send("big")  # 100 bytes > the 64-byte cap: we close with 1009
            with pytest.raises(TransportClosed) as caught:
                await conn.recv()
            assert caught.value.reason == "closed 1009 frame exceeds limit of 64 bytes"
            with pytest.raises(TransportClosed):
                await conn.send("more")
            await conn.close()
            await conn.close()  # idempotent

            conn = await websocket_connect(url, 64)
            await conn.send("bye")  # the venue closes first: its code and reason
            with pytest.raises(TransportClosed) as caught:
                await conn.recv()
            assert caught.value.reason == "closed 4000 go away"
        with pytest.raises(ConnectFailed, match=r"^connect failed: .*Connect call failed"):
            await websocket_connect(url, 64)

    asyncio.run(body())


def test_websocket_transport_rejected_handshake() -> None:
    async def body() -> None:
        def reject(conn: ServerConnection, request: Request) -> Response:
            return conn.respond(503, "busy\n")

        async with (
            asyncio.timeout(10),
            serve(_toy_server, "127.0.0.1", 0, process_request=reject) as server,
        ):
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
            with pytest.raises(ConnectFailed) as caught:
                await websocket_connect(url, 64)
            assert caught.value.reason == (
                "handshake failed: server rejected WebSocket connection: HTTP 503"
            )

    asyncio.run(body())


def test_fake_connection_mirrors_the_real_one() -> None:
    async def body() -> None:
        async with asyncio.timeout(5):
            connector = FakeConnector()
            connector.refuse()
            fake = connector.accept()
            with pytest.raises(ConnectFailed, match="Connection refused"):
                await connector("ws://a/", 8)
            conn = await connector("ws://b/", 8)
            assert connector.urls == ["ws://a/", "ws://b/"]
            fake.feed("12345678")
            fake.feed(b"123456789")
            await conn.send("hello")
            assert fake.sent == ["hello"]
            assert await conn.recv() == "12345678"
            with pytest.raises(TransportClosed, match=r"^closed 1009 frame exceeds limit of 8"):
                await conn.recv()
            with pytest.raises(TransportClosed):
                await conn.send("late")

            fake = connector.accept()
            conn = await connector("ws://c/", 0)
            waiting = asyncio.ensure_future(conn.recv())
            await asyncio.sleep(0)
            await conn.close()  # wakes the pending recv
            with pytest.raises(TransportClosed):
                await waiting
            fake = connector.accept()
            conn = await connector("ws://d/", 0)
            fake.feed("last")
            fake.drop("closed 1001 going away")
            assert await conn.recv() == "last"
            with pytest.raises(TransportClosed, match=r"^closed 1001 going away$"):
                await conn.recv()

    asyncio.run(body())


# --- the runner, through the real session ------------------------------------------------

BTC, ETH = "BTC/USDT", "ETH/USDT"


def crc_frame(kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], cs: int) -> str:
    return orjson.dumps({"t": kind, "s": "BTC-USDT", "b": bids, "a": asks, "cs": cs}).decode()


def crc_snapshot(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    return crc_frame("s", bids, asks, okx_checksum(bids, asks))


async def connected(h: Harness, n: int) -> FakeConnection:
    """Accept the runner's next connection and wait until it is served (n-th connection)."""
    fake = h.connector.accept()
    await until(lambda: h.runner.stats.connects == n and bool(fake.sent))
    return fake


def test_records_exact_capture_lines(tmp_path: Path) -> None:
    body = snapshot_body(10, [["100", "1"]], [["101", "2"]])

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async def scenario() -> None:
        with CaptureWriter(tmp_path / "rec.ndjson") as recorder:
            h = Harness(RangeToy, [BTC], handler=answer, recorder=recorder, conn=3)
            async with h.running():
                fake = await connected(h, 1)
                await until(lambda: h.runner.stats.snapshot_fetches == 1)
                h.clock.advance(S)
                fake.feed(delta("BTCUSDT", 11, 12, [["100", "3"]], []).encode())  # binary
                await until(lambda: h.session_stat("frames") == 1)
                h.clock.advance(S)
                fake.drop("closed 1000 bye")
                await until(lambda: len(h.states) >= 4 and h.states[-1][0] == "connecting")
            assert h.states[-2:] == [
                ("down", "closed 1000 bye", T0 + 2 * S),
                ("connecting", None, T0 + 2 * S),
            ]

    asyncio.run(scenario())
    url, rest = "ws://toy.invalid/ws", "https://toy.invalid/depth?symbol=BTCUSDT&limit=100"
    frame = delta("BTCUSDT", 11, 12, [["100", "3"]], [])
    b64 = base64.b64encode(frame.encode()).decode()
    head = '{"v":1,"t":%d,"venue":"toyrest","dir":"%s","url":"%s",'
    assert (tmp_path / "rec.ndjson").read_text().splitlines() == [
        head % (T0, "open", url) + '"data":"","conn":3,"symbols":["BTC/USDT"]}',
        head % (T0, "out", url) + '"data":"{\\"sub\\":[\\"BTCUSDT\\"]}","conn":3}',
        head % (T0, "rest", rest)
        + '"data":"{\\"id\\":10,\\"bids\\":[[\\"100\\",\\"1\\"]],'
        + '\\"asks\\":[[\\"101\\",\\"2\\"]]}","conn":3}',
        head % (T0 + S, "in", url) + f'"b64":"{b64}","conn":3}}',
        head % (T0 + 2 * S, "close", url) + '"data":"","conn":3}',
    ]


def test_gap_resyncs_that_symbol_only() -> None:
    release = asyncio.Event()
    answers = {
        "BTCUSDT": [
            snapshot_body(10, [["100", "1"]], [["101", "1"]]),
            snapshot_body(20, [["99", "5"]], [["102", "5"]]),
        ],
        "ETHUSDT": [snapshot_body(5, [["10", "1"]], [["11", "1"]])],
    }

    async def answer(request: httpx.Request) -> httpx.Response:
        symbol = request.url.params["symbol"]
        if symbol == "BTCUSDT" and len(answers["BTCUSDT"]) == 1:
            await release.wait()  # the resync snapshot is slow: ETH must keep flowing
        return httpx.Response(200, content=answers[symbol].pop(0))

    async def scenario() -> Harness:
        h = Harness(RangeToy, [BTC, ETH], handler=answer)
        async with h.running():
            fake = await connected(h, 1)
            await until(lambda: h.runner.stats.snapshot_fetches == 2)
            h.clock.advance(S)  # frames are received (stamped) when the read loop runs
            fake.feed(delta("BTCUSDT", 11, 12, [["100", "2"]], []))
            fake.feed(delta("ETHUSDT", 6, 6, [], [["11", "2"]]))
            await until(lambda: h.session_stat("frames") == 2)
            h.clock.advance(S)
            fake.feed(delta("BTCUSDT", 14, 15, [["100", "9"]], []))  # 13 is missing
            await until(lambda: h.session_stat("frames") == 3)
            h.clock.advance(S)
            fake.feed(delta("ETHUSDT", 7, 7, [["10", "4"]], []))
            fake.feed(delta("BTCUSDT", 19, 21, [], [["102", "1"]]))  # bridges snapshot 20
            await until(lambda: h.session_stat("frames") == 5)
            h.clock.advance(S)
            release.set()
            await until(lambda: h.runner.stats.snapshot_fetches == 3)
        return h

    h = asyncio.run(scenario())
    q = "https://toy.invalid/depth?symbol=%s&limit=100"
    assert h.requests == [q % "BTCUSDT", q % "ETHUSDT", q % "BTCUSDT"]
    assert h.log == [
        ("usable", BTC, True, None, T0),
        ("book", BTC, [100.0], [1.0], [101.0], [1.0], T0),
        ("usable", ETH, True, None, T0),
        ("book", ETH, [10.0], [1.0], [11.0], [1.0], T0),
        ("book", BTC, [100.0], [2.0], [101.0], [1.0], T0 + S),
        ("book", ETH, [10.0], [1.0], [11.0], [2.0], T0 + S),
        ("usable", BTC, False, "desynced", T0 + 2 * S),
        ("book", ETH, [10.0], [4.0], [11.0], [2.0], T0 + 3 * S),  # ETH flows during BTC's resync
        ("usable", BTC, True, None, T0 + 4 * S),  # snapshot 20 + buffered 19..21
        ("book", BTC, [99.0], [5.0], [102.0], [1.0], T0 + 4 * S),
        ("usable", BTC, False, "disconnected", T0 + 4 * S),  # the runner was cancelled
        ("usable", ETH, False, "disconnected", T0 + 4 * S),
    ]
    assert h.states == [
        ("connecting", None, T0),
        ("syncing", None, T0),
        ("live", None, T0),
        ("resyncing", "desynced", T0 + 2 * S),
        ("live", None, T0 + 4 * S),
        ("down", "stopped", T0 + 4 * S),
    ]
    assert (h.session_stat("gaps"), h.session_stat("resyncs")) == (1, 1)


def test_checksum_mismatch_resyncs_in_band() -> None:
    bids, asks = [("100", "1"), ("99", "2")], [("101", "3")]

    async def scenario() -> tuple[Harness, FakeConnection]:
        h = Harness(CrcToy, [BTC])
        async with h.running():
            fake = await connected(h, 1)
            fake.feed(crc_snapshot(bids, asks))
            await until(lambda: h.session_stat("frames") == 1)
            h.clock.advance(S)
            good = okx_checksum([("100", "1"), ("99", "5")], asks)
            fake.feed(crc_frame("u", [("99", "5")], [], good))
            fake.feed(crc_frame("u", [("98", "1")], [], good))  # wrong: 98 is in the book now
            fake.feed(crc_frame("u", [("97", "1")], [], 0))  # ignored until the new snapshot
            await until(lambda: h.session_stat("frames") == 4)
            h.clock.advance(S)
            fake.feed(crc_snapshot([("100", "7")], asks))
            await until(lambda: h.session_stat("frames") == 5)
        return h, fake

    h, fake = asyncio.run(scenario())
    assert fake.sent == ["sub BTC-USDT", "unsub BTC-USDT", "sub BTC-USDT"]
    assert h.log == [
        ("usable", BTC, True, None, T0),
        ("book", BTC, [100.0, 99.0], [1.0, 2.0], [101.0], [3.0], T0),
        ("book", BTC, [100.0, 99.0], [1.0, 5.0], [101.0], [3.0], T0 + S),
        ("usable", BTC, False, "desynced", T0 + S),
        ("usable", BTC, True, None, T0 + 2 * S),
        ("book", BTC, [100.0], [7.0], [101.0], [3.0], T0 + 2 * S),
        ("usable", BTC, False, "disconnected", T0 + 2 * S),
    ]
    assert (h.session_stat("checksum_ok"), h.session_stat("checksum_fail")) == (3, 1)


def test_malformed_frames_are_dropped_and_counted() -> None:
    bids, asks = [("100", "1")], [("101", "1")]

    async def scenario() -> Harness:
        h = Harness(CrcToy, [BTC])
        async with h.running():
            fake = await connected(h, 1)
            fake.feed("{not json")
            fake.feed(crc_snapshot(bids, asks))
            fake.feed(b'{"t":"u","s":"BTC-USDT"}')  # no checksum: not this venue's message
            fake.feed(crc_frame("u", [], [("101", "4")], okx_checksum(bids, [("101", "4")])))
            await until(lambda: h.session_stat("frames") == 4)
        return h

    h = asyncio.run(scenario())
    assert (h.session_stat("malformed"), h.session_stat("codec_errors")) == (2, 0)
    assert h.log == [
        ("usable", BTC, True, None, T0),
        ("book", BTC, [100.0], [1.0], [101.0], [1.0], T0),
        ("book", BTC, [100.0], [1.0], [101.0], [4.0], T0),
        ("usable", BTC, False, "disconnected", T0),
    ]
    assert h.runner.stats.connects == 1  # the connection stayed up


def test_stall_reconnects() -> None:
    bids, asks = [("100", "1")], [("101", "1")]

    async def scenario() -> tuple[Harness, FakeConnection, FakeConnection]:
        h = Harness(CrcToy, [BTC])
        async with h.running():
            first = await connected(h, 1)
            first.feed(crc_snapshot(bids, asks))
            await until(lambda: h.session_stat("frames") == 1)
            h.clock.advance(10 * S)  # exactly stale_after_s: not yet stale
            await asyncio.sleep(0.01)  # several ticks run
            assert not first.closed
            h.clock.advance(1)
            await until(lambda: first.closed)
            second = await connected(h, 2)
            second.feed(crc_snapshot(bids, asks))
            await until(lambda: h.session_stat("frames") == 1)
        return h, first, second

    h, first, second = asyncio.run(scenario())
    stale_at = T0 + 10 * S + 1
    assert h.states == [
        ("connecting", None, T0),
        ("syncing", None, T0),
        ("live", None, T0),
        ("stale", "no frame for 10.0 s", stale_at),
        ("down", "stale", stale_at),
        ("connecting", None, stale_at),
        ("syncing", None, stale_at),
        ("live", None, stale_at),
        ("down", "stopped", stale_at),
    ]
    assert usables(h.log) == [
        ("usable", BTC, True, None, T0),
        ("usable", BTC, False, "stale", stale_at),
        ("usable", BTC, True, None, stale_at),
        ("usable", BTC, False, "disconnected", stale_at),
    ]
    assert h.sleeps == [0.4190418087917094]  # one backoff wait before reconnecting
    assert (first.sent, second.sent) == (["sub BTC-USDT"], ["sub BTC-USDT"])


def test_refused_connections_back_off_and_a_healthy_connection_resets() -> None:
    async def scenario() -> Harness:
        h = Harness(CrcToy, [BTC], options=SessionOptions(stale_after_s=100.0))
        async with h.running():
            for _ in range(3):
                h.connector.refuse()
            fake = await connected(h, 1)
            h.clock.advance(30 * S)  # healthy_after_s: the failures are forgiven
            fake.drop("closed 1001 going away")
            brief = await connected(h, 2)
            brief.drop()  # lives 0 s: counts as another failure
            await until(lambda: len(h.sleeps) == 5)
        return h

    h = asyncio.run(scenario())
    refused = "connect failed: [Errno 111] Connection refused"
    assert h.states == [
        ("connecting", None, T0),
        ("down", refused, T0),
        ("connecting", None, T0),
        ("down", refused, T0),
        ("connecting", None, T0),
        ("down", refused, T0),
        ("connecting", None, T0),
        ("syncing", None, T0),
        ("down", "closed 1001 going away", T0 + 30 * S),
        ("connecting", None, T0 + 30 * S),
        ("syncing", None, T0 + 30 * S),
        ("down", "connection lost", T0 + 30 * S),
        ("connecting", None, T0 + 30 * S),
    ]
    # ceilings 0.5, 1, 2, then reset: 0.5, 1 -- each times (1 - 0.5 u), u from Random(7)
    assert h.sleeps == [
        0.4190418087917094,
        0.924575413037749,
        1.3490655269601461,
        0.4818909283331143,
        0.7320589978466554,
    ]
    assert list(h.runner.stats.backoff_s) == h.sleeps
    assert (h.runner.stats.connects, h.runner.stats.refused) == (2, 3)


def test_delta_buffer_is_bounded_while_a_snapshot_is_pending() -> None:
    first_call, release = asyncio.Event(), asyncio.Event()
    cancelled: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        if not first_call.is_set():
            first_call.set()
            await _never(request, cancelled)  # superseded by the re-request: cancelled
        await release.wait()
        return httpx.Response(200, content=snapshot_body(14, [["100", "1"]], [["101", "1"]]))

    async def scenario() -> Harness:
        h = Harness(
            RangeToy,
            [BTC],
            handler=answer,
            options=SessionOptions(max_buffered=3, snapshot_wait_s=0.0),
        )
        async with h.running():
            fake = await connected(h, 1)
            await first_call.wait()
            for n in range(11, 15):  # the 4th pending delta overflows the bound of 3
                fake.feed(delta("BTCUSDT", n, n, [["100", str(n)]], []))
            await until(lambda: len(h.requests) == 2)
            assert cancelled == [q]  # the superseded fetch is cancelled, not left running
            fake.feed(delta("BTCUSDT", 15, 15, [["99", "1"]], []))
            await until(lambda: h.session_stat("frames") == 5)
            h.clock.advance(S)
            release.set()
            await until(lambda: h.runner.stats.snapshot_fetches == 1)
        return h

    q = "https://toy.invalid/depth?symbol=BTCUSDT&limit=100"
    h = asyncio.run(scenario())
    assert h.requests == [q, q]
    assert h.session_stat("buffer_overflow") == 1
    assert h.log == [
        ("usable", BTC, True, None, T0 + S),  # snapshot 14 + the one delta buffered after
        ("book", BTC, [100.0, 99.0], [1.0, 1.0], [101.0], [1.0], T0 + S),
        ("usable", BTC, False, "disconnected", T0 + S),
    ]


def test_rest_errors_and_timeouts_are_retried_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        calls.append("x")
        if len(calls) == 1:
            return httpx.Response(500, content=b"oops")
        if len(calls) == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        if len(calls) == 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=snapshot_body(10, [["100", "1"]], [["101", "1"]]))

    async def scenario() -> Harness:
        h = Harness(RangeToy, [BTC], handler=answer)
        async with h.running():
            await connected(h, 1)
            await until(lambda: h.runner.stats.snapshot_fetches == 1)
        return h

    caplog.set_level(logging.INFO, logger="feeds.session")
    h = asyncio.run(scenario())
    # each failure reaches the session as one error string
    assert [r.getMessage() for r in caplog.records] == [
        "toyrest: snapshot of BTC/USDT failed: HTTP 500",
        "toyrest: snapshot of BTC/USDT failed: timeout",
        "toyrest: snapshot of BTC/USDT failed: ConnectError: refused",
    ]
    assert (h.runner.stats.snapshot_failures, h.session_stat("snapshot_failures")) == (3, 3)
    assert h.sleeps == [0.4190418087917094, 0.924575413037749, 1.3490655269601461]
    assert h.log[:2] == [
        ("usable", BTC, True, None, T0),
        ("book", BTC, [100.0], [1.0], [101.0], [1.0], T0),
    ]


def test_oversized_frame_closes_and_reconnects() -> None:
    async def scenario() -> Harness:
        h = Harness(CrcToy, [BTC], max_frame_bytes=64)
        async with h.running():
            fake = await connected(h, 1)
            fake.feed(crc_snapshot([("100", "1")] * 5, [("101", "1")]))  # 100+ bytes
            await connected(h, 2)
        return h

    h = asyncio.run(scenario())
    assert h.states[:5] == [
        ("connecting", None, T0),
        ("syncing", None, T0),
        ("down", "closed 1009 frame exceeds limit of 64 bytes", T0),
        ("connecting", None, T0),
        ("syncing", None, T0),
    ]
    assert h.log == []  # the oversized frame never reached the session


def test_cancel_closes_cleanly() -> None:
    cancelled: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        return await _never(request, cancelled)

    async def scenario() -> tuple[Harness, FakeConnection]:
        h = Harness(RangeToy, [BTC], handler=answer)
        async with h.running():
            fake = await connected(h, 1)
            await until(lambda: bool(h.requests))  # a fetch task is in flight
        assert cancelled == h.requests  # cancelled with the runner, not left behind
        return h, fake

    h, fake = asyncio.run(scenario())
    assert fake.closed
    assert h.states[-1] == ("down", "stopped", T0)
    assert h.runner.stats.snapshot_fetches == 0


async def _never(request: httpx.Request, cancelled: list[str]) -> httpx.Response:
    """An HTTP answer that never comes; notes the URL when its task is cancelled."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        cancelled.append(str(request.url))
        raise
    raise AssertionError("unreachable")


class DialToy(CrcToy):
    """CrcToy whose WebSocket URL and ping interval are the answer to a POST."""

    def connect_request(self, rest_base: str) -> RestRequest:
        return RestRequest(f"{rest_base}/token", "", 1, "POST")

    def connect_url(self, body: bytes) -> str:
        obj = _loads(body)
        self.ping_interval_s = 7.0
        return f"{obj['url']}?token={obj['token']}"


def test_the_connect_request_is_made_before_every_connection() -> None:
    tokens = (httpx.Response(200, json={"url": "ws://x/ws", "token": n}) for n in (1, 2))
    answers = [httpx.Response(500), httpx.Response(200, text='{"url"'), *tokens]

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        return answers.pop(0)

    async def scenario() -> Harness:
        h = Harness(DialToy, [BTC], handler=handler)
        async with h.running():
            fake = await connected(h, 1)
            assert h.runner.session is not None
            assert h.runner.session.codec.ping_interval_s == 7.0
            fake.drop()
            await connected(h, 2)
        return h

    h = asyncio.run(scenario())
    assert h.requests == ["https://toy.invalid/token"] * 4
    assert h.connector.urls == ["ws://x/ws?token=1", "ws://x/ws?token=2"]
    downs = [reason for state, reason, _ in h.states if state == "down"]
    token = "https://toy.invalid/token"
    assert downs[:2] == [f"{token}: HTTP 500", f"""{token}: not JSON: b'{{"url"'"""]
    assert (h.runner.stats.refused, h.runner.stats.connects) == (2, 2)
    with pytest.raises(ValueError, match=r"toycrc: its connect request needs an httpx"):
        Runner(DialToy, [BTC], lambda s: Listener(s, []), lambda *a: None)


def test_runner_rejects_rest_venue_without_http_client() -> None:
    with pytest.raises(ValueError, match=r"toyrest: REST snapshots need an httpx\.AsyncClient"):
        Runner(RangeToy, [BTC], lambda s: Listener(s, []), lambda *a: None)


def test_runner_over_a_real_websocket() -> None:
    """End to end on 127.0.0.1 with the real transport and the default clock."""
    bids, asks = [("100", "1")], [("101", "2")]

    async def venue(ws: ServerConnection) -> None:
        with suppress(ConnectionClosed):
            async for msg in ws:
                if msg == "sub BTC-USDT":
                    await ws.send(crc_snapshot(bids, asks))

    async def scenario() -> list[Call]:
        log: list[Call] = []
        async with asyncio.timeout(10), serve(venue, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            runner = Runner(
                CrcToy,
                [BTC],
                lambda s: Listener(s, log),
                lambda *a: None,
                ws_url=f"ws://127.0.0.1:{port}/ws",
            )
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(runner.run())
                await until(lambda: len(log) == 2)
                task.cancel()
        return log

    log = asyncio.run(scenario())
    assert [c[:6] for c in log] == [
        ("usable", BTC, True, None, log[0][4]),
        ("book", BTC, [100.0], [1.0], [101.0], [2.0]),
        ("usable", BTC, False, "disconnected", log[2][4]),
    ]


class PacedToy(CrcToy):
    """:class:`CrcToy` on a venue that takes 2.5 frames per second per connection (paced at
    80 %: 2 per second)."""

    sends_per_s = 2.5


def test_frames_are_paced_to_the_venue_rate_in_order() -> None:
    symbols = [f"C{i}/USDT" for i in range(5)]

    async def scenario() -> tuple[Harness, list[list[str]]]:
        h = Harness(PacedToy, symbols)
        seen = []
        async with h.running():
            fake = await connected(h, 1)
            for count in (2, 4, 5):
                await until(lambda: len(fake.sent) >= count)  # noqa: B023 (awaited at once)
                await asyncio.sleep(0.02)  # and nothing more goes out until the clock moves
                seen.append(list(fake.sent))
                h.clock.advance(S)
        return h, seen

    h, seen = asyncio.run(scenario())
    sent = [f"sub C{i}-USDT" for i in range(5)]
    assert seen == [sent[:2], sent[:4], sent]  # two per second, in order, none lost
    assert set(h.sleeps) == {1.0}  # each wait lasts until the oldest frame leaves the window
    assert h.runner.stats.paced >= 2
