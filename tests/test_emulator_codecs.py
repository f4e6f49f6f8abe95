"""The emulator's frames and the project's codecs (sans-I/O): refused subscriptions are venue
errors, frames are deterministic under a seed, and golden frames pin each venue's exact text.
(Each codec rebuilding the emulator's book after every step: tests/test_conformance.py.)"""

from __future__ import annotations

from decimal import Decimal

from emulator.venues.base import Out
from feeds.protocol import (
    VenueError,
)
from feeds.venues import codec_class
from tests.test_emulator_wire import PATHS, T0, harness, step

Top = tuple[list[tuple[Decimal, Decimal]], ...]


def emulated_run(name: str, seed: int, steps: int) -> list[str]:
    """Every frame a session sends for the codec's subscribe and ``steps`` market steps."""
    symbols = ("BTC/USDT", "ETH/USDT")
    model, venue, session = harness(name, PATHS[name], symbols=symbols, seed=seed)
    sent = [o.frame for o in session.opened(T0)]
    for request in codec_class(name)(symbols).subscribe_frames(symbols):
        sent += [o.frame for o in session.received(request, T0)]
    for _ in range(steps):
        sent += step(model, venue, session)
    return sent


def test_frames_are_deterministic_under_a_seed() -> None:
    for name in PATHS:
        first = emulated_run(name, seed=11, steps=8)
        again = emulated_run(name, seed=11, steps=8)
        other = emulated_run(name, seed=12, steps=8)
        assert first == again, name
        assert first != other, name


def golden_frames(name: str) -> list[str]:
    """A two-level BTC/USDT book (seed 1): what the codec's subscribe gets, then one step."""
    model, venue, session = harness(name, PATHS[name], depth=2)
    request = codec_class(name)(["BTC/USDT"]).subscribe_frames(["BTC/USDT"])[0]
    out = [o.frame for o in session.opened(T0)] + [o.frame for o in session.received(request, T0)]
    return out + step(model, venue, session)


