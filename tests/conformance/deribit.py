"""Deribit API v2: ``book.BTC_USDC.100ms`` in the shape of the documentation (what the emulator
speaks) and ``book.<option>.raw`` on the 2021 recording (8 options with two-sided books)."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta as Delta
from feeds.protocol import BookSnapshot as Snap
from feeds.protocol import Event, Heartbeat, Reply, Subscribed, VenueError
from feeds.venues.deribit import Deribit, DeribitRaw
from tests.conformance import FramesOut, Replay, Top, VenueCase
from tests.reference import Model


def note(kind: str, prev: str, change_id: int, bids: str, asks: str) -> str:
    """A ``book.BTC_USDC.100ms`` notification as documented
    (https://docs.deribit.com/subscriptions/orderbook/bookinstrument_nameinterval)."""
    return (
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC_USDC.100ms",'
        f'"data":{{"type":"{kind}","timestamp":1764892800000,{prev}"instrument_name":"BTC_USDC",'
        f'"change_id":{change_id},"bids":{bids},"asks":{asks}}}}}}}'
    )


SNAPSHOT = note("snapshot", "", 71500, '[["new",91990.5,0.25],["new",91990,1.0]]',
                '[["new",91991,0.4],["new",91992.5,2.0]]')  # fmt: skip
CHANGE = note("change", '"prev_change_id":71500,', 71503, '[["delete",91990,0.0]]',
              '[["change",91991,0.1],["new",91991.5,0.3]]')  # fmt: skip
TEST_REQUEST = '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'
PUBLIC_TEST = '{"jsonrpc":"2.0","id":4,"method":"public/test","params":{}}'
ACK = (
    '{"jsonrpc":"2.0","id":2,"result":["book.BTC_USDC.100ms"],"usIn":1764892799990000,'
    '"usOut":1764892799990600,"usDiff":600,"testnet":false}'
)
STREAM = (
    ACK, SNAPSHOT, CHANGE,
    note("change", '"prev_change_id":71503,', 71504, '[["new",91989,3.5]]', "[]"),
    note("change", '"prev_change_id":71504,', 71510, '[["change",91990.5,0.05]]',
         '[["delete",91991,0.0]]'),
    TEST_REQUEST,
)  # fmt: skip

TS = 1764892800000_000000
SAMPLES = (  # the levels as the codec reads them: reordered to [price, amount, action]
    (ACK, (Subscribed("BTC/USDC"),)),
    (SNAPSHOT, (Snap("BTC/USDC", [[91990.5, 0.25, "new"], [91990, 1.0, "new"]],
                     [[91991, 0.4, "new"], [91992.5, 2.0, "new"]], seq=71500, venue_ts_ns=TS),)),
    (CHANGE, (Delta("BTC/USDC", [[91990, 0.0, "delete"]],
                    [[91991, 0.1, "change"], [91991.5, 0.3, "new"]], last=71503, prev=71500,
                    venue_ts_ns=TS),)),
    (TEST_REQUEST, (Heartbeat(), Reply(PUBLIC_TEST))),
    ('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}', (Heartbeat(),)),
    ('{"jsonrpc":"2.0","id":1,"result":"ok","usIn":1,"usOut":2,"usDiff":1}', (Heartbeat(),)),
    ('{"jsonrpc":"2.0","id":4,"result":{"version":"1.2.26"}}', (Heartbeat(),)),
    ('{"jsonrpc":"2.0","id":3,"result":["book.BTC_USDC.100ms"]}', ()),  # unsubscribed
    ('{"jsonrpc":"2.0","id":2,"error":{"message":"Invalid params","code":-32602}}',
     (VenueError("-32602: Invalid params"),)),
    ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC_USDC.100ms",'
     '"data":{}}}', ()),
)  # fmt: skip
REFUSALS = (  # set_heartbeat: at least 10 s
    ('{"jsonrpc":"2.0","id":7,"method":"public/set_heartbeat","params":{"interval":5}}', None,
     "-32602: Invalid params"),
)  # fmt: skip

