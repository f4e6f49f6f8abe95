"""Gate spot v4: ``spot.order_book_update`` on the real recording (tests/fixtures/
gate.ndjson.gz, see ATTRIBUTION.md), ``spot.obu`` on the documentation's examples, fuzzing,
resyncs, and the feed end to end against the emulator.

:class:`Reference` is a plain-dict model applying Gate's published rule to the raw JSON (it
never calls the code under test).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.actions import FetchSnapshot, Send
from feeds.capture import Record, read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Heartbeat,
    ParseError,
    Subscribed,
    VenueError,
)
from feeds.session import FeedSession
from feeds.venues import replay_codec_class
from feeds.venues.gate import Gate, GateBookUpdate
from tests.fuzzing import fuzz_settings
from tests.test_emulator_e2e import CLOSED, DESYNCED, LIVE, scenario
from tests.test_emulator_wire import harness, step
from tests.venue_helpers import ARBITRARY_INPUT, RecordingLeg, ReferenceBook, Top, fuzz, mutated

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "gate.ndjson.gz"))
PAIRS: tuple[str, ...] = ("INK_USDT", "HAI_ETH", "BTC_USDC", "NANO_USDT", "QTUM3S_USDT")
PAIRS += ("DIS_USDT", "NEO_BTC", "FAST_USDT", "ZKS_ETH", "OMG_USDT")
SYMBOLS = tuple(p.replace("_", "/") for p in PAIRS)
BOOK = "spot.order_book_update"


def body(record: Record) -> dict[str, Any]:
    assert isinstance(record.data, str)
    obj: dict[str, Any] = orjson.loads(record.data)
    return obj


def pair_of(record: Record) -> str:
    return record.url.split("currency_pair=")[1].split("&")[0]


@dataclass
class Reference:
    """Gate's procedure: buffer updates, drop ``u < id + 1``, the first applied one bridges
    ``U <= id + 1 <= u``, each next one continues ``U == previous u + 1``."""

    books: dict[str, ReferenceBook] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("dropped", "bridged", "continued", "crossed"), 0)
    )

    def rest(self, record: Record) -> None:
        snap = body(record)
        book = self.books[pair_of(record)] = ReferenceBook(snapshot_id=snap["id"])
        book.apply_levels(snap["bids"], snap["asks"])
        for update in self.pending.pop(pair_of(record), []):
            self.update(update)

    def frame(self, record: Record) -> bool:
        """Whether the frame was applied to a book."""
        msg = body(record)
        if msg["channel"] != BOOK or msg["event"] != "update":
            return False
        if msg["result"]["s"] not in self.books:
            self.pending.setdefault(msg["result"]["s"], []).append(msg["result"])
            return False
        return self.update(msg["result"])

    def update(self, r: dict[str, Any]) -> bool:
        book = self.books[r["s"]]
        assert book.snapshot_id is not None
        if book.last_u is None:
            if r["u"] < book.snapshot_id + 1:
                self.counts["dropped"] += 1
                return False
            assert r["U"] <= book.snapshot_id + 1 <= r["u"]
            self.counts["bridged"] += 1
        else:
            assert r["U"] == book.last_u + 1
            self.counts["continued"] += 1
        book.last_u = r["u"]
        book.apply_levels(r["b"], r["a"])
        self.counts["crossed"] += max(book.bids) >= min(book.asks)
        return True


GOLDEN_TOPS: dict[str, Top] = {
    "HAI_ETH": (0.00010324, 5997.415, 0.00010397, 5885.172),
    "QTUM3S_USDT": (0.22759, 1860.2968, 0.228407, 7344.33),
    "FAST_USDT": (10.21, 36.50154112, 10.62, 25.96795888),
    "OMG_USDT": (7.899, 288.0, 7.927, 316.6),
    "ZKS_ETH": (0.001005, 88.613, 0.001038, 453.60214),
    "NEO_BTC": (0.0018659, 0.5, 0.001873, 5.24738),
    "INK_USDT": (0.0028144, 64918.872, 0.0029543, 70737.25),
    "DIS_USDT": (121.5, 0.148, 122.23, 0.00896999),
    "BTC_USDC": (54272.19, 0.0589, 55070.74, 0.05822),
    "NANO_USDT": (8.7411, 0.197, 8.8542, 51.62831),
}
"""Best bid, its size, best ask, its size of each pair after the whole recording."""


def test_reference_proves_the_rule_on_every_message_with_golden_tops() -> None:
    ref = Reference()
    for record in RECORDS:
        if record.dir == "rest":
            ref.rest(record)
        elif record.dir == "in":
            ref.frame(record)
    assert ref.counts == {"dropped": 13, "bridged": 8, "continued": 151, "crossed": 0}
    assert ref.pending == {} and len(ref.books) == 10
    assert {p: b.best() for p, b in ref.books.items()} == GOLDEN_TOPS


# --- the codec on the recording ---------------------------------------------------------


def test_replay_reads_the_recording_with_the_book_update_codec() -> None:
    recorded = "\n".join(str(r.url) + str(r.data) for r in RECORDS if r.dir in ("open", "out"))
    assert replay_codec_class("gateio", recorded.lower()) is GateBookUpdate
    assert replay_codec_class("gate", '{"channel":"spot.obu"}') is Gate


def test_codec_translates_every_recorded_frame_exactly() -> None:
    codec = GateBookUpdate(SYMBOLS)
    channels: dict[str, int] = {}
    for record in RECORDS:
        if record.dir == "rest":
            snap, symbol = body(record), pair_of(record).replace("_", "/")
            assert codec.parse_snapshot(symbol, str(record.data).encode()) == BookSnapshot(
                symbol, snap["bids"], snap["asks"], seq=snap["id"]
            )
        if record.dir != "in":
            continue
        msg, events = body(record), codec.parse(str(record.data))
        key = f"{msg['channel']} {msg['event']}"
        channels[key] = channels.get(key, 0) + 1
        if key == "spot.order_book_update update":
            r = msg["result"]
            symbol = r["s"].replace("_", "/")
            delta = BookDelta(symbol, r["b"], r["a"], r["U"], r["u"], None, None, r["t"] * 10**6)
            assert events == [delta]
        else:
            assert events == ([Subscribed()] if key == f"{BOOK} subscribe" else [])
    assert channels == {
        "spot.trades subscribe": 1,
        "spot.order_book_update subscribe": 10,
        "spot.candlesticks subscribe": 10,
        "spot.tickers subscribe": 1,
        "spot.order_book_update update": 172,
        "spot.tickers update": 22,
        "spot.candlesticks update": 14,
        "spot.trades update": 9,
    }


def test_first_recorded_update_golden_event() -> None:
    frame = next(r.data for r in RECORDS if r.dir == "in" and '"FAST_USDT","U"' in str(r.data))
    (event,) = GateBookUpdate(SYMBOLS).parse(str(frame))
    assert isinstance(event, BookDelta)
    assert (event.symbol, event.first, event.last, event.prev, event.venue_ts_ns) == (
        "FAST/USDT", 1130669, 1138115, None, 1619093533020_000000
    )  # fmt: skip
    assert (event.bids[:2], event.asks[-1], len(event.bids), len(event.asks)) == (
        [["10.28", "36.50154112"], ["10.23", "0"]], ["46.79", "0.037"], 45, 29
    )  # fmt: skip


def test_session_replays_the_recording_equal_to_the_reference_after_every_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(GateBookUpdate, "request_time", staticmethod(lambda: 1619093532.77))
    codec = GateBookUpdate(SYMBOLS)
    legs = {s: RecordingLeg() for s in SYMBOLS}
    states: list[tuple[str, str | None]] = []
    session = FeedSession(codec, legs.__getitem__, lambda st_, why, _t: states.append((st_, why)))
    ref = Reference()
    asked: list[str] = []
    for record in RECORDS:
        if record.dir == "open":
            assert [a.frame for a in session.opened(record.t) if isinstance(a, Send)] == [
                f'{{"time":1619093532,"channel":"{BOOK}",'
                f'"event":"subscribe","payload":["{p}","100ms"]}}'
                for p in (codec.venue_symbol(s) for s in SYMBOLS)
            ]
        elif record.dir == "rest":
            ref.rest(record)
            assert (
                session.snapshot(
                    pair_of(record).replace("_", "/"), str(record.data).encode(), record.t
                )
                == []
            )
        elif record.dir == "in":
            ref.frame(record)
            actions = session.frame(str(record.data), record.t)
            asked += [a.request.url for a in actions if isinstance(a, FetchSnapshot)]
        for symbol, leg in legs.items():
            book = ref.books.get(codec.venue_symbol(symbol))
            assert (leg.books == []) if book is None else leg.view() == book.top(20)
    # the snapshots asked for, as each pair's first update arrived, are the recorded ones
    assert sorted(asked) == sorted(r.url for r in RECORDS if r.dir == "rest")
    assert ref.counts == {"dropped": 13, "bridged": 8, "continued": 151, "crossed": 0}
    stats = session.stats
    # The session applies the 9 updates whose u equals the book's id (Binance's wording; Gate
    # drops them): each repeats sizes the snapshot already holds, so every book above stayed
    # the reference's. 10 snapshots + 159 + 9; 4 updates below the snapshots dropped.
    assert (stats.book_msgs, stats.older) == (10 + 159 + 9, 4)
    assert (stats.gaps, stats.resyncs, stats.crossed, stats.checksum_fail) == (0, 0, 0, 0)
    assert (stats.malformed, stats.codec_errors, stats.unknown_symbol) == (0, 0, 0)
    assert states == [("syncing", None), ("live", None)]


# --- today's protocol, on the documentation's examples --------------------------------------

# https://www.gate.com/announcements/article/45317 (spot.obu), levels shortened
OBU_ACK = (
    '{"time":1748572394,"time_ms":1748572394271,"conn_id":"b61f70b2e6bcca91",'
    '"trace_id":"d2e2d92c3a7eabc3d5be52514ef508d2","channel":"spot.obu","event":"subscribe",'
    '"payload":["ob.BTC_USDT.50"],"result":{"status":"success"},'
    '"requestId":"d2e2d92c3a7eabc3d5be52514ef508d2"}'
)
OBU_FULL = (
    '{"channel":"spot.obu","result":{"t":1748572394325,"full":true,"s":"ob.BTC_USDT.50",'
    '"u":28606981,"b":[["105958.9","0.00908"],["105953.2","0.02426"]],'
    '"a":[["105959","0.76098"],["105961.3","0.0124"]]},"time_ms":1748572394325}'
)
OBU_UPDATE = (
    '{"channel":"spot.obu","result":{"t":1748572394382,"s":"ob.BTC_USDT.50","U":28606982,'
    '"u":28606984,"b":[["105958.9","0"]],"a":[["105959","0.5"]]},"time_ms":1748572394383}'
)


def test_obu_frames_out_and_documented_pushes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Gate, "request_time", staticmethod(lambda: 1748572393.5))
    codec = Gate(["BTC/USDT"])
    assert codec.subscribe_frames(["BTC/USDT"]) == [
        '{"time":1748572393,"channel":"spot.obu","event":"subscribe","payload":["ob.BTC_USDT.50"]}'
    ]
    assert Gate(["BTC/USDT"], depth=400).unsubscribe_frames(["BTC/USDT"]) == [
        '{"time":1748572393,"channel":"spot.obu","event":"unsubscribe","payload":["ob.BTC_USDT.400"]}'
    ]
    assert codec.ping_frame() == '{"time":1748572393,"channel":"spot.ping"}'
    assert codec.parse(OBU_ACK) == [Subscribed()]
    assert codec.parse(OBU_FULL) == [
        BookSnapshot(
            "BTC/USDT",
            [["105958.9", "0.00908"], ["105953.2", "0.02426"]],
            [["105959", "0.76098"], ["105961.3", "0.0124"]],
            seq=28606981,
            venue_ts_ns=1748572394325_000000,
        )
    ]
    assert codec.parse(OBU_UPDATE) == [
        BookDelta("BTC/USDT", [["105958.9", "0"]], [["105959", "0.5"]], 28606982, 28606984,
                  28606981, None, 1748572394382_000000)
    ]  # fmt: skip
    pong = (
        '{"time":1545404023,"time_ms":1545404023123,"channel":"spot.pong","event":"","result":null}'
    )
    assert codec.parse(pong) == [Heartbeat()]
    error = (
        '{"time":1,"channel":"spot.obu","event":"subscribe",'
        '"error":{"code":2,"message":"Alert sub ob.BTC_USDT.50"},"result":{"status":"fail"}}'
    )
    assert codec.parse(error) == [VenueError("2: Alert sub ob.BTC_USDT.50")]


def test_book_update_full_push_replaces_the_book() -> None:
    # Since 2025 spot.order_book_update pushes "full": true at irregular intervals: the book
    # is replaced and its id becomes u (https://www.gate.com/announcements/article/44678).
    full = OBU_FULL.replace("spot.obu", BOOK).replace("ob.BTC_USDT.50", "BTC_USDT")
    session = FeedSession(GateBookUpdate(["BTC/USDT"]), lambda _: RecordingLeg(), lambda *a: None)
    session.opened(0)
    assert session.frame(full, 1) == []
    assert session.books["BTC/USDT"].top() == ([105958.9, 105953.2], [0.00908, 0.02426],
                                               [105959.0, 105961.3], [0.76098, 0.0124])  # fmt: skip
    update = OBU_UPDATE.replace("spot.obu", BOOK).replace("ob.BTC_USDT.50", "BTC_USDT")
    assert session.frame(update, 2) == []
    assert session.books["BTC/USDT"].top()[2:] == ([105959.0, 105961.3], [0.5, 0.0124])
    assert (session.stats.book_msgs, session.stats.gaps) == (2, 0)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "[]",
        '{"time":1}',
        '{"channel":"spot.obu","event":"update","result":[]}',
        '{"channel":"spot.obu","event":"snapshot","result":{}}',
        '{"channel":"spot.obu","error":"x"}',
        OBU_UPDATE.replace("ob.BTC_USDT.50", "ob.ETH_USDT.50"),
        OBU_UPDATE.replace("ob.BTC_USDT.50", "ob.BTC_USDT.400"),
        OBU_UPDATE.replace('"U":28606982', '"U":28606985'),
        OBU_UPDATE.replace('"U":28606982', '"U":true'),
        OBU_UPDATE.replace('"U":28606982,', ""),
        OBU_UPDATE.replace('"t":1748572394382', '"t":-1'),
        OBU_UPDATE.replace('"b":[["105958.9","0"]]', '"b":{}'),
        OBU_FULL.replace('"u":28606981', '"u":"28606981"'),
    ],
)
def test_malformed_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        Gate(["BTC/USDT"]).parse(frame)


def test_rest_error_body_and_request() -> None:
    codec = GateBookUpdate(["BTC/USDT"])
    with pytest.raises(ParseError, match="Invalid currency"):
        codec.parse_snapshot(
            "BTC/USDT", b'{"label":"INVALID_CURRENCY","message":"Invalid currency"}'
        )
    url = "http://127.0.0.1:9/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true"
    assert codec.snapshot_request("BTC/USDT", "http://127.0.0.1:9/", 20).url == url


# --- fuzzing ------------------------------------------------------------------------------

SAMPLES = [body(r) for r in RECORDS[1:80] if r.dir == "in"]
OBU_SAMPLES = [orjson.loads(f) for f in (OBU_ACK, OBU_FULL, OBU_UPDATE)]
SNAPSHOT = body(next(r for r in RECORDS if r.dir == "rest"))
SNAPSHOT |= {"bids": SNAPSHOT["bids"][:3], "asks": SNAPSHOT["asks"][:3]}


@fuzz_settings(200)
@given(ARBITRARY_INPUT)
def test_fuzz_arbitrary_input(data: str | bytes) -> None:
    fuzz(Gate(["BTC/USDT"]).parse, data, ("BTC/USDT",))
    fuzz(GateBookUpdate(SYMBOLS).parse, data, SYMBOLS)


@fuzz_settings(300)
@given(mutated(SAMPLES) | mutated(OBU_SAMPLES))
def test_fuzz_mutated_frames(frame: str) -> None:
    fuzz(GateBookUpdate(SYMBOLS).parse, frame, SYMBOLS)
    fuzz(Gate(["BTC/USDT"]).parse, frame, ("BTC/USDT",))


@fuzz_settings(150)
@given(mutated([SNAPSHOT]) | st.binary(max_size=32))
def test_fuzz_mutated_rest_snapshots(data: str | bytes) -> None:
    raw = data.encode() if isinstance(data, str) else data
    fuzz(lambda b: [GateBookUpdate(SYMBOLS).parse_snapshot("HAI/ETH", b)], raw, SYMBOLS)


# --- resyncs ---------------------------------------------------------------------------------


def test_obu_gap_resyncs_in_band_and_a_full_push_reseeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Gate, "request_time", staticmethod(lambda: 7.0))
    leg = RecordingLeg()
    session = FeedSession(Gate(["BTC/USDT"]), lambda _: leg, lambda *a: None)
    session.opened(0)
    assert session.frame(OBU_FULL, 1) == [] and session.frame(OBU_UPDATE, 2) == []
    lost = OBU_UPDATE.replace('"U":28606982,"u":28606984', '"U":28606986,"u":28606986')
    stream = '"payload":["ob.BTC_USDT.50"]}'
    assert session.frame(lost, 3) == [
        Send(f'{{"time":7,"channel":"spot.obu","event":"unsubscribe",{stream}'),
        Send(f'{{"time":7,"channel":"spot.obu","event":"subscribe",{stream}'),
    ]
    assert session.frame(OBU_FULL.replace("28606981", "28606990"), 4) == []
    assert [u[:2] for u in leg.usable] == [(True, None), (False, "desynced"), (True, None)]
    assert (session.stats.gaps, session.stats.resyncs, session.stats.book_msgs) == (1, 1, 3)


def test_book_update_gap_resyncs_by_rest() -> None:
    session = FeedSession(GateBookUpdate(["BTC/USDT"]), lambda _: RecordingLeg(), lambda *a: None)
    session.opened(0)
    update = OBU_UPDATE.replace("spot.obu", BOOK).replace("ob.BTC_USDT.50", "BTC_USDT")
    (fetch,) = session.frame(update, 1)
    assert isinstance(fetch, FetchSnapshot)
    snap = b'{"id":28606981,"bids":[["105958.9","1"]],"asks":[["105959","1"]]}'
    assert session.snapshot("BTC/USDT", snap, 2) == []
    lost = update.replace('"U":28606982,"u":28606984', '"U":28606986,"u":28606986')
    assert session.frame(lost, 3) == [fetch]
    assert (session.stats.gaps, session.stats.resyncs, session.stats.book_msgs) == (1, 1, 2)


# --- end to end against the emulator --------------------------------------------------------


def test_feed_against_the_emulator_follows_the_model_and_resyncs_a_gap() -> None:
    # the model's book after every step, a lost frame resynced in-band (BTC/USDT only)
    legs = asyncio.run(scenario("gate"))
    assert legs["BTC/USDT"].usable == [LIVE, DESYNCED, LIVE, CLOSED]
    assert legs["ETH/USDT"].usable == [LIVE, CLOSED]


def test_emulated_frames_have_the_recorded_shape() -> None:
    model, _venue, session = harness("gate", "/ws/v4/")
    sub = Gate(["BTC/USDT"]).subscribe_frames(["BTC/USDT"])[0]
    ack, full = (orjson.loads(o.frame) for o in session.received(sub, model.now_ns))
    assert (ack["event"], ack["payload"], ack["result"]) == (
        "subscribe", ["ob.BTC_USDT.50"], {"status": "success"}
    )  # fmt: skip
    (delta,) = (orjson.loads(f) for f in step(model, _venue, session))
    assert delta["result"]["U"] == full["result"]["u"] + 1
    recorded = next(body(r) for r in RECORDS if r.dir == "in" and '"U"' in str(r.data))
    # the recorded envelope and level shape, with obu's result keys; minimal decimal text
    for frame in (full, delta, recorded):
        assert set(recorded) <= set(frame) and frame["event"] == "update"
        for price, size in frame["result"]["b"] + frame["result"]["a"]:
            assert isinstance(price, str) and isinstance(size, str)
            assert re.fullmatch(r"0|[1-9]\d*|\d+\.\d*[1-9]", size), size
            assert re.fullmatch(r"[1-9]\d*|\d+\.\d*[1-9]", price), price
    assert set(full["result"]) == {"t", "full", "s", "u", "b", "a"}
    assert set(delta["result"]) == {"t", "s", "U", "u", "b", "a"}
