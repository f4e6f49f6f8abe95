"""Binance.US: the 2021 recording (four symbols over a combined stream, REST snapshots)."""

from __future__ import annotations

from feeds.venues.binance import BinanceUS
from tests.conformance import Replay, VenueCase, delta
from tests.conformance.binance import TS, limit_100, reader
from tests.reference import Model

DELTA = (
    '{"stream":"zrxusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998512068,'
    '"s":"ZRXUSDT","U":7,"u":9,"b":[["0.99470000","307.93000000"]],"a":[]}}'
)

SYMBOLS = ("CRV/USDT", "COMP/USDT", "OMG/BUSD", "ZRX/USDT")

CASE = VenueCase(
    codec=BinanceUS,
    symbols=SYMBOLS,
    subscribe=('{"method":"SUBSCRIBE","params":["crvusdt@depth@100ms","compusdt@depth@100ms",'
               '"omgbusd@depth@100ms","zrxusdt@depth@100ms"],"id":1}',),
    samples=((DELTA, (delta("ZRX/USDT", "0.99470000:307.93000000", "", first=7, last=9, ts=TS),)),),
    malformed=('{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[],"a":[]}',),
    recording="binanceus.ndjson.gz",
    # 4 REST snapshots; 336 diffs: 4 bridge their snapshot, 332 continue.
    replay=Replay(340, 4, 336, 336, tops={
        "CRV/USDT": (2.643, 1889.6, 2.648, 2026.9),
        "COMP/USDT": (296.92, 16.81835, 297.46, 2.9),
        "OMG/BUSD": (13.7307, 91.95, 13.7728, 72.96),
        "ZRX/USDT": (0.9947, 307.93, 0.9978, 7119.69),
    }),
    emulator_path="/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms",
    exact_decimals=True,
    model=Model(reader(SYMBOLS), {"BookSnapshot": 4, "BookDelta": 336, "no event": 144}
                | {"bridged": 4, "continued": 332, "applied": 336, "removed": 272, "absent": 9},
                rest_url=limit_100),
)  # fmt: skip
