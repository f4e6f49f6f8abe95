"""Coinbase Advanced Trade beyond the shared suites (tests/conformance/coinbase.py: the
documented examples, the hand-built stream and its replay, malformed bodies that keep their
counter, unknown kinds skipped; a malformed body and an unknown kind end to end:
tests/test_reliability.py, coinbase-bad_body and coinbase-novel): USDC symbols served by USD
products, a readable counter always counted, a reconnect for a malformed part that may have
been any book's and for an unreadable frame followed by a skipped counter. No real Advanced
Trade recording exists (the public captures are of the retired Coinbase Pro feed)."""

from __future__ import annotations

import json

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from feeds.actions import Reconnect, Send
from feeds.protocol import BookSnapshot, ConnectionSeq, Subscribed
from feeds.session import FeedSession
from feeds.venues.coinbase import Coinbase
from tests.conformance.coinbase import BAD_BTC, BTC_SNAPSHOT, l2, msg, ts
from tests.conformance.coinbase import STREAM as STREAM  # the session fuzz (test_session)
from tests.fuzzing import fuzz_settings
from tests.test_emulator_wire import T0, harness, step
from tests.venue_helpers import JSON_VALUES, LastBook, check_events, model_levels

SYMBOLS = ("BTC/USD", "ETH/USD")


def test_usdc_symbols_are_served_by_the_usd_product() -> None:
    # "-USDC product IDs other than USDT-USDC and EURC-USDC return the same data as the
    # matching -USD product" (websocket-endpoints page).
    symbols = ["BTC/USD", "BTC/USDC", "ETH/USDC", "USDT/USDC", "EURC/USDC", "USDT/USD"]
    codec = Coinbase(symbols)
    assert codec.subscribe_frames(symbols)[0] == (
        '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD","USDT-USDC","EURC-USDC",'
        '"USDT-USD"],"channel":"level2"}'
    )
    assert codec.unsubscribe_frames(["BTC/USDC", "BTC/USD"]) == [
        '{"type":"unsubscribe","product_ids":["BTC-USD"],"channel":"level2"}'
    ]
    subs = msg("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD", "USDT-USDC"]}}])
    assert codec.parse(subs)[1:] == [
        Subscribed("BTC/USD"),
        Subscribed("BTC/USDC"),
        Subscribed("USDT/USDC"),
    ]
    bids, asks = [("100.0", "1"), ("99.5", "2")], [("101", "3")]
    assert codec.parse(msg("l2_data", 1, [BTC_SNAPSHOT], 1))[1:] == [
        BookSnapshot("BTC/USD", bids, asks, venue_ts_ns=ts(1)),
        BookSnapshot("BTC/USDC", bids, asks, venue_ts_ns=ts(1)),
    ]
    # A USDC symbol alone is served the same way (no BTC/USD on the connection).
    assert Coinbase(["BTC/USDC"]).parse(msg("l2_data", 1, [BTC_SNAPSHOT], 1))[1:] == [
        BookSnapshot("BTC/USDC", bids, asks, venue_ts_ns=ts(1))
    ]


def test_the_usd_and_the_usdc_leg_get_the_emulated_usd_product() -> None:
    symbols = ("BTC/USD", "BTC/USDC")
    model, venue, emulated = harness("coinbase", "/", symbols=symbols)
    legs = {s: LastBook() for s in symbols}
    session = FeedSession(Coinbase(symbols), legs.__getitem__, lambda *_: None)
    requests = [a.frame for a in session.opened(T0) if isinstance(a, Send)]
    frames = [o.frame for f in requests for o in emulated.received(f, T0)]
    for _ in range(3):
        assert [session.frame(f, model.now_ns) for f in frames] == [[]] * len(frames)
        usd = model_levels(model, "coinbase", "BTC/USD")
        assert [leg.top for leg in legs.values()] == [usd, usd]
        frames = step(model, venue, emulated)
    assert [leg.usable for leg in legs.values()] == [[(True, None)]] * 2
    # Alone, BTC/USDC's own book is the product BTC-USD; USDT-USDC is a product of its own.
    _, venue, emulated = harness("coinbase", "/", symbols=("BTC/USDC", "USDT/USDC"))
    assert venue.symbols == {"BTC-USD": "BTC/USDC", "USDT-USDC": "USDT/USDC"}
    request = '{"type":"subscribe","product_ids":["BTC-USDC"],"channel":"level2"}'
    subs, snap = (orjson.loads(o.frame) for o in emulated.received(request, T0))
    assert subs["events"] == [{"subscriptions": {"level2": ["BTC-USD"]}}]
    assert snap["events"][0]["product_id"] == "BTC-USD"


CHANNELS = st.sampled_from(["l2_data", "heartbeats", "subscriptions", "status"]) | JSON_VALUES
L2_EVENTS = st.sampled_from([BTC_SNAPSHOT, l2("update", "ETH-USD"), *BAD_BTC, l2("x", "BTC-USD")])


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


def live() -> tuple[FeedSession, dict[str, LastBook]]:
    """Through the subscription, a heartbeat and both snapshots (counter 0..2)."""
    legs = {s: LastBook() for s in SYMBOLS}
    session = FeedSession(Coinbase(SYMBOLS), legs.__getitem__, lambda *_: None)
    session.opened(ts(0))
    assert [session.frame(frame, ts(i)) for i, frame in enumerate(STREAM[:3])] == [[]] * 3
    return session, legs


def test_a_malformed_part_that_may_have_been_any_book_reconnects() -> None:
    session, legs = live()
    assert session.frame(msg("l2_data", 3, [{"type": "update"}], 3), ts(3)) == [
        Reconnect("desynced")
    ]
    assert [leg.usable for leg in legs.values()] == [[(True, None), (False, "desynced")]] * 2
    assert (session.stats.malformed, session.stats.gaps) == (1, 0)


def test_an_unreadable_frame_is_a_loss_only_if_the_counter_skips_a_number() -> None:
    # Its counter cannot be read: dropped and counted. If the next number follows on, it was
    # not one of the counted messages and nothing was lost; if one number is missing, it was,
    # and its content is unknown: every book of the connection resyncs (reconnect).
    session, legs = live()
    assert session.frame('{"channel":"l2_data","sequence_num":3,"ev', ts(3)) == []
    assert session.frame(msg("heartbeats", 3, [{"heartbeat_counter": 3}], 3), ts(3)) == []
    assert session.frame("\x00garbage", ts(4)) == []
    assert session.frame(msg("heartbeats", 5, [{"heartbeat_counter": 5}], 5), ts(5)) == [
        Reconnect("desynced")
    ]
    assert [leg.usable for leg in legs.values()] == [[(True, None), (False, "desynced")]] * 2
    assert (session.stats.malformed, session.stats.gaps) == (2, 1)
