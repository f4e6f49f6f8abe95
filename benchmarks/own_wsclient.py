"""The RFC 6455 client the feeds used until they moved to picows (:mod:`feeds.wsconnect`), kept
as the baseline of ``python -m benchmarks.bench_e2e --client own,picows``: a sans-I/O frame
parser and a thin asyncio protocol around it, the same :class:`feeds.transport.Connection`
behaviour. It was written because the ``websockets`` client spent ~12 µs of CPU per received
frame in its Python frame parser; this parser reads a frame header with a few byte operations,
so a frame costs about a microsecond, and every frame of one TCP read is queued in one
``data_received`` call.

What it does (RFC 6455): the HTTP/1.1 upgrade with ``Sec-WebSocket-Key``/``Accept``
validation; ``ws://`` and ``wss://`` (TLS through the standard ``ssl`` module, certificates
verified); text and binary messages, fragmented or not; a size cap per message (close 1009);
pings answered with pongs; keepalive pings of our own (close 1011 when a pong is overdue);
the close handshake (the peer's code and reason, or ours, become the reason of
:class:`~feeds.transport.TransportClosed`); pings and pongs received are counted
(``control_frames``): no messages, but proof that the connection is alive. Protocol errors
(masked server frames, reserved bits or opcodes, bad fragmentation, invalid UTF-8 text)
close with 1002 or 1007. It offers no extension (no permessage-deflate), so a venue never
compresses frames for it, and it does not follow redirects or proxies.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from collections import deque
from typing import Final, cast
from urllib.parse import urlsplit

from feeds.transport import ConnectFailed, Frame, TransportClosed

GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10
MAX_HEADER_BYTES: Final = 65_536
QUEUE_HIGH, QUEUE_LOW = 4096, 1024
"""Messages queued before the socket stops being read, and after which it resumes."""


class ProtocolError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to send (1002, 1007, 1009)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class FrameParser:
    """Sans-I/O: bytes from the server in, complete messages and control frames out."""

    def __init__(self, max_message_bytes: int) -> None:
        self._max = max_message_bytes
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._frag_opcode = 0  # opcode of the fragmented message in progress, 0 if none
        self._frag_size = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """``(opcode, payload)`` of each complete data message (TEXT or BINARY, fragments
        joined) and control frame in ``data`` and what was buffered before it. Raises
        :class:`ProtocolError`; the connection must then be closed with its code."""
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            if b1 & 0x80:
                raise ProtocolError(1002, "masked frame from the server")
            size, head = b1 & 0x7F, 2
            if size == 126:
                if end - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if end - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if b0 & 0x08 and size > 125:  # a control frame carries at most 125 bytes
                raise ProtocolError(1002, f"bad control frame (opcode {b0 & 0x0F})")
            if size > self._max:
                raise ProtocolError(1009, f"frame exceeds limit of {self._max} bytes")
            if end - pos < head + size:
                break
            payload = bytes(buf[pos + head : pos + head + size])
            pos += head + size
            if b0 & 0x70:
                raise ProtocolError(1002, "reserved bits set (no extension was negotiated)")
            opcode, fin = b0 & 0x0F, b0 & 0x80
            if opcode >= CLOSE:
                if opcode > PONG or not fin or size > 125:
                    raise ProtocolError(1002, f"bad control frame (opcode {opcode})")
                out.append((opcode, payload))
            elif opcode == CONT:
                if not self._frag_opcode:
                    raise ProtocolError(1002, "continuation frame without a message")
                self._frag_size += size
                if self._frag_size > self._max:
                    raise ProtocolError(1009, f"message exceeds limit of {self._max} bytes")
                self._parts.append(payload)
                if fin:
                    out.append((self._frag_opcode, b"".join(self._parts)))
                    self._parts.clear()
                    self._frag_opcode = 0
            elif opcode in (TEXT, BINARY):
                if self._frag_opcode:
                    raise ProtocolError(1002, "new message inside a fragmented one")
                if fin:
                    out.append((opcode, payload))
                else:
                    self._frag_opcode, self._frag_size, self._parts = opcode, size, [payload]
            else:
                raise ProtocolError(1002, f"reserved opcode {opcode}")
        del buf[:pos]
        return out


def encode(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """One final client frame, masked with the 4-byte ``mask`` (clients must mask)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65_536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    return head + mask + masked


