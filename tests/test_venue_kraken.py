"""Kraken quirks: the independent checksum on the published vectors; WS v1 truncated to the
acked depth; WS v2 (no recording exists): the exact number text its checksum needs and
truncation to the acked depth. (Samples, malformed frames, fuzzing, the replay's figures,
resync, the emulator, for both: tests/conformance/kraken.py; the v1 recording read, every
checksum proven and the session followed by the independent model: tests/test_reference.py.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.checksum import KRAKEN
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    SeqRule,
    SnapshotSource,
)
from feeds.session import FeedSession
from feeds.venues.kraken import Kraken
from feeds.venues.kraken_v1 import KrakenV1
from tests.conformance.kraken import V1, kraken_checksum
from tests.venue_helpers import Recorder, book_refuses

FIXTURES = Path(__file__).parent / "fixtures"
FRAMES = [r.data for r in read_capture(FIXTURES / "kraken.ndjson.gz") if r.dir == "in"]
SYMBOLS = V1.symbols


def test_independent_checksum_matches_the_published_vectors() -> None:
    # kraken_book_checksum_v1.json (Kraken's v1 docs example + 3 books from bmoscon/orderbook
    # tests; see ATTRIBUTION.md) and the v2 docs example: proves the test's reference rule.
    cases = orjson.loads((FIXTURES / "kraken_book_checksum_v1.json").read_bytes())["cases"]
    assert [kraken_checksum(c["asks_best_first"], c["bids_best_first"]) for c in cases] == [
        974947235,
        577149452,
        2369158246,
        1611253991,
    ]
    assert kraken_checksum(DOCS_ASKS, DOCS_BIDS) == 3310070434


def test_v1_frames_out_and_symbol_table() -> None:
    codec = KrakenV1(["BTC/USD", "DOGE/EUR", "ETH/BTC"], depth=10)
    assert codec.venue_symbol("BTC/USD") == "XBT/USD"
    assert codec.venue_symbol("DOGE/EUR") == "XDG/EUR"
    assert codec.venue_symbol("ETH/BTC") == "ETH/XBT"
    assert codec.subscribe_frames(["BTC/USD", "DOGE/EUR"]) == [
        '{"event":"subscribe","pair":["XBT/USD","XDG/EUR"],'
        '"subscription":{"name":"book","depth":10}}'
    ]
    assert codec.unsubscribe_frames(["ETH/BTC"]) == [
        '{"event":"unsubscribe","pair":["ETH/XBT"],"subscription":{"name":"book","depth":10}}'
    ]
    assert codec.ping_frame() == '{"event":"ping"}'
    assert (KrakenV1.venue, KrakenV1.integrity, KrakenV1.endpoints.ws) == (
        "kraken",
        Kraken.integrity,
        "wss://ws.kraken.com",
    )
    with pytest.raises(ValueError, match="depth"):
        KrakenV1(V1.symbols, depth=50)


# --- WS v2: Kraken's documented messages -------------------------------------------------------

# https://docs.kraken.com/api/docs/guides/spot-ws-book-v2 (the checksum example, 3310070434).
DOCS_BIDS = [
    ("45283.5", "0.10000000"), ("45283.4", "1.54582015"), ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"), ("45280.3", "1.54592586"), ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"), ("45277.5", "0.30000000"), ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]  # fmt: skip
DOCS_ASKS = [
    ("45285.2", "0.00100000"), ("45286.4", "1.54571953"), ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"), ("45290.2", "0.15890660"), ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"), ("45296.1", "0.35380000"), ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]  # fmt: skip


def v2_book(
    kind: str,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    checksum: int,
    timestamp: str | None = None,
    symbol: str = "BTC/USD",
) -> str:
    """A v2 book message as the wire sends it: prices and quantities as JSON number tokens."""

    def side(levels: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    ts = f',"timestamp":"{timestamp}"' if timestamp else ""
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{side(bids)}],'
        f'"asks":[{side(asks)}],"checksum":{checksum}{ts}}}]}}'
    )


def test_v2_keeps_the_exact_number_text_the_checksum_needs() -> None:
    (snapshot,) = Kraken(["BTC/USD"], depth=10).parse(
        v2_book("snapshot", DOCS_BIDS, DOCS_ASKS, 3310070434)
    )
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.bids == [list(level) for level in DOCS_BIDS]  # "0.10000000", not 0.1
    assert snapshot.asks == [list(level) for level in DOCS_ASKS]
    assert (snapshot.checksum, snapshot.seq, snapshot.venue_ts_ns) == (3310070434, None, None)
    assert kraken_checksum(list(snapshot.asks), list(snapshot.bids)) == 3310070434
    # a float parser would print these as 0.509301 and 5.1e-05, and the CRC would differ
    (delta,) = Kraken(["BTC/USD"]).parse(
        v2_book(
            "update",
            [("62807.0", "0.00000000")],
            [("0.12275", "0.00005100")],
            1,
            "2026-08-16T23:37:03.745044Z",
        )
    )
    assert delta == BookDelta(
        "BTC/USD",
        [["62807.0", "0.00000000"]],
        [["0.12275", "0.00005100"]],
        checksum=1,
        venue_ts_ns=1786923423745044000,
    )


def test_v2_class_attributes_and_frames_out() -> None:
    assert Kraken.venue == "kraken"
    assert Kraken.integrity.seq is SeqRule.NONE
    assert Kraken.integrity.checksum is KRAKEN
    assert Kraken.integrity.snapshot is SnapshotSource.IN_BAND
    assert Kraken.integrity.keep_text is True
    assert Kraken.endpoints.ws == "wss://ws.kraken.com/v2"
    codec = Kraken(["BTC/USD", "DOGE/USD"], depth=10)
    assert codec.depth == 10 and Kraken(["BTC/USD"]).depth == 25
    assert codec.venue_symbol("DOGE/USD") == "DOGE/USD"
    assert codec.subscribe_frames(["BTC/USD", "DOGE/USD"]) == [
        '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD","DOGE/USD"],'
        '"depth":10},"req_id":1}'
    ]
    assert codec.unsubscribe_frames(["BTC/USD"]) == [
        '{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},'
        '"req_id":2}'
    ]
    assert codec.ping_frame() == '{"method":"ping"}'
    for bad in ("BTCUSD", "btc/usd", "BTC-USD", "BTC/"):
        with pytest.raises(ValueError):
            codec.venue_symbol(bad)
    with pytest.raises(ValueError, match="depth"):
        Kraken(["BTC/USD"], depth=20)


def test_v2_whitespace_around_a_frame_is_json_too() -> None:
    frame = v2_book("update", [("45283.5", "1.50")], [], 7, "2023-10-06T17:35:55.440295Z")
    codec = Kraken(["BTC/USD"])
    expected = codec.parse(frame)
    assert expected[0] == BookDelta(
        "BTC/USD", [["45283.5", "1.50"]], [], checksum=7, venue_ts_ns=1696613755440295000
    )
    assert codec.parse(f" \r\n{frame}\n ") == expected
    assert codec.parse(frame.encode()) == expected


def test_bad_levels_pass_the_codecs_and_the_book_refuses_them() -> None:
    v2 = Kraken(["BTC/USD"]).parse(v2_book("update", [("-45283.5", "1")], [], 1))
    book_refuses(v2, [["-45283.5", "1"]], [], "bad price '-45283.5'")
    v1 = KrakenV1(["BTC/USD"]).parse('[1,{"a":[["1","-1","1"]],"c":"4"},"book-10","XBT/USD"]')
    book_refuses(v1, [], [["1", "-1", "1"]], "bad size '-1'")


# Samples the session fuzzing in tests/test_session.py mutates.
V1_SAMPLES: list[Any] = [orjson.loads(f) for f in FRAMES[1:3] + FRAMES[40:46]]
V1_SAMPLES.append(
    [
        1360,
        {"as": [["0.1", "2", "3"], ["0.2", "2", "3"]], "bs": [["0.05", "1", "3"]]},
        "book-1000",
        "ADA/XBT",
    ]
)
V2_SAMPLES: list[Any] = [
    orjson.loads(v2_book("snapshot", DOCS_BIDS[:3], DOCS_ASKS[:3], 3310070434)),
    orjson.loads(v2_book("update", DOCS_BIDS[3:5], [], 1, "2023-10-06T17:35:55.440295Z")),
    {
        "method": "subscribe",
        "result": {"channel": "book", "depth": 10, "symbol": "BTC/USD"},
        "success": True,
    },
    {"channel": "heartbeat"},
]


# --- through the real machinery (feeds.session.FeedSession) ---------------------------------


def session_for(codec: Kraken | KrakenV1) -> tuple[FeedSession, dict[str, Recorder], list[str]]:
    recorders = {s: Recorder() for s in codec.symbols}
    states: list[str] = []
    session = FeedSession(codec, recorders.__getitem__, lambda s, r, t: states.append(s))
    return session, recorders, states


def test_v1_books_are_truncated_to_the_acked_depth_not_the_constructed_one() -> None:
    # constructed at the default depth (25), the acks (depth 1000) set the depth the books
    # are checksummed at: every recorded checksum matches (the session after every message
    # against the independent model: tests/test_reference.py)
    session, _, _ = session_for(KrakenV1(V1.symbols))
    records = [r for r in read_capture(FIXTURES / "kraken.ndjson.gz") if r.dir == "in"]
    session.opened(records[0].t)
    for record in records:
        assert session.frame(record.data, record.t) == []
    assert (session.stats.checksum_ok, session.stats.checksum_fail) == (4269, 0)


def test_v2_session_truncates_to_the_acked_depth_and_checks_the_number_text() -> None:
    codec = Kraken(["BTC/USD"], depth=10)
    session, recorders, _ = session_for(codec)
    listener = recorders["BTC/USD"]
    assert session.opened(0) == [
        Send(
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},'
            '"req_id":1}'
        )
    ]
    ack = '{"method":"subscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},'
    assert session.frame(ack + '"success":true}', 1) == []
    assert session.frame(v2_book("snapshot", DOCS_BIDS, DOCS_ASKS, 3310070434), 2) == []
    # a new best bid pushes the 11th bid out (no delete is sent for it); the best ask goes
    bids = [("45284.0", "0.50000000"), *DOCS_BIDS[:9]]
    asks = DOCS_ASKS[1:]
    update = v2_book(
        "update",
        [("45284.0", "0.50000000")],
        [("45285.2", "0.00000000")],
        kraken_checksum(asks, bids),
        "2026-08-16T23:37:03.745044Z",
    )
    assert session.frame(update, 3) == []
    assert (session.stats.checksum_ok, session.stats.checksum_fail) == (2, 0)
    assert session.books["BTC/USD"].bid_count == 10
    assert listener.tops == [(45283.5, 0.1, 45285.2, 0.001), (45284.0, 0.5, 45286.4, 1.54571953)]
    # a float round trip of 0.50000000 would have made this checksum wrong: it resyncs
    wrong = v2_book("update", [("45284.0", "0.5")], [], kraken_checksum(asks, bids))
    assert session.frame(wrong, 4) == [
        Send(
            '{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"],'
            '"depth":10},"req_id":2}'
        ),
        Send(
            '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},'
            '"req_id":3}'
        ),
    ]
    assert (session.stats.checksum_fail, session.stats.resyncs) == (1, 1)
    assert listener.usable == [(True, None, 2), (False, "desynced", 4)]
