"""Binance / Binance.US quirks: REST snapshots, URLs, symbols, levels the book refuses.
(Samples, malformed frames, fuzzing, the replay's figures, resync, the emulator:
tests/conformance/binance*.py; every recorded message against the independent model, whose
rule and final tops, and the session after every message: tests/test_reference.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.book import Book
from feeds.capture import Record, read_capture
from feeds.protocol import (
    BookDelta,
    ParseError,
    RestRequest,
    SeqRule,
    SnapshotSource,
)
from feeds.venues.binance import Binance, BinanceUS
from tests.venue_helpers import (
    book_refuses,
)

FIXTURES = Path(__file__).parent / "fixtures"
BINANCE_SYMBOLS = ("NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR")
BINANCEUS_SYMBOLS = ("CRV/USDT", "COMP/USDT", "OMG/BUSD", "ZRX/USDT")


def records(name: str) -> list[Record]:
    return list(read_capture(FIXTURES / f"{name}.ndjson.gz"))


def test_a_raw_ws_connection_gets_every_recorded_event_without_the_wrapper() -> None:
    # (every wrapped frame against the independent model: tests/test_reference.py)
    for name, cls in (("binance", Binance), ("binanceus", BinanceUS)):
        symbols = BINANCE_SYMBOLS if cls is Binance else BINANCEUS_SYMBOLS
        frames = [orjson.loads(r.data) for r in records(name) if r.dir == "in"]
        for wrapped in frames:
            expected = cls(symbols).parse(orjson.dumps(wrapped))
            assert cls(symbols).parse(orjson.dumps(wrapped["data"])) == expected


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
