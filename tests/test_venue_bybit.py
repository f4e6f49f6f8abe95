"""Bybit v5 beyond the conformance suite (tests/conformance/bybit.py: samples with ``u`` = 1
and the textual ``ts``, control and malformed frames, the replay, resync, the emulator; the
ob500 recording followed by the independent model: tests/test_reference.py): the requests."""

from __future__ import annotations

from pathlib import Path

import orjson

from feeds.capture import read_capture
from feeds.venues.bybit import Bybit


def test_requests_carry_at_most_ten_topics() -> None:
    # Spot accepts at most 10 args per subscribe (https://bybit-exchange.github.io/docs/v5/ws/connect)
    codec = Bybit(["BTC/USDT", "ETH/USDT"])
    assert codec.ping_frame() == '{"op":"ping"}'  # every 20 s, as the docs recommend
    assert codec.unsubscribe_frames(["ETH/USDT"]) == [
        '{"op":"unsubscribe","args":["orderbook.50.ETHUSDT"]}'
    ]
    many = [f"C{i}/USDT" for i in range(23)]
    frames = Bybit(many, depth=200).subscribe_frames(many)
    assert [len(orjson.loads(f)["args"]) for f in frames] == [10, 10, 3]
    assert orjson.loads(frames[2])["args"] == [f"orderbook.200.C{i}USDT" for i in (20, 21, 22)]


# Samples the session fuzzing in tests/test_session.py mutates.
SYMBOLS = ("XRP/USDT",)
RECORDS = read_capture(Path(__file__).parent / "fixtures" / "bybit.ndjson.gz")
FRAMES = [r.data for r in RECORDS if r.dir == "in"]
SMALL_FRAMES = [orjson.loads(f) for f in FRAMES[1:4]]
SMALL_SNAPSHOT = orjson.loads(FRAMES[0])
SMALL_SNAPSHOT["data"] |= {
    "b": SMALL_SNAPSHOT["data"]["b"][:3],
    "a": SMALL_SNAPSHOT["data"]["a"][:3],
}
