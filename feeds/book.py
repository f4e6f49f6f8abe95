"""An L2 order book for one (venue, symbol): no I/O, no sequencing, just levels.

Each side is a sorted list of keys kept with :mod:`bisect`, with the prices, sizes (and, with
``keep_text``, the venue's text) in parallel lists, so the top N levels are plain slices.
Both sides are stored so that the *best* level is at the **end** of its lists (bids by price
ascending, asks by negated price ascending): most changes happen near the top of the book,
so inserting or deleting there moves few list items.

Levels arrive as the venue sent them (``[price, size, ...]`` as strings or JSON numbers):
the book is the one place that converts and validates them. A price must be finite and
> 0, a size finite and >= 0; anything else (non-numeric text, a bool, a level that is not a
``[price, size, ...]`` sequence) raises :class:`BadLevel`. ``float()`` of a decimal string
costs about five dict lookups, and venues repeat the same price texts (the levels near the
top change again and again), so validated prices are memoised in one bounded table shared by
every book (text -> value is a pure function; only ``str`` keys, so ``True == 1`` cannot
hit). Sizes rarely repeat (about 40% on the Binance recording, mostly deletes), and a memo
miss costs more than it saves there, so sizes are converted directly.
With ``keep_text`` the book also keeps the original price and size objects of every level,
for checksums defined over the venue's text (:mod:`feeds.checksum`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Final

from feeds.protocol import Level, Number

_NO_KEY: Final = float("-inf")
_INF: Final = float("inf")
_NAN: Final = float("nan")

MEMO_MAX: Final = 1 << 16
"""Entries of the price memo before it is cleared (bounded: a few MB at most)."""
_PRICES: dict[object, float] = {}
"""Validated price texts (finite, > 0) -> value."""


def clear_memo() -> None:
    """Empty the shared price memo (it is bounded by :data:`MEMO_MAX` anyway): for memory
    measurements and benchmarks that must not reuse an earlier run's conversions."""
    _PRICES.clear()


class BadLevel(ValueError):
    """A level the book refuses: not ``[price, size, ...]``, or a price that is not a finite
    number > 0, or a size that is not a finite number >= 0. The book may hold part of the
    message that carried it: the caller must resync the symbol."""


def _price(text: object) -> float:
    """Convert and validate a price that missed the memo, and memoise it if it is text.
    ``__class__ is`` refuses bool (an int subclass): JSON true is not a number here."""
    cls = text.__class__
    number = cls is str or cls is float or cls is int
    try:
        value = float(text) if number else _NAN  # type: ignore[arg-type]
    except (ValueError, OverflowError):  # text that is not a decimal, an int beyond float
        value = _NAN
    if not 0.0 < value < _INF:  # NaN fails too
        raise BadLevel(f"bad price {text!r}")
    if cls is str:
        if len(_PRICES) >= MEMO_MAX:
            _PRICES.clear()
        _PRICES[text] = value
    return value


Top = tuple[list[float], list[float], list[float], list[float]]
"""``(bid_px, bid_sz, ask_px, ask_sz)`` best first."""


