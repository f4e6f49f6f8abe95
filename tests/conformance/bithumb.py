"""Bithumb's public stream: Upbit's protocol with the DEFAULT keys, on frames written as its
documentation describes them (https://apidocs.bithumb.com/reference/기본-정보)."""

from __future__ import annotations

from feeds.protocol import BookSnapshot, Heartbeat
from feeds.venues.bithumb import Bithumb
from tests.conformance import FramesOut, Replay, VenueCase

BITHUMB_BOOK = (
    b'{"type":"orderbook","code":"KRW-BTC","timestamp":1730000000123,"total_ask_size":0.5,'
    b'"total_bid_size":0.75,"orderbook_units":[{"ask_price":99000000.0,"bid_price":98990000.0,'
    b'"ask_size":0.5,"bid_size":0.75}],"stream_type":"REALTIME"}'
)
CASE = VenueCase(
    codec=Bithumb,
    symbols=("BTC/KRW",),
    subscribe=(
        '[{"ticket":"arbscan"},{"type":"orderbook","codes":["KRW-BTC"]},{"format":"DEFAULT"}]',
    ),
    samples=(
        (
            BITHUMB_BOOK,
            (
                BookSnapshot(
                    "BTC/KRW",
                    [(98990000.0, 0.75)],
                    [(99000000.0, 0.5)],
                    venue_ts_ns=1_730_000_000_123_000_000,
                ),
            ),
        ),
        ('{"status":"UP"}', (Heartbeat(),)),
    ),
    malformed=("", "{}", BITHUMB_BOOK.replace(b'"total_ask_size":0.5', b'"total_ask_size":0.6')),
    frames=(BITHUMB_BOOK.decode(),),
    replay=Replay(
        messages=1,
        snapshots=1,
        deltas=0,
        checks=0,
        tops={"BTC/KRW": (98990000.0, 0.75, 99000000.0, 0.5)},
    ),
    emulator_symbols=("BTC/USDT", "ETH/USDT"),
    wire=(BITHUMB_BOOK.decode(),),
)

FRAMES_OUT = FramesOut(CASE, (), None)  # no application ping documented
