"""The feeds' WebSocket client: :func:`websocket_connect`, a
:class:`feeds.transport.Connector` over picows (a WebSocket client whose frame parser is
compiled, Cython), and the little the feeds need on top of it.

picows parses the frames in C and hands each one to a listener callback; over loopback the
whole scanner spends as much or slightly less CPU per frame with it than with the RFC 6455
client this project used to have (``benchmarks/README.md``: ``bench_e2e --client``), which
had replaced the ``websockets`` client and its ~12 µs per frame (``websockets`` still serves
the emulator and the event server). picows reads the socket through aiofastnet's transport,
TLS included (``wss://``, certificates verified with the standard ``ssl`` module's context).

On top of picows, here: fragments joined into one message, and the size cap applied to the
whole message as well as to each frame (close 1009); text decoded (invalid UTF-8 closes with
1007); reserved bits refused (1002: no extension is offered, and a server that picks one is
refused at the handshake); pings answered and pings and pongs counted (``control_frames``: no
messages, but proof that the connection is alive; picows's own auto-pong is off, since it would
hide them); keepalive pings of our own (a pong overdue closes with 1011); the close handshake
(the peer's code and reason, or ours, become the reason of
:class:`~feeds.transport.TransportClosed`); a bounded queue that pauses reading. Nothing is
returned once a close frame has gone out: picows 2.3 still delivers the frame it has just
refused for exceeding the cap. A protocol error also drops the valid frames that came before
it in the same read (picows parses the next frame before delivering one); the connection is
closed and the next one resyncs, so no book is left on a gap. Redirects and proxies are not
followed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Final
from urllib.parse import urlsplit

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSHandshakeError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from feeds.transport import ConnectFailed, Frame, TransportClosed

QUEUE_HIGH, QUEUE_LOW = 4096, 1024
"""Messages queued before the socket stops being read, and after which it resumes."""
TEXT: Final = WSMsgType.TEXT
BINARY: Final = WSMsgType.BINARY
CONT: Final = WSMsgType.CONTINUATION
PING: Final = WSMsgType.PING
PONG: Final = WSMsgType.PONG
CLOSE: Final = WSMsgType.CLOSE


class _Listener(WSListener):
    """One connection's frames into a queue of messages (see the module docstring)."""

    def __init__(self, max_bytes: int, ping_s: float, pong_timeout_s: float) -> None:
        super().__init__()
        self.loop = asyncio.get_running_loop()
        self.max = max_bytes
        self.queue: deque[Frame] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.reason: str | None = None  # set once the connection is over
        self.transport: WSTransport | None = None
        self.paused = False
        self.parts: list[bytes] = []
        self.frag_type: WSMsgType | None = None
        self.frag_size = 0
        self.ping_s, self.pong_timeout_s = ping_s, pong_timeout_s
        self.timer: asyncio.TimerHandle | None = None
        self.awaiting_pong = False
        self.control = 0  # pings and pongs received

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._arm_ping()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if transport.is_close_frame_sent:  # nothing counts after a close frame went out:
            self._closed_by_us(transport)  # picows still delivers the frame it refused
            return
        kind = frame.msg_type
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self.fail(1002, "reserved bits set (no extension was negotiated)")
            return
        if kind is TEXT and frame.fin and self.frag_type is None:
            try:
                self.queue.append(frame.get_payload_as_utf8_text())
            except UnicodeDecodeError:
                self.fail(1007, "invalid UTF-8 in a text frame")
                return
        elif kind is BINARY and frame.fin and self.frag_type is None:
            self.queue.append(frame.get_payload_as_bytes())
        elif kind is PING:
            self.control += 1
            transport.send_pong(frame.get_payload_as_bytes())
            return
        elif kind is PONG:
            self.control += 1
            self.awaiting_pong = False
            return
        elif kind is CLOSE:
            self._peer_closed(frame)
            return
        else:
            self._fragment(kind, frame)
        if len(self.queue) > QUEUE_HIGH and not self.paused:
            self.paused = True
            transport.underlying_transport.pause_reading()  # bounded: the reader catches up
        self._wake()

    def _fragment(self, kind: WSMsgType, frame: WSFrame) -> None:
        if kind is CONT:
            if self.frag_type is None:
                self.fail(1002, "continuation frame without a message")
                return
        elif self.frag_type is not None:
            self.fail(1002, "new message inside a fragmented one")
            return
        else:
            self.frag_type, self.frag_size, self.parts = kind, 0, []
        self.frag_size += frame.payload_size
        if self.frag_size > self.max:
            self.fail(1009, f"message exceeds limit of {self.max} bytes")
            return
        self.parts.append(frame.get_payload_as_bytes())
        if frame.fin:
            data, kind, self.frag_type = b"".join(self.parts), self.frag_type, None
            self.parts = []
            if kind is BINARY:
                self.queue.append(data)
                return
            try:
                self.queue.append(data.decode())
            except UnicodeDecodeError:
                self.fail(1007, "invalid UTF-8 in a text frame")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._closed_by_us(transport)
        self._end("connection lost")

    def _closed_by_us(self, transport: WSTransport) -> None:
        """picows closed it (a frame over the cap, a protocol error): its close frame's code
        and reason end the connection."""
        sent = transport.close_handshake.sent if transport.close_handshake else None
        if sent is not None:
            code = _code(sent.code)
            reason = f"frame exceeds limit of {self.max} bytes" if code == 1009 else sent.reason
            self._end(f"closed {code} {reason}".rstrip())

    # -- keepalive ---------------------------------------------------------------------
    def _arm_ping(self) -> None:
        if self.ping_s > 0 and self.reason is None:
            self.timer = self.loop.call_later(self.ping_s, self._ping)

    def _ping(self) -> None:
        if self.reason is None and self.transport is not None:
            self.awaiting_pong = True
            self.transport.send_ping(b"arbscan")
            self.timer = self.loop.call_later(self.pong_timeout_s, self._pong_due)

    def _pong_due(self) -> None:
        if self.awaiting_pong:
            self.fail(1011, "keepalive ping timeout")
        else:
            self._arm_ping()

    # -- closing -----------------------------------------------------------------------
    def fail(self, code: int, reason: str) -> None:
        """We close: send our close frame, end the connection with our code and reason."""
        self._end(f"closed {code} {reason}".rstrip())
        self.send_close(code, reason)
        if self.transport is not None:
            self.transport.disconnect()

    def _peer_closed(self, frame: WSFrame) -> None:
        size = frame.payload_size
        code = _code(frame.get_close_code()) if size >= 2 else 1005
        text = (frame.get_close_message() or b"").decode("utf-8", "replace")
        self._end(f"closed {code} {text}".rstrip())
        self.send_close(code if size >= 2 else 1000, "")  # the echo the RFC asks for
        if self.transport is not None:
            self.transport.disconnect()

    def send_close(self, code: int, reason: str) -> None:
        t = self.transport
        if t is not None and not t.is_close_frame_sent and not t.is_disconnected:
            t.send_close(WSCloseCode(code), reason.encode()[:123])

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