GOLDEN = {
    "binance": [
        '{"result":null,"id":1}',
        '{"e":"depthUpdate","E":1795000000100,"s":"BTCUSDT","U":3364503139,"u":3364503144,"b":[["59995.50000000","0.00000000"],["59991.06000000","0.38423000"]],"a":[["59999.94000000","0.25234000"],["60004.38000000","0.00000000"]]}',
    ],
    "okx": [
        '{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"00000001"}',
        '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["60005","0.45250825","0","8"],["60007.2","0.4966883","0","11"]],"bids":[["59996.2","0.10224926","0","8"],["59994","0.43395302","0","15"]],"ts":"1795000000000","checksum":-675380614,"prevSeqId":-1,"seqId":1380041110}]}',
        '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["60002.8","0.1243285","0","21"],["60007.2","0","0","0"]],"bids":[],"ts":"1795000000100","checksum":892509269,"prevSeqId":1380041110,"seqId":1380041151}]}',
    ],
    "bybit": [
        '{"success":true,"ret_msg":"subscribe","conn_id":"emu-1-1","req_id":"","op":"subscribe"}',
        '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1795000000000,"data":{"s":"BTCUSDT","b":[["59995.50","0.226162"],["59993.28","1.551005"]],"a":[["60004.38","0.288452"],["60006.60","0.237339"]],"u":7216054,"seq":38076532358},"cts":1794999999992}',
        '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1795000000100,"data":{"s":"BTCUSDT","b":[["59993.28","0.358535"]],"a":[],"u":7216055,"seq":38076532530},"cts":1795000000092}',
    ],
    "coinbase": [
        '{"channel":"subscriptions","client_id":"","timestamp":"2026-11-18T11:06:40Z","sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USDT"]}}]}',
        '{"channel":"l2_data","client_id":"","timestamp":"2026-11-18T11:06:40Z","sequence_num":1,"events":[{"type":"snapshot","product_id":"BTC-USDT","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"59993.28","new_quantity":"0.21980722"},{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"59991.06","new_quantity":"0.67434477"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"60004.38","new_quantity":"0.59140944"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"60006.6","new_quantity":"0.09538542"}]}]}',
    ],
    "htx": [  # no snapshot pushed: it is asked for (req) once the pushes flow
        '{"id":"btcusdt","status":"ok","subbed":"market.btcusdt.mbp.150","ts":1795000000000}',
        '{"ch":"market.btcusdt.mbp.150","ts":1795000000100,"tick":{"seqNum":221232259681,"prevSeqNum":221232259648,"bids":[[59996.2,0],[59991.8,0.533036]],"asks":[[60007.2,0.880236],[60011.6,0]]}}',
    ],
    "bitstamp": [
        '{"event":"bts:subscription_succeeded","channel":"diff_order_book_btcusdt","data":{}}',
        '{"data":{"timestamp":"1795000000","microtimestamp":"1795000000100000","bids":[["59994.0","0.00000000"],["59989.6","1.25993842"]],"asks":[["60007.2","0.26569758"],["60011.6","0.00000000"]]},"channel":"diff_order_book_btcusdt","event":"data"}',
    ],
    "kraken": [
        '{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":15113583034416118706}]}',
        '{"method":"subscribe","req_id":1,"result":{"channel":"book","depth":25,"snapshot":true,"symbol":"BTC/USDT"},"success":true,"time_in":"2026-11-18T11:06:40.000000Z","time_out":"2026-11-18T11:06:40.000000Z"}',
        '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USDT","bids":[{"price":59991.8,"qty":0.37293883},{"price":59989.6,"qty":1.10801999}],"asks":[{"price":60005.0,"qty":1.14751655},{"price":60007.2,"qty":0.15120023}],"checksum":2261026535}]}',
        '{"channel":"book","type":"update","data":[{"symbol":"BTC/USDT","bids":[{"price":59994.0,"qty":0.09808860},{"price":59989.6,"qty":0.00000000}],"asks":[{"price":60005.0,"qty":0.00000000},{"price":60007.2,"qty":0.00000000},{"price":60009.4,"qty":0.65679939},{"price":60011.6,"qty":0.50997094}],"checksum":2606502251,"timestamp":"2026-11-18T11:06:40.100000Z"}]}',
    ],
}


def test_refused_subscriptions_are_venue_errors_for_the_codec() -> None:
    requests = {
        "okx": '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-NOPE"}]}',
        "bybit": '{"op":"subscribe","args":["orderbook.50.BTCNOPE"]}',
        "coinbase": '{"type":"subscribe","product_ids":["BTC-NOPE"],"channel":"level2"}',
        "kraken": '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/NOPE"]}}',
        "bitstamp": '{"event":"bts:subscribe","data":{"channel":"diff_order_book_btcnope"}}',
    }
    messages = {
        "okx": "error 60018: Wrong URL or channel:books,instId:BTC-NOPE doesn't exist.",
        "bybit": "subscribe: error:handler not found,topic:orderbook.50.BTCNOPE",
        "coinbase": "Failure to subscribe",
        "kraken": "subscribe: Currency pair not supported BTC/NOPE",
        "bitstamp": "None: Bad subscription string.",
    }
    for name, request in requests.items():
        _, _, session = harness(name, PATHS[name])
        (reply,) = session.received(request, T0)
        assert codec_class(name)(["BTC/USDT"]).parse(reply.frame) == [VenueError(messages[name])], (
            name
        )
    # Binance accepts any stream name and sends nothing for an unknown one
    _, _, session = harness("binance", "/ws")
    request = '{"method":"SUBSCRIBE","params":["btcnope@depth@100ms"],"id":3}'
    assert session.received(request, T0) == [Out('{"result":null,"id":3}')]


def test_golden_frames_pin_every_venue_format() -> None:
    for name, frames in GOLDEN.items():
        assert golden_frames(name) == frames, name
