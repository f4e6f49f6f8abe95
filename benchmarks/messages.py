"""Deterministic raw message streams shared by every variant of the book benchmark.

Two streams, built from a seed so every run (and every peer) sees the same bytes:

* **Binance spot diff-depth** (https://developers.binance.com/docs/binance-spot-api-docs/
  web-socket-streams, "Diff. Depth Stream"): a REST snapshot ``{"lastUpdateId", "bids",
  "asks"}`` of 1,000 levels a side, then ``depthUpdate`` events of ~22 levels (~700 B) whose
  ``U``/``u`` ids chain on from ``lastUpdateId + 1``. Prices and sizes are 8-decimal strings as
  Binance sends them. Each event is wrapped as the combined stream sends it
  (``{"stream": ..., "data": ...}``), the form both cryptofeed and this project accept.
* **Kraken WS v1 book** (https://docs.kraken.com/api/docs/websocket-v1/book): a ``book-1000``
  snapshot ``[id, {"as", "bs"}, "book-1000", pair]`` then updates ``[id, {"a" or "b", "c"},
  ...]`` with a valid CRC32 ``c`` over the top 10 of the book truncated to the subscribed depth.

The generator keeps its own reference book, so :func:`binance_stream` and
:func:`kraken_stream` also return the expected top 10 levels after the last message.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

import orjson

Top = tuple[list[tuple[float, float]], list[tuple[float, float]]]
"""(bids best first, asks best first) as (price, size) floats: what each variant must end with."""

BINANCE_SYMBOL = "BTCUSDT"
KRAKEN_PAIR = "XBT/USD"
KRAKEN_DEPTH = 1000
KRAKEN_CHANNEL = 336
BINANCE_SNAPSHOT_LEVELS = 1000
BINANCE_LEVELS_PER_MSG = 21
KRAKEN_LEVELS_PER_MSG = 4


@dataclass(frozen=True)
class Stream:
    """A snapshot (REST body or first WS frame), the frames after it, and the expected top 10."""

    snapshot: str
    messages: list[str]
    top10: Top


def _top10(bids: dict[int, str], asks: dict[int, str], scale: float) -> Top:
    b = sorted(bids, reverse=True)[:10]
    a = sorted(asks)[:10]
    return (
        [(t / scale, float(bids[t])) for t in b],
        [(t / scale, float(asks[t])) for t in a],
    )


def _size(rng: random.Random, decimals: int) -> str:
    # >= 0.001 so that Decimal(str) never switches to exponent notation (peers keep Decimals).
    return f"{rng.randint(1_000, 5_000_000) / 1_000_000:.{decimals}f}"


def binance_stream(n: int, seed: int = 1) -> Stream:
    """``n`` diff-depth events for BTCUSDT after a 1,000-level snapshot (tick 0.01)."""
    rng = random.Random(seed)
    mid = 3_000_000  # 30,000.00 in ticks of 0.01; bids below, asks above: the book never crosses
    bids = {mid - k: _size(rng, 8) for k in range(1, BINANCE_SNAPSHOT_LEVELS + 1)}
    asks = {mid + k: _size(rng, 8) for k in range(1, BINANCE_SNAPSHOT_LEVELS + 1)}

    def px(t: int) -> str:
        return f"{t / 100:.8f}"

    last = 7_000_000
    snapshot = orjson.dumps(
        {
            "lastUpdateId": last,
            "bids": [[px(t), q] for t, q in sorted(bids.items(), reverse=True)],
            "asks": [[px(t), q] for t, q in sorted(asks.items())],
        }
    ).decode()
    messages = []
    event_ms = 1_700_000_000_000
    for _ in range(n):
        nb = rng.randint(8, BINANCE_LEVELS_PER_MSG - 8)
        changes: list[list[list[str]]] = [[], []]
        for side, book, sign, count in (
            (0, bids, -1, nb),
            (1, asks, 1, BINANCE_LEVELS_PER_MSG - nb),
        ):
            for k in sorted(rng.sample(range(1, 60), count)):
                t = mid + sign * k
                q = "0.00000000" if rng.random() < 0.2 else _size(rng, 8)
                if q == "0.00000000":
                    book.pop(t, None)
                else:
                    book[t] = q
                changes[side].append([px(t), q])
        first, last = last + 1, last + rng.randint(BINANCE_LEVELS_PER_MSG, 40)
        event_ms += 100
        data = {
            "e": "depthUpdate",
            "E": event_ms,
            "s": BINANCE_SYMBOL,
            "U": first,
            "u": last,
            "b": changes[0],
            "a": changes[1],
        }
        stream = {"stream": f"{BINANCE_SYMBOL.lower()}@depth@100ms", "data": data}
        messages.append(orjson.dumps(stream).decode())
    return Stream(snapshot, messages, _top10(bids, asks, 100.0))


def _crc_field(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def kraken_checksum(bids: dict[int, str], asks: dict[int, str], px: dict[int, str]) -> int:
    """Kraken's CRC32: top-10 asks ascending then top-10 bids descending, price + volume text
    with "." removed and leading zeros stripped (websocket-v1/book, "Checksum")."""
    parts = [_crc_field(px[t]) + _crc_field(asks[t]) for t in sorted(asks)[:10]]
    parts += [_crc_field(px[t]) + _crc_field(bids[t]) for t in sorted(bids, reverse=True)[:10]]
    return zlib.crc32("".join(parts).encode()) & 0xFFFFFFFF


def _truncate(book: dict[int, str], descending: bool, depth: int) -> None:
    for t in sorted(book, reverse=descending)[depth:]:
        del book[t]


def kraken_stream(n: int, seed: int = 2) -> Stream:
    """A ``book-1000`` snapshot for XBT/USD (tick 0.1) then ``n`` checksummed updates."""
    rng = random.Random(seed)
    mid = 300_000  # 30,000.0 in ticks of 0.1
    text: dict[int, str] = {}

    def px(t: int) -> str:
        return text.setdefault(t, f"{t / 10:.5f}")

    bids = {mid - k: _size(rng, 8) for k in range(1, KRAKEN_DEPTH + 1)}
    asks = {mid + k: _size(rng, 8) for k in range(1, KRAKEN_DEPTH + 1)}
    ts = 1_700_000_000.0
    name = f"book-{KRAKEN_DEPTH}"

    def level(t: int, q: str) -> list[str]:
        return [px(t), q, f"{ts:.6f}"]

    snap = {
        "as": [level(t, asks[t]) for t in sorted(asks)],
        "bs": [level(t, bids[t]) for t in sorted(bids, reverse=True)],
    }
    snapshot = orjson.dumps([KRAKEN_CHANNEL, snap, name, KRAKEN_PAIR]).decode()
    messages = []
    for _ in range(n):
        ts += 0.05
        # One side per update, as Kraken often sends; the checksum then sits in the first
        # (only) object, where cryptofeed 2.4.1 looks for it, so every message is verified.
        key, book, sign = ("a", asks, 1) if rng.random() < 0.5 else ("b", bids, -1)
        changes = []
        for k in sorted(rng.sample(range(1, 30), KRAKEN_LEVELS_PER_MSG)):
            t = mid + sign * k
            q = "0.00000000" if rng.random() < 0.2 else _size(rng, 8)
            if q == "0.00000000":
                book.pop(t, None)
            else:
                book[t] = q
            changes.append(level(t, q))
        part: dict[str, object] = {key: changes}
        _truncate(asks, False, KRAKEN_DEPTH)
        _truncate(bids, True, KRAKEN_DEPTH)
        part["c"] = str(kraken_checksum(bids, asks, text))
        messages.append(orjson.dumps([KRAKEN_CHANNEL, part, name, KRAKEN_PAIR]).decode())
    return Stream(snapshot, messages, _top10(bids, asks, 10.0))
