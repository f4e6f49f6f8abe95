"""The frame lane: a venue's most common frame, one book delta, read straight into the book.

Most of what a venue sends is one frame kind: a book delta for one symbol (on some venues,
also the whole book again). A codec declares that frame's shape as data (:class:`FrameShape`:
where the symbol, the sequence ids, the time, the connection counter and the levels are,
which strings must hold which values, how a level is written), and the session compiles it
(:func:`lane`) into a compiled :class:`~feeds._book.Lane` (``feeds/_lane.c``). For each
frame, ``lane.scan(frame)`` walks the JSON once in C and returns :data:`LaneHit` with the
levels parsed into the lane, or None; ``book.apply_lane(lane)`` applies them (a whole book
replaces the book). Nothing else is built: no dict per frame, no string per price.

None means "not this shape, or not sure", and is always safe: the session then hands the
frame to the codec, the one authority on what a frame means and what is wrong with it. The
scan declines whatever it would have to interpret (invalid JSON, a string with an escape, a
wanted member given twice, a number float() would not read the plain way, a level the book
refuses, an unknown symbol), so it never accepts a frame the codec would read differently.
The session also takes the lane only for the plain case (a usable book, a delta whose
sequence is plainly applied or dropped, :func:`feeds.sequencing.lane_verdict`); a gap, a
first delta to bridge, a resync, a state change all go the ordinary way. Tests replay every
venue's recording both ways and fuzz frames through both, requiring the same books, answers
and counters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from feeds._book import Lane

LaneHit = tuple[str, int | None, int | None, int | None, int | str | None, int | None]
"""What a scan found: ``(symbol, first, last, prev, ts, counter)``; ``ts`` in ns, or the
venue's RFC 3339 text."""

Path = tuple[str | int, ...]
"""Object members (str) and array elements (int) from the frame's root to a value."""


class LevelForm(enum.IntEnum):
    """How one level is written (values: ``feeds/_lane.c``)."""

    PAIR = 0
    """``[price, size, ...]``; bids and asks in their own arrays."""
    OBJECT = 1
    """``{"price": p, "size": s, ...}`` (the member names in :attr:`FrameShape.keys`; with a
    third, the member holding the level's side, one of :attr:`FrameShape.tags`)."""
    TAGGED = 2
    """``[side, price, size, ...]`` in one array; the side's words in :attr:`FrameShape.tags`."""
    ACTION = 3
    """``[action, price, size]``, action ``new``/``change``/``delete`` checked against the
    book as each level applies (:attr:`feeds.protocol.Integrity.level_actions`)."""
    COUNTED = 4
    """``[price, count, amount]``: count 0 deletes the level on the side amount names (1 a
    bid, -1 an ask); else amount > 0 is a bid, < 0 an ask, of size ``|amount|``."""


class TimeUnit(enum.IntEnum):
    """What the frame's time is (values: ``feeds/_lane.c``)."""

    MS = 0
    US = 1
    NS = 2
    RFC3339 = 3
    """Text, converted by :func:`feeds.codeckit.rfc3339_ns`."""


class ZeroPrice(enum.IntEnum):
    """Which zero prices are no levels (values: ``feeds/_lane.c``)."""

    REFUSED = 0
    TEXT = 1
    """The string ``"0"`` (a change that only advances the venue's sequence)."""
    NUMBER = 2
    """A JSON number equal to 0 (an auction's fill, not a resting level)."""


# Path kinds and flags (feeds/_lane.c)
_MATCH, _SYMBOL, _FIRST, _LAST, _PREV, _TS, _COUNTER = range(1, 8)
_BIDS, _ASKS, _LEVELS, _LEVEL, _ABSENT = range(8, 13)
_TEXT: Final = 1
_OPTIONAL: Final = 2
_CONTAINS: Final = 4
_LINKED: Final = 8


