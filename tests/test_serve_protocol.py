"""The event server's protocol 1: hello, the snapshot of the present (under the client's
filter), snapshot_end, the live stream; its plain HTTP routes (the dashboard's files)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from scanner.events import premium_event, stats_event, venue_event
from scanner.eventserver import WsEventServer
from scanner.present import Present
from scanner.routes import WebFiles
from tests.schema_check import check_all
from tests.test_sinks import T, opp, until

VENUES = ["binance", "okx", "kraken"]
SYMBOLS = ["BTC/USDT", "ETH/USDT"]


def run(main: Callable[[WsEventServer], Awaitable[None]], **kwargs: Any) -> None:
    """``main(server)`` against a started server, then its shutdown; 20 s at most."""

    async def bounded() -> None:
        async with asyncio.timeout(20):
            server = WsEventServer(venues=VENUES, symbols=SYMBOLS, **kwargs)
            task = asyncio.create_task(server.run())
            await until(lambda: server._server is not None)
            try:
                await main(server)
            finally:
                server.close()
                await task

    asyncio.run(bounded())


async def until_snapshot_end(ws: ClientConnection) -> list[dict[str, Any]]:
    got = [orjson.loads(await ws.recv())]
    while got[-1]["type"] != "snapshot_end":
        got.append(orjson.loads(await ws.recv()))
    return got


def hello(got: dict[str, Any]) -> dict[str, Any]:
    """``got`` (a hello) with its server_time checked and left out."""
    assert isinstance(got["server_time"], int) and got["server_time"] > T
    return {k: v for k, v in got.items() if k != "server_time"}


HELLO = {"schema": 1, "type": "hello", "protocol": 1, "venues": VENUES, "symbols": SYMBOLS}
END = {"schema": 1, "type": "snapshot_end"}
STATS = stats_event(T + 9, 1.5, {"stdout": {"events": 7, "dropped": 0}},
                    {"binance": {"frames": 3, "resyncs": 0, "malformed": 0, "reconnects": 0}},
                    0, 0)  # fmt: skip
BEFORE = [  # what happened before the client joined
    venue_event("binance", "connecting", None, T),
    venue_event("binance", "live", None, T + 1),
    venue_event("okx", "live", None, T + 2),
    opp("opened", "1", "BTC/USDT", "binance", "okx", 10.0),
    opp("opened", "2", "ETH/USDT", "okx", "binance", 6.0),
    opp("opened", "3", "BTC/USDT", "okx", "binance", 20.0),
    {**opp("updated", "1", "BTC/USDT", "binance", "okx", 12.0), "ts": T + 4},
    opp("closed", "3", "BTC/USDT", "okx", "binance", 20.0),
    STATS,
    venue_event("okx", "stale", "no frame for 10.0 s", T + 3),
]
AFTER = [
    opp("updated", "1", "BTC/USDT", "binance", "okx", 14.0),
    opp("closed", "1", "BTC/USDT", "binance", "okx", 14.0),
    opp("closed", "2", "ETH/USDT", "okx", "binance", 6.0),
]


def snap(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as a snapshot: its latest figures, and the ts of its opened event (T)."""
    return {**event, "type": "opened", "snapshot": True, "opened_ts": T}


def test_a_late_joiner_gets_hello_the_present_then_the_live_stream() -> None:
    async def main(server: WsEventServer) -> None:
        for event in BEFORE:
            server.emit(event)
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            first = await until_snapshot_end(ws)
            for event in AFTER:
                server.emit(event)
            live = [orjson.loads(await ws.recv()) for _ in AFTER]
        check_all(first + live)
        assert [hello(first[0]), *first[1:]] == [
            HELLO,
            snap(BEFORE[6]),  # 1: its latest figures (net 12), opened before 2
            snap(BEFORE[4]),
            BEFORE[1],  # each venue's latest state, in the order they first reported
            BEFORE[9],
            STATS,
            END,
        ]
        assert first[1]["net_bps"] == 12.0 and first[1]["ts"] == T + 4
        assert list(first[1])[-2:] == ["snapshot", "opened_ts"] and first[1]["opened_ts"] == T
        assert live == AFTER

    run(main)


def test_a_subscribe_is_answered_with_the_present_under_its_filter() -> None:
    subscribe = {"type": "subscribe", "symbols": ["BTC/USDT", "ETH/USDT"],
                 "venues": ["binance", "okx"], "min_net_bps": 8}  # fmt: skip

    async def main(server: WsEventServer) -> None:
        for event in BEFORE:
            server.emit(event)
        async with connect(f"ws://127.0.0.1:{server.port}/") as ws:  # "/" too
            assert len(await until_snapshot_end(ws)) == 7
            await ws.send(orjson.dumps(subscribe).decode())
            again = await until_snapshot_end(ws)
            for event in AFTER:
                server.emit(event)
            server.emit(venue_event("kraken", "live", None, T + 5))  # not a venue asked for
            server.emit(venue_event("okx", "live", None, T + 6))
            live = [orjson.loads(await ws.recv()) for _ in range(3)]
        # 2 (6 bps) is below min_net_bps: neither in the snapshot nor its close after
        assert [hello(again[0]), *again[1:]] == [
            HELLO,
            snap(BEFORE[6]),
            BEFORE[1],
            BEFORE[9],
            STATS,
            END,
        ]
        assert live == [AFTER[0], AFTER[1], venue_event("okx", "live", None, T + 6)]

    run(main)


