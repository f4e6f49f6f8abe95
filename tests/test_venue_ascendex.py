"""AscendEX's quirks (the common checks: tests/conformance/ascendex.py): its seqnum rule
proven on every push of the 2021 recording by :class:`Reference`, a plain-dict model of the
raw JSON that never calls the code under test, and the session equal to it after every
message; the venue's ping answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.protocol import Reply
from feeds.session import FeedSession
from feeds.venues.ascendex import AscendEx
from tests.conformance.ascendex import CASE, GOLDEN_TOPS
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "ascendex.ndjson.gz"))
SYMBOLS = CASE.symbols


@dataclass
class Reference:
    """The docs' procedure (https://ascendex.github.io/ascendex-pro-api/, "Channel: Level 2
    Order Book Updates"): keep the pushes until the requested ``depth-snapshot`` arrives,
    drop those at or below its ``seqnum``, then each push is ``seqnum + 1``."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("early", "dropped", "continued", "crossed"), 0)
    )

    def frame(self, obj: dict[str, Any]) -> None:
        if obj.get("m") not in ("depth", "depth-snapshot"):
            return
        data, book = obj["data"], self.books.get(obj["symbol"])
        if obj["m"] == "depth-snapshot":
            book = self.books[obj["symbol"]] = ReferenceBook(last_u=data["seqnum"])
        elif book is None:
            self.counts["early"] += 1  # before its snapshot: the snapshot holds it
            return
        elif data["seqnum"] <= book.last_u:
            self.counts["dropped"] += 1
            return
        else:
            assert data["seqnum"] == book.last_u + 1  # type: ignore[operator]
            self.counts["continued"] += 1
            book.last_u = data["seqnum"]
        book.apply_levels(data["bids"], data["asks"])
        self.counts["crossed"] += bool(book.bids and book.asks) and max(book.bids) >= min(book.asks)


def test_reference_proves_the_seqnum_rule_on_every_push_with_golden_tops() -> None:
    ref = Reference()
    for record in RECORDS:
        if record.dir == "in":
            ref.frame(orjson.loads(str(record.data)))
    assert ref.counts == {"early": 8, "dropped": 0, "continued": 269, "crossed": 0}
    assert {s: b.best() for s, b in ref.books.items()} == GOLDEN_TOPS


def test_session_equals_the_reference_after_every_message() -> None:
    codec = AscendEx(SYMBOLS)
    legs = {s: RecordingLeg() for s in SYMBOLS}
    session = FeedSession(codec, legs.__getitem__, lambda *a: None)
    ref, replies = Reference(), []
    for record in RECORDS:
        if record.dir == "open":
            sent = [a.frame for a in session.opened(record.t) if isinstance(a, Send)]
            assert sent == list(CASE.subscribe)
        elif record.dir == "in":
            ref.frame(orjson.loads(str(record.data)))
            actions = session.frame(str(record.data), record.t)
            replies += [a.frame for a in actions if isinstance(a, Send) and "pong" in a.frame]
        for symbol, leg in legs.items():
            book = ref.books.get(symbol)
            if book is not None and leg.books:
                assert leg.view() == book.top(20)
    assert replies == ['{"op":"pong"}'] * 2  # the two pings of the recording
    assert session.stats.gaps == 0


def test_the_venue_ping_is_answered_with_a_pong() -> None:
    codec = AscendEx(["BTC/USDT"])
    assert codec.parse('{"m":"ping","hp":3}') == [Reply('{"op":"pong"}')]
    assert codec.snapshot_frame("BTC/USDT") == (
        '{"op":"req","action":"depth-snapshot","args":{"symbol":"BTC/USDT"}}'
    )
