"""Independent Reserve: the documented order book snapshot stream (btc-aud at depth 5), from
https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md, and its
checksum rule written independently: every ``Crc32`` proven on the plain-dict model's book,
truncated to the depth (tests/test_reference.py). The 2022 recording speaks the older
order-level channel, not replayed: what it shares is proven in
tests/test_venue_independentreserve.py."""

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
CHANGE = CH + (
    '{"Bids":[],"Offers":[{"Price":31844.98,"Volume":0.02396605}],"Crc32":263206970},'
    '"Time":1660895884514,"Event":"OrderBookChange"}'
)
BID = CH + (  # not documented: one more bid, signed by the documented rule (depth 5 truncated)
    '{"Bids":[{"Price":31802.47,"Volume":0.1}],"Offers":[],"Crc32":3065582141},'
    '"Time":1660895884600,"Event":"OrderBookChange"}'
)
UNBID = CH + (  # the same bid deleted again
    '{"Bids":[{"Price":31802.47,"Volume":0}],"Offers":[],"Crc32":53450727},'
    '"Time":1660895884700,"Event":"OrderBookChange"}'
)
REDO = CH + (  # not documented: a level deleted and inserted again in one change, as documented
    '{"Bids":[{"Price":31802.45,"Volume":0},{"Price":31802.45,"Volume":0.5}],"Offers":[],'
    '"Crc32":267977933},"Time":1660895884800,"Event":"OrderBookChange"}'
)
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
        (
            SNAPSHOT,
            (
                BookSnapshot(
                    "BTC/AUD",
                    [*BIDS, [31785, 1.5]],
                    ASKS,
                    checksum=2893776693,
                    venue_ts_ns=1660895883834 * MS,
                ),
            ),
        ),
        (
            CHANGE,
            (
                BookDelta(
                    "BTC/AUD",
                    [],
                    [[31844.98, 0.02396605]],
                    checksum=263206970,
                    venue_ts_ns=1660895884514 * MS,
                ),
            ),
        ),
        (HEARTBEAT, (Heartbeat(),)),
        (SUBSCRIPTIONS, ()),
        ('{"Event":"Error","Data":"Invalid channel"}', (VenueError("Error: Invalid channel"),)),
        ('{"Event":"Trade","Channel":"ticker-btc-aud"}', (Ignored("Event Trade"),)),
    ),
    malformed=(
        CH + '{"Bids":[],"Offers":[],"Crc32":1},"Event":"OrderBookChange"}',  # no Time
        "",
        "[]",
        "{}",
        '{"Event":5}',
        '{"Channel":"orderbook/5/eth/aud","Data":{"Bids":[],"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        '{"Channel":"orderbook-btc-aud","Data":{"Bids":[],"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        '{"Channel":5,"Data":{},"Event":"OrderBookChange"}',
        CH + '[],"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":{},"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[5],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[{"Price":1}],"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[],"Crc32":-1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[],"Crc32":"1"},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[],"Crc32":1},"Time":-1,"Event":"OrderBookChange"}',
    ),
    frames=(SUBSCRIPTIONS, SNAPSHOT, HEARTBEAT, CHANGE, BID, UNBID, REDO),
    # The documented snapshot and the change after it, one more bid added and deleted, a bid
    # changed by a delete and an insert: every checksum matches (after truncating the depth-5
    # book, whose fifth bid is gone).
    replay=Replay(
        messages=5,
        snapshots=1,
        deltas=4,
        checks=5,
        tops={"BTC/AUD": (31802.46, 0.25, 31844.98, 0.02396605)},
    ),
    emulator_path="/orderbook/50",
    wire=(SNAPSHOT, CHANGE, HEARTBEAT),
    model=Model(
        read,  # every checksum proven; the re-inserted bid removed first, then inserted
        {"BookSnapshot": 1, "BookDelta": 4, "Heartbeat": 1, "no event": 1}
        | {"applied": 4, "checksums": 5, "removed": 2},
        checksum=checksum,
        depth=5,
    ),
)

FRAMES_OUT = FramesOut(CASE, ('{"Event":"Unsubscribe","Data":["btc-aud"]}',), None)