def close_payload(code: int, reason: str) -> bytes:
    return code.to_bytes(2, "big") + reason.encode()[:123]


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key``."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class _Client(asyncio.Protocol):
    """One connection: the handshake, then frames (see the module docstring)."""

    def __init__(
        self, request: bytes, key: str, max_bytes: int, ping_s: float, pong_timeout_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.request, self.accept = request, accept_key(key)
        self.parser = FrameParser(max_bytes)
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.head = bytearray()
        self.queue: deque[Frame] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.reason: str | None = None  # set once the connection is over
        self.close_sent = False
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.ping_s, self.pong_timeout_s = ping_s, pong_timeout_s
        self.timer: asyncio.TimerHandle | None = None
        self.awaiting_pong = False
        self.control = 0  # pings and pongs received

    # -- asyncio callbacks -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # TCP or TLS, asyncio's or uvloop's
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.handshake.done():
            data = self._handshake(data)
            if not data:
                return
        try:
            frames = self.parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc.code, exc.reason)
            return
        queue = self.queue
        for opcode, payload in frames:
            if opcode == TEXT:
                try:
                    queue.append(payload.decode())
                except UnicodeDecodeError:
                    self._fail(1007, "invalid UTF-8 in a text frame")
                    return
            elif opcode == BINARY:
                queue.append(payload)
            elif opcode == PING:
                self.control += 1
                self._write(encode(PONG, payload, os.urandom(4)))
            elif opcode == PONG:
                self.control += 1
                self.awaiting_pong = False
            else:  # CLOSE
                self._peer_closed(payload)
                return
        if len(queue) > QUEUE_HIGH and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()  # bounded: the reader catches up, then resumes
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.handshake.done():
            self.handshake.set_exception(ConnectFailed(f"connect failed: {exc or 'closed'}"))
        self._end("connection lost")
        if not self.closed.done():
            self.closed.set_result(None)

    # -- handshake ---------------------------------------------------------------------
    def _handshake(self, data: bytes) -> bytes:
        """Buffer the HTTP response; once whole, check it and return the bytes after it."""
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEADER_BYTES:
                self._reject("response headers too large")
            return b""
        lines = bytes(self.head[:end]).decode("latin-1").split("\r\n")
        rest = bytes(self.head[end + 4 :])
        self.head.clear()
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            code = status[1] if len(status) > 1 else lines[0][:40]
            self._reject(f"server rejected WebSocket connection: HTTP {code}")
            return b""
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("upgrade", "").lower() != "websocket":
            self._reject("missing 'Upgrade: websocket'")
        elif "upgrade" not in headers.get("connection", "").lower():
            self._reject("missing 'Connection: Upgrade'")
        elif headers.get("sec-websocket-accept") != self.accept:
            self._reject("bad Sec-WebSocket-Accept")
        elif headers.get("sec-websocket-extensions"):
            self._reject("the server chose an extension that was not offered")
        else:
            self.handshake.set_result(None)
            self._arm_ping()
            return rest
        return b""

    def _reject(self, why: str) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectFailed(f"handshake failed: {why}"))
        if self.transport is not None:
            self.transport.close()

    # -- keepalive ---------------------------------------------------------------------
    def _arm_ping(self) -> None:
        if self.ping_s > 0 and self.reason is None:
            self.timer = self.loop.call_later(self.ping_s, self._ping)

    def _ping(self) -> None:
        if self.reason is not None:
            return
        self.awaiting_pong = True
        self._write(encode(PING, b"arbscan", os.urandom(4)))
        self.timer = self.loop.call_later(self.pong_timeout_s, self._pong_due)

    def _pong_due(self) -> None:
        if self.awaiting_pong:
            self._fail(1011, "keepalive ping timeout")
        else:
            self._arm_ping()

    # -- closing -----------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, code: int, reason: str) -> None:
        """We close: send our close frame, end the connection with our code and reason."""
        self._end(f"closed {code} {reason}".rstrip())
        self.send_close(code, reason)
        if self.transport is not None:
            self.transport.close()

    def _peer_closed(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        text = payload[2:].decode("utf-8", "replace")
        self._end(f"closed {code} {text}".rstrip())
        self.send_close(code if len(payload) >= 2 else 1000, "")  # the echo the RFC asks for
        if self.transport is not None:
            self.transport.close()

    def send_close(self, code: int, reason: str) -> None:
        if not self.close_sent:
            self.close_sent = True
            self._write(encode(CLOSE, close_payload(code, reason), os.urandom(4)))

    def _end(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        if self.timer is not None:
            self.timer.cancel()
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class ClientConnection:
    """:class:`feeds.transport.Connection` over :class:`_Client`."""

    def __init__(self, client: _Client, close_timeout_s: float) -> None:
        self._c = client
        self._close_timeout_s = close_timeout_s

    async def send(self, frame: str) -> None:
        c = self._c
        if c.reason is not None:
            raise TransportClosed(c.reason)
        c._write(encode(TEXT, frame.encode(), os.urandom(4)))

    async def ping(self) -> None:
        c = self._c
        if c.reason is not None:
            raise TransportClosed(c.reason)
        c._write(encode(PING, b"arbscan", os.urandom(4)))

    @property
    def control_frames(self) -> int:
        return self._c.control

    async def recv(self) -> Frame:
        c = self._c
        queue = c.queue
        while not queue:
            if c.reason is not None:
                raise TransportClosed(c.reason)
            c.waiter = c.loop.create_future()
            await c.waiter
        if c.paused and len(queue) < QUEUE_LOW and c.transport is not None:
            c.paused = False
            c.transport.resume_reading()
        return queue.popleft()

    async def close(self) -> None:
        c = self._c
        if c.reason is None:
            c._end("closed 1000")
        c.send_close(1000, "")
        if not c.closed.done():
            try:
                async with asyncio.timeout(self._close_timeout_s):
                    await asyncio.shield(c.closed)  # the server's close frame ends the TCP
            except TimeoutError:
                pass
        if c.transport is not None:
            c.transport.close()


async def websocket_connect(
    url: str,
    max_frame_bytes: int,
    *,
    open_timeout_s: float = 10.0,
    ping_interval_s: float = 20.0,
    ping_timeout_s: float = 20.0,
    close_timeout_s: float = 2.0,
    ssl_context: ssl.SSLContext | None = None,
) -> ClientConnection:
    """Open ``url`` (``ws://`` or ``wss://``): :class:`feeds.transport.Connector`. A frame or
    message larger than ``max_frame_bytes`` closes the connection (1009); a ping is sent every
    ``ping_interval_s`` and a pong overdue by ``ping_timeout_s`` closes it (1011). Raises
    :class:`ConnectFailed` when the connection or the handshake fails; ValueError for a URL
    that is not a WebSocket URL (a configuration error). ``wss://`` verifies the server's
    certificate with ``ssl_context`` (default: the system's trusted CAs)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    secure = parts.scheme == "wss"
    host, port = parts.hostname, parts.port or (443 if secure else 80)
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "User-Agent: arbscan\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    context = (ssl_context or ssl.create_default_context()) if secure else None
    client: _Client | None = None
    try:
        async with asyncio.timeout(open_timeout_s):
            _, client = await loop.create_connection(
                lambda: _Client(request, key, max_frame_bytes, ping_interval_s, ping_timeout_s),
                host,
                port,
                ssl=context,
                server_hostname=host if secure else None,
            )
            await client.handshake
    except TimeoutError:  # before OSError: TimeoutError is one
        if client is not None and client.transport is not None:
            client.transport.close()
        raise ConnectFailed("connect timed out") from None
    except OSError as exc:  # refused, unreachable, DNS, TLS
        raise ConnectFailed(f"connect failed: {exc}") from None
    return ClientConnection(client, close_timeout_s)
