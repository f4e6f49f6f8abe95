"""OKX v5 quirks: OKX's documented seqId links, keep-alives, resets and checksum 0; the
independent checksum on the published vectors. (Samples, malformed frames, fuzzing, the
replay's figures, resync, the emulator: tests/conformance/okx.py; the 2022 recording read,
every checksum proven and the session followed by the independent model:
tests/test_reference.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.actions import Send
from feeds.capture import read_capture
from feeds.checksum import OKX
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    SeqRule,
    SnapshotSource,
)
from feeds.session import FeedSession
from feeds.venues.okx import Okx
from tests.conformance.okx import CASE, DOCS_SNAPSHOT, okx_checksum
from tests.venue_helpers import Recorder, book_refuses

FIXTURES = Path(__file__).parent / "fixtures"
SYMBOLS = CASE.symbols
FRAMES = [r.data for r in read_capture(FIXTURES / "okx.ndjson.gz") if r.dir == "in"]


# --- OKX's documented messages (hand-built streams, their checksums computed for their books) ---
# https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel


def push(action: str, bids: list[list[str]], asks: list[list[str]], **fields: int) -> str:
    data: dict[str, object] = {"asks": asks, "bids": bids, "ts": "1597026383085", **fields}
    return orjson.dumps(
        {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [data]}
    ).decode()


def test_seq_id_links_keep_alive_reset_and_checksum_zero() -> None:
    codec = Okx(["BTC/USDT"])
    ts = 1597026383085_000000
    bid, ask = [["8476.97", "256", "0", "12"]], [["8476.98", "415", "0", "13"]]
    # a normal update: prevSeqId names the previous seqId
    assert codec.parse(push("update", bid, [], checksum=-3, prevSeqId=123456, seqId=123457)) == [
        BookDelta("BTC/USDT", bid, [], None, 123457, 123456, -3, ts)
    ]
    # keep-alive: nothing changed for a while, empty sides and prevSeqId == seqId
    assert codec.parse(push("update", [], [], checksum=7, prevSeqId=123457, seqId=123457)) == [
        BookDelta("BTC/USDT", [], [], None, 123457, 123457, 7, ts)
    ]
    # a sequence reset (maintenance): seqId drops below prevSeqId, which still links
    assert codec.parse(push("update", [], ask, checksum=9, prevSeqId=123457, seqId=3)) == [
        BookDelta("BTC/USDT", [], ask, None, 3, 123457, 9, ts)
    ]
    # from 2026-06-23 the JSON checksum is always 0: no checksum to verify
    (delta,) = codec.parse(push("update", bid, [], checksum=0, prevSeqId=3, seqId=5))
    assert isinstance(delta, BookDelta)
    assert (delta.checksum, delta.prev, delta.last) == (None, 3, 5)
    (snapshot,) = codec.parse(push("snapshot", bid, ask, checksum=0, prevSeqId=-1, seqId=10))
    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.checksum, snapshot.seq) == (None, 10)


def test_independent_checksum_matches_the_published_vectors() -> None:
    # checksum_vectors/okx_books_checksum.json (OKX v5 docs examples + a 30x30 book from
    # bmoscon/orderbook tests; see ATTRIBUTION.md): proves the test's own reference rule.
    cases = orjson.loads((FIXTURES / "okx_books_checksum.json").read_bytes())["cases"]
    assert [okx_checksum(c["bids_best_first"], c["asks_best_first"]) for c in cases] == [
        -1881014294,
        831078360,
        -1895465205,
    ]


def test_class_attributes_and_frames_out() -> None:
    assert (Okx.venue, Okx.aliases) == ("okx", ("okex", "okex3"))
    assert Okx.integrity.seq is SeqRule.PREV_LINK
    assert Okx.integrity.checksum is OKX
    assert Okx.integrity.snapshot is SnapshotSource.IN_BAND
    assert Okx.integrity.keep_text is True
    assert Okx.endpoints.ws == "wss://ws.okx.com:443/ws/v5/public"
    assert Okx.ping_interval_s == 20.0
    codec = Okx(SYMBOLS)
    assert codec.ping_frame() == "ping"
    assert codec.subscribe_frames(["BTC/USDT", "UNI/USD:UNI"]) == [
        '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},'
        '{"channel":"books","instId":"UNI-USD-SWAP"}]}'
    ]
    assert codec.unsubscribe_frames(["BTC/USD:BTC-220527"]) == [
        '{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USD-220527"}]}'
    ]
    assert codec.subscribe_frames([]) == []


def test_symbols_are_mapped_by_rule_both_ways() -> None:
    codec = Okx([])
    assert codec.venue_symbol("ETH/BTC") == "ETH-BTC"
    assert codec.venue_symbol("BTC/USDT:USDT") == "BTC-USDT-SWAP"
    assert codec.venue_symbol("UNI/USD:UNI") == "UNI-USD-SWAP"
    assert codec.venue_symbol("BTC/USD:BTC-220527") == "BTC-USD-220527"
    for bad in ("BTCUSDT", "btc/usdt", "BTC/USDT:ETH", "BTC/USD:BTC-2205", "BTC-USDT", "/USDT"):
        with pytest.raises(ValueError):
            codec.venue_symbol(bad)


@pytest.mark.parametrize(
    ("level", "error"),
    [(["8476.97", "-1"], "bad size '-1'"), (["0", "1"], "bad price '0'"), (["nan", "1"], "'nan'")],
)
def test_bad_levels_pass_the_codec_and_the_book_refuses_them(level: list[str], error: str) -> None:
    events = Okx(["BTC/USDT"]).parse(push("update", [level], [], prevSeqId=1, seqId=2))
    book_refuses(events, [level], [], error)


# Samples the session fuzzing in tests/test_session.py mutates.
SMALL_SNAPSHOT = orjson.loads(DOCS_SNAPSHOT)
SMALL_UPDATES = [orjson.loads(f) for f in FRAMES[27:31]]


# --- through the real machinery (feeds.session.FeedSession) ---------------------------------


def session_for(codec: Okx) -> tuple[FeedSession, dict[str, Recorder], list[str]]:
    recorders = {s: Recorder() for s in codec.symbols}
    states: list[str] = []
    session = FeedSession(codec, recorders.__getitem__, lambda s, r, t: states.append(s))
    return session, recorders, states


def test_the_session_tells_a_listener_only_when_the_top_20_changed() -> None:
    # (the session's book after every recorded message: tests/test_reference.py)
    session, recorders, _ = session_for(Okx(SYMBOLS))
    records = [r for r in read_capture(FIXTURES / "okx.ndjson.gz") if r.dir == "in"]
    session.opened(records[0].t)
    for record in records:
        assert session.frame(record.data, record.t) == []
    assert [len(r.tops) for r in recorders.values()] == [99, 91, 96]


def test_session_follows_seq_id_links_keep_alives_resets_and_resyncs_a_gap() -> None:
    codec = Okx(["BTC/USDT"])
    session, recorders, _ = session_for(codec)
    listener = recorders["BTC/USDT"]
    session.opened(0)
    b1, b2, a1 = ["100.5", "2", "0", "1"], ["100.4", "1", "0", "1"], ["100.6", "3", "0", "2"]
    b1x = ["100.5", "7", "0", "2"]

    def feed(frame: str, t: int) -> list[Any]:
        return list(session.frame(frame, t))

    sums = [okx_checksum([b1, b2], [a1]), okx_checksum([b1x, b2], [a1])]
    assert feed(push("snapshot", [b1, b2], [a1], checksum=sums[0], prevSeqId=-1, seqId=10), 1) == []
    assert feed(push("update", [b1x], [], checksum=sums[1], prevSeqId=10, seqId=11), 2) == []
    assert feed(push("update", [], [], checksum=sums[1], prevSeqId=11, seqId=11), 3) == []  # alive
    assert feed(push("update", [], [], checksum=sums[1], prevSeqId=11, seqId=4), 4) == []  # reset
    assert feed(push("update", [b1], [], checksum=0, prevSeqId=4, seqId=6), 5) == []  # no checksum
    assert session.stats.checksum_ok == 4 and session.stats.gaps == 0
    assert listener.tops == [
        (100.5, 2.0, 100.6, 3.0),
        (100.5, 7.0, 100.6, 3.0),
        (100.5, 2.0, 100.6, 3.0),
    ]
    # prevSeqId 7 does not name the last seqId (6): a gap; in-band resync of that symbol
    resubscribe = [Send(f) for f in codec.unsubscribe_frames(["BTC/USDT"])]
    resubscribe += [Send(f) for f in codec.subscribe_frames(["BTC/USDT"])]
    assert feed(push("update", [b2], [], checksum=0, prevSeqId=7, seqId=8), 6) == resubscribe
    assert (session.stats.gaps, session.stats.resyncs) == (1, 1)
    assert listener.usable == [(True, None, 1), (False, "desynced", 6)]
    assert feed(push("update", [b2], [], checksum=0, prevSeqId=8, seqId=9), 7) == []  # ignored
    assert feed(push("snapshot", [b1], [a1], checksum=0, prevSeqId=-1, seqId=20), 8) == []
    # a checksum that does not match the book resyncs too
    assert feed(push("update", [b2], [], checksum=12345, prevSeqId=20, seqId=21), 9) == resubscribe
    assert (session.stats.checksum_fail, session.stats.resyncs) == (1, 2)
    assert listener.usable[2:] == [(True, None, 8), (False, "desynced", 9)]
