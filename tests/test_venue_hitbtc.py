"""HitBTC and Bequant quirks (the common checks, the frames out, the replay's codec choice and
the emulator's refusals: tests/conformance/hitbtc.py; the sequence rule on every message of
both 2021 recordings: hitbtc-v2-model-*, bequant-v2-model-*): several symbols in one v3 push;
an unsubscribe's answer."""

from __future__ import annotations

from feeds.protocol import BookDelta
from feeds.venues.hitbtc import HitBTC


def test_a_v3_push_may_carry_several_symbols_and_an_unsubscribe_answer_is_none() -> None:
    # "snapshot"/"update" are objects keyed by symbol (the page's notification example)
    codec = HitBTC(["ETH/BTC", "BTC/USDT"])
    book = '{"t":1626866578796,"s":%d,"a":[],"b":[["0.060439","4.4095"]]}'
    frame = f'{{"ch":"orderbook/full","update":{{"ETHBTC":{book % 7},"BTCUSDT":{book % 9}}}}}'
    ts = 1626866578796_000000
    assert codec.parse(frame) == [
        BookDelta("ETH/BTC", [["0.060439", "4.4095"]], [], last=7, venue_ts_ns=ts),
        BookDelta("BTC/USDT", [["0.060439", "4.4095"]], [], last=9, venue_ts_ns=ts),
    ]
    codec.unsubscribe_frames(["BTC/USDT"])  # id 1
    assert codec.parse('{"result":{"ch":"orderbook/full","subscriptions":["ETHBTC"]},"id":1}') == []
