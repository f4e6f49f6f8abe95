"""Independent Reserve: the documented order book snapshot stream (btc-aud at depth 5), from
https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md, and its
checksum rule written independently: every ``Crc32`` proven on the plain-dict model's book,
truncated to the depth (tests/test_reference.py)."""

from __future__ import annotations

import json
import zlib
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Ignored, VenueError
from feeds.venues.independentreserve import IndependentReserve
from tests.conformance import FramesOut, Replay, VenueCase
from tests.reference import Model

CH = '{"Channel":"orderbook/5/btc/aud","Data":'
SNAPSHOT = CH + (
    '{"Bids":[{"Price":31802.46,"Volume":0.25},{"Price":31802.45,"Volume":0.32464684},'
    '{"Price":31802.42,"Volume":0.34465528},{"Price":31785.01,"Volume":2.733},'
    '{"Price":31785,"Volume":1.5}],"Offers":[{"Price":31844.99,"Volume":0.30740328},'
    '{"Price":31845,"Volume":1.5},{"Price":31865.3,"Volume":0.2},{"Price":31875,"Volume":1.5},'
    '{"Price":31875.9,"Volume":0.788}],"Crc32":2893776693},"Time":1660895883834,'
    '"Event":"OrderBookSnapshot"}'
)
OBC = "{{" + CH[1:] + '{{"Bids":{},"Offers":{},"Crc32":{}}},"Time":{},"Event":"OrderBookChange"}}'
"""An ``OrderBookChange`` of btc-aud, ``.format(Bids, Offers, Crc32, Time)``."""
CHANGE = OBC.format("[]", '[{"Price":31844.98,"Volume":0.02396605}]', 263206970, 1660895884514)
# not documented: one more bid, signed by the documented rule (depth 5 truncated), deleted again;
# a level deleted and inserted again in one change, as documented
BID = OBC.format('[{"Price":31802.47,"Volume":0.1}]', "[]", 3065582141, 1660895884600)
UNBID = OBC.format('[{"Price":31802.47,"Volume":0}]', "[]", 53450727, 1660895884700)
REDO = OBC.format('[{"Price":31802.45,"Volume":0},{"Price":31802.45,"Volume":0.5}]', "[]",
                  267977933, 1660895884800)  # fmt: skip
HEARTBEAT = '{"Time":1661145843028,"Event":"Heartbeat"}'
SUBSCRIPTIONS = '{"Event":"Subscriptions","Data":["btc-aud"]}'  # README's shape
MS = 10**6
BIDS = [[31802.46, 0.25], [31802.45, 0.32464684], [31802.42, 0.34465528], [31785.01, 2.733]]
ASKS = [[31844.99, 0.30740328], [31845, 1.5], [31865.3, 0.2], [31875, 1.5], [31875.9, 0.788]]


def fixed8(x: float) -> str:
    """The number as ``toFixed(8)`` writes it, the point and leading zeros removed."""
    text = str(Decimal(repr(x)).quantize(Decimal("1e-8"), ROUND_HALF_EVEN))
    return text.replace(".", "").lstrip("0")


def checksum(bids: list[list[Any]], asks: list[list[Any]]) -> int:
    """The documented rule ("CRC32 checksum"): the top 10 bids, then the top 10 offers."""
    return zlib.crc32("".join(fixed8(p) + fixed8(v) for p, v in bids[:10] + asks[:10]).encode())


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """The messages as plain json: a book message's ``[Price, Volume]`` levels in order."""
    msg = json.loads(record.data)
    if msg["Event"] in ("Heartbeat", "Subscriptions"):
        return [Heartbeat()] if msg["Event"] == "Heartbeat" else []
    data, kind = msg["Data"], BookSnapshot if msg["Event"] == "OrderBookSnapshot" else BookDelta
    bids, asks = ([[lv["Price"], lv["Volume"]] for lv in data[k]] for k in ("Bids", "Offers"))
    return [kind("BTC/AUD", bids, asks, checksum=data["Crc32"], venue_ts_ns=msg["Time"] * MS)]


CASE = VenueCase(
    codec=IndependentReserve,
    symbols=("BTC/AUD",),
    depth=5,
    subscribe=('{"Event":"Subscribe","Data":["btc-aud"]}',),
    samples=(
        (SNAPSHOT, (BookSnapshot("BTC/AUD", [*BIDS, [31785, 1.5]], ASKS, checksum=2893776693,
                                 venue_ts_ns=1660895883834 * MS),)),
        (CHANGE, (BookDelta("BTC/AUD", [], [[31844.98, 0.02396605]], checksum=263206970,
                            venue_ts_ns=1660895884514 * MS),)),
        (HEARTBEAT, (Heartbeat(),)),
        (SUBSCRIPTIONS, ()),
        ('{"Event":"Error","Data":"Invalid channel"}', (VenueError("Error: Invalid channel"),)),
        ('{"Event":"Trade","Channel":"ticker-btc-aud"}', (Ignored("Event Trade"),)),
    ),
    malformed=(
        CH + '{"Bids":[],"Offers":[],"Crc32":1},"Event":"OrderBookChange"}',  # no Time
        "", "[]", "{}", '{"Event":5}', OBC.replace("btc", "eth").format("[]", "[]", 1, 1),
        OBC.replace("orderbook/5/btc/aud", "orderbook-btc-aud").format("[]", "[]", 1, 1),
        '{"Channel":5,"Data":{},"Event":"OrderBookChange"}',
        CH + '[],"Time":1,"Event":"OrderBookChange"}', OBC.format("{}", "[]", 1, 1),
        OBC.format("[]", "[5]", 1, 1), OBC.format('[{"Price":1}]', "[]", 1, 1),
        OBC.format("[]", "[]", -1, 1), OBC.format("[]", "[]", '"1"', 1),
        OBC.format("[]", "[]", 1, -1),
    ),
    frames=(SUBSCRIPTIONS, SNAPSHOT, HEARTBEAT, CHANGE, BID, UNBID, REDO),
    # The documented snapshot and the change after it, one more bid added and deleted, a bid
    # changed by a delete and an insert: every checksum matches (after truncating the depth-5
    # book, whose fifth bid is gone).
    replay=Replay(5, 1, 4, 5, tops={"BTC/AUD": (31802.46, 0.25, 31844.98, 0.02396605)}),
    emulator_path="/orderbook/50",
    wire=(SNAPSHOT, CHANGE, HEARTBEAT),
    # every checksum proven; the re-inserted bid removed first, then inserted
    model=Model(read, {"BookSnapshot": 1, "BookDelta": 4, "Heartbeat": 1, "no event": 1}
                | {"applied": 4, "checksums": 5, "removed": 2}, checksum=checksum, depth=5),
)  # fmt: skip

FRAMES_OUT = FramesOut(CASE, ('{"Event":"Unsubscribe","Data":["btc-aud"]}',), None)
