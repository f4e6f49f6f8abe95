"""AscendEX's quirk (the common checks, its seqnum rule on every push by the shared model:
tests/conformance/ascendex.py): the session asks for exactly the snapshots it lacks and
answers the venue's pings."""

from __future__ import annotations

from pathlib import Path

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.session import FeedSession
from feeds.venues.ascendex import AscendEx
from tests.conformance.ascendex import CASE
from tests.venue_helpers import RecordingLeg

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "ascendex.ndjson.gz"))


def test_the_session_asks_for_the_snapshots_it_lacks_and_answers_pings() -> None:
    codec = AscendEx(CASE.symbols)
    legs = {s: RecordingLeg() for s in CASE.symbols}
    session = FeedSession(codec, legs.__getitem__, lambda *a: None)
    sent: list[str] = []
    for record in RECORDS:
        if record.dir == "open":
            sent = [a.frame for a in session.opened(record.t) if isinstance(a, Send)]
        elif record.dir == "in":
            actions = session.frame(str(record.data), record.t)
            sent += [a.frame for a in actions if isinstance(a, Send)]
    # a snapshot asked for as the first push of a symbol came before the one the recorder
    # asked for (the other six were already there); the two pings answered
    assert sent == [
        *CASE.subscribe,
        *map(codec.snapshot_frame, ("CHZ/USDT", "ALTBULL/USDT", "NEO/USDT", "SRM/BTC")),
        '{"op":"pong"}',
        '{"op":"pong"}',
    ]
    assert session.stats.gaps == 0
