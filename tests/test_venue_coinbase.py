"""Coinbase Advanced Trade quirks: one ``sequence_num`` across channels (a gap reconnects),
malformed bodies that keep their counter, USDC symbols served by USD products. (The
documented examples, the hand-built stream's events and replay, malformed frames, fuzzing
and the emulator: tests/conformance/coinbase.py.)

No real Advanced Trade recording is available (the cryptofeed Coinbase capture is
the retired Coinbase Pro protocol), so the examples are quoted from
https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
("Heartbeats Channel", "Level2 Channel").
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from feeds.actions import Reconnect, Send
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ConnectionSeq,
    Event,
    Ignored,
    Malformed,
    SeqRule,
    SnapshotSource,
    Subscribed,
    VenueError,
)
from feeds.session import FeedSession
from feeds.venues.coinbase import Coinbase
from tests.conformance.coinbase import BTC_SNAPSHOT, T0, l2, msg, ts
from tests.conformance.coinbase import STREAM as STREAM_0_TO_6
from tests.fuzzing import fuzz_settings
from tests.venue_helpers import (
    JSON_VALUES,
    RecordingLeg,
    book_refuses,
    check_events,
)

SYMBOLS = ("BTC/USD", "ETH/USD")


def test_unsubscribe_frames_follow_the_documented_requests() -> None:
    codec = Coinbase(["ETH/USD", "BTC/USD"])
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
    assert Coinbase.max_symbols_per_connection == 10
    with pytest.raises(ValueError, match="canonical"):
        Coinbase(["BTC-USD"])


def test_usdc_symbols_are_served_by_the_usd_product() -> None:
    # "-USDC product IDs other than USDT-USDC and EURC-USDC return the same data as the
    # matching -USD product" (websocket-endpoints page).
    symbols = ["BTC/USD", "BTC/USDC", "ETH/USDC", "USDT/USDC", "EURC/USDC", "USDT/USD"]
    codec = Coinbase(symbols)
    assert [codec.venue_symbol(s) for s in symbols] == [
        "BTC-USD",
        "BTC-USD",
        "ETH-USD",
        "USDT-USDC",
        "EURC-USDC",
        "USDT-USD",
    ]
    assert codec.subscribe_frames(symbols)[0] == (
        '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD","USDT-USDC","EURC-USDC",'
        '"USDT-USD"],"channel":"level2"}'
    )
    assert codec.unsubscribe_frames(["BTC/USDC", "BTC/USD"]) == [
        '{"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"level2"}'
    ]
    subs = msg("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD", "USDT-USDC"]}}])
    assert codec.parse(subs) == [
        ConnectionSeq(0),
        Subscribed("BTC/USD"),
        Subscribed("BTC/USDC"),
        Subscribed("USDT/USDC"),
    ]
    bids, asks = [("100.0", "1"), ("99.5", "2")], [("101", "3")]
    assert codec.parse(msg("l2_data", 1, [BTC_SNAPSHOT], 1)) == [
        ConnectionSeq(1),
        BookSnapshot("BTC/USD", bids, asks, venue_ts_ns=ts(1)),
        BookSnapshot("BTC/USDC", bids, asks, venue_ts_ns=ts(1)),
    ]
    # A USDC symbol alone is served the same way (no BTC/USD on the connection).
    assert Coinbase(["BTC/USDC"]).parse(msg("l2_data", 1, [BTC_SNAPSHOT], 1)) == [
        ConnectionSeq(1),
        BookSnapshot("BTC/USDC", bids, asks, venue_ts_ns=ts(1)),
    ]


# --- the hand-built stream of tests/conformance/coinbase.py, then a lost message ---------

STREAM = [*STREAM_0_TO_6, msg("l2_data", 8, [l2("update", "BTC-USD", ("offer", "100.5", "0"))], 8)]


def test_error_frame_with_a_counter() -> None:
    # Should an error ever carry the counter, it counts and is still an error.
    assert Coinbase(SYMBOLS).parse('{"type":"error","message":"x","sequence_num":4}') == [
        ConnectionSeq(4),
        VenueError("x"),
    ]


BAD_UPDATES = "l2_data BTC-USD: bad updates in "
ANY_BOOK = None
SIDE_7 = {
    "type": "update",
    "product_id": "BTC-USD",
    "updates": [{"side": 7, "price_level": "2", "new_quantity": "2"}],
}


@pytest.mark.parametrize(
    ("events", "after"),
    [
        ("x", [Malformed("l2_data: expected a list of events", ANY_BOOK)]),
        ([[1]], [Malformed("l2_data event without a product: [1]", ANY_BOOK)]),
        (
            [{"type": "update", "updates": []}],
            [Malformed("l2_data event without a product: {'type': 'update', 'updates': []}", None)],
        ),
        (
            [{"type": "update", "product_id": "BTC-USD"}],
            [Malformed(BAD_UPDATES + "{'type': 'update', 'product_id': 'BTC-USD'}", ("BTC/USD",))],
        ),
        (
            [{"type": "snapshot", "product_id": "BTC-USD", "updates": [[1, 2]]}],
            [
                Malformed(
                    BAD_UPDATES
                    + "{'type': 'snapshot', 'product_id': 'BTC-USD', 'updates': [[1, 2]]}",
                    ("BTC/USD",),
                )
            ],
        ),
        (
            [
                l2("update", "ETH-USD", ("bid", "10", "1")),
                {"type": "update", "product_id": "BTC-USD", "updates": [{"side": "bid"}]},
            ],
            [
                BookDelta("ETH/USD", [("10", "1")], [], venue_ts_ns=ts(0)),
                Malformed(
                    BAD_UPDATES
                    + "{'type': 'update', 'product_id': 'BTC-USD', 'updates': [{'side': 'bid'}]}",
                    ("BTC/USD",),
                ),
            ],
        ),
        (
            [SIDE_7],  # a side that is not even text is malformed, not a new side
            [Malformed(BAD_UPDATES + str(SIDE_7)[:80], ("BTC/USD",))],
        ),
    ],
)
def test_a_malformed_body_keeps_its_counter(events: object, after: list[Event]) -> None:
    # The counter is read from the envelope first: the frame still counts (no false gap), and
    # only the part that does not parse is dropped, naming the book that missed it.
    frame = orjson.dumps(
        {"channel": "l2_data", "timestamp": f"{T0[:-2]}00.5Z", "sequence_num": 9, "events": events}
    )
    assert Coinbase(SYMBOLS).parse(frame) == [ConnectionSeq(9), *after]


def test_bad_envelope_with_a_counter_may_have_been_any_book() -> None:
    frame = '{"sequence_num":3,"channel":7,"events":[]}'
    assert Coinbase(SYMBOLS).parse(frame) == [ConnectionSeq(3), Malformed("bad channel 7", None)]


def test_unknown_channels_types_sides_and_products_are_skipped_and_counted() -> None:
    # "New message types can be added at any time. Clients are expected to ignore messages
    # they do not support." (websocket-overview page)
    codec = Coinbase(SYMBOLS)
    events = [
        l2("summary", "BTC-USD", ("bid", "1", "1")),
        l2("update", "BTC-USD", ("bid", "100", "1"), ("mid", "100.5", "1"), ("offer", "101", "2")),
        l2("update", "SOL-USD", ("bid", "1", "1")),
    ]
    assert codec.parse(msg("l2_data", 5, events, 5)) == [
        ConnectionSeq(5),
        Ignored("l2_data event type 'summary'"),
        Ignored("l2_data side 'mid'"),
        BookDelta("BTC/USD", [("100", "1")], [("101", "2")], venue_ts_ns=ts(5)),
        Ignored("l2_data for 'SOL-USD', not subscribed here"),
    ]
    assert codec.parse(msg("status", 6, [{"type": "snapshot", "products": []}])) == [
        ConnectionSeq(6),
        Ignored("channel 'status'"),
    ]


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


CHANNELS = st.sampled_from(["l2_data", "heartbeats", "subscriptions", "status"]) | JSON_VALUES
L2_EVENTS = st.sampled_from(
    [BTC_SNAPSHOT, l2("update", "ETH-USD", ("offer", "1", "2")), SIDE_7, l2("x", "BTC-USD")]
)


@fuzz_settings(300)
@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    CHANNELS,
    st.lists(L2_EVENTS | JSON_VALUES, max_size=3) | JSON_VALUES,
)
def test_fuzz_a_readable_counter_always_counts(seq: int, channel: object, events: object) -> None:
    # Whatever the body, a frame whose sequence_num can be read yields that counter, first
    # and once, and never raises: one bad body can never look like a lost message.
    text = json.dumps({"channel": channel, "sequence_num": seq, "events": events})
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:  # integers beyond 64 bits, NaN: not JSON to any client
        assume(False)
    out = Coinbase(SYMBOLS).parse(text)
    assert out[0] == ConnectionSeq(seq)
    assert not any(isinstance(e, ConnectionSeq) for e in out[1:])
    check_events(out, SYMBOLS)


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


def live_session(symbols: tuple[str, ...] = SYMBOLS) -> tuple[FeedSession, dict[str, RecordingLeg]]:
    """A session through the subscription, a heartbeat and both snapshots (counter 0..2)."""
    legs = {s: RecordingLeg() for s in symbols}
    session = FeedSession(Coinbase(symbols), legs.__getitem__, lambda *_: None)
    session.opened(ts(0))
    for i, frame in enumerate(STREAM[:3]):
        assert session.frame(frame, ts(i)) == []
    return session, legs


def test_session_resyncs_only_the_book_of_a_malformed_body_and_keeps_the_connection() -> None:
    session, legs = live_session()
    btc, eth = legs["BTC/USD"], legs["ETH/USD"]
    bad = {"type": "update", "product_id": "BTC-USD", "updates": [{"side": "bid"}]}
    frame = msg("l2_data", 3, [bad, l2("update", "ETH-USD", ("bid", "10.1", "7"))], 3)
    assert session.frame(frame, ts(3)) == [
        Send('{"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"level2"}'),
        Send('{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}'),
        Send('{"type":"subscribe","channel":"heartbeats"}'),
    ]
    assert btc.usable == [(True, None, ts(2)), (False, "desynced", ts(3))]
    assert eth.usable == [(True, None, ts(2))]
    assert eth.view() == ([10.1, 10.0], [7.0, 5.0], [10.5], [6.0])
    # The malformed frame counted: the next number follows on, no gap, no reconnect.
    assert session.frame(msg("heartbeats", 4, [{"heartbeat_counter": 3}], 4), ts(4)) == []
    resent = l2("snapshot", "BTC-USD", ("bid", "99", "1"), ("offer", "100", "2"))
    assert session.frame(msg("l2_data", 5, [resent], 5), ts(5)) == []
    assert btc.usable[-1] == (True, None, ts(5))
    assert btc.view() == ([99.0], [1.0], [100.0], [2.0])
    stats = session.stats
    assert (stats.malformed, stats.gaps, stats.resyncs, stats.codec_errors) == (1, 0, 1, 0)


def test_session_reconnects_when_a_malformed_part_may_have_been_any_book() -> None:
    session, legs = live_session()
    assert session.frame(msg("l2_data", 3, [{"type": "update"}], 3), ts(3)) == [
        Reconnect("desynced")
    ]
    assert [leg.usable[-1] for leg in legs.values()] == [(False, "desynced", ts(3))] * 2
    assert (session.stats.malformed, session.stats.gaps) == (1, 0)


def test_session_skips_and_counts_unknown_kinds_without_resyncing() -> None:
    session, legs = live_session()
    events = [
        l2("summary", "BTC-USD", ("bid", "1", "1")),
        l2("update", "BTC-USD", ("bid", "100", "1"), ("mid", "100.5", "1"), ("offer", "101", "2")),
    ]
    assert session.frame(msg("l2_data", 3, events, 3), ts(3)) == []
    assert session.frame(msg("status", 4, [{"type": "snapshot"}], 4), ts(4)) == []
    assert session.frame(msg("heartbeats", 5, [{"heartbeat_counter": 3}], 5), ts(5)) == []
    assert legs["BTC/USD"].view() == ([100.0, 99.5], [1.0, 2.0], [101.0], [2.0])
    assert legs["BTC/USD"].usable == [(True, None, ts(2))]
    stats = session.stats
    assert (stats.ignored, stats.malformed, stats.gaps, stats.resyncs) == (3, 0, 0, 0)


def test_an_unreadable_frame_is_a_loss_only_if_the_counter_skips_a_number() -> None:
    # Its counter cannot be read: dropped and counted. If the next number follows on, it was
    # not one of the counted messages and nothing was lost; if one number is missing, it was,
    # and its content is unknown: every book of the connection resyncs (reconnect).
    session, legs = live_session()
    assert session.frame('{"channel":"l2_data","sequence_num":3,"ev', ts(3)) == []
    assert session.frame(msg("heartbeats", 3, [{"heartbeat_counter": 3}], 3), ts(3)) == []
    assert session.frame("\x00garbage", ts(4)) == []
    assert session.frame(msg("heartbeats", 5, [{"heartbeat_counter": 5}], 5), ts(5)) == [
        Reconnect("desynced")
    ]
    assert [leg.usable[-1] for leg in legs.values()] == [(False, "desynced", ts(5))] * 2
    assert (session.stats.malformed, session.stats.gaps) == (2, 1)


def test_session_serves_usd_and_usdc_legs_from_one_subscription() -> None:
    legs = {s: RecordingLeg() for s in ("BTC/USDC", "BTC/USD")}
    session = FeedSession(Coinbase(tuple(legs)), legs.__getitem__, lambda *_: None)
    assert session.opened(ts(0)) == [
        Send('{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}'),
        Send('{"type":"subscribe","channel":"heartbeats"}'),
    ]
    frames = [
        msg("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD"]}}]),
        msg("l2_data", 1, [BTC_SNAPSHOT], 1),
        msg("l2_data", 2, [l2("update", "BTC-USD", ("offer", "100.5", "4"))], 2),
    ]
    for i, frame in enumerate(frames):
        assert session.frame(frame, ts(i)) == []
    for leg in legs.values():
        assert leg.usable == [(True, None, ts(1))]
        assert leg.view() == ([100.0, 99.5], [1.0, 2.0], [100.5, 101.0], [4.0, 3.0])
        assert len(leg.books) == 2
    assert (session.stats.malformed, session.stats.unknown_symbol) == (0, 0)
