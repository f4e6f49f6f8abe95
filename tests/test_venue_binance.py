"""Binance / Binance.US quirks: the real recordings decoded frame by frame and checked against
an independent model after every message, REST snapshots, URLs, symbols. (Samples, malformed
frames, fuzzing, the replay's figures, resync and the emulator: tests/conformance/binance*.py.)

The recordings (tests/fixtures/binance*.ndjson.gz, see ATTRIBUTION.md) are replayed twice:
by :class:`ReferenceBook`, an independent plain-dict model that applies the raw JSON with the
published rule (it never calls the code under test), and through the codec + FeedSession.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import FetchSnapshot
from feeds.book import Book
from feeds.capture import Record, read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Event,
    ParseError,
    RestRequest,
    SeqRule,
    SnapshotSource,
)
from feeds.session import FeedSession
from feeds.venues.binance import Binance, BinanceUS
from tests.conformance.binance import CASE as BINANCE_CASE
from tests.conformance.binanceus import CASE as BINANCEUS_CASE
from tests.venue_helpers import (
    RecordingLeg,
    ReferenceBook,
    Top,
    book_refuses,
)

FIXTURES = Path(__file__).parent / "fixtures"
BINANCE_SYMBOLS = ("NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR")
BINANCEUS_SYMBOLS = ("CRV/USDT", "COMP/USDT", "OMG/BUSD", "ZRX/USDT")


def records(name: str) -> list[Record]:
    return list(read_capture(FIXTURES / f"{name}.ndjson.gz"))


# --- the independent reference model ----------------------------------------------------


@dataclass
class ReferenceReplay:
    books: dict[str, ReferenceBook] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dropped: int = 0
    bridged: int = 0
    continued: int = 0
    crossed: int = 0

    def rest(self, record: Record) -> str:
        venue_id = record.url.split("symbol=")[1].split("&")[0]
        body = orjson.loads(record.data)
        book = self.books[venue_id] = ReferenceBook(snapshot_id=body["lastUpdateId"])
        book.apply_levels(body["bids"], body["asks"])
        for event in self.pending.pop(venue_id, []):
            self.depth(event)
        return venue_id

    def frame(self, record: Record) -> str | None:
        wrapper = orjson.loads(record.data)
        if not wrapper["stream"].endswith("@depth@100ms"):
            return None
        event = wrapper["data"]
        if event["s"] not in self.books:
            self.pending.setdefault(event["s"], []).append(event)
            return None
        return event["s"] if self.depth(event) else None

    def depth(self, event: dict[str, Any]) -> bool:
        """The update procedure of "How to manage a local order book correctly" as worded
        since 2025-11-12: u below the book's id is ignored, U above id + 1 is a gap (none in
        the recordings), anything else is applied; ``bridged`` counts the applied events that
        overlap the book's id (U <= id), ``continued`` those that follow it (U == id + 1)."""
        book = self.books[event["s"]]
        assert book.snapshot_id is not None
        local = book.snapshot_id if book.last_u is None else book.last_u
        if event["u"] < local:
            self.dropped += 1
            return False
        assert event["U"] <= local + 1, "a gap"
        if event["U"] <= local:
            self.bridged += 1
        else:
            self.continued += 1
        book.last_u = event["u"]
        book.apply_levels(event["b"], event["a"])
        if max(book.bids) >= min(book.asks):
            self.crossed += 1
        return True


def reference(name: str) -> ReferenceReplay:
    ref = ReferenceReplay()
    for record in records(name):
        if record.dir == "rest":
            ref.rest(record)
        elif record.dir == "in":
            ref.frame(record)
    return ref


@pytest.mark.parametrize(
    ("name", "dropped", "bridged", "continued"),
    [("binance", 1, 4, 172), ("binanceus", 0, 4, 332)],
)
def test_reference_replay_proves_the_published_rule_on_every_message(
    name: str, dropped: int, bridged: int, continued: int
) -> None:
    ref = reference(name)
    assert (ref.dropped, ref.bridged, ref.continued, ref.crossed) == (
        dropped,
        bridged,
        continued,
        0,
    )
    assert ref.pending == {}


def test_reference_final_tops_are_the_conformance_golden_values() -> None:
    for name, case in (("binance", BINANCE_CASE), ("binanceus", BINANCEUS_CASE)):
        books, codec = reference(name).books, case.new_codec()
        assert case.replay is not None
        assert {s: books[codec.venue_symbol(s)].best() for s in case.symbols} == case.replay.tops


