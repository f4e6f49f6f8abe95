"""Kraken: the WS v1 recording (the older protocol, its own codec: ten pairs at depth 1000,
a checksum on every update) and WS v2 from the documented examples
(https://docs.kraken.com/api/docs/websocket-v2/book, .../ping, .../status), which the
emulator speaks."""

from __future__ import annotations

import json
import zlib
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Subscribed, VenueError
from feeds.venues.kraken import Kraken
from feeds.venues.kraken_v1 import KrakenV1
from tests.conformance import FramesOut, Replay, VenueCase, delta, snap
from tests.reference import Model

V1_UPDATE = (  # https://docs.kraken.com/api/docs/guides/spot-ws-book-v1: sides in two objects
    '[0,{"a":[["0.05120","0.00000500","1582905486.493008"],'
    '["0.05275","0.00000500","1582905486.493034"]]},'
    '{"b":[["0.04765","0.00000500","1582905486.493008"],'
    '["0.04940","0.00000500","1582905486.493034","r"]],"c":"974947235"},"book-100","XBT/CHF"]'
)

TOPS = {  # each recorded pair's final top, from the independent model (tests/test_reference.py)
    "WAVES/EUR": (13.233, 651.13730823, 13.2581, 29.25957971),
    "XMR/USD": (353.64, 30.3, 354.48, 6.86050247),
    "KSM/BTC": (0.00756, 0.21, 0.007566, 2.18142427),
    "GRT/ETH": (0.0008335, 506.69981876, 0.0008362, 3304.00414043),
    "SC/EUR": (0.04307, 5794.10440061, 0.04317, 20000.0),
    "ETH/CHF": (2183.69, 3.0, 2190.17, 0.31),
    "OCEAN/BTC": (2.774e-05, 606.11897, 2.781e-05, 606.16153),
    "OMG/USD": (9.586075, 200.0, 9.604799, 200.0),
    "BTC/CHF": (56060.3, 0.05804973, 56194.2, 0.017),
    "ADA/BTC": (2.288e-05, 11947.13445094, 2.29e-05, 7200.50427342),
}
PAIRS = {s.replace("BTC", "XBT"): s for s in TOPS}  # v1 pair -> canonical: v1 names BTC XBT


def kraken_checksum(asks: list[Any], bids: list[Any]) -> int:
    """Kraken's published rule, written independently of feeds/: top 10 asks ascending then
    top 10 bids descending, each level price+qty text without '.' and leading zeros."""

    def text(value: str) -> str:
        return value.replace(".", "").lstrip("0")

    return zlib.crc32("".join(text(p) + text(q) for p, q, *_ in asks[:10] + bids[:10]).encode())


def read_v1(record: Record, memo: dict[str, Any]) -> list[Event]:
    """Kraken v1 as plain json: acks at depth 1000, heartbeats, a snapshot (``as``/``bs``)
    or an update whose sides may come in two objects, the last with the checksum ``c``."""
    msg = json.loads(record.data)
    if isinstance(msg, dict):
        event = msg["event"]
        if event == "subscriptionStatus":
            return [Subscribed(PAIRS[msg["pair"]], msg["subscription"]["depth"])]
        return [Heartbeat()] if event == "heartbeat" else []  # systemStatus
    symbol, parts = PAIRS[msg[-1]], msg[1:-2]
    if "as" in msg[1]:
        return [BookSnapshot(symbol, msg[1]["bs"], msg[1]["as"])]
    asks = [level for part in parts for level in part.get("a", [])]
    bids = [level for part in parts for level in part.get("b", [])]
    return [BookDelta(symbol, bids, asks, checksum=int(parts[-1]["c"]))]


V1_BIDS = "0.04765:0.00000500:1582905486.493008 0.04940:0.00000500:1582905486.493034:r"
V1_ASKS = "0.05120:0.00000500:1582905486.493008 0.05275:0.00000500:1582905486.493034"

