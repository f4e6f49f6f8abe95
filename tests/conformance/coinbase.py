"""Coinbase Advanced Trade: no real recording of this protocol exists (the public Coinbase
captures are of the retired Coinbase Pro feed), so the documentation's own examples
(https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels)
and a stream written to them: one ``sequence_num`` across every channel of the connection."""

from __future__ import annotations

from typing import Any

import orjson

from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ConnectionSeq,
    Event,
    Heartbeat,
    Ignored,
    Malformed,
    Subscribed,
    VenueError,
)
from feeds.venues.coinbase import Coinbase
from tests.conformance import Replay, VenueCase

DOC_LEVEL2 = (
    '{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z",'
    '"sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":['
    '{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73",'
    '"new_quantity":"0.06317902"},{"side":"bid","event_time":"1970-01-01T00:00:00Z",'
    '"price_level":"21921.3","new_quantity":"0.02"}]}]}'
)
DOC_SUBSCRIPTIONS = (
    '{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z",'
    '"sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}'
)
# heartbeat_counter: the prose example has a string; the AsyncAPI spec ("field shapes were
# verified against the production feed") says integer, which is what the emulator sends.
DOC_HEARTBEATS = (
    '{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z",'
    '"sequence_num":0,"events":[{"current_time":'
    '"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}'
)
DOC_SNAPSHOT = BookSnapshot(
    "BTC/USD",
    [("21921.73", "0.06317902"), ("21921.3", "0.02")],
    [],
    venue_ts_ns=1675974770_714964855,
)
T0 = "2026-11-23T21:00:00"


def msg(channel: str, seq: int, events: object, second: int = 0) -> str:
    stamp = f"{T0[:-2]}{second:02d}.5Z"
    envelope = {"channel": channel, "client_id": "", "timestamp": stamp, "sequence_num": seq}
    return orjson.dumps(envelope | {"events": events}).decode()


def l2(kind: str, product: str, *updates: tuple[str, str, str]) -> dict[str, Any]:
    at = f"{T0}Z"
    ups = [
        {"side": s, "event_time": at, "price_level": p, "new_quantity": q} for s, p, q in updates
    ]
    return {"type": kind, "product_id": product, "updates": ups}


def ts(second: int) -> int:
    return 1795467600_500000000 + second * 1_000_000_000  # 2026-11-23T21:00:SS.5Z


BTC_SNAPSHOT = l2(
    "snapshot", "BTC-USD", ("bid", "100.0", "1"), ("bid", "99.5", "2"), ("offer", "101", "3")
)
STREAM = (
    msg("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD", "ETH-USD"]}}]),
    msg("heartbeats", 1, [{"current_time": "x", "heartbeat_counter": 1}], 1),
    msg("l2_data", 2, [BTC_SNAPSHOT,
                       l2("snapshot", "ETH-USD", ("bid", "10", "5"), ("offer", "10.5", "6"))], 2),
    msg("l2_data", 3, [l2("update", "BTC-USD", ("bid", "100.0", "0"), ("offer", "100.5", "4"))], 3),
    msg("ticker", 4, [{"type": "update", "tickers": []}], 4),
    msg("heartbeats", 5, [{"current_time": "x", "heartbeat_counter": 2}], 5),
    msg("l2_data", 6, [l2("update", "ETH-USD", ("offer", "10.4", "1")),
                       l2("update", "BTC-USD", ("bid", "99.7", "9"))], 6),
)  # fmt: skip
STREAM_EVENTS: tuple[tuple[Event, ...], ...] = (
    (ConnectionSeq(0), Subscribed("BTC/USD"), Subscribed("ETH/USD")),
    (ConnectionSeq(1), Heartbeat()),
    (ConnectionSeq(2),
     BookSnapshot("BTC/USD", [("100.0", "1"), ("99.5", "2")], [("101", "3")], venue_ts_ns=ts(2)),
     BookSnapshot("ETH/USD", [("10", "5")], [("10.5", "6")], venue_ts_ns=ts(2))),
    (ConnectionSeq(3), BookDelta("BTC/USD", [("100.0", "0")], [("100.5", "4")], venue_ts_ns=ts(3))),
    (ConnectionSeq(4), Ignored("channel 'ticker'")),
    (ConnectionSeq(5), Heartbeat()),
    (ConnectionSeq(6), BookDelta("ETH/USD", [], [("10.4", "1")], venue_ts_ns=ts(6)),
     BookDelta("BTC/USD", [("99.7", "9")], [], venue_ts_ns=ts(6))),
)  # fmt: skip

# Bodies that do not parse: the counter still counts (no false gap), only the part is dropped,
# naming the book that missed it (None: any book of the connection).
BAD_BTC: tuple[dict[str, Any], ...] = (
    {"type": "update", "product_id": "BTC-USD"},
    {"type": "snapshot", "product_id": "BTC-USD", "updates": [[1, 2]]},
    {"type": "update", "product_id": "BTC-USD", "updates": [{"side": "bid"}]},
    # a side that is not even text is malformed, not a new side
    {"type": "update", "product_id": "BTC-USD", "updates": [{"side": 7, "price_level": "2"}]},
)
BAD_ANY: tuple[tuple[object, str], ...] = (
    ("x", "l2_data: expected a list of events"),
    ([[1]], "l2_data event without a product: [1]"),
    ([{"updates": []}], "l2_data event without a product: {'updates': []}"),
)
ETH_BID = l2("update", "ETH-USD", ("bid", "10", "1"))


