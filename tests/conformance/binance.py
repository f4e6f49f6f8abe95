"""Binance spot: the 2021 recording (four symbols over a combined stream, REST snapshots),
Binance's documented control frames."""

from __future__ import annotations

import json
from typing import Any

from feeds.capture import Record
from feeds.protocol import BookDelta, BookSnapshot, Event, PlannedClose, Subscribed, VenueError
from feeds.venues.binance import Binance
from tests.conformance import Replay, VenueCase, delta
from tests.reference import Model, Read

FIRST_RECORDED = (
    '{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998512068,'
    '"s":"NKNUSDT","U":499869750,"u":499869752,"b":[["0.35130000","6195.00000000"],'
    '["0.34750000","5548.00000000"],["0.34640000","6222.00000000"]],"a":[]}}'
)

NKN = "0.35130000:6195.00000000 0.34750000:5548.00000000 0.34640000:6222.00000000"
TS = 1633998512068_000000


def limit_100(url: str) -> str:
    """The snapshot covers the 20 levels kept at weight 5 where the recording asked 1000."""
    return url.replace("limit=1000", "limit=100")


def reader(symbols: tuple[str, ...]) -> Read:
    """Binance's messages as plain json: a REST body is the book at ``lastUpdateId``; a
    ``@depth`` event (in a combined stream's envelope) a diff ``U``..``u`` at ``E`` ms."""
    ids = {s.replace("/", ""): s for s in symbols}

    def read(record: Record, memo: dict[str, Any]) -> list[Event]:
        msg = json.loads(record.data)
        if record.dir == "rest":
            symbol = ids[record.url.split("symbol=")[1].split("&")[0]]
            return [BookSnapshot(symbol, msg["bids"], msg["asks"], seq=msg["lastUpdateId"])]
        if not msg["stream"].endswith("@depth@100ms"):
            return []  # bookTicker, aggTrade, kline
        d = msg["data"]
        return [BookDelta(ids[d["s"]], d["b"], d["a"], d["U"], d["u"], venue_ts_ns=d["E"] * 10**6)]

    return read


SYMBOLS = ("NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR")
FIRST = delta("NKN/USDT", NKN, "", first=499869750, last=499869752, ts=TS)
SAMPLES = (
    (FIRST_RECORDED, (FIRST,)),
    (json.dumps(json.loads(FIRST_RECORDED)["data"]), (FIRST,)),  # a raw /ws connection's
    ('{"result":null,"id":1}', (Subscribed(),)),
    ('{"result":["btcusdt@depth@100ms"],"id":3}', ()),
    ('{"code":0,"msg":"Unknown property","id":1}', (VenueError("0: Unknown property"),)),
    (b'{"error":{"code":2,"msg":"Invalid request"},"id":4}', (VenueError("2: Invalid request"),)),
    ('{"u":400900217,"s":"NKNUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}', ()),
    ('{"e":"aggTrade","E":1,"s":"NKNUSDT"}', ()),
    # websocket-api/connection-events, and the bare event
    ('{"event":{"e":"serverShutdown","E":1770123456789}}', (PlannedClose("serverShutdown"),)),
    (b'{"e":"serverShutdown","E":1770123456789}', (PlannedClose("serverShutdown"),)),
)
UPDATE, EMPTY = '{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,', '"b":[],"a":[]}'
MALFORMED = (
    "", "[]", '{"hello":1}', '{"stream":"nknusdt@depth@100ms","data":[]}',
    '{"stream":"nknusdt@depth@100ms","data":{"e":"kline"}}',
    UPDATE.replace("NKNUSDT", "ETHUSDT") + EMPTY,  # not subscribed
    UPDATE.replace('"U":1', '"U":3') + EMPTY, UPDATE.replace('"U":1', '"U":true') + EMPTY,
    UPDATE + '"E":-1,' + EMPTY, UPDATE + '"b":{},"a":[]}', UPDATE + '"b":[]}',
)  # fmt: skip
# 4 REST snapshots; 177 diffs: 1 older than its snapshot, 4 bridge it, 172 continue.
REPLAY = Replay(180, 4, 177, 176, older=1, tops={
    "NKN/USDT": (0.3527, 9602.0, 0.3531, 152.0),
    "BLZ/ETH": (6.547e-05, 100.0, 6.56e-05, 1528.0),
    "LRC/BTC": (6.37e-06, 2500.0, 6.38e-06, 2285.0),
    "RUNE/EUR": (6.251, 69.3, 6.269, 69.3),
})  # fmt: skip

CASE = VenueCase(
    codec=Binance,
    symbols=SYMBOLS,
    # The recording subscribed by URL (a combined stream); this is the SUBSCRIBE request.
    subscribe=('{"method":"SUBSCRIBE","params":["nknusdt@depth@100ms","blzeth@depth@100ms",'
               '"lrcbtc@depth@100ms","runeeur@depth@100ms"],"id":1}',),
    samples=SAMPLES,
    malformed=MALFORMED,
    recording="binance.ndjson.gz",
    replay=REPLAY,
    emulator_path="/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms",
    exact_decimals=True,
    rest_errors=((b'{"code":-1121,"msg":"Invalid symbol."}', "Invalid symbol."),),
    # no event: bookTicker, aggTrade, kline; removed/absent: deletes of a level held, of none
    model=Model(reader(SYMBOLS), {"BookSnapshot": 4, "BookDelta": 177, "no event": 88}
                | {"dropped": 1, "bridged": 4, "continued": 172, "applied": 176}
                | {"removed": 33, "absent": 2}, rest_url=limit_100),
)  # fmt: skip
