"""Request budgets (sans-I/O: the caller passes the time, ``now_ns``).

Both kinds count what was spent in a sliding window (:class:`SlidingWindow`), so they are never
over budget in any window the venue counts, fixed or sliding:

* :class:`RequestBudget`, one venue's REST weight per IP. Venues charge each REST request a
  weight and refuse a client that spends more than ``limit`` weight in ``window_s`` seconds:
  HTTP 429 with ``Retry-After``, then 418 bans for a client that keeps going. One budget is
  shared by every connection of a venue in the process, so their requests together stay
  within it.

  - :meth:`RequestBudget.take` spends weight if the last window has room, else tells how long
    to wait. Spent weight is held ``margin_s`` longer than the window, because the venue
    counts a request when it arrives, a little after it was counted here.
  - :meth:`RequestBudget.answered` reads what the venue said: a 429/418 blocks the whole
    budget for ``Retry-After`` seconds (a full window when the header is missing); the
    venue's own count of used weight (Binance ``X-MBX-USED-WEIGHT-1M``) raises the local
    estimate when it is higher (other clients on the same IP, or a run that just restarted).
    It never lowers it: requests still in flight are not in the venue's count yet.
  - Until the venue's first answer, when it reports its count, one request goes alone: a
    process that restarts does not know what the last minute already spent.

* :class:`ConnectionBudget`, how many requests of a kind one connection may still send, for
  venues that cap them per connection (OKX: subscribe and unsubscribe requests per hour).

* :class:`SendPacer`, the frames one connection may send per second (Binance closes a
  connection that sends more than 5): frames wait in order, at most ``max_queued``, until
  the window has room.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from feeds.protocol import RestLimits

_NS = 1_000_000_000
PROBE_POLL_NS = 20_000_000
"""While the first request is out, the others ask again after this long."""


class SlidingWindow:
    """Weight spent in the last ``hold_ns`` nanoseconds: at ``now_ns`` it counts what was
    spent in ``(now_ns - hold_ns, now_ns]``. One entry per :meth:`add`, dropped as it leaves
    the window (the owner adds only what its limit allows, which bounds it)."""

    __slots__ = ("_spent", "_used", "hold_ns", "peak")

    def __init__(self, hold_ns: int) -> None:
        if hold_ns < 1:
            raise ValueError("a sliding window needs a length of at least 1 ns")
        self.hold_ns = hold_ns
        self._spent: deque[tuple[int, int]] = deque()  # (time, weight), oldest first
        self._used = 0
        self.peak = 0
        """The most weight held at once."""

    def used(self, now_ns: int) -> int:
        """Weight counted in the window that ends at ``now_ns``."""
        horizon = now_ns - self.hold_ns
        spent = self._spent
        while spent and spent[0][0] <= horizon:
            self._used -= spent.popleft()[1]
        return self._used

    def add(self, weight: int, now_ns: int) -> None:
        """Count ``weight`` spent at ``now_ns`` (nothing to count for weight 0)."""
        if weight <= 0:
            return
        self._spent.append((now_ns, weight))
        self._used += weight
        self.peak = max(self.peak, self._used)

    def wait(self, weight: int, limit: int, now_ns: int) -> int:
        """0 if ``weight`` more fits under ``limit`` now, else the ns until enough of what is
        held has left the window. A weight above the whole limit waits for an empty window."""
        excess = self.used(now_ns) + min(weight, limit) - limit
        if excess <= 0:
            return 0
        freed = 0
        for t, w in self._spent:
            freed += w
            if freed >= excess:
                return t + self.hold_ns - now_ns
        return self.hold_ns  # not reached: the window holds at least ``excess``


@dataclass(slots=True)
class BudgetStats:
    granted: int = 0
    """Requests allowed (weight spent)."""
    weight: int = 0
    """Weight spent in all."""
    refused: int = 0
    """Answers 429 (rate limited) and 418 (banned)."""
    corrections: int = 0
    """Times the venue's used-weight count raised the local estimate."""
    max_used: int = 0
    """The most weight held in the window at once."""


