"""HitBTC and Bequant: API v3 ``orderbook/full`` on the documentation's examples (what the
emulator speaks; https://api.hitbtc.com/#subscribe-to-full-order-book) and API v2 on the 2021
recordings (three symbols each, every message of them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Subscribed, VenueError
from feeds.venues.hitbtc import Bequant, BequantV2, HitBTC, HitBTCV2
from tests.conformance import FramesOut, Replay, VenueCase, delta, snap
from tests.reference import Model, Read

TRADES = '{"method":"subscribe","ch":"trades","params":{"symbols":["BTCUSDT"]},"id":6}'
ACK = '{"result":{"ch":"orderbook/full","subscriptions":["BTCUSDT"]},"id":1}'


def push(kind: str, seq: int, asks: str, bids: str) -> str:
    """A v3 push in the documented shape (the page's own example is of ETHBTC)."""
    book = f'{{"t":{1626866578796 + seq % 100},"s":{seq},"a":{asks},"b":{bids}}}'
    return f'{{"ch":"orderbook/full","{kind}":{{"BTCUSDT":{book}}}}}'


SNAPSHOT = push(
    "snapshot", 27617207, '[["31500.10","0.6300"],["31500.50","1.2000"]]', '[["31490.00","4.4095"]]'
)
UPDATE = push("update", 27617208, '[["31500.10","0"]]', '[["31495.20","1.5000"]]')
STREAM = (
    ACK, SNAPSHOT, UPDATE,
    push("update", 27617209, "[]", '[["31490.00","0"],["31489.90","2.0000"]]'),
    push("update", 27617210, '[["31499.00","3.1000"]]', "[]"),
)  # fmt: skip
V3 = VenueCase(
    codec=HitBTC,
    symbols=("BTC/USDT",),
    subscribe=(
        '{"method":"subscribe","ch":"orderbook/full","params":{"symbols":["BTCUSDT"]},"id":1}',
    ),
    samples=(
        (ACK, (Subscribed(),)),
        (SNAPSHOT, (snap("BTC/USDT", "31490.00:4.4095", "31500.10:0.6300 31500.50:1.2000",
                         seq=27617207, ts=1626866578803_000000),)),
        (UPDATE, (delta("BTC/USDT", "31495.20:1.5000", "31500.10:0", last=27617208,
                        ts=1626866578804_000000),)),
        # https://api.hitbtc.com/#error-response, code 2001 of the error-code table
        ('{"error":{"code":2001,"message":"Symbol not found","description":"NOPE"},"id":2}',
         (VenueError("2001: Symbol not found NOPE"),)),
        ('{"ch":"trades","update":{"BTCUSDT":[]}}', ()),
    ),
    malformed=(
        "[]", '{"id":1}', '{"result":{"ch":"ticker/1s"},"id":1}', '{"error":"x","id":1}',
        '{"ch":"orderbook/full","data":{}}',
        *(UPDATE.replace(*r) for r in (("BTCUSDT", "ETHBTC"), ('"s":27617208', '"s":-1'),
          ('"s":27617208', '"s":"27617208"'), ('"t":1626866578804', '"t":null'),
          ('"b":[["31495.20","1.5000"]]', '"b":{}'))),
    ),
    frames=STREAM,
    # 1 snapshot, 3 updates each s = the previous s + 1
    replay=Replay(4, 1, 3, 3, tops={"BTC/USDT": (31495.2, 1.5, 31499.0, 3.1)}),
    emulator_symbols=("BTC/USDT",),  # the pushes are keyed by the symbol id
    refusals=(  # https://api.hitbtc.com/#error-codes
        ('{"method":"subscribe","ch":"orderbook/full","params":{"symbols":["NOPE"]},"id":5}',
         '{"error":{"code":2001,"message":"Symbol not found","description":"NOPE"},"id":5}',
         "2001: Symbol not found NOPE"),
        (TRADES, None, f"10001: Validation error unknown method or channel {TRADES}"),
        ('{"method":"subscribe","ch":"orderbook/full","params":{},"id":7}', None,
         "10001: Validation error params.symbols is required"),
    ),
)  # fmt: skip


HITBTC_V2_UPDATE = (
    '{"jsonrpc":"2.0","method":"updateOrderbook","params":{"ask":[],"bid":[{"price":"1.18242",'
    '"size":"0"}],"sequence":7333533,"timestamp":"2021-07-15T03:06:53.347Z","symbol":"EURSUSD"}}'
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
V2_REQUEST = '{{"method":"{}Orderbook","params":{{"symbol":"{}"}},"id":{}}}'


def v2_reader(symbols: tuple[str, ...]) -> Read:
    """API v2 as plain json (https://api.hitbtc.com/api/2/explore/, "Subscribe to orderbook"):
    ``snapshotOrderbook`` replaces the book (resent mid-stream at the sequence reached),
    each ``updateOrderbook``'s ``sequence`` is the previous one + 1, per symbol."""
    named = {s.replace("/", ""): s for s in symbols}

    def read(record: Record, memo: dict[str, Any]) -> list[Event]:
        msg = json.loads(record.data)
        if "result" in msg:
            return [Subscribed()]
        if msg["method"] not in ("snapshotOrderbook", "updateOrderbook"):
            return []  # candles, trades, tickers
        book = msg["params"]
        bids, asks = ([(lv["price"], lv["size"]) for lv in book[k]] for k in ("bid", "ask"))
        ts = (datetime.fromisoformat(book["timestamp"]) - EPOCH) // timedelta(microseconds=1)
        symbol, seq = named[book["symbol"]], book["sequence"]
        if msg["method"] == "snapshotOrderbook":
            return [BookSnapshot(symbol, bids, asks, seq, None, ts * 1000)]
        return [BookDelta(symbol, bids, asks, None, seq, None, None, ts * 1000)]

    return read


def v2(
    codec: type[HitBTCV2], symbols: tuple[str, ...], update: str, delta: BookDelta,
    replay: Replay, counts: Mapping[str, int],
) -> VenueCase:  # fmt: skip
    snapshot = BookSnapshot(
        delta.symbol, delta.bids, delta.asks, delta.last, None, delta.venue_ts_ns
    )
    pairs = [s.replace("/", "") for s in symbols]
    return VenueCase(
        name=f"{codec.venue}-v2",
        codec=codec,
        symbols=symbols,
        # the recorded requests, with our own ids
        subscribe=tuple(V2_REQUEST.format("subscribe", p, n) for n, p in enumerate(pairs, 1)),
        samples=(*V2_CONTROL, (update, (delta,)),
                 (update.replace("updateOrderbook", "snapshotOrderbook"), (snapshot,))),
        malformed=(
            '{"jsonrpc":"2.0"}', update.replace('"params":{', '"params":[{').replace("}}", "}]}"),
            *(update.replace(*r) for r in (('"sequence":', '"sequence":-'), ('"price"', '"px"'),
              ('"timestamp":"2021', '"timestamp":"x2021'), ('"bid":', '"bid":[["1","2"]],"x":'),
              ('"bid":', '"bid":{},"x":'), ('"symbol":"', '"symbol":"X'))),
        ),
        recording=f"{codec.venue}.ndjson.gz",
        replay=replay,
        emulated=False,
        model=Model(v2_reader(symbols), counts),
    )  # fmt: skip


V2_CONTROL = (
    ('{"jsonrpc":"2.0","result":true,"id":"HITBTC.ws.1"}', (Subscribed(),)),
    ('{"jsonrpc":"2.0","method":"ticker","params":{"ask":"1.19500","bid":"1.19000",'
     '"timestamp":"2021-07-15T03:06:44.273Z","symbol":"EURSUSD"}}', ()),
    ('{"jsonrpc":"2.0","error":{"code":2001,"message":"Symbol not found",'
     '"description":"Try get /api/2/public/symbol"},"id":123}',
     (VenueError("2001: Symbol not found Try get /api/2/public/symbol"),)),
)  # fmt: skip
BEQUANT_V2_UPDATE = (
    '{"jsonrpc":"2.0","method":"updateOrderbook","params":{"ask":[{"price":"0.07649",'
    '"size":"0"}],"bid":[],"sequence":7339897,"timestamp":"2021-07-03T00:56:18.317Z",'
    '"symbol":"MKRBTC"}}'
)
CASES = (
    V3,
    replace(V3, codec=Bequant),
    # 2 snapshots a symbol (the second resent mid-stream at the last sequence), 99 updates
    # each continuing its symbol's sequence.
    v2(HitBTCV2, ("ORN/BTC", "INSUR/BTC", "EURS/USD"), HITBTC_V2_UPDATE,
       BookDelta("EURS/USD", [("1.18242", "0")], [], last=7333533,
                 venue_ts_ns=1626318413347_000000),
       Replay(105, 6, 99, 99, tops={
           "ORN/BTC": (0.00014955, 0.8, 0.00015116, 2.27),
           "INSUR/BTC": (3.2406e-05, 46.28, 3.877e-05, 236.63),
           "EURS/USD": (1.19, 31643.41, 1.195, 88716.66)}),
       {"BookSnapshot": 6, "BookDelta": 99, "no event": 12}
       | {"applied": 99, "continued": 99, "removed": 259}),
    # 1 snapshot a symbol, 138 updates each continuing its symbol's sequence
    v2(BequantV2, ("ETH/DAI", "MKR/BTC", "BTC/EURS"), BEQUANT_V2_UPDATE,
       BookDelta("MKR/BTC", [], [("0.07649", "0")], last=7339897,
                 venue_ts_ns=1625273778317_000000),
       Replay(141, 3, 138, 138, tops={
           "ETH/DAI": (2137.049, 0.1619, 2141.927, 0.1662),
           "MKR/BTC": (0.07612, 0.0037, 0.07626, 0.1216),
           "BTC/EURS": (27477.96, 3e-05, 27841.39, 0.06255)}),
       {"BookSnapshot": 3, "BookDelta": 138, "no event": 11}
       | {"applied": 138, "continued": 138, "removed": 230}),
)  # fmt: skip
# the unsubscribe's id after the subscribe's; no ping: the WebSocket protocol's keeps it alive
FRAMES_OUT = (
    FramesOut(V3, ('{"method":"unsubscribe","ch":"orderbook/full","params":{"symbols":["BTCUSDT"]},'
                   '"id":2}',), None),
    FramesOut(CASES[2], tuple(V2_REQUEST.format("unsubscribe", s, n)
                              for n, s in ((4, "ORNBTC"), (5, "INSURBTC"), (6, "EURSUSD"))), None),
)  # fmt: skip
