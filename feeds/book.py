"""An L2 order book for one (venue, symbol): no I/O, no sequencing, just levels.

Each side is a ``dict`` price -> size plus a sorted list of keys kept with :mod:`bisect`.
Both sides are stored so that the *best* level is at the **end** of its list (bids by price
ascending, asks by negated price ascending): most changes happen near the top of the book,
so inserting or deleting there moves few list items.

Levels arrive as the venue sent them (``[price, size, ...]`` as strings or JSON numbers) and
are converted with :func:`float`. With ``keep_text`` the book also keeps the original price
and size objects of every level, for checksums defined over the venue's text
(:mod:`feeds.checksum`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from operator import neg

from feeds.protocol import Level, Number

_NO_KEY = float("-inf")

Top = tuple[list[float], list[float], list[float], list[float]]
"""``(bid_px, bid_sz, ask_px, ask_sz)`` best first."""


class _Side:
    """One side: ``sizes`` maps price -> size; ``keys`` is sorted ascending with the best
    level last (``sign`` = 1 for bids, -1 for asks: the key of a price is ``sign * price``)."""

    __slots__ = ("keys", "sign", "sizes", "text")

    def __init__(self, sign: float) -> None:
        self.sign = sign
        self.keys: list[float] = []
        self.sizes: dict[float, float] = {}
        self.text: dict[float, tuple[Number, Number]] = {}

    def clear(self) -> None:
        self.keys.clear()
        self.sizes.clear()
        self.text.clear()

    def apply(self, levels: Iterable[Level], keep_text: bool, top_n: int) -> bool:
        """Apply absolute levels (size 0 deletes); return whether a level within the
        current top ``top_n`` (or one that enters it) was touched."""
        keys = self.keys
        sizes = self.sizes
        text = self.text
        sign = self.sign
        touched = False
        # Key of the top_n-th best level: a change at or above it changes the top.
        edge = keys[-top_n] if len(keys) >= top_n else _NO_KEY
        for level in levels:
            price = float(level[0])
            size = float(level[1])
            key = sign * price
            if size == 0.0:
                if price in sizes:
                    del sizes[price]
                    del keys[bisect_left(keys, key)]
                    if keep_text:
                        del text[price]
                    if not touched and key >= edge:
                        touched = True
                        edge = _NO_KEY
                continue
            if price not in sizes:
                i = bisect_left(keys, key)
                keys.insert(i, key)
            sizes[price] = size
            if keep_text:
                text[price] = (level[0], level[1])
            if not touched and key >= edge:
                touched = True
                edge = _NO_KEY
        return touched

    def truncate(self, depth: int) -> bool:
        """Keep only the best ``depth`` levels; return whether anything was removed."""
        extra = len(self.keys) - depth
        if extra <= 0:
            return False
        sizes = self.sizes
        sign = self.sign
        for key in self.keys[:extra]:
            price = sign * key
            del sizes[price]
            if self.text:
                del self.text[price]
        del self.keys[:extra]
        return True


class Book:
    """L2 book of one symbol.

    ``top_n`` is the depth the caller publishes: :meth:`apply` reports whether a level
    within it changed, so callers can skip work otherwise. ``max_depth`` (if set) truncates
    each side after every :meth:`apply_snapshot`/:meth:`apply` (Kraken maintains its book at
    the subscribed depth and checksums that; levels pushed out are not deleted on the wire).
    """

    __slots__ = ("_asks", "_bids", "keep_text", "max_depth", "top_n")

    def __init__(self, *, top_n: int = 20, keep_text: bool = False, max_depth: int | None = None):
        if top_n < 1:
            raise ValueError("top_n must be >= 1")
        self.top_n = top_n
        self.keep_text = keep_text
        self.max_depth = max_depth
        self._bids = _Side(1.0)
        self._asks = _Side(-1.0)

    # -- updates ---------------------------------------------------------------------
    def clear(self) -> None:
        """Remove every level."""
        self._bids.clear()
        self._asks.clear()

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the book with a full snapshot."""
        self.clear()
        self.apply(bids, asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> bool:
        """Apply changed levels (absolute sizes; size 0 deletes, deleting an absent level is
        a no-op). Returns ``changed_top``: whether any level within the top ``top_n`` of
        either side changed (False means :meth:`top` returns what it returned before)."""
        keep, n = self.keep_text, self.top_n
        changed = self._bids.apply(bids, keep, n)
        changed = self._asks.apply(asks, keep, n) or changed
        if self.max_depth is not None:
            # Truncation removes only levels below max_depth; it changes the top only if
            # max_depth < top_n, where any removal is within the top.
            cut = self._bids.truncate(self.max_depth)
            cut = self._asks.truncate(self.max_depth) or cut
            changed = changed or (cut and self.max_depth < n)
        return changed

    # -- reads -----------------------------------------------------------------------
    @property
    def bid_count(self) -> int:
        """Number of bid levels."""
        return len(self._bids.keys)

    @property
    def ask_count(self) -> int:
        """Number of ask levels."""
        return len(self._asks.keys)

    def best_bid(self) -> float | None:
        """Highest bid price, None when there is no bid."""
        keys = self._bids.keys
        return keys[-1] if keys else None

    def best_ask(self) -> float | None:
        """Lowest ask price, None when there is no ask."""
        keys = self._asks.keys
        return -keys[-1] if keys else None

    def crossed(self) -> bool:
        """Whether best bid >= best ask (both sides present)."""
        bids, asks = self._bids.keys, self._asks.keys
        return bool(bids) and bool(asks) and bids[-1] >= -asks[-1]

    def top(self, n: int | None = None) -> Top:
        """``(bid_px, bid_sz, ask_px, ask_sz)`` of the best ``n`` (default ``top_n``)
        levels, best first: bids descending, asks ascending."""
        n = self.top_n if n is None else n
        bid_px = self._bids.keys[: -n - 1 : -1]
        ask_px = list(map(neg, self._asks.keys[: -n - 1 : -1]))
        return (
            bid_px,
            list(map(self._bids.sizes.__getitem__, bid_px)),
            ask_px,
            list(map(self._asks.sizes.__getitem__, ask_px)),
        )

    def top_text(self, n: int) -> tuple[list[tuple[Number, Number]], list[tuple[Number, Number]]]:
        """The original ``(price, size)`` text of the best ``n`` bids and asks, best first
        (only with ``keep_text``)."""
        if not self.keep_text:
            raise ValueError("this book does not keep the venue's text")
        bt = self._bids.text
        at = self._asks.text
        return (
            [bt[k] for k in self._bids.keys[: -n - 1 : -1]],
            [at[-k] for k in self._asks.keys[: -n - 1 : -1]],
        )

    def side(self, bids: bool) -> list[tuple[float, float]]:
        """Every level of one side, best first (for tests and diagnostics)."""
        s = self._bids if bids else self._asks
        return [(s.sign * k, s.sizes[s.sign * k]) for k in reversed(s.keys)]
