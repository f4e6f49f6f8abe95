"""Independent Reserve beyond the conformance suite (tests/conformance/independentreserve.py,
where the stream's every checksum is proven by the rule written independently): the depth in
the URL. The 2022 recording (slice tests/fixtures/independentreserve_l3.ndjson.gz, see
ATTRIBUTION.md) speaks the older order-level channel: what it shares with today's protocol is
proven on every message."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson

from feeds.capture import read_capture
from feeds.checksum import INDEPENDENT_RESERVE, crc32
from feeds.protocol import Heartbeat, Ignored
from feeds.venues.independentreserve import IndependentReserve
from tests.conformance.independentreserve import fixed8


def test_the_depth_is_the_last_path_segment() -> None:
    codec = IndependentReserve(["BTC/AUD"])
    assert (
        codec.ws_url(codec.endpoints.ws) == "wss://websockets.independentreserve.com/orderbook/50"
    )
    assert IndependentReserve(["BTC/AUD"], depth=5).ws_url("ws://127.0.0.1:9/orderbook/") == (
        "ws://127.0.0.1:9/orderbook/5"
    )


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
