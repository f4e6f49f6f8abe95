"""Bitfinex v2 quirks: the conf once per connection, no unsubscribe without a chanId; the
published checksum vectors through the session (the ``cs`` frames). (The 2021 recording,
SEQ_ALL without checksums, read, its counter and every delete proven and the session
followed by the independent model: tests/test_reference.py; the documented frames, info
codes, bad bodies keeping their counter, frames out: tests/conformance/bitfinex.py.)"""

from __future__ import annotations

from pathlib import Path

import orjson

from feeds.actions import Send
from feeds.venues.bitfinex import Bitfinex
from tests.venue_helpers import session_for

VECTORS = Path(__file__).parent / "fixtures" / "checksum_vectors" / "bitfinex_book_checksum.json"
SUBSCRIBE_ETH = (
    '{"event":"subscribe","channel":"book","symbol":"tETHUSD","prec":"P0","freq":"F0","len":"25"}'
)


def test_conf_once_per_connection_and_no_unsubscribe_without_a_chan_id() -> None:
    codec = Bitfinex(["ETH/USD", "AVAX/USDT"])
    assert codec.subscribe_frames(["ETH/USD"]) == ['{"event":"conf","flags":196608}', SUBSCRIBE_ETH]
    assert codec.subscribe_frames(["AVAX/USDT"]) == [SUBSCRIBE_ETH.replace("tETHUSD", "tAVAX:UST")]
    assert codec.unsubscribe_frames(["ETH/USD"]) == []  # not subscribed yet: the session reconnects


def test_checksums_of_the_published_vectors_through_the_session() -> None:
    # https://docs.bitfinex.com/reference/ws-public-books, with the SEQ_ALL counter appended
    session, recorders, _ = session_for(Bitfinex(["ETH/USD"]))
    session.opened(0)
    session.frame('{"event":"subscribed","channel":"book","chanId":10092,"symbol":"tETHUSD"}', 0)
    seq = 0
    for case in orjson.loads(VECTORS.read_bytes())["cases"][:5]:  # P0 (price, amount) best first
        bids = [[float(p), 1, float(a)] for p, a in case["bids_best_first"]]
        asks = [[float(p), 1, -float(a)] for p, a in case["asks_best_first"]]
        assert session.frame(orjson.dumps([10092, bids + asks, seq + 1]), 0) == []
        assert session.frame(f'[10092,"cs",{case["expected_checksum"]},{seq + 2}]', 0) == []
        seq += 2
    assert (session.stats.checksum_ok, session.stats.checksum_fail, session.stats.gaps) == (5, 0, 0)
    # a checksum that does not match resyncs that book in-band, unsubscribed by its chanId
    assert session.frame(f'[10092,"cs",12345,{seq + 1}]', 1) == [
        Send('{"event":"unsubscribe","chanId":10092}'),
        Send(SUBSCRIBE_ETH),
    ]
    assert session.stats.checksum_fail == 1
    assert recorders["ETH/USD"].usable == [(True, None, 0), (False, "desynced", 1)]
