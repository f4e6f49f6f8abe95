"""Gate's quirks (the common checks and the replay's codec: tests/conformance/gate.py; Gate's
rule proven on every message of the 2021 recording: tests/test_reference.py): full pushes;
requests stamped with the time."""

from __future__ import annotations

from feeds.session import FeedSession
from feeds.venues.gate import Gate, GateBookUpdate
from tests.conformance.gate import OBU_FULL, OBU_UPDATE
from tests.venue_helpers import RecordingLeg


def book_update(frame: str) -> str:
    return frame.replace("spot.obu", "spot.order_book_update").replace("ob.BTC_USDT.50", "BTC_USDT")


def test_a_full_push_replaces_the_book_on_either_channel() -> None:
    # "full": true replaces the book and its id, on spot.obu at any time and on
    # spot.order_book_update since 2025 (https://www.gate.com/announcements/article/44678)
    for codec, frames in ((Gate, (OBU_FULL, OBU_UPDATE)), (GateBookUpdate, (OBU_FULL, OBU_UPDATE))):
        session = FeedSession(codec(["BTC/USDT"]), lambda _: RecordingLeg(), lambda *a: None)
        session.opened(0)
        for t, frame in enumerate(frames * 2):  # the second full push replaces the book
            assert session.frame(frame if codec is Gate else book_update(frame), t) == []
            assert session.books["BTC/USDT"].top(2) == (
                [105958.9, 105953.2] if t % 2 == 0 else [105953.2, 105942.6],
                [0.00908, 0.02426] if t % 2 == 0 else [0.02426, 0.02074],
                [105959.0, 105961.3],
                [0.76098 if t % 2 == 0 else 0.5, 0.0124],
            )
        assert (session.stats.book_msgs, session.stats.gaps) == (4, 0)


def test_requests_carry_the_time_and_the_depth() -> None:
    codec = Gate(["BTC/USDT"], depth=400)
    codec.clock = lambda: 1748572393_900_000_000
    assert codec.unsubscribe_frames(["BTC/USDT"]) == [
        '{"time":1748572393,"channel":"spot.obu","event":"unsubscribe",'
        '"payload":["ob.BTC_USDT.400"]}'
    ]
    assert codec.ping_frame() == '{"time":1748572393,"channel":"spot.ping"}'
    codec = GateBookUpdate(["BTC/USDT"])
    url = "http://127.0.0.1:9/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true"
    assert codec.snapshot_request("BTC/USDT", "http://127.0.0.1:9/", 20).url == url
