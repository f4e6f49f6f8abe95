"""feeds.wsconnect: the feeds' WebSocket client against a real ``websockets`` server on
127.0.0.1 (fragments, pings both ways, close codes, bursts, wss), and against a raw TCP peer
that completes the handshake and then sends chosen bytes (protocol errors, the size cap, a
silent peer, arbitrary bytes)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from feeds.transport import ConnectFailed, TransportClosed
from feeds.wsconnect import websocket_connect
from tests.fuzzing import fuzz_settings

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10
TLS = Path(__file__).parent / "fixtures" / "tls"
"""A self-signed certificate for 127.0.0.1 (test use only; valid until 2126)."""


def server_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A server frame (unmasked), in each of the three length forms."""
    size = len(payload)
    first = (0x80 if fin else 0) | rsv | opcode
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65_536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


def client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of each complete masked client frame in ``data``."""
    out, pos = [], 0
    while len(data) - pos >= 6:
        size, head = data[pos + 1] & 0x7F, 2
        if size == 126:
            size, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
        mask = data[pos + head : pos + head + 4]
        body = data[pos + head + 4 : pos + head + 4 + size]
        out.append((data[pos] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(body))))
        pos += head + 4 + size
    return out


RawPeer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def raw_peer(
    frames: bytes | list[bytes],
    received: list[bytes],
    extra_headers: bytes = b"",
    linger_s: float = 3.0,
) -> RawPeer:
    """A peer that answers the upgrade (with ``extra_headers``), sends ``frames`` (a list: one
    write each, 2 ms apart, so that each is one read on the other side), then reads
    what the client sends until it closes (or ``linger_s``) into ``received``, and appends
    ``b"eof"`` when done."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key + guid).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n" + extra_headers + b"\r\n"
        )
        for chunk in [frames] if isinstance(frames, bytes) else frames:
            await asyncio.sleep(0.002)
            writer.write(chunk)
        with suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(linger_s):
                while chunk := await reader.read(65_536):
                    received.append(chunk)
        writer.close()
        received.append(b"eof")

    return peer


async def peer_done(received: list[bytes]) -> list[tuple[int, bytes]]:
    """The frames the client sent, once the raw peer is done."""
    while received[-1:] != [b"eof"]:
        await asyncio.sleep(0.005)
    return client_frames(b"".join(received[:-1]))


async def serve_raw(peer: RawPeer) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    return server, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


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
            await conn.send("ping")  # the server's ping gets our pong, and is counted
            assert await conn.recv() == "pong received"
            assert conn.control_frames == 1
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
    async def body() -> None:
        async with asyncio.timeout(10):
            # a real server answers our pings: the connection stays up past several intervals
            async with serve(_server, "127.0.0.1", 0) as server:
                url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
                conn = await websocket_connect(url, 1024, ping_interval_s=0.05, ping_timeout_s=0.2)
                await asyncio.sleep(0.5)
                await conn.send("still")
                assert await conn.recv() == "echo still"
                assert conn.control_frames >= 1  # the pongs to our pings (one per 0.25 s)
                await conn.close()

            # a silent peer: completes the handshake, then never answers
            received: list[bytes] = []
            raw, url = await serve_raw(raw_peer(b"", received))
            async with raw:
                conn = await websocket_connect(url, 1024, ping_interval_s=0.05, ping_timeout_s=0.1)
                with pytest.raises(TransportClosed, match=r"^closed 1011 keepalive ping timeout$"):
                    await conn.recv()
                await conn.close()
                sent = await peer_done(received)
            assert sent[0] == (PING, b"arbscan")
            assert sent[-1] == (CLOSE, (1011).to_bytes(2, "big") + b"keepalive ping timeout")

    asyncio.run(body())


def _run_raw(
    frames: bytes | list[bytes], cap: int = 16, linger_s: float = 3.0
) -> tuple[list[object], str, list[tuple[int, bytes]]]:
    """What the client returns for ``frames`` (until it closes), the close reason, and the
    frames the client sent back (the peer drops the connection after ``linger_s``)."""

    async def body() -> tuple[list[object], str, list[tuple[int, bytes]]]:
        received: list[bytes] = []
        server, url = await serve_raw(raw_peer(frames, received, linger_s=linger_s))
        got: list[object] = []
        async with asyncio.timeout(10), server:
            conn = await websocket_connect(url, cap, ping_interval_s=0, close_timeout_s=0.5)
            try:
                while True:
                    got.append(await conn.recv())
            except TransportClosed as exc:
                reason = exc.reason
            await conn.close()
            return got, reason, await peer_done(received)

    return asyncio.run(body())