V1 = VenueCase(
    name="kraken-v1",
    codec=KrakenV1,
    # v1 pairs: XBT is BTC (the explicit table in kraken_v1)
    symbols=tuple(TOPS),
    depth=1000,
    subscribe=(  # the recorded request, byte for byte
        '{"event":"subscribe","pair":["WAVES/EUR","XMR/USD","KSM/XBT","GRT/ETH","SC/EUR",'
        '"ETH/CHF","OCEAN/XBT","OMG/USD","XBT/CHF","ADA/XBT"],'
        '"subscription":{"name":"book","depth":1000}}',
    ),
    samples=(
        (V1_UPDATE, (delta("BTC/CHF", V1_BIDS, V1_ASKS, checksum=974947235),)),
        (
            '[1360,{"as":[["0.1","2","3"]],"bs":[["0.05","1","3"]]},"book-1000","ADA/XBT"]',
            (BookSnapshot("ADA/BTC", [["0.05", "1", "3"]], [["0.1", "2", "3"]]),),
        ),
        ('{"event":"pong","reqid":42}', (Heartbeat(),)),
        ('{"event":"heartbeat"}', (Heartbeat(),)),
        (
            '{"channelID":1360,"channelName":"book-1000","event":"subscriptionStatus",'
            '"pair":"ADA/XBT","status":"subscribed","subscription":{"depth":1000,"name":"book"}}',
            (Subscribed("ADA/BTC", 1000),),
        ),
        (
            '{"errorMessage":"Currency pair not supported","event":"subscriptionStatus",'
            '"pair":"XBT/CHF","status":"error","subscription":{"depth":10,"name":"book"}}',
            (VenueError("subscribe: Currency pair not supported", "BTC/CHF"),),
        ),
        (
            '{"channelID":10001,"channelName":"book-10","event":"subscriptionStatus",'
            '"pair":"XBT/CHF","status":"unsubscribed","subscription":{"depth":10,"name":"book"}}',
            (),
        ),
        ('[42,[["5541.2","0.150","1534614057.3212","s","l",""]],"trade","XBT/CHF"]', ()),
        (  # levels pass as sent: the book refuses a bad one (the session resyncs)
            '[1,{"a":[["1","-1","1"]],"c":"4"},"book-10","XBT/CHF"]',
            (delta("BTC/CHF", "", "1:-1:1", checksum=4),),
        ),
    ),
    malformed=(
        '{"event":"subscriptionStatus","pair":"ETH/USD","status":"subscribed",'
        '"subscription":{"depth":10,"name":"book"}}',
        '[1,{"as":[],"bs":[]},{"a":[]},"book-10","XBT/CHF"]',
        '[1,{"a":[["1","1","1"]]},"book-10","XBT/CHF"]',
        '[1,{"a":[["1","1","1"]],"c":"-4"},"book-10","XBT/CHF"]',
        '[1,{"a":{},"c":"4"},"book-10","XBT/CHF"]',
        '[1,{"a":[["1","1","1"]],"c":"4"},"book-10","ETH/USD"]',
        '[1,"book-10","XBT/CHF"]',
        "{}",
    ),
    recording="kraken.ndjson.gz",
    # 10 snapshots + 4269 updates, every update's checksum matched (the book truncated to
    # the acked depth, 1000).
    replay=Replay(
        messages=4279,
        snapshots=10,
        deltas=4269,
        checks=4269,
        tops=TOPS,
    ),
    emulated=False,  # the emulator speaks v2
    model=Model(
        read_v1,
        {"Subscribed": 10, "Heartbeat": 31, "BookSnapshot": 10, "BookDelta": 4269}
        | {"no event": 1, "applied": 4269, "checksums": 4269, "removed": 1615},  # systemStatus
        checksum=lambda bids, asks: kraken_checksum(asks, bids),
        depth=1000,  # the acked depth the books are truncated to before checksumming
    ),
)

DOCS_STATUS = (
    '{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online",'
    '"api_version":"v2","connection_id":15113583034416118705}]}'
)
DOCS_ACK = (
    '{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,'
    '"symbol":"BTC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z",'
    '"time_out":"2023-09-25T09:04:31.742648Z"}'
)
DOCS_SNAPSHOT = (  # cut to one level a side: its checksum is not this book's
    '{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":'
    '[{"price":0.5666,"qty":4831.75496356}],"asks":[{"price":0.5668,"qty":4410.79769741}],'
    '"checksum":2439117997}]}'
)
DOCS_UPDATE = (
    '{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":'
    '[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,'
    '"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
)
DOCS_PONG = (
    '{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z",'
    '"time_out":"2023-09-24T14:10:23.799703Z"}'
)


def v2_update(data: str) -> str:
    return '{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD",' + data + "}]}"