CASE = VenueCase(
    codec=Deribit,
    symbols=("BTC/USDC",),
    subscribe=(
        '{"jsonrpc":"2.0","id":1,"method":"public/set_heartbeat","params":{"interval":10}}',
        '{"jsonrpc":"2.0","id":2,"method":"public/subscribe","params":'
        '{"channels":["book.BTC_USDC.100ms"]}}',
    ),
    samples=SAMPLES,
    malformed=(
        "", "[]", '{"jsonrpc":"2.0"}', '{"jsonrpc":"2.0","method":"subscription","params":[]}',
        '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"ping"}}',
        *(CHANGE.replace(*r) for r in (
            ("book.BTC_USDC.100ms", "book.ETH_USDC.100ms"), ("BTC_USDC.100ms", "BTC_USDC.raw"),
            ('"type":"change"', '"type":"update"'), ('"prev_change_id":71500,', ""),
            ('"change_id":71503', '"change_id":"71503"'), ('[["delete",91990,0.0]]', "{}"),
            ('"timestamp":1764892800000', '"timestamp":-1'), ('[["delete",91990,0.0]]', "[7]"),
            ('["delete",91990,0.0]', '["delete",91990]'),
        )),
    ),
    frames=STREAM,
    # 1 snapshot + 3 changes, each linked to the one before (prev_change_id == change_id)
    replay=Replay(4, 1, 3, 3, tops={"BTC/USDC": (91990.5, 0.05, 91991.5, 0.3)}),
    emulator_symbols=("BTC/USDC", "ETH/USDC"),
    # https://docs.deribit.com/api-reference/session-management/public-set_heartbeat
    heartbeat=(10, TEST_REQUEST),
    refusals=REFUSALS,
)  # fmt: skip
FRAMES_OUT = FramesOut(CASE, (
    '{"jsonrpc":"2.0","id":3,"method":"public/unsubscribe","params":'
    '{"channels":["book.BTC_USDC.100ms"]}}',
), PUBLIC_TEST)  # fmt: skip

