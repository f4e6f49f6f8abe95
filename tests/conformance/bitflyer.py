"""bitFlyer: the 2021 recording (Lightning Realtime API board channels of ETH_JPY, XRP_JPY,
BTC_USD), the documented answers (https://bf-lightning-api.readme.io/docs/endpoint-json-rpc)."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Ignored, VenueError
from feeds.venues.bitflyer import Bitflyer
from tests.conformance import Replay, VenueCase
from tests.reference import Model

SYMBOLS = ("ETH/JPY", "XRP/JPY", "BTC/USD")
RPC = '{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_'
BOARD = RPC + 'board_XRP_JPY","message":'
CHANGE = BOARD + (  # recorded
    '{"mid_price":96.02,"bids":[{"price":95.96,"size":19638.237973}],'
    '"asks":[{"price":96.13,"size":49.479871}]}}}'
)
SNAPSHOT = RPC + (  # recorded, cut to two bids (sent worst first) and one ask
    'board_snapshot_BTC_USD","message":{"mid_price":50259.96,"bids":[{"price":30000.0,"size":0.002'
    '},{"price":35000.0,"size":0.05}],"asks":[{"price":50291.63,"size":0.07496766}]}}}'
)
# the documented change, with a market order executed at the auction (price 0, dropped)
AUCTION = (
    BOARD + '{"mid_price":35625,"bids":[{"price":33350,"size":1},{"price":0,"size":2}],"asks":[]}}}'
)
EXECUTIONS = RPC + (  # recorded
    'executions_XRP_JPY","message":[{"id":2284078760,"side":"SELL","price":95.96,'
    '"size":918.992246,"exec_date":"2021-12-12T23:05:30.0946265Z","buy_child_order_acceptance_id"'
    ':"JRF20211212-230529-124865","sell_child_order_acceptance_id":"JRF20211212-230529-196525"}]}}'
)
TICKER = RPC + 'ticker_XRP_JPY","message":{"product_code":"XRP_JPY","best_bid":95.96}}}'

SAMPLES = (
    (SNAPSHOT, (BookSnapshot("BTC/USD", [(30000.0, 0.002), (35000.0, 0.05)],
                             [(50291.63, 0.07496766)]),)),
    (CHANGE, (BookDelta("XRP/JPY", [(95.96, 19638.237973)], [(96.13, 49.479871)]),)),
    (BOARD + '{"mid_price":96.02,"bids":[],"asks":[]}}}', (BookDelta("XRP/JPY", [], []),)),
    (AUCTION, (BookDelta("XRP/JPY", [(33350, 1)], []),)),
    (EXECUTIONS, ()),
    (TICKER, ()),
    (RPC + 'child_order_events","message":[]}}',
     (Ignored("channel lightning_child_order_events"),)),
    ('{"jsonrpc":"2.0","id":1,"result":true}', ()),
    ('{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Invalid params"}}',
     (VenueError("{'code': -32602, 'message': 'Invalid params'}"),)),
)  # fmt: skip
MALFORMED = (
    "", "[]", "{}", '{"jsonrpc":"2.0","method":"channelMessage"}',
    RPC[:-21] + '"message":{}}}', RPC[:-21] + '"channel":5,"message":{}}}', BOARD + "[]}}",
    BOARD + '{"bids":[]}}}', BOARD + '{"bids":{},"asks":[]}}}',
    BOARD + '{"bids":[[95.96,1.0]],"asks":[]}}}', BOARD + '{"bids":[{"price":95.96}],"asks":[]}}}',
    RPC + 'board_BTC_JPY","message":{"bids":[],"asks":[]}}}',  # not subscribed
)  # fmt: skip
# Per product the first whole board (changes before it are ignored), then 324 changes, and
# 15 boards sent again: 10 of them differ from the changes' book (counted, taken).
REPLAY = Replay(342, 18, 334, 334, tops={
    "ETH/JPY": (472196.0, 14.99995, 472542.0, 0.75),
    "XRP/JPY": (96.03, 1084.86, 96.25, 465.0),
    "BTC/USD": (50302.32, 1.0, 50306.95, 0.10070945),
})  # fmt: skip
SUBSCRIBE = tuple(f'{{"method":"subscribe","params":{{"channel":"lightning_board_{k}{v}"}}}}'
    for v in ("ETH_JPY", "XRP_JPY", "BTC_USD") for k in ("snapshot_", ""))  # fmt: skip


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """The Realtime API's board channels as plain json: a whole board, or changed levels
    (a change at price 0 is a market order at the auction: no level)."""
    msg = json.loads(record.data)
    channel = msg.get("params", {}).get("channel", "")
    kinds: Any = (("lightning_board_snapshot_", BookSnapshot), ("lightning_board_", BookDelta))
    for prefix, kind in kinds:
        if channel.startswith(prefix):
            symbol, book = channel[len(prefix) :].replace("_", "/"), msg["params"]["message"]
            bids, asks = (
                [(lv["price"], lv["size"]) for lv in book[side] if lv["price"]]
                for side in ("bids", "asks")
            )
            return [kind(symbol, bids, asks)]
    return []


CASE = VenueCase(
    codec=Bitflyer,
    symbols=SYMBOLS,
    subscribe=SUBSCRIBE,
    samples=SAMPLES,
    malformed=MALFORMED,
    recording="bitflyer.ndjson.gz",
    replay=REPLAY,
    emulator_symbols=("BTC/JPY", "ETH/JPY"),
    model=Model(
        read,
        {"BookSnapshot": 18, "BookDelta": 334, "early": 10, "no event": 131}
        | {"applied": 324, "removed": 448, "absent": 16},
        ignore_early=True,
    ),
)
