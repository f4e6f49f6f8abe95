"""Request-weight limits the way Binance enforces them, per client IP (sans-I/O).

Each REST request costs the venue's weight for it. A request that would take an IP over
``limit`` weight in the last ``window_s`` seconds is answered 429 with ``Retry-After`` (whole
seconds until enough weight has expired) and not counted. A request that arrives before a
429's ``Retry-After`` has passed did not back off: the IP is banned, 418 with ``Retry-After``
until the ban ends, for ``ban_s`` doubling with each ban up to ``max_ban_s`` (Binance: "from
2 minutes to 3 days"). Every answer reports the weight used in the window
(``X-MBX-USED-WEIGHT-1M``). The window slides, so ``max_used`` is the most weight any
``window_s`` interval held. (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Admission:
    status: int
    """200 (served), 429 (over the limit) or 418 (banned)."""
    used: int
    """Weight used in the window after this request."""
    retry_after_s: int | None = None


@dataclass(slots=True)
class _Ip:
    spent: deque[tuple[int, int]] = field(default_factory=deque)
    used: int = 0
    retry_at: int = 0
    banned_until: int = 0
    bans: int = 0


class WeightLimiter:
    """See the module docstring. ``admit`` is called once per request, in arrival order."""

    def __init__(
        self, limit: int, window_s: float, *, ban_s: float = 120.0, max_ban_s: float = 259_200.0
    ) -> None:
        self.limit = limit
        self.window_ns = int(window_s * _NS)
        self.ban_ns = int(ban_s * _NS)
        self.max_ban_ns = int(max_ban_s * _NS)
        self._ips: dict[str, _Ip] = {}
        self.max_used = 0
        """The most weight one IP held in any window."""
        self.rate_limited = 0
        """Answers 429."""
        self.banned = 0
        """Answers 418."""

    def admit(self, ip: str, weight: int, now_ns: int) -> Admission:
        st = self._ips.setdefault(ip, _Ip())
        horizon = now_ns - self.window_ns
        while st.spent and st.spent[0][0] <= horizon:
            st.used -= st.spent.popleft()[1]
        if now_ns < st.retry_at and now_ns >= st.banned_until:  # kept going after a 429
            st.bans += 1
            ban = min(self.ban_ns << min(st.bans - 1, 40), self.max_ban_ns)
            st.banned_until = now_ns + ban
        if now_ns < st.banned_until:
            self.banned += 1
            return Admission(418, st.used, _seconds(st.banned_until - now_ns))
        if st.used + weight > self.limit:
            excess, freed = st.used + weight - self.limit, 0
            wait = self.window_ns
            for t, w in st.spent:
                freed += w
                if freed >= excess:
                    wait = t + self.window_ns - now_ns
                    break
            retry = _seconds(wait)
            st.retry_at = now_ns + retry * _NS
            self.rate_limited += 1
            return Admission(429, st.used, retry)
        st.spent.append((now_ns, weight))
        st.used += weight
        self.max_used = max(self.max_used, st.used)
        return Admission(200, st.used)


def _seconds(ns: int) -> int:
    """Whole seconds, rounded up, at least 1 (``Retry-After`` is delta-seconds)."""
    return max(1, math.ceil(ns / _NS))
