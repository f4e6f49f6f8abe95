"""Capped, jittered exponential backoff for reconnects and REST retries (docs/contracts.md,
errors and what happens), with the random source injected so tests get exact delays."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

_MAX_EXPONENT = 64
"""``factor ** attempts`` is clamped here: the cap applies long before, and floats stay finite."""


@dataclass(slots=True)
class Backoff:
    """Delays ``min(cap_s, base_s * factor**n) * (1 - jitter * u)`` for the n-th consecutive
    failure, ``u`` uniform in [0, 1) from ``rng``. With ``jitter`` in [0, 1] every delay lies in
    ``[(1 - jitter) * ceiling, ceiling]``, so it never exceeds ``cap_s`` and many clients that
    failed together spread out instead of reconnecting in lock step."""

    base_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 30.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0
    """Failures since the last :meth:`reset`."""

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < self.base_s or self.factor < 1:
            raise ValueError("backoff needs 0 <= base_s <= cap_s and factor >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("backoff jitter must lie in [0, 1]")

    def ceiling(self, attempts: int) -> float:
        """The un-jittered delay after ``attempts`` earlier failures."""
        return min(self.cap_s, self.base_s * self.factor ** min(attempts, _MAX_EXPONENT))

    def next(self) -> float:
        """The delay to wait before the next attempt, in seconds; counts one failure."""
        delay = self.ceiling(self.attempts) * (1.0 - self.jitter * self.rng.random())
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Forget earlier failures (after a connection stayed healthy)."""
        self.attempts = 0

    def fresh(self) -> Backoff:
        """A new backoff with the same policy and the same random source, at zero failures."""
        return replace(self, attempts=0)
