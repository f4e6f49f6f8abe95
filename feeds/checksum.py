"""Book checksums that venues send after each message, described as data.

A venue's checksum is one CRC32 (zlib's) over a text built from the top of its book; what
differs between venues is only how that text is built, and :class:`ChecksumLayout` says it.
A codec declares its layout (``Integrity.checksum``); the session hands ``layout.code`` to
the compiled book (``Book.crc32(code)``, ``feeds/_book.c``), which builds the same text from
the kept venue strings. :func:`crc32` below is the readable definition; tests prove the two
agree on every published vector and on random books, and the emulator signs its frames with
it.

Levels are ``(price, size)`` pairs of the venue's own objects, best first
(:meth:`feeds.book.Book.top_text`), or ``(order_id, price, size)`` for a layout whose
``label`` is :attr:`Label.ORDER_ID`. A JSON number is rendered with :func:`str`, so a venue
whose checksum is defined over its text as sent (:attr:`Text.WIRE`) must keep it
(``Integrity.keep_text``); the other layouts are defined over the numbers' values, and a book
that keeps no text computes them from its own doubles (as the venue's JavaScript holds them).
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from feeds.protocol import Level, Number


class Order(enum.IntEnum):
    """In which order the levels enter the text."""

    INTERLEAVED = 0
    """``bid0 ask0 bid1 ask1 ...``; when one side is shorter the other continues alone."""
    ASKS_THEN_BIDS = 1
    """The asks best first, then the bids best first."""
    BIDS_THEN_ASKS = 2
    """The bids best first, then the asks best first."""


class Text(enum.IntEnum):
    """How one number is written into the text."""

    WIRE = 0
    """Exactly as the venue sent it (``str()`` of a JSON number)."""
    JS = 1
    """Its value as JavaScript prints a number: no trailing zeros, exponent form below 1e-6
    and from 1e21 (``1.5e-7``, ``0.000001``, ``63976``). The digits are the text's own
    (a float's shortest repr), exactly: an integer beyond 2**53 is not rounded to a double."""
    FIXED8 = 2
    """Its value as a double with exactly 8 decimals, as JavaScript's ``toFixed(8)`` (but an
    exact tie, a double with 9+ decimals ending in 5, rounds half-even, not up)."""


class Label(enum.IntEnum):
    """What stands for a level beside its size."""

    PRICE = 0
    """``(price, size)`` levels."""
    ORDER_ID = 1
    """``(order_id, price, size)`` raw orders: the id is written, not the price."""


@dataclass(frozen=True, slots=True)
class ChecksumLayout:
    """How a venue builds the text its CRC32 covers."""

    levels: int
    """The top ``levels`` of each side enter (fewer when a side is shorter)."""
    order: Order
    separator: str = ""
    """Between every two numbers: ``":"`` or nothing."""
    text: Text = Text.WIRE
    digits_only: bool = False
    """After :attr:`text`: every ``.`` removed, then leading zeros stripped."""
    negate_asks: bool = False
    """Ask sizes written with a leading ``-``."""
    signed: bool = False
    """The result as a signed 32-bit integer (else unsigned)."""
    label: Label = Label.PRICE
    truncate: bool = False
    """The venue does not delete levels pushed out of the subscribed depth: the book is cut
    to that depth after every message, before the checksum."""

    def __post_init__(self) -> None:
        if not 0 < self.levels < 1 << 16:
            raise ValueError(f"levels must be 1..65535, not {self.levels}")
        if self.separator not in ("", ":"):
            raise ValueError(f"separator must be ':' or '', not {self.separator!r}")

    @property
    def code(self) -> int:
        """The layout packed in one int for the compiled book (``Book.crc32(code)``)."""
        return (
            self.levels
            | self.order << 16
            | (self.separator == ":") << 18
            | self.text << 19
            | self.digits_only << 21
            | self.negate_asks << 22
            | self.signed << 23
            | self.label << 24
        )


KRAKEN: Final = ChecksumLayout(
    10, Order.ASKS_THEN_BIDS, digits_only=True, truncate=True
)  # https://docs.kraken.com/api/docs/guides/spot-ws-book-v2, "Checksum"
OKX: Final = ChecksumLayout(
    25, Order.INTERLEAVED, ":", signed=True
)  # https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
BITGET: Final = OKX  # recorded Bitget v1 books match it with their original strings
BITFINEX_P0: Final = ChecksumLayout(
    25, Order.INTERLEAVED, ":", Text.JS, negate_asks=True, signed=True
)  # https://docs.bitfinex.com/docs/ws-websocket-checksum
BITFINEX_R0: Final = ChecksumLayout(
    25, Order.INTERLEAVED, ":", Text.JS, negate_asks=True, signed=True, label=Label.ORDER_ID
)  # raw books: the order id instead of the price, orders sorted by price then id
INDEPENDENT_RESERVE: Final = ChecksumLayout(
    10, Order.BIDS_THEN_ASKS, text=Text.FIXED8, digits_only=True, truncate=True
)  # https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md


def js_number(x: Number) -> str:
    """``x``'s value as JavaScript prints a number (``Number.prototype.toString``)."""
    d = Decimal(repr(x) if isinstance(x, float) else str(x))
    if not d:
        return "0"
    sign, digit_tuple, exp = d.as_tuple()  # exact: no context rounding
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    n = len(digit_tuple) + exp  # the value is 0.digits x 10^n
    k = len(digits)
    minus = "-" if sign else ""
    if k <= n <= 21:
        return minus + digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{minus}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{minus}0.{'0' * -n}{digits}"
    e = n - 1
    frac = "." + digits[1:] if k > 1 else ""
    return f"{minus}{digits[0]}{frac}e{'+' if e >= 0 else '-'}{abs(e)}"


def _write(layout: ChecksumLayout, x: Number, negate: bool) -> str:
    if layout.text is Text.JS:
        s = js_number(x)
    elif layout.text is Text.FIXED8:
        s = format(float(x), ".8f")
    else:
        s = str(x)
    if layout.digits_only:
        s = s.replace(".", "").lstrip("0")
    return "-" + s if negate else s


def crc32(layout: ChecksumLayout, bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """The venue's checksum of a book given best first on each side."""
    size = 2 if layout.label is Label.ORDER_ID else 1
    b, a = bids[: layout.levels], asks[: layout.levels]
    tagged: list[tuple[Level, bool]]
    if layout.order is Order.INTERLEAVED:
        tagged = []
        for i in range(max(len(b), len(a))):
            tagged += [(b[i], False)] if i < len(b) else []
            tagged += [(a[i], True)] if i < len(a) else []
    elif layout.order is Order.ASKS_THEN_BIDS:
        tagged = [(lv, True) for lv in a] + [(lv, False) for lv in b]
    else:
        tagged = [(lv, False) for lv in b] + [(lv, True) for lv in a]
    parts: list[str] = []
    for level, ask in tagged:
        parts.append(_write(layout, level[0], False))
        parts.append(_write(layout, level[size], ask and layout.negate_asks))
    value = zlib.crc32(layout.separator.join(parts).encode())
    return value - (1 << 32) if layout.signed and value >= 1 << 31 else value
