"""OKX v5: the 2022 recording (checksums, no seqId yet), OKX's documented messages
(https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from feeds.capture import Record
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Event,
    Heartbeat,
    PlannedClose,
    Subscribed,
    VenueError,
)
from feeds.venues.okx import Okx
from tests.conformance import FramesOut, Replay, VenueCase, delta, snap
from tests.reference import Model

# The docs' push example (cut to two levels a side) keeps its illustrative checksum: the CRC
# of its own eight levels is -2102840145.
DOCS_SNAPSHOT = (
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{'
    '"asks":[["8476.98","415","0","13"],["8477","7","0","2"]],'
    '"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],'
    '"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
)
DOCS_BIDS, DOCS_ASKS = "8476.97:256:0:12 8475.55:101:0:1", "8476.98:415:0:13 8477:7:0:2"
TS = 1597026383085_000000


def push(data: str, action: str = "update") -> str:
    return f'{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":{data}}}'


UPDATE = push(
    '[{"asks":[],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085","checksum":-3,'
    '"prevSeqId":123456,"seqId":123457}]'
)
ARGS = (
    '"args":[{"channel":"books","instId":"BTC-USD-220527"},'
    '{"channel":"books","instId":"UNI-USD-SWAP"},{"channel":"books","instId":"BTC-USDT"}]}'
)


SYMBOLS = ("BTC/USD:BTC-220527", "UNI/USD:UNI", "BTC/USDT")
INSTRUMENTS = dict(zip(("BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT"), SYMBOLS, strict=True))


def okx_checksum(bids: list[list[Any]], asks: list[list[Any]]) -> int:
    """OKX's published rule, written independently of feeds/: the top 25 of each side,
    ``bid:size:ask:size:...`` interleaved (a shorter side stops), CRC32 as signed int32."""
    parts: list[str] = []
    for i in range(25):
        parts += bids[i][:2] if i < len(bids) else []
        parts += asks[i][:2] if i < len(asks) else []
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """OKX's 2022 messages as plain json: ``books`` acks, snapshots and updates (each with
    the checksum of the book after it; no seqId yet), ``pong``."""
    if record.data == "pong":
        return [Heartbeat()]
    msg = json.loads(record.data)
    if msg.get("arg", {}).get("channel") != "books":
        return []  # other channels
    symbol = INSTRUMENTS[msg["arg"]["instId"]]
    if msg.get("event") == "subscribe":
        return [Subscribed(symbol)]
    kind = BookSnapshot if msg["action"] == "snapshot" else BookDelta
    return [
        kind(symbol, d["bids"], d["asks"], checksum=d["checksum"], venue_ts_ns=int(d["ts"]) * 10**6)
        for d in msg["data"]
    ]


SAMPLES = (
    (DOCS_SNAPSHOT,
     (snap("BTC/USDT", DOCS_BIDS, DOCS_ASKS, seq=123456, checksum=-855196043, ts=TS),)),
    (UPDATE,
     (delta("BTC/USDT", "8476.97:256:0:12", "", last=123457, prev=123456, checksum=-3, ts=TS),)),
    ("pong", (Heartbeat(),)),
    (b"pong", (Heartbeat(),)),
    ('{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3"}',
     (Subscribed("BTC/USDT"),)),
    ('{"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"}}', ()),
    ('{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"}}', ()),
    # https://www.okx.com/docs-v5/en/#overview-websocket-subscribe (failure example)
    ('{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\"}",'
     '"connId":"a4d3ae55"}', (VenueError('error 60012: Invalid request: {"op": "subscribe"}'),)),
    # https://www.okx.com/docs-v5/en/#overview-websocket-notification-of-websocket-disconnection
    ('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a '
     'service upgrade.","connId":"a4d3ae55"}', (PlannedClose("notice 64008"),)),
    ('{"event":"notice","code":"64009","msg":"Something else."}',
     (VenueError("notice 64009: Something else."),)),
    ('{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[]}', ()),
    # levels pass as sent: the book refuses a bad one (the session resyncs)
    (push('[{"asks":[],"bids":[["1","-1"],["nan","1"]],"ts":"1","prevSeqId":1,"seqId":2}]'),
     (delta("BTC/USDT", "1:-1 nan:1", "", last=2, prev=1, ts=10**6),)),
)  # fmt: skip
MALFORMED = (
    "ping", "null", "[]", '{"x":1}',
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"partial","data":[{"asks":[],'
    '"bids":[],"ts":"1597026383085"}]}',
    push('[{"asks":[],"bids":"8476.97","ts":"1","checksum":1,"prevSeqId":1,"seqId":2}]'),
    push('[{"asks":[],"bids":[],"ts":"1","checksum":1,"seqId":2}]'),
    push('[{"asks":[],"bids":[],"ts":"1","checksum":1,"prevSeqId":1,"seqId":-2}]'),
    push('[{"asks":[],"bids":[],"ts":"1","checksum":true,"prevSeqId":1,"seqId":2}]'),
    push('[{"asks":[],"bids":[],"ts":1597026383085,"checksum":1}]'),
    push("{}"),
    DOCS_SNAPSHOT.replace("BTC-USDT", "ETH-USDT"),  # an instrument not subscribed
)  # fmt: skip
# 3 snapshots + 287 updates, every one's checksum matched (2022: no seqId to link).
REPLAY = Replay(290, 3, 287, 290, tops={
    "BTC/USD:BTC-220527": (30229.4, 2.0, 30238.8, 3.0),
    "UNI/USD:UNI": (5.137, 20.0, 5.145, 50.0),
    "BTC/USDT": (30236.1, 0.18050747, 30236.2, 0.001),
})  # fmt: skip
COUNTS = {"Subscribed": 3, "BookSnapshot": 3, "BookDelta": 287, "no event": 117} | {
    "applied": 287, "checksums": 290, "removed": 2283, "absent": 953}  # fmt: skip

CASE = VenueCase(
    codec=Okx,
    symbols=SYMBOLS,
    # The recording subscribed tickers and trades with the books; the books request alone:
    subscribe=('{"op":"subscribe",' + ARGS,),
    samples=SAMPLES,
    malformed=MALFORMED,
    recording="okx.ndjson.gz",
    replay=REPLAY,
    # 2022 had no seqId/prevSeqId, nor the connId acks carry now
    wire_ignore=frozenset({"seqId", "prevSeqId", "connId"}),
    model=Model(read, COUNTS, checksum=okx_checksum),
)

FRAMES_OUT = FramesOut(CASE, ('{"op":"unsubscribe",' + ARGS,), "ping")

# OKX's documented seqId links (no recording has them): a snapshot with checksum 0 (none),
# an update, a keep-alive (prevSeqId = seqId) and a reset (seqId lower), the book after each
# proven by its checksum, then updates linked to the reset (the resync check drops the first).
B1, B2, A1 = ["100.5", "2", "0", "1"], ["100.4", "1", "0", "1"], ["100.6", "3", "0", "2"]
B1X = ["100.5", "7", "0", "2"]
CRC = okx_checksum([B1X, B2], [A1])


def linked(bids: list[Any], asks: list[Any], checksum: int, prev: int, seq: int) -> str:
    data = {"asks": asks, "bids": bids, "ts": "1", "checksum": checksum, "prevSeqId": prev,
            "seqId": seq}  # fmt: skip
    return push(json.dumps([data], separators=(",", ":")), "snapshot" if prev < 0 else "update")


LINKS = VenueCase(
    name="okx-links", codec=Okx, symbols=("BTC/USDT",), samples=(), malformed=(),
    subscribe=('{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}',),
    frames=(linked([B1, B2], [A1], 0, -1, 10), linked([B1X], [], CRC, 10, 11),
            linked([], [], CRC, 11, 11), linked([], [], CRC, 11, 4), linked([B1], [], 0, 4, 6),
            linked([B2], [], 0, 6, 8)),
    replay=Replay(6, 1, 5, 8, tops={"BTC/USDT": (100.5, 2.0, 100.6, 3.0)}),
    emulated=False,
)  # fmt: skip
CASES = (CASE, LINKS)
