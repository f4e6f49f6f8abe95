"""Bitstamp beyond the conformance suite (tests/conformance/bitstamp.py): the recording
(tests/fixtures/bitstamp.ndjson.gz, see ATTRIBUTION.md) replayed by an independent plain-dict
model, whose figures and final tops the suite's case states, and through FeedSession with the
model's top 20 after every message; every recorded frame translated; a crossed book resynced
from REST (a lost diff itself cannot show); the venue's reconnect notice; the requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import FetchSnapshot, Replace, Send
from feeds.capture import Record, read_capture
from feeds.protocol import BookDelta, BookSnapshot, Event, ParseError, RestRequest, Subscribed
from feeds.session import FeedSession
from feeds.venues import canonical_venue
from feeds.venues.bitstamp import Bitstamp
from tests.conformance.bitstamp import CASE, SYMBOLS
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "bitstamp.ndjson.gz"))
PAIR = {s.replace("/", "").lower(): s for s in SYMBOLS}
T0 = 1_641_343_700_000_000_000


# --- the independent reference model ----------------------------------------------------


@dataclass
class ReferenceReplay:
    """Bitstamp's rule on the raw JSON: diffs wait for the pair's REST snapshot; a diff whose
    ``microtimestamp`` is at or before the snapshot's is dropped, the others applied."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    snap_us: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    snapshots: int = 0
    applied: int = 0
    dropped: int = 0
    crossed: int = 0

    def rest(self, record: Record) -> str:
        pair, body = record.url.rsplit("/", 1)[1], orjson.loads(record.data)
        self.books[pair] = ReferenceBook()
        self.books[pair].apply_levels(body["bids"], body["asks"])
        self.snap_us[pair] = int(body["microtimestamp"])
        self.snapshots += 1
        for diff in self.pending.pop(pair, []):
            self.diff(pair, diff)
        return pair

    def frame(self, record: Record) -> None:
        msg = orjson.loads(record.data)
        if msg["event"] == "data" and msg["channel"].startswith("diff_order_book_"):
            pair = msg["channel"].removeprefix("diff_order_book_")
            if pair in self.books:
                self.diff(pair, msg["data"])
            else:
                self.pending.setdefault(pair, []).append(msg["data"])

    def diff(self, pair: str, data: dict[str, Any]) -> None:
        if int(data["microtimestamp"]) <= self.snap_us[pair]:
            self.dropped += 1
            return
        self.applied += 1
        book = self.books[pair]
        book.apply_levels(data["bids"], data["asks"])
        self.crossed += max(book.bids) >= min(book.asks)


def test_reference_replay_proves_the_rule_on_every_message() -> None:
    ref = ReferenceReplay()
    for record in RECORDS:
        if record.dir == "rest":
            ref.rest(record)
        elif record.dir == "in":
            ref.frame(record)
    assert (ref.snapshots, ref.applied, ref.dropped, ref.crossed, ref.pending) == (
        10, 615, 102, 0, {}
    )  # fmt: skip
    assert {PAIR[p]: book.best() for p, book in ref.books.items()} == TOPS


assert CASE.replay is not None
TOPS = CASE.replay.tops
"""Best bid, its size, best ask, its size after the recording's last message."""


# --- the codec on the recording --------------------------------------------------------------


def test_codec_translates_every_recorded_frame_exactly() -> None:
    codec = Bitstamp(SYMBOLS)
    kinds: dict[str, int] = {}
    for record in RECORDS:
        if record.dir == "rest":
            assert isinstance(record.data, str)
            body = orjson.loads(record.data)
            pair = record.url.rsplit("/", 1)[1]
            assert codec.parse_snapshot(PAIR[pair], record.data.encode()) == BookSnapshot(
                PAIR[pair], body["bids"], body["asks"],
                venue_ts_ns=int(body["microtimestamp"]) * 1000,
            )  # fmt: skip
        elif record.dir == "in":
            msg = orjson.loads(record.data)
            kind = f"{msg['event']} {msg['channel'].rsplit('_', 1)[0]}"
            kinds[kind] = kinds.get(kind, 0) + 1
            pair = msg["channel"].rsplit("_", 1)[1]
            expected: list[Event] = []
            if kind == "data diff_order_book":
                data = msg["data"]
                us = int(data["microtimestamp"])
                expected = [
                    BookDelta(PAIR[pair], data["bids"], data["asks"], venue_ts_ns=us * 1000)
                ]
            elif kind == "bts:subscription_succeeded diff_order_book":
                expected = [Subscribed(PAIR[pair])]
            assert codec.parse(record.data) == expected
    assert kinds == {
        "bts:subscription_succeeded diff_order_book": 10,
        "bts:subscription_succeeded live_trades": 10,
        "data diff_order_book": 717,
        "trade live_trades": 10,
    }
    sent = [r.data for r in RECORDS if r.dir == "out" and "diff_order_book" in r.data]
    assert codec.subscribe_frames(SYMBOLS) == sent  # the recorded requests, byte for byte


