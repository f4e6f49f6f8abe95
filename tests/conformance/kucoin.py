"""KuCoin: the 2021 recording (nine symbols, REST snapshots from the full-depth endpoint of
the time: its own codec, ``KuCoin2021``) and today's protocol from the documented examples
(https://www.kucoin.com/docs-new/3470068w0), which the emulator speaks."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, Heartbeat, Subscribed, VenueError
from feeds.venues.kucoin import KuCoin, KuCoin2021
from tests.conformance import Replay, VenueCase, delta
from tests.reference import Model

BASES = ("BCHSV/USDT", "SNX/BTC", "CAPP/BTC", "ANKR/BTC", "FET/BTC", "DAPPT/BTC", "NRG/BTC")
SYMBOLS = (*BASES, "COV/BTC", "EQZ/BTC")
L2 = '{"topic":"/market/level2:%s","type":"message","subject":"trade.l2update","data":%s}'
RECORDED = (
    '{"data":{"sequenceStart":1613277183875,"symbol":"BCHSV-USDT","changes":{"asks":'
    '[["244.351","150","1613277183875"]],"bids":[]},"sequenceEnd":1613277183875},'
    '"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}'
)
DOCS = L2 % ("BTC-USDT", '{"changes":{"asks":[["67993.3","1.21427407","14701689783"]],'
             '"bids":[["0","0","14701689784"]]},"sequenceEnd":14701689784,'
             '"sequenceStart":14701689783,"symbol":"BTC-USDT","time":1729816425625}')  # fmt: skip
SEQ, DOCS_SEQ, DOCS_TS = 1613277183875, 14701689783, 1729816425625_000000
DOCS_ASK = "67993.3:1.21427407:14701689783"
CONTROL = (
    ('{"id":"NSkIrWGB1s","type":"welcome"}', (Heartbeat(),)),
    ('{"id":"1","type":"ack"}', (Subscribed(),)),
    ('{"id":"4","type":"pong"}', (Heartbeat(),)),
    ('{"id":1,"type":"error","code":404,"data":"topic x is not found"}',
     (VenueError("404: topic x is not found"),)),
    ('{"data":{"sequence":"1612844051653","bestAsk":"0.00028717","bestBid":"0.00028678"},'
     '"subject":"trade.ticker","topic":"/market/ticker:SNX-BTC","type":"message"}', ()),
)  # fmt: skip
MALFORMED = (
    "",
    "[]",
    '{"type":"hello"}',
    '{"type":"message","subject":"trade.l2update"}',
    L2 % ("ETH-USDT", '{"symbol":"ETH-USDT","changes":{}}'),  # not subscribed
    L2 % ("BTC-USDT", '{"symbol":"BTC-USDT","changes":{},"sequenceStart":3,"sequenceEnd":2}'),
    L2 % ("BTC-USDT", '{"symbol":"BTC-USDT","changes":{"bids":{},"asks":[]},'
          '"sequenceStart":1,"sequenceEnd":2}'),
    L2 % ("BTC-USDT", '{"symbol":"BTC-USDT","changes":{"bids":[]},"sequenceStart":1,'
          '"sequenceEnd":2}'),
    L2 % ("BTC-USDT", '{"symbol":"BTC-USDT","changes":{"bids":[],"asks":[]},'
          '"sequenceStart":1,"sequenceEnd":true}'),
    L2 % ("BTC-USDT", '{"symbol":"BTC-USDT","changes":{"bids":[],"asks":[]},'
          '"sequenceStart":1,"sequenceEnd":2,"time":"x"}'),
)  # fmt: skip


def subscribe(ids: str) -> str:
    return f'{{"id":1,"type":"subscribe","topic":"/market/level2:{ids}","response":true}}'


def read(record: Record, memo: dict[str, Any]) -> list[Event]:
    """KuCoin's 2021 messages as plain json: a REST body is the book at ``sequence``; an
    l2update is the range ``sequenceStart``..``sequenceEnd``, each change carrying its own
    sequence (only the changes after the book's sequence apply; price "0": a sequence alone);
    welcome and ack frames."""
    msg = json.loads(record.data)
    if record.dir == "rest":
        symbol = record.url.split("symbol=")[1].split("&")[0].replace("-", "/")
        body = msg["data"]
        ts = body["time"] * 10**6
        return [BookSnapshot(symbol, body["bids"], body["asks"], int(body["sequence"]), None, ts)]
    if msg["type"] != "message":
        return [Subscribed() if msg["type"] == "ack" else Heartbeat()]  # welcome
    if msg["subject"] != "trade.l2update":
        return []  # ticker, match
    d = msg["data"]
    bids, asks = ([c for c in d["changes"][k] if c[0] != "0"] for k in ("bids", "asks"))
    symbol = d["symbol"].replace("-", "/")
    return [BookDelta(symbol, bids, asks, d["sequenceStart"], d["sequenceEnd"])]


RECORDING = VenueCase(
    name="kucoin-2021",
    codec=KuCoin2021,
    symbols=SYMBOLS,
    subscribe=(subscribe(",".join(s.replace("/", "-") for s in SYMBOLS)),),
    samples=(
        (RECORDED, (delta("BCHSV/USDT", "", "244.351:150:1613277183875", first=SEQ, last=SEQ),)),
        *CONTROL,
    ),
    malformed=MALFORMED,
    recording="kucoin.ndjson.gz",
    # 9 REST snapshots; 3853 l2updates: 48 older than their snapshot, 3805 continue it. The
    # tops are the venue's own last ticker of each symbol, and the independent model's.
    replay=Replay(
        messages=3814,
        snapshots=9,
        deltas=3853,
        checks=3805,
        older=48,
        tops={
            "BCHSV/USDT": (243.216, 4.51280965, 243.457, 4.51280965),
            "SNX/BTC": (0.00028678, 0.19100065, 0.00028745, 28.09015128),
            "CAPP/BTC": (2.181e-07, 83.07, 2.195e-07, 270.17),
            "ANKR/BTC": (2.6019e-06, 5007.0112, 2.6208e-06, 14696.646),
            "FET/BTC": (7.71e-06, 357.2953, 7.76e-06, 1141.8325),
            "DAPPT/BTC": (1.12e-07, 5148.7223, 1.13e-07, 1208.0878),
            "NRG/BTC": (6.14e-05, 18.897, 6.218e-05, 43.3399),
            "COV/BTC": (1.121e-05, 49.6422, 1.127e-05, 4331.68226035),
            "EQZ/BTC": (2.383e-05, 20.5373, 2.395e-05, 72.1515),
        },
    ),
    # the first delta past its symbol's snapshot (NRG/BTC) once every symbol is usable: the
    # earlier ones are older than the snapshots this check answers at once
    gap=533,
    emulated=False,  # its snapshot endpoint is keyed today
    model=Model(
        read,
        {"BookSnapshot": 9, "BookDelta": 3853, "Subscribed": 13, "Heartbeat": 1}
        | {"no event": 854, "dropped": 48, "continued": 3805, "applied": 3805, "removed": 1073},
        drop_at_id=True,
        change_seq=True,
    ),
)

TODAY = VenueCase(
    codec=KuCoin,
    symbols=("BTC/USDT",),
    subscribe=(subscribe("BTC-USDT"),),
    samples=(
        (DOCS, (delta("BTC/USDT", "", DOCS_ASK, first=DOCS_SEQ, last=DOCS_SEQ + 1, ts=DOCS_TS),)),
        *CONTROL,
    ),
    malformed=MALFORMED,
    wire=(DOCS,),
    rest_errors=((b'{"code":"400100","msg":"symbol not exists"}', "400100"),),
)

CASES = (RECORDING, TODAY)
