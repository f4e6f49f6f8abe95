"""A sliding-window request budget (pure, clock injected): how many requests of a kind one
connection may still send, for venues that cap subscription requests per connection."""

from __future__ import annotations

from collections import deque


class RequestBudget:
    """At most ``limit`` requests in any window of ``window_ns`` (bounded: it keeps the send
    times of the last ``limit`` requests only)."""

    __slots__ = ("_sent", "limit", "window_ns")

    def __init__(self, limit: int, window_ns: int) -> None:
        if limit < 1 or window_ns < 1:
            raise ValueError("a request budget needs a limit and a window of at least 1")
        self.limit = limit
        self.window_ns = window_ns
        self._sent: deque[int] = deque(maxlen=limit)

    def left(self, now_ns: int) -> int:
        """Requests that may still be sent at ``now_ns``."""
        sent = self._sent
        while sent and sent[0] <= now_ns - self.window_ns:
            sent.popleft()
        return self.limit - len(sent)

    def spend(self, count: int, now_ns: int) -> bool:
        """Spend ``count`` requests sent at ``now_ns`` if the budget has them all; False (and
        nothing spent) if not."""
        if count > self.left(now_ns):
            return False
        self._sent.extend([now_ns] * count)
        return True