def _code(code: WSCloseCode | int) -> int:
    """A close code as a number (picows gives codes outside its enum as plain ints)."""
    return int(code.value) if isinstance(code, WSCloseCode) else int(code)


class ClientConnection:
    """:class:`feeds.transport.Connection` over a picows transport and :class:`_Listener`."""

    def __init__(self, transport: WSTransport, listener: _Listener, close_timeout_s: float):
        self._t, self._c = transport, listener
        self._close_timeout_s = close_timeout_s

    async def send(self, frame: str) -> None:
        if self._c.reason is not None:
            raise TransportClosed(self._c.reason)
        self._t.send(TEXT, frame.encode())

    async def ping(self) -> None:
        if self._c.reason is not None:
            raise TransportClosed(self._c.reason)
        self._t.send_ping(b"arbscan")

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
        if c.paused and len(queue) < QUEUE_LOW:
            c.paused = False
            self._t.underlying_transport.resume_reading()
        return queue.popleft()

    async def close(self) -> None:
        c, t = self._c, self._t
        if c.reason is None:
            c._end("closed 1000")
        c.send_close(1000, "")
        if not t.is_disconnected:
            try:
                async with asyncio.timeout(self._close_timeout_s):
                    await t.wait_disconnected()  # the server's close frame ends the TCP
            except (TimeoutError, WSError, OSError):  # how it ended is known already
                pass
        t.disconnect(graceful=False)


async def websocket_connect(
    url: str,
    max_frame_bytes: int,
    *,
    open_timeout_s: float = 10.0,
    ping_interval_s: float = 20.0,
    ping_timeout_s: float = 20.0,
    close_timeout_s: float = 2.0,
    ssl_context: ssl.SSLContext | None = None,
    use_aiofastnet: bool | None = None,
) -> ClientConnection:
    """Open ``url`` (``ws://`` or ``wss://``): :class:`feeds.transport.Connector`. A frame or
    message larger than ``max_frame_bytes`` closes the connection (1009); a ping is sent every
    ``ping_interval_s`` (0: none) and a pong overdue by ``ping_timeout_s`` closes it (1011).
    Raises :class:`ConnectFailed` when the connection or the handshake fails; ValueError for a
    URL that is not a WebSocket URL (a configuration error). ``wss://`` verifies the server's
    certificate with ``ssl_context`` (default: the system's trusted CAs). picows reads the
    socket through aiofastnet's transport unless ``use_aiofastnet`` is False (then the event
    loop's own, asyncio's or uvloop's)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    context = (ssl_context or ssl.create_default_context()) if parts.scheme == "wss" else None

    def listener() -> _Listener:
        return _Listener(max_frame_bytes, ping_interval_s, ping_timeout_s)

    try:
        async with asyncio.timeout(open_timeout_s):
            transport, client = await ws_connect(
                listener,
                url,
                ssl_context=context,
                websocket_handshake_timeout=None,  # the whole open is bounded above
                enable_auto_pong=False,
                max_frame_size=max_frame_bytes,
                max_redirects=0,
                extra_headers={"User-Agent": "arbscan"},
                use_aiofastnet=use_aiofastnet,
            )
    except TimeoutError:  # before OSError: TimeoutError is one
        raise ConnectFailed("connect timed out") from None
    except WSHandshakeError as exc:
        status = exc.response.status if exc.response is not None else 0
        if status and status != 101:
            why = f"server rejected WebSocket connection: HTTP {int(status)}"
        else:
            why = str(exc)
        raise ConnectFailed(f"handshake failed: {why}") from None
    except (OSError, WSError) as exc:  # refused, unreachable, DNS, TLS
        raise ConnectFailed(f"connect failed: {exc}") from None
    assert isinstance(client, _Listener)
    if transport.response.headers.get("Sec-WebSocket-Extensions"):
        transport.disconnect(graceful=False)
        raise ConnectFailed("handshake failed: the server chose an extension that was not offered")
    return ClientConnection(transport, client, close_timeout_s)