MATIC_BID, MATIC_ASK = "0.5666:4831.75496356", "0.5668:4410.79769741"
DOCS_UPDATE_EVENTS = (
    delta("MATIC/USD", "0.5657:1098.3947558", "", checksum=2114181697, ts=1696613755440295000),
)

V2 = VenueCase(
    codec=Kraken,
    symbols=("MATIC/USD", "BTC/USD"),
    depth=10,
    subscribe=(
        '{"method":"subscribe","params":{"channel":"book","symbol":["MATIC/USD","BTC/USD"],'
        '"depth":10},"req_id":1}',
    ),
    samples=(
        (DOCS_SNAPSHOT, (snap("MATIC/USD", MATIC_BID, MATIC_ASK, checksum=2439117997),)),
        (DOCS_UPDATE, DOCS_UPDATE_EVENTS),
        (DOCS_ACK, (Subscribed("BTC/USD", 10),)),
        (
            '{"error":"Subscription depth not supported","method":"subscribe","success":false,'
            '"symbol":"BTC/USD","time_in":"2026-08-16T23:54:19.629313Z"}',
            (VenueError("subscribe: Subscription depth not supported", "BTC/USD"),),
        ),
        ('{"channel":"heartbeat"}', (Heartbeat(),)),
        (DOCS_PONG, (Heartbeat(),)),
        (DOCS_STATUS, ()),
        (
            '{"method":"unsubscribe","result":{"channel":"book","depth":25,"symbol":"BTC/USD"},'
            '"success":true}',
            (),
        ),
        (  # the exact number text (the checksum's): a float parser would write 0.0 and 5.1e-05
            v2_update(
                '"bids":[{"price":62807.0,"qty":0.00000000}],"asks":[{"price":0.12275,'
                '"qty":0.00005100}],"checksum":1'
            ),
            (delta("MATIC/USD", "62807.0:0.00000000", "0.12275:0.00005100", checksum=1),),
        ),
        (" \r\n" + DOCS_UPDATE + "\n", DOCS_UPDATE_EVENTS),  # whitespace around is JSON too
        ((DOCS_UPDATE + "\n ").encode(), DOCS_UPDATE_EVENTS),
        (  # levels pass as sent: the book refuses a bad one (the session resyncs)
            v2_update('"bids":[{"price":-45283.5,"qty":1}],"asks":[],"checksum":1'),
            (delta("MATIC/USD", "-45283.5:1", "", checksum=1),),
        ),
    ),
    malformed=(
        "null",
        "[1]",
        '{"x":1}',
        '{"channel":"book","type":"partial","data":[]}',
        DOCS_UPDATE.replace("MATIC/USD", "ETH/USD"),
        v2_update('"bids":[{"price":0.5657,"qty":NaN}],"asks":[],"checksum":1'),
        v2_update('"bids":[{"price":0.5657,"qty":1}],"asks":[],"checksum":-1'),
        v2_update('"bids":[],"asks":[],"checksum":1,"timestamp":"yesterday"'),
        v2_update('"bids":[],"asks":[],"checksum":1,"timestamp":"2023-10-06T17:35:55"'),
        v2_update('"bids":[{"price":1}],"asks":[],"checksum":1'),
        v2_update('"bids":[["1","2"]],"asks":[],"checksum":1'),
        DOCS_UPDATE + ' {"x":1}',  # trailing data
        " ",
        '{"method":"subscribe","result":{"channel":"book","depth":-5,"symbol":"BTC/USD"},'
        '"success":true}',
        b"\xff\xfe",
    ),
    wire=(DOCS_STATUS, DOCS_ACK, DOCS_SNAPSHOT, DOCS_UPDATE, DOCS_PONG),
    wire_ignore=frozenset({"req_id"}),  # echoed when the request has one (the docs' had none)
)

CASES = (V1, V2)
FRAMES_OUT = (
    FramesOut(V1, (V1.subscribe[0].replace('"subscribe"', '"unsubscribe"'),), '{"event":"ping"}'),
    FramesOut(
        V2,  # the request ids go on
        (
            '{"method":"unsubscribe","params":{"channel":"book","symbol":["MATIC/USD","BTC/USD"],'
            '"depth":10},"req_id":2}',
        ),
        '{"method":"ping"}',
    ),
)
