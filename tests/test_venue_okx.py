"""OKX v5 quirks: derivatives named by ccxt's unified symbols; OKX's documented seqId links,
keep-alives, resets and checksum 0 through the session. (Samples, malformed frames, fuzzing,
the replay's figures, resync, the emulator, frames out: tests/conformance/okx.py; the 2022
recording read, every checksum proven by the rule written independently and the session
followed by the independent model: tests/test_reference.py.)"""

from __future__ import annotations

import orjson
import pytest

from feeds.actions import Send
from feeds.venues.okx import Okx
from tests.conformance.okx import okx_checksum
from tests.venue_helpers import session_for


def test_swaps_and_futures_by_their_unified_symbols() -> None:
    codec = Okx([])
    assert codec.venue_symbol("BTC/USDT:USDT") == "BTC-USDT-SWAP"  # a future: the case's symbols
    for bad in ("BTC/USDT:ETH", "BTC/USD:BTC-2205", "BTC/USD:BTC-22O527"):
        with pytest.raises(ValueError, match="not an OKX swap or future"):
            codec.venue_symbol(bad)


def push(action: str, bids: list[list[str]], asks: list[list[str]], **fields: int) -> str:
    data: dict[str, object] = {"asks": asks, "bids": bids, "ts": "1597026383085", **fields}
    return orjson.dumps(
        {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [data]}
    ).decode()


def test_session_follows_seq_id_links_keep_alives_resets_and_resyncs_a_gap() -> None:
    # https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
    session, recorders, _ = session_for(codec := Okx(["BTC/USDT"]))
    session.opened(0)
    b1, b2, a1 = ["100.5", "2", "0", "1"], ["100.4", "1", "0", "1"], ["100.6", "3", "0", "2"]
    b1x = ["100.5", "7", "0", "2"]
    crc = okx_checksum([b1x, b2], [a1])
    frames = [
        push("snapshot", [b1, b2], [a1], checksum=0, prevSeqId=-1, seqId=10),  # 0: none
        push("update", [b1x], [], checksum=crc, prevSeqId=10, seqId=11),
        push("update", [], [], checksum=crc, prevSeqId=11, seqId=11),  # a keep-alive
        push("update", [], [], checksum=crc, prevSeqId=11, seqId=4),  # a reset
        push("update", [b1], [], checksum=0, prevSeqId=4, seqId=6),
    ]
    assert [session.frame(f, t) for t, f in enumerate(frames, 1)] == [[]] * 5
    assert (session.stats.checksum_ok, session.stats.gaps) == (3, 0)
    tops = [(100.5, 2.0, 100.6, 3.0), (100.5, 7.0, 100.6, 3.0), (100.5, 2.0, 100.6, 3.0)]
    assert recorders["BTC/USDT"].tops == tops
    # prevSeqId 7 does not name the last seqId (6): a gap; in-band resync of that symbol
    resubscribe = codec.unsubscribe_frames(["BTC/USDT"]) + codec.subscribe_frames(["BTC/USDT"])
    gap = push("update", [b2], [], checksum=0, prevSeqId=7, seqId=8)
    assert session.frame(gap, 6) == [Send(f) for f in resubscribe]
    assert (session.stats.gaps, session.stats.resyncs) == (1, 1)
    assert recorders["BTC/USDT"].usable == [(True, None, 1), (False, "desynced", 6)]
