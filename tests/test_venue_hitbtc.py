"""HitBTC and Bequant quirks (the common checks: tests/conformance/hitbtc.py): the sequence
rule proven on every message of both 2021 recordings by :class:`Reference`, a plain-dict
model of the raw JSON that never calls the code under test, and the session equal to it
after every message; snapshots resent mid-stream; the replay's codec choice; several
symbols in one v3 push; the emulator's refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.protocol import BookDelta, BookSnapshot, VenueError
from feeds.session import FeedSession
from feeds.venues import replay_codec_class
from feeds.venues.hitbtc import Bequant, BequantV2, HitBTC, HitBTCV2
from tests.conformance.hitbtc import CASES
from tests.test_emulator_wire import harness
from tests.venue_helpers import RecordingLeg, ReferenceBook

FIXTURES = Path(__file__).parent / "fixtures"
V2_CASES = {c.venue: c for c in CASES if c.id.endswith("-v2")}

# A small synced v2 book and frames continuing it (the fuzzed session of tests/test_session.py).
V2_SNAPSHOT = (
    '{"jsonrpc":"2.0","method":"snapshotOrderbook","params":{"ask":[{"price":"1.19500",'
    '"size":"88716.66"}],"bid":[{"price":"1.18242","size":"5.00"}],"sequence":7333532,'
    '"timestamp":"2021-07-15T03:06:53.300Z","symbol":"EURSUSD"}}'
)
V2_FRAMES = [orjson.loads(f) for f in (V2_SNAPSHOT, V2_CASES["hitbtc"].samples[0][0])]


@dataclass
class Reference:
    """HitBTC's rule (https://api.hitbtc.com/#subscribe-to-full-order-book; v2 the same with
    ``params.sequence``): a snapshot replaces the book; each update's sequence is the
    previous one + 1, per symbol."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("snapshots", "resent", "continued", "crossed"), 0)
    )

    def frame(self, frame: str) -> str | None:
        """Apply one raw frame; the symbol id whose book it changed."""
        msg: dict[str, Any] = orjson.loads(frame)
        if msg.get("method") not in ("snapshotOrderbook", "updateOrderbook"):
            return None
        params = msg["params"]
        pair, seq = params["symbol"], params["sequence"]
        book = self.books.get(pair)
        if msg["method"] == "snapshotOrderbook":
            self.counts["snapshots"] += 1
            if book is not None:  # resent at the sequence reached, never behind it
                assert seq >= self.last[pair]
                self.counts["resent"] += 1
            book = self.books[pair] = ReferenceBook()
        else:
            assert book is not None and seq == self.last[pair] + 1
            self.counts["continued"] += 1
        self.last[pair] = seq
        book.apply_levels(
            [[lv["price"], lv["size"]] for lv in params["bid"]],
            [[lv["price"], lv["size"]] for lv in params["ask"]],
        )
        self.counts["crossed"] += max(book.bids) >= min(book.asks)
        return str(pair)


@pytest.mark.parametrize(
    ("venue", "counts"),
    [
        ("hitbtc", {"snapshots": 6, "resent": 3, "continued": 99, "crossed": 0}),
        ("bequant", {"snapshots": 3, "resent": 0, "continued": 138, "crossed": 0}),
    ],
)
def test_the_rule_holds_on_every_message_and_the_session_equals_the_model(
    venue: str, counts: dict[str, int]
) -> None:
    case = V2_CASES[venue]
    codec = case.new_codec()
    legs = {s: RecordingLeg() for s in case.symbols}
    session = FeedSession(codec, legs.__getitem__, lambda *a: None)
    ref = Reference()
    for record in read_capture(FIXTURES / f"{venue}.ndjson.gz"):
        if record.dir == "open":
            sent = [a.frame for a in session.opened(record.t) if isinstance(a, Send)]
            assert sent == list(case.subscribe)
        elif record.dir == "in":
            assert session.frame(str(record.data), record.t) == []
            pair = ref.frame(str(record.data))
            symbol = next((s for s in case.symbols if codec.venue_symbol(s) == pair), None)
            if symbol is not None:
                assert legs[symbol].view() == ref.books[str(pair)].top(20)
    assert ref.counts == counts
    assert case.replay is not None
    tops = {s: ref.books[codec.venue_symbol(s)].best() for s in case.symbols}
    assert tops == dict(case.replay.tops)
    assert (session.stats.gaps, session.stats.resyncs, session.stats.malformed) == (0, 0, 0)


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