# --- the codec on the recordings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "symbols"),
    [("binance", Binance, BINANCE_SYMBOLS), ("binanceus", BinanceUS, BINANCEUS_SYMBOLS)],
)
def test_codec_translates_every_recorded_frame_exactly(
    name: str, cls: type[Binance], symbols: tuple[str, ...]
) -> None:
    codec = cls(symbols)
    canonical = {codec.venue_symbol(s): s for s in symbols}
    kinds: dict[str, int] = {}
    for record in records(name):
        if record.dir == "rest":
            assert isinstance(record.data, str)
            body = orjson.loads(record.data)
            venue_id = record.url.split("symbol=")[1].split("&")[0]
            assert codec.parse_snapshot(canonical[venue_id], record.data.encode()) == BookSnapshot(
                canonical[venue_id], body["bids"], body["asks"], seq=body["lastUpdateId"]
            )
        elif record.dir == "in":
            assert isinstance(record.data, str)
            wrapper = orjson.loads(record.data)
            stream_kind = wrapper["stream"].split("@", 1)[1]
            kinds[stream_kind] = kinds.get(stream_kind, 0) + 1
            raw = wrapper["data"]
            expected: list[Event] = []
            if stream_kind == "depth@100ms":
                expected = [
                    BookDelta(
                        canonical[raw["s"]], raw["b"], raw["a"], first=raw["U"], last=raw["u"],
                        venue_ts_ns=raw["E"] * 1_000_000,
                    )
                ]  # fmt: skip
            assert codec.parse(record.data) == expected
            # The same event on a raw /ws connection arrives without the wrapper.
            assert codec.parse(orjson.dumps(raw)) == expected
    expected_kinds = {
        "binance": {"depth@100ms": 177, "bookTicker": 84, "aggTrade": 2, "kline_1m": 2},
        "binanceus": {"depth@100ms": 336, "bookTicker": 128, "aggTrade": 11, "kline_1m": 5},
    }
    assert kinds == expected_kinds[name]


# --- frames out, control frames, symbols -----------------------------------------------


def test_class_attributes_declare_the_rule() -> None:
    assert (Binance.venue, BinanceUS.venue) == ("binance", "binanceus")
    assert Binance.integrity.seq is SeqRule.RANGE
    assert Binance.integrity.snapshot is SnapshotSource.REST
    assert Binance.ping_interval_s is None
    assert BinanceUS.endpoints.ws == "wss://stream.binance.us:9443"
    assert BinanceUS.endpoints.rest == "https://api.binance.us"
    assert Binance.max_connection_s == BinanceUS.max_connection_s == 86400.0  # closed after 24 h


def test_subscribe_frames_and_urls() -> None:
    codec = Binance(["BTC/USDT", "ETH/BTC"])
    assert codec.subscribe_frames(["BTC/USDT", "ETH/BTC"]) == [
        '{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","ethbtc@depth@100ms"],"id":1}'
    ]
    assert codec.subscribe_frames(["ETH/BTC"]) == [
        '{"method":"SUBSCRIBE","params":["ethbtc@depth@100ms"],"id":2}'
    ]
    assert codec.subscribe_frames([]) == []
    assert codec.unsubscribe_frames(["ETH/BTC"]) == []
    assert codec.ws_url("") == "wss://stream.binance.com:9443/ws"
    assert codec.ws_url("ws://127.0.0.1:8765/") == "ws://127.0.0.1:8765/ws"
    assert codec.ws_url("ws://127.0.0.1:8765/stream") == "ws://127.0.0.1:8765/stream"
    assert codec.snapshot_request("BTC/USDT", "", 20) == RestRequest(
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=100", "BTC/USDT", 5
    )
    assert BinanceUS(["ZRX/USDT"]).snapshot_request("ZRX/USDT", "http://127.0.0.1:9/", 20) == (
        RestRequest("http://127.0.0.1:9/api/v3/depth?symbol=ZRXUSDT&limit=100", "ZRX/USDT", 1)
    )


@pytest.mark.parametrize(
    ("bids", "asks", "error"),
    [
        (
            [["1", "x"]],
            [],
            "bad level \\['1', 'x'\\]: bad size 'x'",
        ),
        ([], [["0", "1"]], "bad price '0'"),
        ([["nan", "1"]], [], "bad price 'nan'"),
        ([["1", "-0.5"]], [], "bad size '-0.5'"),
        ([["1", False]], [], "bad size False"),
        ([["1"]], [], "bad level \\['1'\\]: not a \\[price, size, ...\\] list or tuple"),
    ],
)
def test_bad_levels_pass_the_codec_and_the_book_refuses_them(
    bids: list[Any], asks: list[Any], error: str
) -> None:
    frame = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 1, "u": 2, "b": bids, "a": asks}
    book_refuses(Binance(["BTC/USDT"]).parse(json.dumps(frame)), bids, asks, error)


def test_json_number_levels_are_accepted_by_the_book() -> None:
    # Binance sends strings; a JSON number is still an exact value, so the book takes it.
    (event,) = Binance(["BTC/USDT"]).parse(
        '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[[1.5,"2"]],"a":[["1.75",3]]}'
    )
    book = Book()
    assert isinstance(event, BookDelta)
    book.apply_snapshot(event.bids, event.asks)
    assert book.top() == ([1.5], [2.0], [1.75], [3.0])


