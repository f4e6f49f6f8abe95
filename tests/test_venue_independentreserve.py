"""Independent Reserve beyond the conformance suite (tests/conformance/independentreserve.py):
the documented checksum rule written independently (``toFixed(8)``, point and leading zeros
removed, bids then offers) proves every ``Crc32`` of the case's stream on a plain-dict book
truncated to the depth; a level deleted and inserted again in one change, as documented; the
depth in the URL; the emulator's changes in the documented shape. The 2022 recording (slice
tests/fixtures/independentreserve_l3.ndjson.gz, see ATTRIBUTION.md) speaks the older
order-level channel: what it shares with today's protocol is proven on every message."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import orjson

from emulator.venues.independentreserve import _changes
from feeds.capture import read_capture
from feeds.checksum import INDEPENDENT_RESERVE, crc32
from feeds.protocol import Heartbeat, Ignored
from feeds.session import FeedSession
from feeds.venues.independentreserve import IndependentReserve
from tests.conformance.independentreserve import CASE
from tests.venue_helpers import LastBook


def fixed8(x: float) -> str:
    """The number as ``toFixed(8)`` writes it, the point and leading zeros removed."""
    text = str(Decimal(repr(x)).quantize(Decimal("1e-8"), ROUND_HALF_EVEN))
    return text.replace(".", "").lstrip("0")


def reference_crc(bids: dict[float, float], asks: dict[float, float]) -> int:
    """https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md
    ("CRC32 checksum"): the top 10 bids descending, then the top 10 offers ascending."""
    top = sorted(bids.items(), reverse=True)[:10] + sorted(asks.items())[:10]
    return zlib.crc32("".join(fixed8(p) + fixed8(v) for p, v in top).encode())


def test_reference_proves_every_checksum_of_the_stream() -> None:
    books: dict[str, dict[float, float]] = {"Bids": {}, "Offers": {}}
    depth, proven = 5, 0
    assert CASE.depth == depth
    for frame in CASE.frames:
        msg: dict[str, Any] = orjson.loads(frame)
        if msg["Event"] not in ("OrderBookSnapshot", "OrderBookChange"):
            continue
        for side, book in books.items():
            if msg["Event"] == "OrderBookSnapshot":
                book.clear()
            for level in msg["Data"][side]:  # in order: a delete, then an insert
                book.pop(level["Price"], None)
                if level["Volume"]:
                    book[level["Price"]] = level["Volume"]
            kept = sorted(book, reverse=side == "Bids")[:depth]  # truncated to the depth
            books[side] = book = {p: book[p] for p in kept}
        assert reference_crc(books["Bids"], books["Offers"]) == msg["Data"]["Crc32"]
        proven += 1
    assert proven == 4
    assert max(books["Bids"]) == 31802.46 and min(books["Offers"]) == 31844.98
    assert len(books["Bids"]) == 4  # the fifth bid was truncated when one more was added


def test_a_level_deleted_and_inserted_again_in_one_change() -> None:
    """The documented eth-aud change: 2334.26 deleted, 2146.32 added, 2334.26 added again."""
    codec = IndependentReserve(["ETH/AUD"], depth=50)
    session = FeedSession(codec, lambda _: LastBook(), lambda *_: None)
    head = '{"Channel":"orderbook/50/eth/aud","Data":{"Offers":[{"Price":2400,"Volume":1}],'
    snapshot = head + '"Bids":[{"Price":2334.26,"Volume":1}],"Crc32":%d},"Time":1,"Event":"%s"}'
    change = (
        '{"Channel":"orderbook/50/eth/aud","Data":{"Bids":[{"Price":2334.26,"Volume":0},'
        '{"Price":2146.32,"Volume":0.01},{"Price":2334.26,"Volume":18.40609027}],"Offers":[],'
        '"Crc32":%d},"Time":1661138525620,"Event":"OrderBookChange"}'
    )
    session.opened(0)
    session.frame(snapshot % (reference_crc({2334.26: 1}, {2400: 1}), "OrderBookSnapshot"), 1)
    bids = {2334.26: 18.40609027, 2146.32: 0.01}
    session.frame(change % reference_crc(bids, {2400: 1}), 2)
    book = session.books["ETH/AUD"]
    assert [list(v) for v in book.top()] == [[2334.26, 2146.32], [18.40609027, 0.01], [2400], [1]]
    assert (session.stats.checksum_ok, session.stats.checksum_fail) == (2, 0)


def test_the_depth_is_the_last_path_segment() -> None:
    codec = IndependentReserve(["BTC/AUD"])
    assert (
        codec.ws_url(codec.endpoints.ws) == "wss://websockets.independentreserve.com/orderbook/50"
    )
    assert IndependentReserve(["BTC/AUD"], depth=5).ws_url("ws://127.0.0.1:9/orderbook/") == (
        "ws://127.0.0.1:9/orderbook/5"
    )
    assert codec.unsubscribe_frames(["BTC/AUD"]) == ['{"Event":"Unsubscribe","Data":["btc-aud"]}']


def test_the_emulator_deletes_a_changed_level_then_inserts_it() -> None:
    old, new = {100: 5, 99: 2, 98: 1}, {100: 4, 99: 2, 97: 3}
    assert _changes(old, new, reverse=True) == [(100, 0), (98, 0), (100, 4), (97, 3)]


RECORDED = [
    r.data
    for r in read_capture(Path(__file__).parent / "fixtures" / "independentreserve_l3.ndjson.gz")
    if r.dir == "in"
]
RECORDED_SYMBOLS = ("PMGT/NZD", "ETC/AUD", "EOS/NZD", "SNX/AUD", "BCH/SGD", "EOS/SGD")


def test_the_recording_shares_the_envelope_naming_and_numbers() -> None:
    """Every recorded frame reads through today's codec (``Heartbeat``, ``Subscriptions``,
    the order-level events ignored, none malformed); the subscriptions name the pairs as
    today's codec writes them; every recorded number has at most 8 decimals, so the
    checksum's ``toFixed(8)`` text of it is exact, and the layout writes it as the rule."""
    codec = IndependentReserve(RECORDED_SYMBOLS)
    events = Counter(repr(e) for frame in RECORDED for e in codec.parse(frame))
    assert events == {
        repr(Ignored("Event OrderCanceled")): 98,
        repr(Ignored("Event NewOrder")): 95,
        repr(Heartbeat()): 1,
    }
    (echo,) = [m["Data"] for m in map(orjson.loads, RECORDED) if m["Event"] == "Subscriptions"]
    assert {f"ticker-{codec.venue_symbol(s)}" for s in RECORDED_SYMBOLS} <= set(echo)
    numbers = 0
    for frame in RECORDED:
        data = json.loads(frame, parse_float=Decimal).get("Data")
        if not isinstance(data, dict) or "Volume" not in data:
            continue
        for price in data["Price"].values():  # one price per secondary currency
            volume = data["Volume"]
            assert min(price.as_tuple().exponent, volume.as_tuple().exponent) >= -8
            text = fixed8(float(price)) + fixed8(float(volume))
            assert crc32(INDEPENDENT_RESERVE, [(float(price), float(volume))], []) == zlib.crc32(
                text.encode()
            )
            assert Decimal(text[: -len(fixed8(float(volume)))]) == price * 10**8
            numbers += 1
    assert numbers == 95 * 4
