"""Bitstamp beyond the shared suites (tests/conformance/bitstamp.py; the recording read,
sequenced and followed by the independent model: tests/test_reference.py): a crossed book
resynced from REST (a lost diff itself cannot show); the venue's reconnect notice; the
requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import FetchSnapshot, Replace, Send
from feeds.capture import read_capture
from feeds.protocol import BookDelta, ParseError, RestRequest
from feeds.session import FeedSession
from feeds.venues import canonical_venue
from feeds.venues.bitstamp import Bitstamp
from tests.conformance.bitstamp import SYMBOLS
from tests.venue_helpers import RecordingLeg

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "bitstamp.ndjson.gz"))
PAIR = {s.replace("/", "").lower(): s for s in SYMBOLS}
T0 = 1_641_343_700_000_000_000


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
