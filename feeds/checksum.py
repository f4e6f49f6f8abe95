"""Book checksums that venues send after each message, over the venue's original text.

These are the readable definitions. The feeds compute the same checksums inside the compiled
book (:meth:`feeds.book.Book.kraken_crc32`, ``okx_crc32``); tests prove the two agree on every
published vector and on random books, and the emulator's own checksums come from here.

Both take the top levels best first as ``(price, size)`` pairs of the venue's strings
(:meth:`feeds.book.Book.top_text`). Numbers are rendered with :class:`str` only as a fallback
for codecs that pass JSON numbers; a venue whose checksum is defined over text must keep
its text (``Integrity.keep_text``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from feeds.protocol import Number

TextLevel = tuple[Number, Number]


def kraken_crc32(bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> int:
    """Kraken CRC32 (unsigned) of the top 10 asks ascending, then the top 10 bids
    descending; each level contributes price then size with ``.`` removed and leading zeros
    stripped (https://docs.kraken.com/api/docs/guides/spot-ws-book-v2, "Checksum")."""
    parts: list[str] = []
    for px, sz in (*asks[:10], *bids[:10]):
        parts.append(str(px).replace(".", "").lstrip("0"))
        parts.append(str(sz).replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


def okx_crc32(bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> int:
    """OKX / Bitget CRC32 as a signed int32 of ``bidPx:bidSz:askPx:askSz:...`` interleaved
    over the top 25 of each side; when one side is shorter the other continues alone
    (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel,
    "Checksum")."""
    parts: list[str] = []
    b, a = bids[:25], asks[:25]
    for i in range(max(len(b), len(a))):
        if i < len(b):
            parts += (str(b[i][0]), str(b[i][1]))
        if i < len(a):
            parts += (str(a[i][0]), str(a[i][1]))
    value = zlib.crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value
