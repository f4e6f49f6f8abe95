"""feeds.wsclient: the frame parser byte by byte and fuzzed, and the client against a real
``websockets`` server on 127.0.0.1 (fragments, pings both ways, close codes, bursts)."""

from __future__ import annotations

import asyncio
import os
import ssl
from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from feeds.transport import ConnectFailed, TransportClosed
from feeds.wsclient import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameParser,
    ProtocolError,
    accept_key,
    encode,
    websocket_connect,
)
from tests.fuzzing import fuzz_settings


def server_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A server frame (unmasked), in each of the three length forms."""
    size = len(payload)
    first = (0x80 if fin else 0) | rsv | opcode
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65_536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


def test_rfc_accept_key_example() -> None:
    # RFC 6455 section 1.3
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_client_frames_are_masked_as_the_rfc_says() -> None:
    # RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d
    assert encode(TEXT, b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex(
        "818537fa213d7f9f4d5158"
    )
    long = encode(BINARY, b"x" * 300, b"\0\0\0\0")
    assert long[:4] == bytes((0x82, 0xFE, 0x01, 0x2C)) and long[8:] == b"x" * 300


def test_parser_byte_by_byte_equals_all_at_once() -> None:
    stream = (
        server_frame(TEXT, b"a" * 5)
        + server_frame(BINARY, b"\x00" * 300)
        + server_frame(TEXT, b"frag-", fin=False)
        + server_frame(PING, b"p")
        + server_frame(0, b"ment", fin=False)
        + server_frame(0, b"ed")
        + server_frame(BINARY, b"b" * 70_000)
    )
    expected = [
        (TEXT, b"aaaaa"),
        (BINARY, b"\x00" * 300),
        (PING, b"p"),
        (TEXT, b"frag-mented"),
        (BINARY, b"b" * 70_000),
    ]
    assert FrameParser(1 << 20).feed(stream) == expected
    parser, got = FrameParser(1 << 20), []
    for i in range(len(stream)):
        got += parser.feed(stream[i : i + 1])
    assert got == expected


@pytest.mark.parametrize(
    ("data", "code", "reason"),
    [
        (bytes((0x81, 0x81)) + b"mask" + b"x", 1002, "masked frame"),
        (server_frame(TEXT, b"x", rsv=0x40), 1002, "reserved bits"),
        (server_frame(3, b"x"), 1002, "reserved opcode 3"),
        (server_frame(11, b"x"), 1002, "bad control frame"),
        (server_frame(PING, b"x", fin=False), 1002, "bad control frame"),
        (server_frame(PING, b"x" * 126), 1002, "bad control frame"),
        (server_frame(0, b"x"), 1002, "continuation frame without"),
        (server_frame(TEXT, b"x", fin=False) + server_frame(TEXT, b"y"), 1002, "inside a"),
        (server_frame(TEXT, b"x" * 17), 1009, "frame exceeds limit of 16 bytes"),
        (
            server_frame(TEXT, b"x" * 10, fin=False) + server_frame(0, b"y" * 10),
            1009,
            "message exceeds limit of 16 bytes",
        ),
    ],
)
def test_protocol_errors(data: bytes, code: int, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        FrameParser(16).feed(data)
    assert caught.value.code == code and reason in caught.value.reason


@fuzz_settings(300)
@given(st.binary(max_size=300), st.integers(1, 40))
def test_fuzz_arbitrary_bytes_parse_or_raise_protocol_error(data: bytes, chunk: int) -> None:
    parser = FrameParser(200)
    with suppress(ProtocolError):
        for i in range(0, len(data), chunk):
            for opcode, payload in parser.feed(data[i : i + chunk]):
                assert opcode in (TEXT, BINARY, CLOSE, PING, 10) and len(payload) <= 200


async def _server(ws: ServerConnection) -> None:
    with suppress(ConnectionClosed):
        async for msg in ws:
            if msg == "fragments":
                await ws.send(["one ", "two ", "three"])  # a fragmented text message
            elif msg == "burst":
                for i in range(2000):
                    await ws.send(f"{i:05d}" + "x" * 200)
                await ws.send("done")
            elif msg == "ping":
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 2)
                await ws.send("pong received")
            elif msg == "binary":
                await ws.send(os.urandom(70_000))
            elif msg == "close":
                await ws.close(1001, "going away")
            else:
                await ws.send(f"echo {msg!s}")


def test_client_against_a_real_server() -> None:
    async def body() -> None:
        async with asyncio.timeout(20), serve(_server, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/stream?x=1"
            conn = await websocket_connect(url, 1 << 20)
            await conn.send("héllo" * 100)  # masked, 126-length form, UTF-8
            assert await conn.recv() == "echo " + "héllo" * 100
            await conn.send("fragments")
            assert await conn.recv() == "one two three"
            await conn.send("ping")  # the server's ping gets our pong
            assert await conn.recv() == "pong received"
            await conn.send("binary")
            assert len(await conn.recv()) == 70_000
            await conn.send("burst")  # many frames per TCP read, in order
            got = [await conn.recv() for _ in range(2001)]
            assert [m[:5] for m in got[:-1]] == [f"{i:05d}" for i in range(2000)]
            assert got[-1] == "done"
            await conn.send("close")
            with pytest.raises(TransportClosed, match=r"^closed 1001 going away$"):
                await conn.recv()
            await conn.close()

    asyncio.run(body())


def test_keepalive_ping_and_overdue_pong() -> None:
    async def silent(ws: ServerConnection) -> None:
        await asyncio.sleep(5)

    async def body() -> None:
        async with asyncio.timeout(10):
            # a real server answers our pings: the connection stays up past several intervals
            async with serve(_server, "127.0.0.1", 0) as server:
                url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
                conn = await websocket_connect(url, 1024, ping_interval_s=0.05, ping_timeout_s=0.2)
                await asyncio.sleep(0.5)
                await conn.send("still")
                assert await conn.recv() == "echo still"
                await conn.close()

            # a peer that never answers: a raw TCP server that completes the handshake only
            async def handshake_only(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter
            ) -> None:
                head = await reader.readuntil(b"\r\n\r\n")
                key = next(
                    line.split(b":", 1)[1].strip().decode()
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"sec-websocket-key:")
                )
                writer.write(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                    + accept_key(key).encode()
                    + b"\r\n\r\n"
                )
                await asyncio.sleep(3)
                writer.close()

            raw = await asyncio.start_server(handshake_only, "127.0.0.1", 0)
            async with raw:
                url = f"ws://127.0.0.1:{raw.sockets[0].getsockname()[1]}/"
                conn = await websocket_connect(url, 1024, ping_interval_s=0.05, ping_timeout_s=0.1)
                with pytest.raises(TransportClosed, match=r"^closed 1011 keepalive ping timeout$"):
                    await conn.recv()
                await conn.close()

    asyncio.run(body())


TLS = Path(__file__).parent / "fixtures" / "tls"
"""A self-signed certificate for 127.0.0.1 (test use only; valid until 2126)."""


def test_wss_verifies_the_server_certificate() -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(TLS / "localhost.pem", TLS / "localhost.key")

    async def body() -> None:
        async with asyncio.timeout(10), serve(_server, "127.0.0.1", 0, ssl=server_ctx) as server:
            url = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
            trusting = ssl.create_default_context(cafile=TLS / "localhost.pem")
            conn = await websocket_connect(url, 1024, ssl_context=trusting)
            await conn.send("over tls")
            assert await conn.recv() == "echo over tls"
            await conn.close()
            # the system's CAs do not know this certificate: refused, as for any venue
            with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
                await websocket_connect(url, 1024)

    asyncio.run(body())


def test_bad_urls_are_configuration_errors() -> None:
    async def body() -> None:
        for url in ("http://127.0.0.1/", "ws://", "127.0.0.1:80"):
            with pytest.raises(ValueError, match="not a ws"):
                await websocket_connect(url, 1024)

    asyncio.run(body())
