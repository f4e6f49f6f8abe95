"""An L2 order book for one (venue, symbol): no I/O, no sequencing, just levels.

The book is compiled (``feeds/_book.c``, plain CPython C API, built by ``pip install``): per
level of a diff it costs tens of nanoseconds where the same work in Python (float
conversion, bisect, list insert) cost about a microsecond, and the book is the one per-level
loop of the hot path (``benchmarks/README.md``). This module is its documented face.

Each side is a sorted array of keys with the sizes (and, with ``keep_text``, the venue's
price and size objects) in parallel, the **best level last**: most changes happen near the
top, so inserting or deleting there moves few items.

Levels arrive as the venue sent them (``[price, size, ...]`` lists or tuples of decimal
strings or JSON numbers): the book is the one place that converts and validates them. A
price must be finite and > 0, a size finite and >= 0; anything else (non-numeric text, a
bool, a level that is not a ``[price, size, ...]`` list or tuple) raises :class:`BadLevel`.
A decimal string gets exactly the value ``float()`` gives it (plain decimals by an exact fast
path, every other spelling by ``float()`` itself).

:class:`Book` (all methods; see ``feeds/_book.pyi`` for the signatures):

* ``Book(*, top_n=20, keep_text=False, max_depth=None)``: ``top_n`` is the depth the caller
  publishes; ``max_depth`` (settable) truncates each side after every apply (for a venue
  that keeps and checksums its book at the subscribed depth and does not delete the levels
  pushed out: ``ChecksumLayout.truncate``).
* ``apply(bids, asks) -> bool``: absolute sizes, 0 deletes, deleting an absent level is a
  no-op; returns whether a level within the top ``top_n`` of either side changed (False
  means :meth:`top` returns what it returned before). ``apply_snapshot(bids, asks)``
  replaces the book. On :class:`BadLevel` the book holds part of the message: resync.
* ``top(n=None)``: ``(bid_px, bid_sz, ask_px, ask_sz)`` of the best ``n`` (default
  ``top_n``), best first; ``top_text(n)``: the venue's ``(price, size)`` objects of the best
  ``n`` per side (``keep_text`` only); ``side(bids)``: every level, best first.
* ``copy()``: a book of the same levels (no text); ``agrees(before)``: whether ``before``
  held exactly this book's levels, on each side from this book's best price down, as many
  as this side has (a re-sent snapshot checked against the book it replaces).
* ``write_top(buffer, offset, n, missing_ask)``: the best ``n`` levels as four float64 rows
  ``[bid_px * n, bid_sz * n, ask_px * n, ask_sz * n]``, best first, into a writable buffer at
  byte ``offset``; a missing bid is ``(0, 0)``, a missing ask ``(missing_ask, 0)``. The
  scanner's board takes each update this way, with no Python float in between.
* ``best_bid()``, ``best_ask()`` (None when empty), ``crossed()``, ``bid_count``,
  ``ask_count``, ``clear()``.
* ``crc32(code)``: the venue's checksum over the kept text, built as the layout whose
  ``ChecksumLayout.code`` is given says (:mod:`feeds.checksum` keeps the layouts and the
  readable Python definition; tests prove both agree). The module function
  ``feeds._book.crc32(code, bids, asks)`` computes the same over levels given best first
  (also raw ``(order_id, price, size)`` orders).
"""

from __future__ import annotations

from feeds._book import BadLevel, Book, Lane

Top = tuple[list[float], list[float], list[float], list[float]]
"""``(bid_px, bid_sz, ask_px, ask_sz)`` best first."""

__all__ = ["BadLevel", "Book", "Lane", "Top"]