# --- through the real session -------------------------------------------------------------


def test_session_replay_matches_the_reference_after_every_message() -> None:
    codec = Bitstamp(SYMBOLS)
    legs = {s: RecordingLeg() for s in SYMBOLS}
    states: list[tuple[str, str | None]] = []
    session = FeedSession(
        codec, legs.__getitem__, lambda s, why, _t: states.append((s, why)), snapshot_wait_s=0.0
    )
    ref = ReferenceReplay()
    recorded = sorted(r.url for r in RECORDS if r.dir == "rest")
    for record in RECORDS:
        if record.dir == "open":
            actions = session.opened(record.t)
            urls = sorted(a.request.url for a in actions if isinstance(a, FetchSnapshot))
            assert urls == recorded  # the requests are exactly the recorded ones
            continue
        if record.dir == "out":
            continue
        before = {s: len(leg.books) for s, leg in legs.items()}
        if record.dir == "rest":
            assert isinstance(record.data, str)
            symbol = PAIR[ref.rest(record)]
            actions = session.snapshot(symbol, record.data.encode(), record.t)
            assert legs[symbol].usable == [(True, None, record.t)]
        else:
            ref.frame(record)
            actions = session.frame(record.data, record.t)
        assert actions == []
        for symbol, leg in legs.items():  # every synced leg knows the reference's top 20
            book = ref.books.get(codec.venue_symbol(symbol).lower())
            if book is None:
                assert leg.books == []
                continue
            assert len(leg.books) - before[symbol] in (0, 1)
            assert leg.view() == book.top(20)
            assert leg.view()[0][0] < leg.view()[2][0]
    stats = session.stats
    assert (stats.book_msgs, stats.older) == (10 + 615, 102)
    assert (stats.gaps, stats.resyncs, stats.crossed, stats.old_snapshots) == (0, 0, 0, 0)
    assert (stats.checksum_ok, stats.checksum_fail) == (0, 0)  # Bitstamp sends none
    assert (stats.malformed, stats.codec_errors, stats.unknown_symbol) == (0, 0, 0)
    assert states == [("syncing", None), ("live", None)]
    for symbol, leg in legs.items():
        bid_px, bid_sz, ask_px, ask_sz = leg.view()
        assert (bid_px[0], bid_sz[0], ask_px[0], ask_sz[0]) == TOPS[symbol]


def _synced(book: dict[str, Any]) -> tuple[FeedSession, RecordingLeg]:
    leg = RecordingLeg()
    session = FeedSession(Bitstamp(["BTC/USD"]), lambda _: leg, lambda *_: None)
    session.opened(T0)
    session.snapshot("BTC/USD", orjson.dumps(book), T0)
    return session, leg


