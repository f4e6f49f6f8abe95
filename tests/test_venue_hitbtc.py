"""HitBTC and Bequant quirks (the common checks, the replay's codec choice and the emulator's
refusals: tests/conformance/hitbtc.py; the sequence rule on every message of both 2021
recordings: hitbtc-v2-model-*, bequant-v2-model-*): several symbols in one v3 push; an
unsubscribe's answer."""

from __future__ import annotations

from feeds.protocol import BookDelta
from feeds.venues.hitbtc import HitBTC, HitBTCV2


def test_a_v3_push_may_carry_several_symbols() -> None:
    # "snapshot"/"update" are objects keyed by symbol (the page's notification example)
    codec = HitBTC(["ETH/BTC", "BTC/USDT"])
    book = '{"t":1626866578796,"s":%d,"a":[],"b":[["0.060439","4.4095"]]}'
    frame = f'{{"ch":"orderbook/full","update":{{"ETHBTC":{book % 7},"BTCUSDT":{book % 9}}}}}'
    ts = 1626866578796_000000
    assert codec.parse(frame) == [
        BookDelta("ETH/BTC", [["0.060439", "4.4095"]], [], last=7, venue_ts_ns=ts),
        BookDelta("BTC/USDT", [["0.060439", "4.4095"]], [], last=9, venue_ts_ns=ts),
    ]


def test_an_unsubscribe_answer_is_no_subscription_and_requests_count_their_ids() -> None:
    codec = HitBTC(["BTC/USDT"])
    assert codec.subscribe_frames(["BTC/USDT"])[0].endswith('"id":1}')
    (unsub,) = codec.unsubscribe_frames(["BTC/USDT"])
    assert unsub == (
        '{"method":"unsubscribe","ch":"orderbook/full","params":{"symbols":["BTCUSDT"]},"id":2}'
    )
    answer = '{"result":{"ch":"orderbook/full","subscriptions":[]},"id":2}'
    assert codec.parse(answer) == []
    assert codec.ping_frame() is None  # the WebSocket protocol's ping keeps it alive
    assert HitBTCV2(["EURS/USD"]).unsubscribe_frames(["EURS/USD"]) == [
        '{"method":"unsubscribeOrderbook","params":{"symbol":"EURSUSD"},"id":1}'
    ]
