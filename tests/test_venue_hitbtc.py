"""HitBTC and Bequant quirks (the common checks: tests/conformance/hitbtc.py; the sequence
rule on every message of both 2021 recordings: hitbtc-v2-model-*, bequant-v2-model-*): the
replay's codec choice; several symbols in one v3 push; the emulator's refusals."""

from __future__ import annotations

from pathlib import Path

import orjson

from feeds.capture import read_capture
from feeds.protocol import BookDelta, BookSnapshot, VenueError
from feeds.venues import replay_codec_class
from feeds.venues.hitbtc import Bequant, BequantV2, HitBTC, HitBTCV2
from tests.conformance.hitbtc import CASES
from tests.test_emulator_wire import harness

FIXTURES = Path(__file__).parent / "fixtures"
V2_CASES = {c.venue: c for c in CASES if c.id.endswith("-v2")}

# A small synced v2 book and frames continuing it (the fuzzed session of tests/test_session.py).
V2_SNAPSHOT = (
    '{"jsonrpc":"2.0","method":"snapshotOrderbook","params":{"ask":[{"price":"1.19500",'
    '"size":"88716.66"}],"bid":[{"price":"1.18242","size":"5.00"}],"sequence":7333532,'
    '"timestamp":"2021-07-15T03:06:53.300Z","symbol":"EURSUSD"}}'
)
V2_FRAMES = [orjson.loads(f) for f in (V2_SNAPSHOT, V2_CASES["hitbtc"].samples[0][0])]


def test_replay_reads_v2_recordings_with_the_v2_codecs() -> None:
    for venue, cls in (("hitbtc", HitBTCV2), ("bequant", BequantV2)):
        recording = read_capture(FIXTURES / f"{venue}.ndjson.gz")
        recorded = "\n".join(r.url + str(r.data) for r in recording if r.dir in ("open", "out"))
        assert replay_codec_class(venue, recorded.lower()) is cls
    assert replay_codec_class("hitbtc2", "ws://127.0.0.1:9/api/3/ws/public") is HitBTC
    assert replay_codec_class("bequant", "wss://api.bequant.io/api/3/ws/public") is Bequant


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


def test_the_emulator_refuses_unknown_symbols_and_requests_as_documented() -> None:
    _, _, session = harness("bequant", "/api/3/ws/public")
    codec = Bequant(["BTC/USDT"])
    bad = (
        ('{"method":"subscribe","ch":"orderbook/full","params":{"symbols":["NOPE"]},"id":5}',
         '{"error":{"code":2001,"message":"Symbol not found","description":"NOPE"},"id":5}'),
        ('{"method":"subscribe","ch":"trades","params":{"symbols":["BTCUSDT"]},"id":6}', None),
        ('{"method":"subscribe","ch":"orderbook/full","params":{},"id":7}', None),
    )  # fmt: skip
    for request, expected in bad:
        (out,) = session.received(request, 0)
        if expected is not None:
            assert out.frame == expected
        (error,) = codec.parse(out.frame)
        assert isinstance(error, VenueError) and error.message.startswith(
            "2001: " if expected else "10001: Validation error"
        )
    frames = [o.frame for o in session.received(codec.subscribe_frames(["BTC/USDT"])[0], 0)]
    assert frames[0] == '{"result":{"ch":"orderbook/full","subscriptions":["BTCUSDT"]},"id":1}'
    assert isinstance(codec.parse(frames[1])[0], BookSnapshot)