@dataclass(frozen=True, slots=True)
class FrameShape:
    """Where a venue's book delta keeps what the session needs; each value as the codec
    reads it (a shape never accepts what the codec would refuse or read otherwise: tests)."""

    symbol: Path
    """The venue id (a string, or a channel number), looked up in the codec's venue id ->
    symbol table at each frame (a codec may add ids as the venue names them); a path
    ending in ``"*"`` names an object's one member, whose name is the venue id (and whose
    value the other paths may go through)."""
    bids: Path = ()
    asks: Path = ()
    levels: Path = ()
    """The one array of both sides' levels (:attr:`LevelForm.TAGGED`)."""
    level: Path = ()
    """The frame's one level (:attr:`LevelForm.COUNTED`)."""
    counter: Path = ()
    """The connection's message counter (:attr:`feeds.protocol.Integrity.connection_counter`),
    a non-negative JSON integer."""
    match: tuple[tuple[Path, str], ...] = ()
    """Strings that must hold exactly these values (the frame's kind, its channel...)."""
    match_if_present: tuple[tuple[Path, str], ...] = ()
    """Strings that may be absent, or else must hold these values."""
    contains: tuple[tuple[Path, str], ...] = ()
    """Strings that must contain these texts (``@depth`` in a stream's name)."""
    absent: tuple[Path, ...] = ()
    """Members the frame must not have (``full``: then it is a snapshot)."""
    first: Path = ()
    last: Path = ()
    prev: Path = ()
    """The sequence ids the venue's rule reads (non-negative JSON integers)."""
    linked: bool = False
    """The delta follows the one whose last id is ``first`` - 1 (its ``prev``)."""
    ids_as_text: bool = False
    """The ids may also be strings of digits."""
    ts: Path = ()
    ts_unit: TimeUnit = TimeUnit.MS
    ts_as_text: bool = False
    """A numeric time may also be a string of digits."""
    ts_optional: bool = False
    symbol_prefix: str = ""
    """Text before the venue id in the symbol's string (``diff_order_book_``)."""
    form: LevelForm = LevelForm.PAIR
    tags: tuple[str, str] = ("", "")
    """The words of a bid and of an ask in a level (``buy``, ``sell``)."""
    keys: tuple[str, ...] = ("price", "size")
    """:attr:`LevelForm.OBJECT`: the members of a level's price and size, and of its side
    when the level says it."""
    whole: bool = False
    """The frame is a whole book (a snapshot that replaces the symbol's), not a delta; its
    ``last`` id, if any, is the book's."""
    skip_zero: ZeroPrice = ZeroPrice.REFUSED
    """Levels whose price is zero written this way are no levels (left out); any other
    zero price is refused, as the book refuses it."""


def lane(shape: FrameShape, symbols: dict[str, str] | dict[int, str]) -> Lane:
    """``shape`` compiled for one connection, whose venue ids map to ``symbols`` (the table
    itself, read at each frame)."""
    ids = _TEXT if shape.ids_as_text else 0
    paths: list[tuple[Path, int, int, str | None]] = [(p, _MATCH, 0, v) for p, v in shape.match]
    paths += [(p, _MATCH, _OPTIONAL, v) for p, v in shape.match_if_present]
    paths += [(p, _MATCH, _CONTAINS, v) for p, v in shape.contains]
    paths.append((shape.symbol, _SYMBOL, 0, shape.symbol_prefix))
    paths += [(p, _ABSENT, 0, None) for p in shape.absent]
    for path, kind in ((shape.first, _FIRST), (shape.last, _LAST), (shape.prev, _PREV)):
        if path:
            linked = _LINKED if kind == _FIRST and shape.linked else 0
            paths.append((path, kind, ids | linked, None))
    if shape.counter:
        paths.append((shape.counter, _COUNTER, 0, None))
    if shape.ts:
        flags = (_TEXT if shape.ts_as_text else 0) | (_OPTIONAL if shape.ts_optional else 0)
        paths.append((shape.ts, _TS, flags | shape.ts_unit << 2, None))
    sides = (shape.bids, _BIDS), (shape.asks, _ASKS), (shape.levels, _LEVELS), (shape.level, _LEVEL)
    for path, kind in sides:
        if path:
            paths.append((path, kind, 0, None))
    return Lane(
        tuple(paths),
        int(shape.form),
        symbols,
        shape.tags,
        shape.keys,
        int(shape.skip_zero),
        shape.whole,
    )
