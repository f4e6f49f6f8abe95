"""The board: every book's top-N levels as numpy arrays over (symbol × venue × level).

One ``write`` per book update copies that book's levels into its preallocated slot (O(levels),
never reallocates) and refreshes the fee-adjusted top of book of that leg, and the exact best of
those tops per symbol, which let the kernel (:mod:`scanner.kernel`) dismiss most updates in O(1).

Layout of ``levels[s, v]`` (4 × L, best first): ``[bid_px, bid_sz, ask_px, ask_sz]``. A missing
bid level is ``px = 0, sz = 0``; a missing ask level is ``px = MISSING_ASK, sz = 0``, a huge
finite price, so ``px * sz == 0`` and a missing ask never crosses a bid. Bids must be descending
and asks ascending, sizes positive (the feeds' books guarantee it); the kernel relies on it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

MISSING_ASK = 1e300
"""Price of a missing ask level: finite (so ``MISSING_ASK * 0.0 == 0.0``) and above any price."""

BID_PX, BID_SZ, ASK_PX, ASK_SZ = 0, 1, 2, 3
"""Rows of ``levels[s, v]``."""

F64 = npt.NDArray[np.float64]
Top = tuple[list[float], list[float], list[float], list[float]]
"""``(bid_px, bid_sz, ask_px, ask_sz)``, best first."""


class BookView(Protocol):
    """What the board needs of a book (docs/contracts.md, the book listener interface): the
    feeds' compiled book matches it, and :class:`Levels` adapts plain lists."""

    def top(
        self, n: int | None = None
    ) -> tuple[list[float], list[float], list[float], list[float]]:
        """``(bid_px, bid_sz, ask_px, ask_sz)`` of the best ``n`` levels, best first."""

    def write_top(self, buffer: memoryview, offset: int, n: int, missing_ask: float) -> None:
        """The best ``n`` levels as float64 rows ``[bid_px, bid_sz, ask_px, ask_sz]`` of ``n``
        each, best first, at byte ``offset`` of ``buffer``; a missing bid is (0, 0), a missing
        ask (missing_ask, 0). Prices finite and > 0, sizes > 0, bids descending, asks
        ascending."""


class Levels:
    """A :class:`BookView` over plain level lists (best first), checked before any write:
    prices and sizes of a side must have the same length, the best prices must be finite and
    positive and every level a number (deeper levels are not checked further)."""

    __slots__ = ("ask_px", "ask_sz", "bid_px", "bid_sz")

    def __init__(
        self,
        bid_px: Sequence[float],
        bid_sz: Sequence[float],
        ask_px: Sequence[float],
        ask_sz: Sequence[float],
    ) -> None:
        self.bid_px, self.bid_sz, self.ask_px, self.ask_sz = bid_px, bid_sz, ask_px, ask_sz

    def top(
        self, n: int | None = None
    ) -> tuple[list[float], list[float], list[float], list[float]]:
        return (
            list(self.bid_px[:n]),
            list(self.bid_sz[:n]),
            list(self.ask_px[:n]),
            list(self.ask_sz[:n]),
        )

    def write_top(self, buffer: memoryview, offset: int, n: int, missing_ask: float) -> None:
        bid_px, bid_sz, ask_px, ask_sz = self.top(n)
        nb, na = len(bid_px), len(ask_px)
        if len(bid_sz) != nb or len(ask_sz) != na:
            sizes = f"bids {nb}/{len(bid_sz)}, asks {na}/{len(ask_sz)}"
            raise ValueError(f"prices and sizes differ in length: {sizes}")
        b0 = float(bid_px[0]) if nb else 0.0
        a0 = float(ask_px[0]) if na else 1.0
        if not (0.0 < a0 < math.inf and 0.0 <= b0 < math.inf):
            raise ValueError(f"bad best prices: bid {b0!r} ask {a0!r}")
        zero = [0.0] * (n - nb)
        try:
            struct.pack_into(
                f"{4 * n}d",
                buffer,
                offset,
                *bid_px,
                *zero,
                *bid_sz,
                *zero,
                *ask_px,
                *[missing_ask] * (n - na),
                *ask_sz,
                *[0.0] * (n - na),
            )
        except struct.error as exc:  # a level that is not a number: a caller's bug
            raise TypeError(f"levels must be floats: {exc}") from exc


