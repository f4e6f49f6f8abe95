"""Independent Reserve beyond the conformance suite: the depth in the URL; what the 2022
recording (a slice: tests/fixtures/independentreserve_l3.ndjson.gz, see ATTRIBUTION.md) of the
older order-level channel shares with today's protocol, proven on every message."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import orjson

from feeds.capture import read_capture
from feeds.checksum import INDEPENDENT_RESERVE, crc32
from feeds.protocol import Heartbeat, Ignored
from feeds.venues.independentreserve import IndependentReserve
from tests.conformance import FIXTURES
from tests.conformance.independentreserve import checksum, fixed8


def test_the_depth_is_the_last_path_segment() -> None:
    default, five = IndependentReserve(["BTC/AUD"]), IndependentReserve(["BTC/AUD"], depth=5)
    url = default.ws_url(default.endpoints.ws)
    assert url == "wss://websockets.independentreserve.com/orderbook/50"
    assert five.ws_url("ws://127.0.0.1:9/orderbook/") == "ws://127.0.0.1:9/orderbook/5"


L3 = FIXTURES / "independentreserve_l3.ndjson.gz"  # the older order-level channel
RECORDED = [r.data for r in read_capture(L3) if r.dir == "in"]
RECORDED_SYMBOLS = ("PMGT/NZD", "ETC/AUD", "EOS/NZD", "SNX/AUD", "BCH/SGD", "EOS/SGD")


def test_the_recording_shares_the_envelope_naming_and_numbers() -> None:
    """Every recorded frame reads through today's codec (``Heartbeat``, ``Subscriptions``,
    the order-level events ignored, none malformed); the subscriptions name the pairs as
    today's codec writes them; every recorded number has at most 8 decimals, so the
    checksum's ``toFixed(8)`` text of it is exact, and the layout writes it as the rule."""
    codec = IndependentReserve(RECORDED_SYMBOLS)
    events = Counter(repr(e) for frame in RECORDED for e in codec.parse(frame))
    assert events == {repr(Ignored("Event OrderCanceled")): 98, repr(Ignored("Event NewOrder")): 95,
                      repr(Heartbeat()): 1}  # fmt: skip
    (echo,) = [m["Data"] for m in map(orjson.loads, RECORDED) if m["Event"] == "Subscriptions"]
    assert {f"ticker-{codec.venue_symbol(s)}" for s in RECORDED_SYMBOLS} <= set(echo)
    numbers = 0
    for frame in RECORDED:
        data = json.loads(frame, parse_float=Decimal).get("Data")
        if not isinstance(data, dict) or "Volume" not in data:
            continue
        volume = data["Volume"]
        for price in data["Price"].values():  # one price per secondary currency
            assert min(price.as_tuple().exponent, volume.as_tuple().exponent) >= -8
            level = [float(price), float(volume)]
            assert crc32(INDEPENDENT_RESERVE, [level], []) == checksum([level], [])
            assert Decimal(fixed8(level[0])) == price * 10**8
            numbers += 1
    assert numbers == 95 * 4
