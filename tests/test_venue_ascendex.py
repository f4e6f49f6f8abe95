"""AscendEX's quirks (the common checks: tests/conformance/ascendex.py): its seqnum rule
proven on every push of the 2021 recording by :class:`Reference`, a plain-dict model of the
raw JSON that never calls the code under test, and the session equal to it after every
message, asking for the snapshots it lacks and answering the venue's pings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.session import FeedSession
from feeds.venues.ascendex import AscendEx
from tests.conformance.ascendex import CASE, GOLDEN_TOPS
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "ascendex.ndjson.gz"))
SYMBOLS = CASE.symbols
_COUNTS = ("early", "dropped", "continued", "crossed")


@dataclass
class Reference:
    """The docs' procedure (https://ascendex.github.io/ascendex-pro-api/, "WebSocket"): keep
    the pushes until the requested ``depth-snapshot`` arrives, drop those at or below its
    ``seqnum`` (every early one must be), then each push is ``seqnum + 1``."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    early: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))

    def frame(self, obj: dict[str, Any]) -> None:
        if obj.get("m") not in ("depth", "depth-snapshot"):
            return
        data, book = obj["data"], self.books.get(obj["symbol"])
        if obj["m"] == "depth-snapshot":
            book = self.books[obj["symbol"]] = ReferenceBook(last_u=data["seqnum"])
            assert all(q <= data["seqnum"] for q in self.early.get(obj["symbol"], []))
        elif book is None:
            self.counts["early"] += 1  # before its snapshot: the snapshot must hold it
            self.early.setdefault(obj["symbol"], []).append(data["seqnum"])
            return
        elif data["seqnum"] <= book.last_u:
            self.counts["dropped"] += 1
            return
        else:
            assert data["seqnum"] == book.last_u + 1  # type: ignore[operator]
            self.counts["continued"] += 1
            book.last_u = data["seqnum"]
        book.apply_levels(data["bids"], data["asks"])
        self.counts["crossed"] += max(book.bids) >= min(book.asks)


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
    ref, sent = Reference(), []
    for record in RECORDS:
        if record.dir == "open":
            sent = [a.frame for a in session.opened(record.t) if isinstance(a, Send)]
        elif record.dir == "in":
            ref.frame(orjson.loads(str(record.data)))
            actions = session.frame(str(record.data), record.t)
            sent += [a.frame for a in actions if isinstance(a, Send)]
        for symbol, leg in legs.items():
            book = ref.books.get(symbol)
            if book is not None and leg.books:
                assert leg.view() == book.top(20)
    # a snapshot asked for as the first push of a symbol came before the one the recorder
    # asked for (the other six were already there); the two pings answered
    assert sent == [
        *CASE.subscribe,
        *map(codec.snapshot_frame, ("CHZ/USDT", "ALTBULL/USDT", "NEO/USDT", "SRM/BTC")),
        '{"op":"pong"}',
        '{"op":"pong"}',
    ]
    assert session.stats.gaps == 0
