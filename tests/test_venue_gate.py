"""Gate's quirks (the common checks: tests/conformance/gate.py): Gate's own rule proven on
every message of the 2021 recording by :class:`Reference`, a plain-dict model of the raw JSON
that never calls the code under test, and the session equal to it after every message; the
replay's codec choice; full pushes; requests stamped with the time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import FetchSnapshot, Send
from feeds.capture import Record, read_capture
from feeds.protocol import ParseError
from feeds.session import FeedSession
from feeds.venues import replay_codec_class
from feeds.venues.gate import Gate, GateBookUpdate
from tests.conformance.gate import BOOK_UPDATE, GOLDEN_TOPS, OBU_FULL, OBU_UPDATE, RecordedGate
from tests.venue_helpers import RecordingLeg, ReferenceBook

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "gate.ndjson.gz"))
SYMBOLS = BOOK_UPDATE.symbols


def body(record: Record) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(str(record.data))
    return obj


def symbol_of(pair: str) -> str:
    return pair.replace("_", "/")


@dataclass
class Reference:
    """Gate's procedure (https://www.gate.com/docs/developers/apiv4/ws/en/, "Changed order
    book"): buffer the updates, drop ``u < id + 1``, the first applied one bridges ``U <= id +
    1 <= u``, each next one continues ``U == previous u + 1``."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("dropped", "bridged", "continued", "crossed"), 0)
    )

    def record(self, record: Record) -> None:
        if record.dir == "rest":
            pair, snap = record.url.split("currency_pair=")[1].split("&")[0], body(record)
            book = self.books[pair] = ReferenceBook(snapshot_id=snap["id"])
            book.apply_levels(snap["bids"], snap["asks"])
            for update in self.pending.pop(pair, []):
                self.update(update)
        elif record.dir == "in" and '"channel":"spot.order_book_update","event":"update"' in str(
            record.data
        ):
            update = body(record)["result"]
            if update["s"] in self.books:
                self.update(update)
            else:
                self.pending.setdefault(update["s"], []).append(update)

    def update(self, r: dict[str, Any]) -> None:
        book = self.books[r["s"]]
        assert book.snapshot_id is not None
        if book.last_u is None:
            if r["u"] < book.snapshot_id + 1:
                self.counts["dropped"] += 1
                return
            assert r["U"] <= book.snapshot_id + 1 <= r["u"]
            self.counts["bridged"] += 1
        else:
            assert r["U"] == book.last_u + 1
            self.counts["continued"] += 1
        book.last_u = r["u"]
        book.apply_levels(r["b"], r["a"])
        self.counts["crossed"] += max(book.bids) >= min(book.asks)


def test_reference_proves_gates_rule_on_every_message_with_golden_tops() -> None:
    ref = Reference()
    for record in RECORDS:
        ref.record(record)
    assert ref.counts == {"dropped": 13, "bridged": 8, "continued": 151, "crossed": 0}
    assert ref.pending == {} and len(ref.books) == 10
    assert {symbol_of(p): b.best() for p, b in ref.books.items()} == GOLDEN_TOPS


def test_session_equals_the_reference_after_every_message() -> None:
    """The session's rule also applies the 9 updates whose ``u`` is the snapshot's id (Gate
    drops them): each repeats sizes the snapshot holds, so the books stay the reference's."""
    codec = RecordedGate(SYMBOLS)
    legs = {s: RecordingLeg() for s in SYMBOLS}
    session = FeedSession(codec, legs.__getitem__, lambda *a: None)
    ref = Reference()
    asked: list[str] = []
    for record in RECORDS:
        ref.record(record)
        if record.dir == "open":
            assert [a.frame for a in session.opened(record.t) if isinstance(a, Send)] == list(
                BOOK_UPDATE.subscribe
            )
        elif record.dir == "rest":
            pair = record.url.split("currency_pair=")[1].split("&")[0]
            assert session.snapshot(symbol_of(pair), str(record.data).encode(), record.t) == []
        elif record.dir == "in":
            actions = session.frame(str(record.data), record.t)
            asked += [a.request.url for a in actions if isinstance(a, FetchSnapshot)]
        for symbol, leg in legs.items():
            book = ref.books.get(codec.venue_symbol(symbol))
            assert (leg.books == []) if book is None else leg.view() == book.top(20)
    # asked for as each pair's first update arrived: exactly the recorded requests
    assert sorted(asked) == sorted(r.url for r in RECORDS if r.dir == "rest")
    assert (session.stats.book_msgs, session.stats.older) == (10 + 159 + 9, 4)


def test_replay_reads_the_recording_with_the_book_update_codec() -> None:
    recorded = "\n".join(str(r.url) + str(r.data) for r in RECORDS if r.dir in ("open", "out"))
    assert replay_codec_class("gateio", recorded.lower()) is GateBookUpdate
    assert replay_codec_class("gate", '{"channel":"spot.obu"}') is Gate


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
    with pytest.raises(ValueError, match=r"gate book depth must be one of \[50, 400\]"):
        Gate(["BTC/USDT"], depth=100)
    codec = GateBookUpdate(["BTC/USDT"])
    with pytest.raises(ParseError, match="Invalid currency"):
        codec.parse_snapshot(
            "BTC/USDT", b'{"label":"INVALID_CURRENCY","message":"Invalid currency"}'
        )
    url = "http://127.0.0.1:9/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true"
    assert codec.snapshot_request("BTC/USDT", "http://127.0.0.1:9/", 20).url == url
