"""The transport seam: what the runner needs from a WebSocket, and nothing more.

:class:`Connection` is four coroutines (send, recv, ping, close) and a count of the control
frames received. :func:`feeds.wsconnect.websocket_connect` implements it over TCP/TLS (frame
size cap, keepalive pings answered and sent, a pong overdue closes the connection).
:class:`FakeConnector` and :class:`FakeConnection` implement it in memory so tests push
frames through the real runner.
Every failure surfaces as one of two exceptions, each mapped to one action by the runner:
:class:`ConnectFailed` (connect refused, handshake rejected, timeout) and
:class:`TransportClosed` (the open connection ended, for whatever reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

Frame = str | bytes


class ConnectFailed(Exception):
    """The connection could not be opened; ``reason`` says why (for the ``down`` state)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransportClosed(Exception):
    """The connection is closed (by either side, or lost); ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Connection(Protocol):
    """One open WebSocket connection."""

    async def send(self, frame: str) -> None:
        """Send one text frame; :class:`TransportClosed` if the connection is closed."""
        ...

    async def recv(self) -> Frame:
        """The next frame (``str`` for text, ``bytes`` for binary); :class:`TransportClosed`
        when the connection ends, including when a frame exceeds the size cap."""
        ...

    async def ping(self) -> None:
        """Send a WebSocket ping (the peer answers with a pong); :class:`TransportClosed` if
        the connection is closed."""
        ...

    @property
    def control_frames(self) -> int:
        """WebSocket pings and pongs received so far. :meth:`recv` never returns them, but
        they prove the connection alive."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent; never raises for an already closed one)."""
        ...


Connector = Callable[[str, int], Awaitable[Connection]]
"""``connect(url, max_frame_bytes)``: open a connection or raise :class:`ConnectFailed`."""


# --- in memory, for tests ------------------------------------------------------------

_QUEUE_BOUND: Final = 4096
_EOF: Final = object()


class FakeConnection:
    """An in-memory :class:`Connection`: the test feeds frames in and reads what was sent.
    Enforces the frame size cap the way the real transport does (close code 1009)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.pings = 0
        """WebSocket pings sent by the runner (a fake peer answers none by itself)."""
        self.control_frames = 0
        self.closed = False
        self.max_frame_bytes = 0
        """Set by :class:`FakeConnector` to the runner's cap (0: no cap)."""
        self._incoming: asyncio.Queue[Frame | object] = asyncio.Queue(_QUEUE_BOUND)
        self._end_reason = "closed 1000"

    def feed(self, frame: Frame) -> None:
        """Queue one received frame."""
        self._incoming.put_nowait(frame)

    def control(self, count: int = 1) -> None:
        """``count`` WebSocket pings or pongs arrive (they are not frames for :meth:`recv`)."""
        self.control_frames += count

    def drop(self, reason: str = "connection lost") -> None:
        """The venue side ends the connection after the frames already queued."""
        self._end_reason = reason
        self._incoming.put_nowait(_EOF)

    async def send(self, frame: str) -> None:
        if self.closed:
            raise TransportClosed(self._end_reason)
        self.sent.append(frame)

    async def ping(self) -> None:
        if self.closed:
            raise TransportClosed(self._end_reason)
        self.pings += 1

    async def recv(self) -> Frame:
        if not self.closed:
            item = await self._incoming.get()
            if not self.closed and isinstance(item, str | bytes):
                size = len(item.encode()) if isinstance(item, str) else len(item)
                if self.max_frame_bytes and size > self.max_frame_bytes:
                    limit = self.max_frame_bytes
                    self._end_reason = f"closed 1009 frame exceeds limit of {limit} bytes"
                    self.closed = True
                    raise TransportClosed(self._end_reason)
                return item
            self.closed = True
        raise TransportClosed(self._end_reason)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            if not self._incoming.full():  # a full queue has no recv waiting on it
                self._incoming.put_nowait(_EOF)


class FakeConnector:
    """A :data:`Connector` whose outcomes the test scripts: each call takes the next queued
    :class:`FakeConnection` (or refusal reason), waiting until one is queued."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self._outcomes: asyncio.Queue[FakeConnection | str] = asyncio.Queue(_QUEUE_BOUND)

    def accept(self) -> FakeConnection:
        """Queue a connection that will be accepted; returns it for the test to drive."""
        conn = FakeConnection()
        self._outcomes.put_nowait(conn)
        return conn

    def refuse(self, reason: str = "connect failed: [Errno 111] Connection refused") -> None:
        """Queue a refused connection attempt."""
        self._outcomes.put_nowait(reason)

    async def __call__(self, url: str, max_frame_bytes: int) -> Connection:
        outcome = await self._outcomes.get()
        self.urls.append(url)
        if isinstance(outcome, str):
            raise ConnectFailed(outcome)
        outcome.max_frame_bytes = max_frame_bytes
        return outcome