class RequestBudget:
    """REST weight per sliding window, shared by every request of one venue (module
    docstring)."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        margin_s: float | None = None,
        probe: bool = False,
        probe_timeout_s: float = 10.0,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a request budget needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_ns = int(window_s * _NS)
        margin = window_s / 60 if margin_s is None else margin_s
        self._window = SlidingWindow(self.window_ns + int(margin * _NS))
        self._blocked_until = 0
        self._probing = probe
        self._probe_until = 0
        self._probe_timeout_ns = int(probe_timeout_s * _NS)
        self.stats = BudgetStats()

    @classmethod
    def of(cls, limits: RestLimits, *, scale: float = 1.0) -> RequestBudget:
        """The budget a venue publishes; ``scale`` shrinks window and limit alike (tests)."""
        return cls(
            max(1, round(limits.budget * scale)),
            limits.window_s * scale,
            probe=limits.used_weight_header is not None,
        )

    def used(self, now_ns: int) -> int:
        """Weight counted against the window that ends now."""
        return self._window.used(now_ns)

    def take(self, weight: int, now_ns: int) -> int:
        """Spend ``weight`` now and return 0, or spend nothing and return how many ns to wait
        before asking again. A weight above the whole limit waits for an empty window."""
        if now_ns < self._blocked_until:
            return self._blocked_until - now_ns
        if self._probing:
            if now_ns < self._probe_until:
                return min(self._probe_until - now_ns, PROBE_POLL_NS)
            self._probe_until = now_ns + self._probe_timeout_ns
        wait = self._window.wait(weight, self.limit, now_ns)
        if wait:
            return wait
        self._spend(weight, now_ns)
        self.stats.granted += 1
        self.stats.weight += weight
        return 0

    def answered(
        self,
        status: int,
        now_ns: int,
        *,
        used_weight: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        """What the venue answered to one request (any status)."""
        self._probing = False
        held = self.used(now_ns)
        if used_weight is not None and used_weight > held:
            self._spend(used_weight - held, now_ns)
            self.stats.corrections += 1
        if status in (418, 429):
            self.stats.refused += 1
            wait_s = self.window_ns / _NS if retry_after_s is None else retry_after_s
            self._blocked_until = max(self._blocked_until, now_ns + int(wait_s * _NS))

    def blocked_until(self) -> int:
        """Until when (ns) a 429/418 stops every request; 0 if it never did."""
        return self._blocked_until

    def _spend(self, weight: int, now_ns: int) -> None:
        self._window.add(weight, now_ns)
        self.stats.max_used = self._window.peak


class ConnectionBudget:
    """At most ``limit`` requests in any window of ``window_ns``, for one connection."""

    __slots__ = ("_window", "limit")

    def __init__(self, limit: int, window_ns: int) -> None:
        if limit < 1 or window_ns < 1:
            raise ValueError("a request budget needs a limit and a window of at least 1")
        self.limit = limit
        self._window = SlidingWindow(window_ns)

    @property
    def window_ns(self) -> int:
        return self._window.hold_ns

    def left(self, now_ns: int) -> int:
        """Requests that may still be sent at ``now_ns``."""
        return self.limit - self._window.used(now_ns)

    def spend(self, count: int, now_ns: int) -> bool:
        """Spend ``count`` requests sent at ``now_ns`` if the budget has them all; False (and
        nothing spent) if not."""
        if count > self.left(now_ns):
            return False
        self._window.add(count, now_ns)
        return True


class SendPacer:
    """A connection's outgoing frames, released at most ``per_s`` per second in any window
    (module docstring). A fractional rate releases one frame per ``1 / per_s`` seconds."""

    def __init__(self, per_s: float, max_queued: int = 4096) -> None:
        if per_s <= 0 or max_queued < 1:
            raise ValueError("a send pacer needs a positive rate and room for a frame")
        self.limit = max(1, int(per_s))
        self._window = SlidingWindow(round(self.limit / per_s * _NS))
        self.queue: deque[str] = deque()
        self.max_queued = max_queued

    def put(self, frame: str) -> bool:
        """Queue ``frame``; False (nothing queued) when ``max_queued`` frames wait already."""
        if len(self.queue) >= self.max_queued:
            return False
        self.queue.append(frame)
        return True

    def take(self, now_ns: int) -> tuple[str | None, int]:
        """``(frame, 0)``: send it now; ``(None, ns)``: wait that long; ``(None, 0)``: nothing
        is queued."""
        if not self.queue:
            return None, 0
        wait = self._window.wait(1, self.limit, now_ns)
        if wait:
            return None, wait
        self._window.add(1, now_ns)
        return self.queue.popleft(), 0


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta-seconds form venues send), None when absent or
    not a number of seconds."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 1e7 else None


def used_weight(value: str | None) -> int | None:
    """A used-weight header as an int, None when absent or malformed."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