def test_the_snapshot_types_filter() -> None:
    async def main(server: WsEventServer) -> None:
        for event in BEFORE:
            server.emit(event)
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            await until_snapshot_end(ws)
            await ws.send('{"type":"subscribe","types":["venue"]}')
            again = await until_snapshot_end(ws)
        assert [hello(again[0]), *again[1:]] == [HELLO, BEFORE[1], BEFORE[9], END]

    run(main)


async def http_get(port: int, path: str, headers: str = "") -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP/1.1 GET: status, headers (lower-case names), body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode())
    raw = await reader.read()  # the server closes after its answer
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, body


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    for name, data in [("index.html", b"<p>hi</p>"), ("app.js", b"export {};"),
                       ("style.css", b"p{}"), ("logo.svg", b"<svg/>"), ("dot.png", b"\x89PNG"),
                       ("notes.txt", b"secret"), (".env", b"x")]:  # fmt: skip
        (tmp_path / name).write_bytes(data)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.js").write_bytes(b"nested")
    return tmp_path


def test_the_dashboard_files_and_nothing_else(web_dir: Path) -> None:
    async def main(server: WsEventServer) -> None:
        port = server.port
        (web_dir / "late.js").write_bytes(b"added after start-up")
        for path, ctype, body in [
            ("/", "text/html; charset=utf-8", b"<p>hi</p>"),
            ("/index.html?x=1", "text/html; charset=utf-8", b"<p>hi</p>"),
            ("/app.js", "text/javascript; charset=utf-8", b"export {};"),
            ("/style.css", "text/css; charset=utf-8", b"p{}"),
            ("/logo.svg", "image/svg+xml", b"<svg/>"),
            ("/dot.png", "image/png", b"\x89PNG"),
        ]:
            status, headers, got = await http_get(port, path)
            assert (status, headers["content-type"], got) == (200, ctype, body), path
            assert headers["content-length"] == str(len(body))
        for path in ["/notes.txt", "/.env", "/sub/x.js", "/sub", "/../routes.py", "/late.js",
                     "/%2e%2e/routes.py", "/ws"]:  # fmt: skip
            status, _, got = await http_get(port, path)
            assert (status, got) == (404, b"not found\n"), path
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{port}/events")
        assert refused.value.response.status_code == 404
        async with connect(f"ws://127.0.0.1:{port}/ws?x=1") as ws:
            assert orjson.loads(await ws.recv())["type"] == "hello"

    run(main, web=WebFiles(web_dir))


def test_without_the_dashboard_a_plain_get_is_refused() -> None:
    async def main(server: WsEventServer) -> None:
        status, _, _ = await http_get(server.port, "/")
        assert status == 426  # Upgrade Required: only the WebSocket endpoint

    run(main)


def test_the_shipped_dashboard_has_an_index() -> None:
    assert WebFiles().types["index.html"] == "text/html; charset=utf-8"


def test_more_than_10_subscribe_messages_in_a_second_are_refused() -> None:
    """Each subscribe message costs a snapshot: a client may not ask for them without end."""

    async def main(server: WsEventServer) -> None:
        for event in BEFORE:
            server.emit(event)
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            await until_snapshot_end(ws)
            for _ in range(11):  # sent at once: read by the server well within a second
                await ws.send('{"type":"subscribe","types":["venue"]}')
            got = []
            with pytest.raises(ConnectionClosedError) as closed:
                while True:
                    got.append(orjson.loads(await ws.recv()))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # the answers not yet sent when the 11th came are superseded: whole snapshots only
        greetings = [e["type"] for e in got[:-1]]
        assert greetings == ["hello", "venue", "venue", "snapshot_end"] * (len(greetings) // 4)
        assert got[-1] == {
            "schema": 1, "type": "error", "error": "bad_subscribe",
            "detail": "more than 10 subscribe messages in 1 s",
        }  # fmt: skip

    run(main)


def test_the_present_keeps_each_premiums_latest_and_each_opportunitys_opening() -> None:
    present = Present()
    krw = [premium_event(T + i, "BTC", "upbit", "BTC/KRW", 1.4e8, 101_500.0, 100_000.0,
                         150.0 + i, "upbit:USDT/KRW*kraken:USDT/USD", 20.0, 3)
           for i in range(3)]  # fmt: skip
    usd = premium_event(T, "BTC", "kraken", "BTC/USD", 1e5, 1e5, 100_100.0, -10.0, "usd", 0.0, 3)
    opened = opp("opened", "7", "BTC/USDT", "binance", "okx", 10.0)
    updated = {**opp("updated", "7", "BTC/USDT", "binance", "okx", 11.0), "ts": T + 50}
    for event in [*krw, usd, opened, updated, STATS]:
        present.see(event)
    check_all(present.snapshot())
    assert present.snapshot() == [snap(updated), krw[-1], usd, STATS]
    present.see(opp("closed", "7", "BTC/USDT", "binance", "okx", 11.0))
    assert present.snapshot() == [krw[-1], usd, STATS] and present.opened_ts == {}
