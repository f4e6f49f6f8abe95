"""Gate's quirks (the common checks, requests stamped with the time, a full push mid-stream
and the replay's codec: tests/conformance/gate.py; Gate's rule proven on every message of the
2021 recording: tests/test_reference.py): a full push over a REST snapshot; the REST URL."""

from __future__ import annotations

from feeds.session import FeedSession
from feeds.venues.gate import GateBookUpdate
from tests.conformance.gate import OBU_FULL, OBU_UPDATE
from tests.venue_helpers import RecordingLeg


def test_a_full_push_replaces_the_book_on_spot_order_book_update() -> None:
    # since 2025 (https://www.gate.com/announcements/article/44678), on a REST-snapshot stream
    codec = GateBookUpdate(["BTC/USDT"])
    session = FeedSession(codec, lambda _: RecordingLeg(), lambda *a: None)
    session.opened(0)
    for t, frame in enumerate((OBU_FULL, OBU_UPDATE, OBU_FULL)):
        frame = frame.replace("spot.obu", "spot.order_book_update").replace(
            "ob.BTC_USDT.50", "BTC_USDT"
        )
        assert session.frame(frame, t) == []
        assert session.books["BTC/USDT"].top(1)[2:] == ([105959.0], [0.5 if t == 1 else 0.76098])
    assert (session.stats.book_msgs, session.stats.gaps) == (3, 0)
    url = "http://127.0.0.1:9/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true"
    assert codec.snapshot_request("BTC/USDT", "http://127.0.0.1:9/", 20).url == url