def bad_btc(event: dict[str, Any]) -> Malformed:
    return Malformed(f"l2_data BTC-USD: bad updates in {str(event)[:80]}", ("BTC/USD",))


QUIRKS: tuple[tuple[str, tuple[Event, ...]], ...] = (
    ('{"type":"error","message":"x","sequence_num":4}', (ConnectionSeq(4), VenueError("x"))),
    ('{"sequence_num":3,"channel":7,"events":[]}',
     (ConnectionSeq(3), Malformed("bad channel 7", None))),
    *((msg("l2_data", 9, [e]), (ConnectionSeq(9), bad_btc(e))) for e in BAD_BTC),
    *((msg("l2_data", 9, e), (ConnectionSeq(9), Malformed(why, None))) for e, why in BAD_ANY),
    (msg("l2_data", 9, [ETH_BID, BAD_BTC[2]]),
     (ConnectionSeq(9), BookDelta("ETH/USD", [("10", "1")], [], venue_ts_ns=ts(0)),
      bad_btc(BAD_BTC[2]))),
    # "Clients are expected to ignore messages they do not support" (websocket-overview)
    (msg("l2_data", 5, [l2("summary", "BTC-USD", ("bid", "1", "1")),
                        l2("update", "BTC-USD", ("bid", "100", "1"), ("mid", "1", "1"),
                           ("offer", "101", "2")),
                        l2("update", "SOL-USD", ("bid", "1", "1"))], 5),
     (ConnectionSeq(5), Ignored("l2_data event type 'summary'"), Ignored("l2_data side 'mid'"),
      BookDelta("BTC/USD", [("100", "1")], [("101", "2")], venue_ts_ns=ts(5)),
      Ignored("l2_data for 'SOL-USD', not subscribed here"))),
    # levels pass as sent: the book refuses them (feeds.book.BadLevel)
    (msg("l2_data", 1, [l2("update", "BTC-USD", ("bid", "1", "-2"), ("offer", "inf", "1"))]),
     (ConnectionSeq(1), BookDelta("BTC/USD", [("1", "-2")], [("inf", "1")], venue_ts_ns=ts(0)))),
)  # fmt: skip


CASE = VenueCase(
    codec=Coinbase,
    symbols=("BTC/USD", "ETH/USD"),
    # Docs: {"type":"subscribe","product_ids":[...],"channel":"level2","jwt":...} (the jwt is
    # optional for public market data) and {"type":"subscribe","channel":"heartbeats"}.
    subscribe=(
        '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}',
        '{"type":"subscribe","channel":"heartbeats"}',
    ),
    samples=(
        (DOC_LEVEL2, (ConnectionSeq(0), DOC_SNAPSHOT)),
        (DOC_HEARTBEATS, (ConnectionSeq(0), Heartbeat())),
        (DOC_SUBSCRIPTIONS, (ConnectionSeq(0), Subscribed("BTC/USD"))),
        *zip(STREAM, STREAM_EVENTS, strict=True),
        (  # 7 was lost: the counter says so (a reconnect: coinbase-resync)
            msg("l2_data", 8, [l2("update", "BTC-USD", ("offer", "100.5", "0"))], 8),
            (ConnectionSeq(8), BookDelta("BTC/USD", [], [("100.5", "0")], venue_ts_ns=ts(8))),
        ),
        (
            '{"type":"error","message":"failure to subscribe"}',
            (VenueError("failure to subscribe"),),
        ),
        *QUIRKS,
    ),
    malformed=(  # no readable counter
        "[1]",
        "not json",
        '{"channel":"l2_data","events":[]}',
        '{"channel":"l2_data","sequence_num":true,"events":[]}',
        '{"channel":"l2_data","sequence_num":-1,"events":[]}',
        '{"channel":"l2_data","sequence_num":"7","events":[]}',
    ),
    frames=STREAM,
    gap=3,  # the first update: the counter then skips 3
    # 2 snapshots and 3 deltas in 7 messages, whose counter continued 6 times.
    replay=Replay(
        messages=5,
        snapshots=2,
        deltas=3,
        checks=6,
        tops={"BTC/USD": (99.7, 9.0, 100.5, 4.0), "ETH/USD": (10.0, 5.0, 10.4, 1.0)},
    ),
    wire=(DOC_LEVEL2, DOC_SUBSCRIPTIONS, DOC_HEARTBEATS.replace('"3049"', "3049")),
    # the docs' subscriptions example subscribed level2 alone: the heartbeats channel's entry
    wire_ignore=frozenset({"heartbeats"}),
)