def _diff(us: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    data = {"timestamp": str(us // 10**6), "microtimestamp": str(us), "bids": bids, "asks": asks}
    return orjson.dumps(
        {"data": data, "channel": "diff_order_book_btcusd", "event": "data"}
    ).decode()


SNAPSHOT = {
    "timestamp": "1641343700",
    "microtimestamp": "1641343700000000",
    "bids": [["100.00", "1.00000000"], ["99.00", "2.00000000"]],
    "asks": [["101.00", "1.00000000"], ["102.00", "3.00000000"]],
}


def test_a_crossed_book_resyncs_from_a_rest_snapshot() -> None:
    """A lost diff cannot be seen (no sequence, no checksum); a book it leaves crossed is
    refetched from REST, and the fresh snapshot makes the leg usable again."""
    session, leg = _synced(SNAPSHOT)
    # at or before the snapshot's microtimestamp: already in it
    assert session.frame(_diff(1641343700000000, [["100.50", "9.0"]], []), T0 + 1) == []
    assert session.stats.older == 1
    # the ask at 101 was taken in a diff that never arrived: this bid crosses it
    actions = session.frame(_diff(1641343700000001, [["101.50", "1.0"]], []), T0 + 2)
    request = RestRequest("https://www.bitstamp.net/api/v2/order_book/btcusd", "BTC/USD")
    assert actions == [FetchSnapshot(request)]
    assert leg.usable == [(True, None, T0), (False, "crossed_book", T0 + 2)]
    fresh = SNAPSHOT | {"microtimestamp": "1641343700500000", "asks": [["102.00", "3.0"]]}
    assert session.snapshot("BTC/USD", orjson.dumps(fresh), T0 + 3) == []
    assert leg.usable[-1] == (True, None, T0 + 3)
    assert leg.view() == ([100.0, 99.0], [1.0, 2.0], [102.0], [3.0])
    assert (session.stats.crossed, session.stats.resyncs, session.stats.gaps) == (1, 1, 0)


# --- the venue's notice and requests (https://www.bitstamp.net/websocket/v2/) -----------------


def test_request_reconnect_replaces_the_connection() -> None:
    session, _ = _synced(SNAPSHOT)
    frame = '{"event":"bts:request_reconnect","channel":"","data":""}'
    assert session.frame(frame, T0 + 1) == [Replace("bts:request_reconnect")]
    assert session.stats.notices == 1


def test_spec_requests_and_symbols() -> None:
    assert canonical_venue("bitstamp1") == "bitstamp"
    assert Bitstamp.max_connection_s == 90 * 86_400.0
    codec = Bitstamp(["BTC/USD", "1INCH/EUR"])
    assert codec.venue_symbol("1INCH/EUR") == "1INCHEUR"  # on the wire: 1incheur
    assert codec.subscribe_frames(["BTC/USD"]) == [
        '{"event":"bts:subscribe","data":{"channel":"diff_order_book_btcusd"}}'
    ]
    assert codec.unsubscribe_frames(["BTC/USD"]) == []  # a resync fetches a REST snapshot
    assert codec.snapshot_request("BTC/USD", "http://127.0.0.1:9/", 20) == RestRequest(
        "http://127.0.0.1:9/api/v2/order_book/btcusd", "BTC/USD", 1
    )
    session = FeedSession(codec, lambda _: RecordingLeg(), lambda *_: None, stale_after_s=10.0)
    session.opened(T0)
    # quiet for half of stale_after_s: the heartbeat probes the venue (and, no diff having
    # arrived, the snapshots are fetched)
    actions = session.tick(T0 + 5 * 10**9)
    assert actions[0] == Send('{"event":"bts:heartbeat"}')
    assert [a.request.symbol for a in actions[1:] if isinstance(a, FetchSnapshot)] == [
        "BTC/USD",
        "1INCH/EUR",
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"status":"error","reason":"Invalid pair"}', "Invalid pair"),
        (b'{"microtimestamp":"1","bids":[]}', "asks"),
        (b'{"microtimestamp":1.5,"bids":[],"asks":[]}', "microtimestamp"),
    ],
)
def test_bad_rest_snapshots_raise_parse_error(body: bytes, error: str) -> None:
    with pytest.raises(ParseError, match=error):
        Bitstamp(["BTC/USD"]).parse_snapshot("BTC/USD", body)


# --- samples for the session fuzz (tests/test_session.py) ------------------------------------

SNAPSHOTS = {PAIR[r.url.rsplit("/", 1)[1]]: r.data for r in RECORDS if r.dir == "rest"}
"""The recorded REST snapshot of each symbol."""


def _taken(frame: dict[str, Any]) -> bool:
    """Not a diff, or a diff newer than its pair's recorded snapshot."""
    if frame["event"] != "data":
        return True
    snapshot = orjson.loads(SNAPSHOTS[PAIR[frame["channel"].rsplit("_", 1)[1]]])
    return int(frame["data"]["microtimestamp"]) > int(snapshot["microtimestamp"])


RECEIVED = [orjson.loads(r.data) for r in RECORDS if r.dir == "in"]
SAMPLE_FRAMES = [frame for frame in RECEIVED if _taken(frame)][:60]
"""Acks and the diffs the recorded snapshots take."""


DIFF = {"microtimestamp": "1641343691244908", "bids": [["1.1", "2"]], "asks": []}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({k: v for k, v in DIFF.items() if k != "asks"}, "asks"),
        ({**DIFF, "bids": {"1.1": "2"}}, "lists"),
        ({**DIFF, "microtimestamp": "-1"}, "microtimestamp"),
        ({**DIFF, "microtimestamp": True}, "microtimestamp"),
    ],
)
def test_bad_diffs_raise_parse_error(data: dict[str, object], error: str) -> None:
    codec = Bitstamp(["BTC/USD"])
    frame = {"data": data, "channel": "diff_order_book_btcusd", "event": "data"}
    with pytest.raises(ParseError, match=error):
        codec.parse(orjson.dumps(frame))
    with pytest.raises(ParseError, match="unsubscribed"):
        codec.parse(orjson.dumps({**frame, "data": DIFF, "channel": "diff_order_book_ethusd"}))
    with pytest.raises(ParseError, match="channel"):
        codec.parse(orjson.dumps({**frame, "data": DIFF, "channel": ["diff_order_book_btcusd"]}))
    good = codec.parse(orjson.dumps({**frame, "data": DIFF}))
    assert good == [BookDelta("BTC/USD", [["1.1", "2"]], [], venue_ts_ns=1641343691244908000)]
