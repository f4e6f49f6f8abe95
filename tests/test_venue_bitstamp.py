"""Bitstamp beyond the shared suites (tests/conformance/bitstamp.py; the recording followed
by the independent model: tests/test_reference.py; a lost diff unnoticed: bitstamp-unnoticed;
a crossed book resynced from REST: tests/test_reliability.py, bitstamp-crossed): the requests,
bad REST bodies, the emulated venue's REST error and its notice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from emulator.venues.base import HttpAnswer
from feeds.actions import Replace
from feeds.capture import read_capture
from feeds.protocol import ParseError, RestRequest
from feeds.session import FeedSession
from feeds.venues.bitstamp import Bitstamp
from tests.conformance.bitstamp import SYMBOLS
from tests.test_emulator_wire import harness
from tests.venue_helpers import LastBook

T0 = 1_641_343_700_000_000_000


def test_requests() -> None:
    codec = Bitstamp(["BTC/USD"])
    assert codec.ping_frame() == '{"event":"bts:heartbeat"}'  # probes a quiet connection
    assert codec.unsubscribe_frames(["BTC/USD"]) == []  # a resync fetches a REST snapshot
    assert codec.snapshot_request("BTC/USD", "http://127.0.0.1:9/", 20) == RestRequest(
        "http://127.0.0.1:9/api/v2/order_book/btcusd", "BTC/USD", 1
    )


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


def test_the_emulated_venue_refuses_a_bad_pair_and_its_notice_replaces_the_connection() -> None:
    _, venue, emulated = harness("bitstamp", "/")  # its heartbeat answer: bitstamp-ping
    assert venue.rest("/api/v2/order_book/nope", {}, T0) == HttpAnswer(
        404, '{"status":"error","reason":"Invalid pair.","code":"404"}'
    )
    # the maintenance notice: make-before-break (the runner's handover: tests/test_handover.py)
    (notice,) = emulated.shutdown_notice(T0)
    session = FeedSession(Bitstamp(["BTC/USDT"]), lambda _: LastBook(), lambda *_: None)
    assert session.frame(notice.frame, T0) == [Replace("bts:request_reconnect")]


# --- samples for the session fuzz (tests/test_session.py) ------------------------------------

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "bitstamp.ndjson.gz"))
PAIR = {s.replace("/", "").lower(): s for s in SYMBOLS}
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