BIG = server_frame(TEXT, b"x" * 17)


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return server_frame(CLOSE, code.to_bytes(2, "big") + reason)


def test_fragments_pings_and_a_close_without_code() -> None:
    frames = (
        server_frame(TEXT, b"frag-", fin=False)
        + server_frame(PING, b"p")  # a control frame between fragments
        + server_frame(CONT, b"ment", fin=False)
        + server_frame(CONT, b"ed")
        + server_frame(BINARY, b"\x00\x01", fin=False)
        + server_frame(CONT, b"\x02")
        + server_frame(PONG, b"")
        + server_frame(CLOSE, b"")
    )
    got, reason, sent = _run_raw(frames)
    assert got == ["frag-mented", b"\x00\x01\x02"]
    assert reason == "closed 1005"
    assert sent == [(PONG, b"p"), (CLOSE, (1000).to_bytes(2, "big"))]  # the pong, the echo


@pytest.mark.parametrize(
    ("frames", "got", "reason"),
    [
        (  # the cap is checked on the frame header: nothing of the frame, nor after it (picows
            # would deliver the frame it refused when its payload arrives in a later read)
            [BIG[:10], BIG[10:] + server_frame(TEXT, b"y")],
            [],
            "closed 1009 frame exceeds limit of 16 bytes",
        ),
        (
            server_frame(TEXT, b"x" * 10, fin=False) + server_frame(CONT, b"y" * 10),
            [],
            "closed 1009 message exceeds limit of 16 bytes",
        ),
        (
            server_frame(TEXT, b"x", rsv=0x40),
            [],
            "closed 1002 reserved bits set (no extension was negotiated)",
        ),
        (server_frame(TEXT, b"\xff\xfe"), [], "closed 1007 invalid UTF-8 in a text frame"),
        (
            server_frame(TEXT, b"\xc3", fin=False) + server_frame(CONT, b"("),
            [],
            "closed 1007 invalid UTF-8 in a text frame",
        ),
        (server_frame(CONT, b"x"), [], "closed 1002 continuation frame without a message"),
        (
            server_frame(TEXT, b"x", fin=False) + server_frame(TEXT, b"y"),
            [],
            "closed 1002 new message inside a fragmented one",
        ),
        (server_frame(3, b"x"), [], "closed 1002 Received frame with invalid opcode=0x3"),
        (
            bytes((0x81, 0x81)) + b"mask" + b"x",
            [],
            "closed 1002 Received masked frame from server, RFC 6455 section 5.1 forbids this",
        ),
        (close_frame(4000, b"bye"), [], "closed 4000 bye"),
    ],
)
def test_protocol_errors_and_the_cap_close_with_their_code(
    frames: bytes | list[bytes], got: list[object], reason: str
) -> None:
    got_, reason_, sent = _run_raw(frames)
    assert (got_, reason_) == (got, reason)
    code = int(reason.split()[1])
    assert sent[-1][0] == CLOSE and int.from_bytes(sent[-1][1][:2], "big") == code


@fuzz_settings(30)
@given(st.lists(st.binary(max_size=40), max_size=6))
def test_fuzz_arbitrary_server_bytes_give_messages_or_a_close(chunks: list[bytes]) -> None:
    got, reason, _ = _run_raw(b"".join(chunks), cap=20, linger_s=0.02)
    assert all(isinstance(m, str | bytes) and len(m) <= 20 for m in got)
    assert reason == "connection lost" or reason.startswith("closed ")


def test_handshake_refusals() -> None:
    async def body() -> None:
        async with asyncio.timeout(10):
            server, url = await serve_raw(
                raw_peer(b"", [], b"Sec-WebSocket-Extensions: permessage-deflate\r\n", 0.5)
            )
            async with server:
                with pytest.raises(ConnectFailed) as caught:
                    await websocket_connect(url, 1024)
            assert caught.value.reason == (
                "handshake failed: the server chose an extension that was not offered"
            )

    asyncio.run(body())


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
            await conn.send("fragments")
            assert await conn.recv() == "one two three"
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