class _Side:
    """One side, sorted with the best level last: ``keys`` ascending (the key of a price is
    ``sign * price``; ``sign`` = 1 for bids, -1 for asks), and ``prices``, ``sizes`` and
    ``text`` (only with ``keep_text``) parallel to it, so the top N of each is one slice.
    For bids ``prices`` is ``keys`` itself."""

    __slots__ = ("keys", "prices", "sign", "sizes", "text")

    def __init__(self, sign: float) -> None:
        self.sign = sign
        self.keys: list[float] = []
        self.prices: list[float] = self.keys if sign > 0 else []
        self.sizes: list[float] = []
        self.text: list[tuple[Number, Number]] = []

    def clear(self) -> None:
        self.keys.clear()
        self.prices.clear()
        self.sizes.clear()
        self.text.clear()

    def apply(self, levels: Iterable[Level], keep_text: bool, top_n: int) -> bool:
        """Apply absolute levels (size 0 deletes); return whether a level within the
        current top ``top_n`` (or one that enters it) was touched. Raises BadLevel."""
        keys = self.keys
        sizes = self.sizes
        text = self.text
        sign = self.sign
        prices = self.prices if self.prices is not keys else None  # asks keep both lists
        price_of = _PRICES.get
        touched = False
        # Key of the top_n-th best level: a change at or above it changes the top (once
        # touched, the edge moves to +inf so the test below never fires again).
        count = len(keys)
        edge = keys[-top_n] if count >= top_n else _NO_KEY
        level: object = None
        try:
            for level in levels:
                if level.__class__ is str:  # "12"[0], "12"[1] would read as a level
                    raise BadLevel("a level is not a [price, size, ...] sequence")
                price = price_of(level[0])
                if price is None:
                    price = _price(level[0])
                size_text = level[1]
                if size_text.__class__ is bool:  # an int subclass: JSON true is not a number
                    raise BadLevel(f"bad size {size_text!r}")
                size = float(size_text)
                if not 0.0 <= size < _INF:  # NaN fails too
                    raise BadLevel(f"bad size {size_text!r}")
                key = sign * price
                i = bisect_left(keys, key)
                if i < count and keys[i] == key:  # the level exists
                    if size == 0.0:
                        count -= 1
                        del keys[i], sizes[i]
                        if prices is not None:
                            del prices[i]
                        if keep_text:
                            del text[i]
                    else:
                        sizes[i] = size
                        if keep_text:
                            text[i] = (level[0], level[1])
                elif size == 0.0:
                    continue  # deleting an absent level is a no-op
                else:
                    count += 1
                    keys.insert(i, key)
                    sizes.insert(i, size)
                    if prices is not None:
                        prices.insert(i, price)
                    if keep_text:
                        text.insert(i, (level[0], level[1]))
                if key >= edge:
                    touched = True
                    edge = _INF
        except BadLevel as exc:
            raise BadLevel(f"bad level {str(level)[:80]}: {exc}") from None
        except (TypeError, IndexError, KeyError, ValueError, OverflowError) as exc:
            # not a sequence, too short, a dict, a size that is not a number (or a huge int)
            raise BadLevel(f"bad level {str(level)[:80]}: {exc!r}") from None
        return touched

    def truncate(self, depth: int) -> bool:
        """Keep only the best ``depth`` levels; return whether anything was removed."""
        extra = len(self.keys) - depth
        if extra <= 0:
            return False
        if self.prices is not self.keys:
            del self.prices[:extra]
        del self.keys[:extra], self.sizes[:extra], self.text[:extra]
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
        """Replace the book with a full snapshot. Raises :class:`BadLevel` (the book then
        holds part of the snapshot)."""
        self.clear()
        self.apply(bids, asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> bool:
        """Apply changed levels (absolute sizes; size 0 deletes, deleting an absent level is
        a no-op). Returns ``changed_top``: whether any level within the top ``top_n`` of
        either side changed (False means :meth:`top` returns what it returned before).
        Raises :class:`BadLevel` (the book then holds part of the message)."""
        keep, n = self.keep_text, self.top_n
        # One side is often empty (a diff of bids only): skip its call.
        changed = self._bids.apply(bids, keep, n) if bids else False
        changed = (self._asks.apply(asks, keep, n) if asks else False) or changed
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
        prices = self._asks.prices
        return prices[-1] if prices else None

    def crossed(self) -> bool:
        """Whether best bid >= best ask (both sides present)."""
        bids, asks = self._bids.keys, self._asks.prices
        return bool(bids) and bool(asks) and bids[-1] >= asks[-1]

    def top(self, n: int | None = None) -> Top:
        """``(bid_px, bid_sz, ask_px, ask_sz)`` of the best ``n`` (default ``top_n``)
        levels, best first: bids descending, asks ascending (four new lists)."""
        stop = -(self.top_n if n is None else n) - 1
        bids, asks = self._bids, self._asks
        return (
            bids.keys[:stop:-1],
            bids.sizes[:stop:-1],
            asks.prices[:stop:-1],
            asks.sizes[:stop:-1],
        )

    def top_text(self, n: int) -> tuple[list[tuple[Number, Number]], list[tuple[Number, Number]]]:
        """The original ``(price, size)`` text of the best ``n`` bids and asks, best first
        (only with ``keep_text``)."""
        if not self.keep_text:
            raise ValueError("this book does not keep the venue's text")
        stop = -n - 1
        return self._bids.text[:stop:-1], self._asks.text[:stop:-1]

    def side(self, bids: bool) -> list[tuple[float, float]]:
        """Every level of one side, best first (for tests and diagnostics)."""
        s = self._bids if bids else self._asks
        return list(zip(s.prices[::-1], s.sizes[::-1], strict=True))
