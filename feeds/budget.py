"""One venue's REST request budget (sans-I/O: the caller passes the time, ``now_ns``).

Venues charge each REST request a weight and refuse a client (per IP) that spends more than
``limit`` weight in ``window_s`` seconds: HTTP 429 with ``Retry-After``, then 418 bans for a
client that keeps going. One :class:`RequestBudget` is shared by every connection of a venue
in the process, so their requests together stay within it:

* :meth:`RequestBudget.take` spends weight if the last window (a sliding window, so it is
  never over budget in any window the venue counts, fixed or sliding) has room, else tells how
  long to wait. Spent weight is held ``margin_s`` longer than the window, because the venue
  counts a request when it arrives, a little after it was counted here.
* :meth:`RequestBudget.answered` reads what the venue said: a 429/418 blocks the whole budget
  for ``Retry-After`` seconds (a full window when the header is missing); the venue's own
  count of used weight (Binance ``X-MBX-USED-WEIGHT-1M``) raises the local estimate when it is
  higher (other clients on the same IP, or a run that just restarted). It never lowers it:
  requests still in flight are not in the venue's count yet.
* Until the venue's first answer, when it reports its count, one request goes alone: a
  process that restarts does not know what the last minute already spent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from feeds.protocol import RestLimits

_NS = 1_000_000_000
PROBE_POLL_NS = 20_000_000
"""While the first request is out, the others ask again after this long."""


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
    """Weight per sliding window, shared by every request of one venue (module docstring)."""

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
        self._hold_ns = self.window_ns + int(margin * _NS)
        self._spent: deque[tuple[int, int]] = deque()  # (time, weight), oldest first
        self._used = 0
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
        horizon = now_ns - self._hold_ns
        spent = self._spent
        while spent and spent[0][0] <= horizon:
            self._used -= spent.popleft()[1]
        return self._used

    def take(self, weight: int, now_ns: int) -> int:
        """Spend ``weight`` now and return 0, or spend nothing and return how many ns to wait
        before asking again. A weight above the whole limit waits for an empty window."""
        if now_ns < self._blocked_until:
            return self._blocked_until - now_ns
        if self._probing:
            if now_ns < self._probe_until:
                return min(self._probe_until - now_ns, PROBE_POLL_NS)
            self._probe_until = now_ns + self._probe_timeout_ns
        excess = self.used(now_ns) + min(weight, self.limit) - self.limit
        if excess > 0:
            freed = 0
            for t, w in self._spent:
                freed += w
                if freed >= excess:
                    return t + self._hold_ns - now_ns
            return self._hold_ns  # not reached: the window holds at least ``excess``
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
        if used_weight is not None and used_weight > self.used(now_ns):
            self._spend(used_weight - self._used, now_ns)
            self.stats.corrections += 1
        if status in (418, 429):
            self.stats.refused += 1
            wait_s = self.window_ns / _NS if retry_after_s is None else retry_after_s
            self._blocked_until = max(self._blocked_until, now_ns + int(wait_s * _NS))

    def blocked_until(self) -> int:
        """Until when (ns) a 429/418 stops every request; 0 if it never did."""
        return self._blocked_until

    def _spend(self, weight: int, now_ns: int) -> None:
        self._spent.append((now_ns, weight))
        self._used += weight
        self.stats.max_used = max(self.stats.max_used, self._used)


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
