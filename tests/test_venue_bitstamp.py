"""Bitstamp beyond the shared suites (a lost diff unnoticed: bitstamp-unnoticed; a crossed book
resynced from REST: tests/test_reliability.py): the snapshot request under any REST base, the
emulated venue's REST error and its maintenance notice; the session fuzz's samples."""

from __future__ import annotations

import orjson

from emulator.venues.base import HttpAnswer
from feeds.protocol import BookDelta, PlannedClose, RestRequest
from feeds.venues.bitstamp import Bitstamp
from tests.conformance.bitstamp import CASE, PAIRS, SYMBOLS, read, us
from tests.test_conformance import records
from tests.test_emulator_wire import harness

T0 = 1_641_343_700_000_000_000


def test_the_snapshot_request_names_the_pair_under_any_rest_base() -> None:
    request = Bitstamp(["BTC/USD"]).snapshot_request("BTC/USD", "http://127.0.0.1:9/", 20)
    assert request == RestRequest("http://127.0.0.1:9/api/v2/order_book/btcusd", "BTC/USD", 1)


def test_the_emulated_venue_refuses_a_bad_pair_and_sends_the_maintenance_notice() -> None:
    _, venue, emulated = harness("bitstamp", "/")  # its heartbeat answer: bitstamp-ping
    assert venue.rest("/api/v2/order_book/nope", {}, T0) == HttpAnswer(
        404, '{"status":"error","reason":"Invalid pair.","code":"404"}'
    )
    (notice,) = emulated.shutdown_notice(T0)  # make-before-break: tests/test_handover.py
    assert CASE.new_codec().parse(notice.frame) == [PlannedClose("bts:request_reconnect")]


# --- samples for the session fuzz (tests/test_session.py) ------------------------------------

SNAPSHOTS = {SYMBOLS[PAIRS.index(r.url.rsplit("/", 1)[1])]: r.data
             for r in records(CASE) if r.dir == "rest"}  # fmt: skip
"""The recorded REST snapshot of each symbol."""
_SINCE = {symbol: us(orjson.loads(body)) for symbol, body in SNAPSHOTS.items()}
SAMPLE_FRAMES = [
    orjson.loads(r.data) for r in records(CASE) if r.dir == "in"
    and all(d.venue_ts_ns > _SINCE[d.symbol] for d in read(r, {})
            if isinstance(d, BookDelta) and d.venue_ts_ns is not None)
][:60]  # fmt: skip
"""Acks, trades and the diffs the recorded snapshots take."""
