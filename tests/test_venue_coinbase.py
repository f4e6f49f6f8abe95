"""Coinbase Advanced Trade codec: the official documentation's own examples, a hand-built
multi-channel stream (``sequence_num`` continuity across channels, then a gap), fuzzing.

No real Advanced Trade recording is available (the cryptofeed Coinbase capture is
the retired Coinbase Pro protocol), so the examples are quoted from
https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
("Heartbeats Channel", "Level2 Channel").
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given

from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ConnectionSeq,
    Event,
    Heartbeat,
    ParseError,
    SeqRule,
    SnapshotSource,
    Subscribed,
    VenueError,
)
from feeds.session import FeedSession, Reconnect, Send
from feeds.venues.coinbase import Coinbase
from tests.fuzzing import fuzz_settings
from tests.venue_helpers import ARBITRARY_INPUT, RecordingLeg, book_refuses, fuzz, mutated

DOC_LEVEL2_EXAMPLE = """{
  "channel": "l2_data",
  "client_id": "",
  "timestamp": "2023-02-09T20:32:50.714964855Z",
  "sequence_num": 0,
  "events": [
    {
      "type": "snapshot",
      "product_id": "BTC-USD",
      "updates": [
        {
          "side": "bid",
          "event_time": "1970-01-01T00:00:00Z",
          "price_level": "21921.73",
          "new_quantity": "0.06317902"
        },
        {
          "side": "bid",
          "event_time": "1970-01-01T00:00:00Z",
          "price_level": "21921.3",
          "new_quantity": "0.02"
        }
      ]
    }
  ]
}"""

DOC_HEARTBEATS_EXAMPLE = """{
  "channel": "heartbeats",
  "client_id": "",
  "timestamp": "2023-06-23T20:31:26.122969572Z",
  "sequence_num": 0,
  "events": [
    {
      "current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
      "heartbeat_counter": "3049"
    }
  ]
}"""

SYMBOLS = ("BTC/USD", "ETH/USD")
T0 = "2026-11-23T21:00:00"


def test_documented_level2_example() -> None:
    assert Coinbase(["BTC/USD"]).parse(DOC_LEVEL2_EXAMPLE) == [
        ConnectionSeq(0),
        BookSnapshot(
            "BTC/USD",
            bids=[("21921.73", "0.06317902"), ("21921.3", "0.02")],
            asks=[],
            venue_ts_ns=1675974770_714964855,
        ),
    ]


def test_documented_heartbeats_example() -> None:
    assert Coinbase(["BTC/USD"]).parse(DOC_HEARTBEATS_EXAMPLE) == [ConnectionSeq(0), Heartbeat()]


def test_subscribe_frames_follow_the_documented_requests() -> None:
    # Docs: {"type":"subscribe","product_ids":["ETH-USD","BTC-USD"],"channel":"level2","jwt":...}
    # (the jwt is optional for public market data) and {"type":"subscribe","channel":"heartbeats"}.
    codec = Coinbase(["ETH/USD", "BTC/USD"])
    assert codec.subscribe_frames(["ETH/USD", "BTC/USD"]) == [
        '{"type":"subscribe","product_ids":["ETH-USD","BTC-USD"],"channel":"level2"}',
        '{"type":"subscribe","channel":"heartbeats"}',
    ]
    assert codec.unsubscribe_frames(["BTC/USD"]) == [
        '{"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"level2"}'
    ]


def test_class_attributes_and_symbols() -> None:
    assert Coinbase.venue == "coinbase"
    assert Coinbase.integrity.connection_counter is True
    assert Coinbase.integrity.seq is SeqRule.NONE
    assert Coinbase.integrity.snapshot is SnapshotSource.IN_BAND
    assert Coinbase.ping_interval_s is None
    assert Coinbase.endpoints.ws == "wss://advanced-trade-ws.coinbase.com"
    codec = Coinbase(["BTC/USD", "BTC/USDC"])
    # USDC is not aliased to USD: each canonical symbol maps to its own product id.
    assert (codec.venue_symbol("BTC/USD"), codec.venue_symbol("BTC/USDC")) == (
        "BTC-USD",
        "BTC-USDC",
    )
    with pytest.raises(ValueError, match="canonical"):
        Coinbase(["BTC-USD"])


# --- a hand-built stream: one counter across channels, several products per frame -------


def msg(channel: str, seq: int, events: list[dict[str, Any]], second: int = 0) -> str:
    envelope = {
        "channel": channel,
        "client_id": "",
        "timestamp": f"{T0[:-2]}{second:02d}.5Z",
        "sequence_num": seq,
        "events": events,
    }
    return orjson.dumps(envelope).decode()


def l2(kind: str, product: str, *updates: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "type": kind,
        "product_id": product,
        "updates": [
            {"side": s, "event_time": f"{T0}Z", "price_level": p, "new_quantity": q}
            for s, p, q in updates
        ],
    }


def ts(second: int) -> int:
    return 1795467600_500000000 + second * 1_000_000_000  # 2026-11-23T21:00:SS.5Z


BTC_SNAPSHOT = l2(
    "snapshot", "BTC-USD", ("bid", "100.0", "1"), ("bid", "99.5", "2"), ("offer", "101", "3")
)
STREAM = [
    msg("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD", "ETH-USD"]}}]),
    msg("heartbeats", 1, [{"current_time": "x", "heartbeat_counter": 1}], 1),
    msg(
        "l2_data",
        2,
        [BTC_SNAPSHOT, l2("snapshot", "ETH-USD", ("bid", "10", "5"), ("offer", "10.5", "6"))],
        2,
    ),
    msg("l2_data", 3, [l2("update", "BTC-USD", ("bid", "100.0", "0"), ("offer", "100.5", "4"))], 3),
    msg("ticker", 4, [{"type": "update", "tickers": []}], 4),
    msg("heartbeats", 5, [{"current_time": "x", "heartbeat_counter": 2}], 5),
    msg(
        "l2_data",
        6,
        [
            l2("update", "ETH-USD", ("offer", "10.4", "1")),
            l2("update", "BTC-USD", ("bid", "99.7", "9")),
        ],
        6,
    ),
    msg("l2_data", 8, [l2("update", "BTC-USD", ("offer", "100.5", "0"))], 8),  # 7 was lost
]

STREAM_EVENTS: list[list[Event]] = [
    [ConnectionSeq(0), Subscribed("BTC/USD"), Subscribed("ETH/USD")],
    [ConnectionSeq(1), Heartbeat()],
    [
        ConnectionSeq(2),
        BookSnapshot("BTC/USD", [("100.0", "1"), ("99.5", "2")], [("101", "3")], venue_ts_ns=ts(2)),
        BookSnapshot("ETH/USD", [("10", "5")], [("10.5", "6")], venue_ts_ns=ts(2)),
    ],
    [ConnectionSeq(3), BookDelta("BTC/USD", [("100.0", "0")], [("100.5", "4")], venue_ts_ns=ts(3))],
    [ConnectionSeq(4)],
    [ConnectionSeq(5), Heartbeat()],
    [
        ConnectionSeq(6),
        BookDelta("ETH/USD", [], [("10.4", "1")], venue_ts_ns=ts(6)),
        BookDelta("BTC/USD", [("99.7", "9")], [], venue_ts_ns=ts(6)),
    ],
    [ConnectionSeq(8), BookDelta("BTC/USD", [], [("100.5", "0")], venue_ts_ns=ts(8))],
]


def test_hand_built_stream_golden_events() -> None:
    codec = Coinbase(SYMBOLS)
    assert [codec.parse(frame) for frame in STREAM] == STREAM_EVENTS
    # The counter runs across channels: 0..6 contiguous, then the gap 6 -> 8.
    seqs = [e.seq for events in STREAM_EVENTS for e in events if isinstance(e, ConnectionSeq)]
    assert seqs == [0, 1, 2, 3, 4, 5, 6, 8]


def test_error_frame() -> None:
    assert Coinbase(SYMBOLS).parse('{"type":"error","message":"failure to subscribe"}') == [
        VenueError("failure to subscribe")
    ]


@pytest.mark.parametrize(
    "frame",
    [
        "[1]",
        '{"channel":"l2_data","events":[]}',
        '{"channel":"l2_data","sequence_num":true,"events":[]}',
        '{"channel":"l2_data","sequence_num":-1,"events":[]}',
        msg("l2_data", 1, [l2("update", "BTC-USD", ("ask", "1", "1"))]),
        msg("l2_data", 1, [l2("update", "SOL-USD", ("bid", "1", "1"))]),
        msg("l2_data", 1, [l2("partial", "BTC-USD", ("bid", "1", "1"))]),
        msg("l2_data", 1, [{"type": "update", "product_id": "BTC-USD"}]),
        msg("l2_data", 1, [{"type": "update", "product_id": "BTC-USD", "updates": [[1, 2]]}]),
        msg("l2_data", 1, [{"type": "update", "product_id": "BTC-USD", "updates": [{}]}]),
    ],
)
def test_malformed_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        Coinbase(SYMBOLS).parse(frame)


@pytest.mark.parametrize(
    ("update", "error"),
    [(("bid", "1", "-2"), "bad size '-2'"), (("offer", "inf", "1"), "bad price 'inf'")],
)
def test_bad_levels_pass_the_codec_and_the_book_refuses_them(
    update: tuple[str, str, str], error: str
) -> None:
    events = Coinbase(SYMBOLS).parse(msg("l2_data", 1, [l2("update", "BTC-USD", update)]))
    assert events[0] == ConnectionSeq(1)
    level = [(update[1], update[2])]
    bids, asks = (level, []) if update[0] == "bid" else ([], level)
    book_refuses(events[1:], bids, asks, error)


@fuzz_settings(200)
@given(ARBITRARY_INPUT)
def test_fuzz_arbitrary_input(data: str | bytes) -> None:
    fuzz(Coinbase(SYMBOLS).parse, data, SYMBOLS)


@fuzz_settings(300)
@given(mutated([orjson.loads(f) for f in (*STREAM, DOC_LEVEL2_EXAMPLE, DOC_HEARTBEATS_EXAMPLE)]))
def test_fuzz_mutated_frames(frame: str) -> None:
    fuzz(Coinbase(SYMBOLS).parse, frame, SYMBOLS)


# --- through the real sequencing machinery ------------------------------------------------


def test_session_follows_the_counter_across_channels_and_reconnects_on_a_gap() -> None:
    legs = {s: RecordingLeg() for s in SYMBOLS}
    states: list[tuple[str, str | None]] = []
    session = FeedSession(
        Coinbase(SYMBOLS), legs.__getitem__, lambda st_, why, _t: states.append((st_, why))
    )
    assert session.opened(ts(0)) == [
        Send('{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}'),
        Send('{"type":"subscribe","channel":"heartbeats"}'),
    ]
    btc, eth = legs["BTC/USD"], legs["ETH/USD"]
    expected_views = {
        2: ([100.0, 99.5], [1.0, 2.0], [101.0], [3.0]),
        3: ([99.5], [2.0], [100.5, 101.0], [4.0, 3.0]),
        6: ([99.7, 99.5], [9.0, 2.0], [100.5, 101.0], [4.0, 3.0]),
    }
    for i, frame in enumerate(STREAM[:7]):
        assert session.frame(frame, ts(i)) == []
        if i in expected_views:
            assert btc.books[-1] == (*expected_views[i], ts(i))
    assert [len(btc.books), len(eth.books)] == [3, 2]
    assert eth.view() == ([10.0], [5.0], [10.4, 10.5], [1.0, 6.0])
    assert states == [("syncing", None), ("live", None)]
    # sequence_num 7 never came: every book of the connection is desynced.
    assert session.frame(STREAM[7], ts(8)) == [Reconnect("desynced")]
    assert btc.usable == [(True, None, ts(2)), (False, "desynced", ts(8))]
    assert eth.usable == [(True, None, ts(2)), (False, "desynced", ts(8))]
    assert len(btc.books) == 3  # the frame after the gap is not applied
    assert session.stats.gaps == 1
    assert (session.stats.malformed, session.stats.codec_errors) == (0, 0)