RECORDED: dict[str, tuple[str, Top]] = {
    "ETH-30JUL21-2800-C": ("ETH/USD:ETH-210730-2800-C", (0.0015, 4737.0, 0.0025, 873.0)),
    "BTC-31DEC21-34000-P": ("BTC/USD:BTC-211231-34000-P", (0.2325, 1.5, 0.236, 8.4)),
    "BTC-31DEC21-300000-C": ("BTC/USD:BTC-211231-300000-C", (0.005, 2.1, 0.0055, 4.0)),
    "BTC-30JUL21-24000-P": ("BTC/USD:BTC-210730-24000-P", (0.002, 91.6, 0.0025, 13.7)),
    "BTC-25MAR22-30000-C": ("BTC/USD:BTC-220325-30000-C", (0.274, 8.0, 0.316, 8.0)),
    "BTC-24SEP21-8000-P": ("BTC/USD:BTC-210924-8000-P", (0.0005, 153.1, 0.0015, 94.7)),
    "BTC-24SEP21-34000-P": ("BTC/USD:BTC-210924-34000-P", (0.1555, 0.8, 0.1585, 11.2)),
    "BTC-24JUN22-15000-C": ("BTC/USD:BTC-220624-15000-C", (0.583, 9.0, 0.6235, 9.0)),
}
"""The recording's options with both sides quoted: Deribit's name -> ccxt's unified symbol and
its best bid, its size, best ask, its size after the recording, from the independent model
(``read``)."""
OPTIONS = {name: symbol for name, (symbol, _) in RECORDED.items()}
GOLDEN_TOPS = dict(RECORDED.values())
RECORDED_CHANGE = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-31DEC21-34000-P.raw",'
    '"data":{"type":"change","timestamp":1626993733801,"prev_change_id":33195894765,'
    '"instrument_name":"BTC-31DEC21-34000-P","change_id":33195896354,"bids":[],'
    '"asks":[["delete",0.239,0.0],["change",0.2385,9.3]]}}}'
)
RECORDED_SNAPSHOT = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-24JUN22-15000-C.raw",'
    '"data":{"type":"snapshot","timestamp":1626993720915,"instrument_name":"BTC-24JUN22-15000-C",'
    '"change_id":33190041117,"bids":[["new",0.583,9.0],["new",0.0005,1.0]],'
    '"asks":[["new",0.6235,9.0]]}}}'
)
PUT, CALL = "BTC/USD:BTC-211231-34000-P", "BTC/USD:BTC-220624-15000-C"


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """https://docs.deribit.com/subscriptions/orderbook/bookinstrument_nameinterval as plain
    json: an option's first notification is its book, each next one's ``prev_change_id`` is
    the previous ``change_id``; levels ``[action, price, amount]`` (the model checks each
    action against its book)."""
    msg = json.loads(record.data)
    if "result" in msg:  # the subscribe answer lists every channel subscribed
        names = [c[5:-4] for c in msg["result"] if c.startswith("book.")]
        return [Subscribed(OPTIONS[n]) for n in names if n in OPTIONS]
    channel, data = msg["params"]["channel"], msg["params"]["data"]
    if not channel.startswith("book."):
        return []  # trades
    symbol, ts = OPTIONS[data["instrument_name"]], data["timestamp"] * 10**6
    bids, asks = ([[p, a, act] for act, p, a in data[k]] for k in ("bids", "asks"))
    if data["type"] == "snapshot":
        return [Snap(symbol, bids, asks, data["change_id"], None, ts)]
    last, prev = data["change_id"], data["prev_change_id"]
    return [Delta(symbol, bids, asks, None, last, prev, None, ts)]


RAW_SAMPLES = (
    (RECORDED_CHANGE, (Delta(PUT, [], [[0.239, 0.0, "delete"], [0.2385, 9.3, "change"]], None,
                             33195896354, 33195894765, None, 1626993733801_000000),)),
    (RECORDED_SNAPSHOT, (Snap(CALL, [[0.583, 9.0, "new"], [0.0005, 1.0, "new"]],
                              [[0.6235, 9.0, "new"]], 33190041117, None, 1626993720915_000000),)),
    ('{"jsonrpc":"2.0","id":0,"result":["trades.ETH-30JUL21-2800-C.raw",'
     '"book.ETH-27AUG21-4000-P.raw","book.BTC-24SEP21-8000-P.raw"],"usIn":1626993723846980,'
     '"usOut":1626993723847561,"usDiff":581,"testnet":false}',
     (Subscribed("BTC/USD:BTC-210924-8000-P"),)),
)  # fmt: skip

RAW = VenueCase(
    name="deribit-raw",
    codec=DeribitRaw,
    symbols=tuple(OPTIONS.values()),
    subscribe=(
        CASE.subscribe[0],
        '{"jsonrpc":"2.0","id":2,"method":"public/subscribe","params":{"channels":['
        + ",".join(f'"book.{name}.raw"' for name in OPTIONS)
        + "]}}",
    ),
    samples=RAW_SAMPLES,
    malformed=(RECORDED_CHANGE.replace("34000-P.raw", "34000-P.100ms"),),
    recording="deribit.ndjson.gz",
    # 8 snapshots; 36 changes, each linked to the one before and its actions agreeing with the
    # book (deribit-raw-model-* prove both on every message)
    replay=Replay(44, 8, 36, 36, tops=GOLDEN_TOPS),
    emulated=False,
    model=Model(read, {"BookSnapshot": 8, "BookDelta": 36, "Subscribed": 8, "applied": 36}
                | {"linked": 36, "new": 121, "change": 5, "delete": 19, "removed": 19},
                level_actions=True),
)  # fmt: skip

CASES = (CASE, RAW)