def test_rest_error_body_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"Invalid symbol"):
        Binance(["BTC/USDT"]).parse_snapshot("BTC/USDT", b'{"code":-1121,"msg":"Invalid symbol."}')


def test_symbols_are_mapped_by_explicit_table() -> None:
    assert Binance(["1INCH/USDT"]).venue_symbol("1INCH/USDT") == "1INCHUSDT"
    with pytest.raises(ValueError, match="both"):
        Binance(["AB/CD", "ABC/D"])
    for bad in ("BTCUSDT", "btc/usdt", "BTC/", "BTC-USD/T"):
        with pytest.raises(ValueError, match="canonical"):
            Binance([bad])


# --- samples the session fuzzing in tests/test_session.py mutates ---------------------------

SAMPLE_FRAMES = [orjson.loads(r.data) for r in records("binance")[1:40] if r.dir == "in"]
SAMPLE_SNAPSHOT = orjson.loads(next(r.data for r in records("binance") if r.dir == "rest"))
SAMPLE_SNAPSHOT |= {"bids": SAMPLE_SNAPSHOT["bids"][:4], "asks": SAMPLE_SNAPSHOT["asks"][:4]}


# --- through the real sequencing machinery ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "symbols", "first_tops"),
    [
        (
            "binance",
            Binance,
            BINANCE_SYMBOLS,
            {
                "NKN/USDT": (0.3521, 672.0, 0.3525, 3959.0),
                "BLZ/ETH": (6.547e-05, 100.0, 6.555e-05, 6617.0),
                "LRC/BTC": (6.37e-06, 6500.0, 6.38e-06, 24365.0),
                "RUNE/EUR": (6.251, 69.3, 6.269, 69.3),
            },
        ),
        (
            "binanceus",
            BinanceUS,
            BINANCEUS_SYMBOLS,
            {
                "COMP/USDT": (296.58, 1.4, 297.08, 1.5),
                "OMG/BUSD": (13.7664, 30.28, 13.7964, 2.49),
                "CRV/USDT": (2.64, 1892.1, 2.648, 2029.9),
                "ZRX/USDT": (0.9939, 5023.17, 0.9955, 2100.0),
            },
        ),
    ],
)
def test_session_replay_matches_the_reference_after_every_message(
    name: str, cls: type[Binance], symbols: tuple[str, ...], first_tops: dict[str, Top]
) -> None:
    codec = cls(symbols)
    canonical = {codec.venue_symbol(s): s for s in symbols}
    legs = {s: RecordingLeg() for s in symbols}
    states: list[tuple[str, str | None]] = []
    # recorded by a client that requested the snapshots right after subscribing
    session = FeedSession(
        codec,
        legs.__getitem__,
        lambda st_, why, _t: states.append((st_, why)),
        snapshot_wait_s=0.0,
    )
    ref = ReferenceReplay()
    # limit=100 (weight 5, covers the 20 levels kept) where the recording asked for 1000
    recorded_urls = sorted(
        r.url.replace("limit=1000", "limit=100") for r in records(name) if r.dir == "rest"
    )
    for record in records(name):
        if record.dir == "open":
            actions = session.opened(record.t)
            # The snapshot requests are exactly the recorded ones (host, path, query).
            assert sorted(a.request.url for a in actions if isinstance(a, FetchSnapshot)) == (
                recorded_urls
            )
            continue
        assert isinstance(record.data, str)
        before = {s: len(leg.books) for s, leg in legs.items()}
        if record.dir == "rest":
            venue_id = ref.rest(record)
            actions = session.snapshot(canonical[venue_id], record.data.encode(), record.t)
            assert legs[canonical[venue_id]].usable == [(True, None, record.t)]
            bid_px, bid_sz, ask_px, ask_sz = legs[canonical[venue_id]].view()
            assert (bid_px[0], bid_sz[0], ask_px[0], ask_sz[0]) == first_tops[canonical[venue_id]]
        else:
            ref.frame(record)
            actions = session.frame(record.data, record.t)
        assert actions == []
        # After every message, each synced leg knows exactly the reference's top 20, learnt
        # at most once per frame, never crossed.
        for symbol, leg in legs.items():
            book = ref.books.get(codec.venue_symbol(symbol))
            if book is None:
                assert leg.books == []
                continue
            assert len(leg.books) - before[symbol] in (0, 1)
            assert leg.view() == book.top(20)
            assert leg.view()[0][0] < leg.view()[2][0]
            if len(leg.books) > before[symbol]:
                assert leg.books[-1][4] == record.t
    # Every diff was applied or dropped as older by the session, none was a gap (the other
    # figures: tests/conformance/binance*.py).
    assert session.stats.book_msgs == len(symbols) + ref.bridged + ref.continued
    assert session.stats.older == ref.dropped