class Board:
    """Top-N levels of every (symbol, venue) book, usability, fees and the top-of-book spreads.

    Attributes (all preallocated at construction):

    * ``levels`` float64 (S, V, 4, L) — see the module docstring.
    * ``updated_ns`` int64 (S, V) — ``ts_ns`` of the last ``write``, 0 before the first.
    * ``usable`` bool (S, V) — False until ``set_usable(s, v, True)``.
    * ``fee`` float64 (V,) — taker fee per venue as a fraction (10 bps = 0.001).
    * ``bid_fee``, ``ask_fee`` (lists of V floats) — ``1 - f`` and ``1 + f``, the multipliers
      of bid and ask prices.
    * ``cells`` — ``levels`` as a flat float64 memoryview (book (s, v) starts at cell
      ``(s * V + v) * 4 * L``): one item or slice read from it costs a fraction of numpy's.
    * ``bid_eff`` float64 (S, V) — ``b0 (1 - f_v)``, or -inf if unusable or no bid.
    * ``ask_eff`` float64 (S, V) — ``a0 (1 + f_v)``, or +inf if unusable or no ask.
    * ``bid_max``, ``ask_min`` (lists of S floats) — ``max(bid_eff[s])`` and
      ``min(ask_eff[s])``, kept exact on every change: no pair of symbol s can pay unless
      ``bid_max[s] > ask_min[s]``, and none involving leg v unless ``bid_max[s] >
      ask_eff[s, v]`` or ``bid_eff[s, v] > ask_min[s]`` (the kernel's O(1) prune). The
      marginal profit of the first unit bought at venue i and sold at venue j is
      ``bid_eff[s, j] - ask_eff[s, i]``; an unusable leg or a missing side never pays.
    """

    __slots__ = (
        "_ask",
        "_bid",
        "_bytes",
        "_slot",
        "_updated",
        "_usable",
        "ask_eff",
        "ask_fee",
        "ask_min",
        "bid_eff",
        "bid_fee",
        "bid_max",
        "cells",
        "depth",
        "fee",
        "levels",
        "n_symbols",
        "n_venues",
        "updated_ns",
        "usable",
    )

    def __init__(self, n_symbols: int, n_venues: int, depth: int, fee_frac: npt.ArrayLike) -> None:
        fee = np.array(fee_frac, dtype=np.float64)
        if n_symbols < 1 or n_venues < 1 or depth < 1:
            raise ValueError(f"need >= 1 symbol, venue and level, got {n_symbols, n_venues, depth}")
        if fee.shape != (n_venues,):
            raise ValueError(f"fee_frac must have shape ({n_venues},), got {fee.shape}")
        if not np.all((fee >= 0.0) & (fee < 1.0)):
            raise ValueError(f"fees must be fractions in [0, 1), got {fee.tolist()}")
        self.n_symbols, self.n_venues, self.depth = n_symbols, n_venues, depth
        self.fee: F64 = fee
        self.levels: F64 = np.zeros((n_symbols, n_venues, 4, depth))
        self.levels[:, :, ASK_PX, :] = MISSING_ASK
        # The raw bytes of ``levels``: ``write`` packs a whole book into its slot with one
        # struct.pack_into. Measured for 20 levels a side: 0.9 µs, against 2.3 µs to assign
        # one packed list to a (4L,) view and 2.7 µs for four slice assignments.
        self._bytes = self.levels.data.cast("B")
        self.cells = self._bytes.cast("d")  # flat float64 view: one item read costs ~40 ns
        self._slot = 4 * depth * self.levels.itemsize
        self.updated_ns = np.zeros((n_symbols, n_venues), dtype=np.int64)
        self.usable = np.zeros((n_symbols, n_venues), dtype=np.bool_)
        self.bid_eff: F64 = np.full((n_symbols, n_venues), -np.inf)
        self.ask_eff: F64 = np.full((n_symbols, n_venues), np.inf)
        self.bid_max = [-math.inf] * n_symbols
        self.ask_min = [math.inf] * n_symbols
        # Flat memoryviews of the per-leg arrays (index s * V + v): one scalar read or write
        # costs ~40 ns, against ~120 ns for numpy's 2-D item access, on every update.
        self._updated = self.updated_ns.data.cast("B").cast("q")
        self._usable = self.usable.data.cast("B").cast("?")
        self._bid = self.bid_eff.data.cast("B").cast("d")
        self._ask = self.ask_eff.data.cast("B").cast("d")
        self.bid_fee = [1.0 - f for f in fee.tolist()]
        self.ask_fee = [1.0 + f for f in fee.tolist()]

    def write(
        self,
        s: int,
        v: int,
        bid_px: Sequence[float],
        bid_sz: Sequence[float],
        ask_px: Sequence[float],
        ask_sz: Sequence[float],
        ts_ns: int,
    ) -> None:
        """:meth:`write_book` of plain level lists (best first)."""
        self.write_book(s, v, Levels(bid_px, bid_sz, ask_px, ask_sz), ts_ns)

    def write_book(self, s: int, v: int, book: BookView, ts_ns: int) -> None:
        """Replace the levels of book (s, v) with the best ``depth`` of ``book`` and refresh
        its fee-adjusted top of book. O(depth), no allocation on the board.
        The book writes itself into the slot (:meth:`BookView.write_top`); a book that
        refuses (ValueError, TypeError) leaves the board unchanged."""
        at, depth = s * self.n_venues + v, self.depth
        book.write_top(self._bytes, at * self._slot, depth, MISSING_ASK)
        self._updated[at] = ts_ns
        if not self._usable[at]:
            return  # its top stays at -inf/+inf until set_usable
        cells, c = self.cells, at * 4 * depth
        bid = cells[c] * self.bid_fee[v] if cells[c + depth] > 0.0 else -math.inf
        ask = cells[c + 2 * depth] * self.ask_fee[v] if cells[c + 3 * depth] > 0.0 else math.inf
        if bid != self._bid[at] or ask != self._ask[at]:
            self._set_top(s, v, bid, ask)

    def set_usable(self, s: int, v: int, usable: bool) -> None:
        """Mark leg (s, v) usable or not and refresh its fee-adjusted top of book (an unusable
        leg is never paired)."""
        self.usable[s, v] = usable
        lv = self.levels[s, v]
        has_bid = usable and lv[BID_SZ, 0] > 0.0
        has_ask = usable and lv[ASK_SZ, 0] > 0.0
        bid = float(lv[BID_PX, 0]) * self.bid_fee[v] if has_bid else -math.inf
        ask = float(lv[ASK_PX, 0]) * self.ask_fee[v] if has_ask else math.inf
        self._set_top(s, v, bid, ask)

    def _set_top(self, s: int, v: int, bid: float, ask: float) -> None:
        """Set leg (s, v)'s fee-adjusted top and keep ``bid_max[s]``/``ask_min[s]`` exact: a
        new extreme replaces it, and only the leg that held it can move it back (then one
        O(V) scan of the symbol's tops, in Python: ~0.3 µs at V = 6 against ~2.5 µs for a
        numpy reduction)."""
        at = s * self.n_venues + v
        old_bid, old_ask = self._bid[at], self._ask[at]
        self._bid[at] = bid
        self._ask[at] = ask
        if bid >= self.bid_max[s]:
            self.bid_max[s] = bid
        elif old_bid == self.bid_max[s]:
            self.bid_max[s] = max(self._bid[at - v : at - v + self.n_venues])
        if ask <= self.ask_min[s]:
            self.ask_min[s] = ask
        elif old_ask == self.ask_min[s]:
            self.ask_min[s] = min(self._ask[at - v : at - v + self.n_venues])

    def may_pay(self, s: int, v: int) -> bool:
        """Whether a pair with leg (s, v) can pay at the top of book: the best fee-adjusted bid
        of symbol s reaches v's ask, or v's bid reaches the best ask. O(1). False is exact (no
        pair involving v pays); True may come from v's own bid and ask, which the feeds never
        let cross, so the caller still compares v with each venue."""
        at = s * self.n_venues + v
        return self.bid_max[s] > self._ask[at] or self._bid[at] > self.ask_min[s]
