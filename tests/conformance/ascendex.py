"""AscendEX Pro v1 ``depth:<symbol>`` on the 2021 recording (10 pairs, snapshots asked for
on the connection), the same protocol as today's docs and the emulator."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Event,
    Heartbeat,
    Reply,
    Subscribed,
    VenueError,
)
from feeds.venues.ascendex import AscendEx
from tests.conformance import Replay, Top, VenueCase
from tests.reference import Model

SYMBOLS = (
    "ZIG/USDT", "DIVI/USDT", "XDAI/USDT", "NEO/USDT", "ROOM/USDT",
    "EGLD/USDT", "SRM/BTC", "CHZ/USDT", "ALTBULL/USDT", "CHR/USDT",
)  # fmt: skip
DEPTH = (
    '{"m":"depth","symbol":"NEO/USDT", "data":{"ts":1618677609086,"seqnum":32164169231,'
    '"asks":[["95.134","0"],["95.169","0"],["95.179","10.97"]],"bids":[]}}'
)
SNAPSHOT = (
    '{"m":"depth-snapshot","symbol":"NEO/USDT","data":{"ts":1618677609212,'
    '"seqnum":32164169232,"asks":[["95.135","13.92"]],"bids":[["94.9","2.1"]]}}'
)
# From the 2021 recording, but the pong and the error: written in the shapes the docs give
# (https://ascendex.github.io/ascendex-pro-api/, "WebSocket").
CONTROL = (
    ('{"m":"connected","type":"unauth"}', (Heartbeat(),)),
    ('{"m":"sub","ch":"depth:NEO/USDT","code":0}', (Subscribed("NEO/USDT"),)),
    ('{"m":"sub","ch":"trades:NEO/USDT","code":0}', ()),
    ('{"m":"ping","hp":3}', (Reply('{"op":"pong"}'),)),
    ('{"m":"pong","code":0,"ts":1614164135950}', (Heartbeat(),)),
    ('{"m":"trades","symbol":"NEO/USDT","data":[{"p":"95.1","q":"1","ts":1618677609086,'
     '"bm":false,"seqnum":72057602486373530}]}', ()),
    ('{"m":"error","id":"ab123","code":100005,"reason":"INVALID_WS_REQUEST_DATA",'
     '"info":"Invalid request action: trade-snapshot"}',
     (VenueError("100005 INVALID_WS_REQUEST_DATA: Invalid request action: trade-snapshot"),)),
)  # fmt: skip
SAMPLES = (
    (DEPTH, (BookDelta("NEO/USDT", [], [["95.134", "0"], ["95.169", "0"], ["95.179", "10.97"]],
                       32164169231, 32164169231, venue_ts_ns=1618677609086_000000),)),
    (SNAPSHOT, (BookSnapshot("NEO/USDT", [["94.9", "2.1"]], [["95.135", "13.92"]],
                             seq=32164169232, venue_ts_ns=1618677609212_000000),)),
    *CONTROL,
)  # fmt: skip
GOLDEN_TOPS: dict[str, Top] = {
    "CHZ/USDT": (0.626579, 3292.0, 0.636898, 600.0),
    "DIVI/USDT": (0.05867, 4367.0, 0.05912, 605.0),
    "CHR/USDT": (0.37128, 2635.0, 0.37328, 14.0),
    "NEO/USDT": (94.533, 22.02, 94.875, 12.49),
    "XDAI/USDT": (1.0004, 15.4, 1.0067, 1394.5),
    "ALTBULL/USDT": (1403.8, 1.576, 1442.7, 1.345),
    "EGLD/USDT": (209.1829, 4.49, 216.8294, 4.49),
    "ROOM/USDT": (1.9195, 93.9, 1.9199, 20.9),
    "SRM/BTC": (0.00011224, 122.0, 0.000112528, 66.0),
    "ZIG/USDT": (0.097014, 2887.0, 0.097499, 1737.0),
}


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """https://ascendex.github.io/ascendex-pro-api/ ("WebSocket") as plain json: pushes and
    requested snapshots carry ``seqnum``; the venue's pings are answered."""
    msg = json.loads(record.data)
    kind, data = msg.get("m"), msg.get("data")
    if kind in ("depth", "depth-snapshot"):
        ts, seq = data["ts"] * 10**6, data["seqnum"]
        if kind == "depth":
            return [BookDelta(msg["symbol"], data["bids"], data["asks"], seq, seq, None, None, ts)]
        return [BookSnapshot(msg["symbol"], data["bids"], data["asks"], seq, None, ts)]
    if kind == "ping":
        return [Reply('{"op":"pong"}')]
    if kind == "connected":
        return [Heartbeat()]
    if kind == "sub" and msg["ch"].startswith("depth:"):
        return [Subscribed(msg["ch"][6:])]
    return []


CASE = VenueCase(
    codec=AscendEx,
    symbols=SYMBOLS,
    subscribe=('{"op":"sub","ch":"depth:' + ",".join(SYMBOLS) + '"}',),
    samples=SAMPLES,
    malformed=(
        "",
        "[]",
        '{"type":"depth"}',
        '{"m":"depth","symbol":"NEO/USDT"}',
        '{"m":"depth","symbol":"BTC/USDT","data":{"ts":1,"seqnum":1,"asks":[],"bids":[]}}',
        '{"m":"depth","symbol":"NEO/USDT","data":{"ts":1,"seqnum":-1,"asks":[],"bids":[]}}',
        '{"m":"depth-snapshot","symbol":"NEO/USDT","data":{"ts":1,"seqnum":1,"asks":{}}}',
    ),
    recording="ascendex.ndjson.gz",
    # 10 requested snapshots; 277 pushes: 8 before (and within) their symbol's snapshot, 269
    # continue it.
    replay=Replay(messages=279, snapshots=10, deltas=277, checks=269, older=8, tops=GOLDEN_TOPS),
    model=Model(
        read,
        {"BookSnapshot": 10, "BookDelta": 277, "Heartbeat": 1, "Reply": 2, "Subscribed": 10}
        | {"dropped": 8, "continued": 269, "applied": 269, "removed": 566},
    ),
)
