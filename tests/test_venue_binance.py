"""Binance / Binance.US quirks: requests and URLs. (Samples, malformed frames, REST errors,
fuzzing, the replay's figures, resync, the emulator: tests/conformance/binance*.py; every
recorded message against the independent model, whose rule and final tops, and the session
after every message: tests/test_reference.py; levels the book refuses: tests/test_book.py.)"""

from __future__ import annotations

from feeds.protocol import RestRequest
from feeds.venues.binance import Binance, BinanceUS


def test_subscribe_frames_and_urls() -> None:
    codec = Binance(["BTC/USDT", "ETH/BTC"])
    assert codec.subscribe_frames(["BTC/USDT", "ETH/BTC"]) == [
        '{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","ethbtc@depth@100ms"],"id":1}'
    ]
    assert codec.subscribe_frames(["ETH/BTC"]) == [
        '{"method":"SUBSCRIBE","params":["ethbtc@depth@100ms"],"id":2}'
    ]
    assert codec.subscribe_frames([]) == []
    assert codec.unsubscribe_frames(["ETH/BTC"]) == []
    assert codec.ws_url("") == "wss://stream.binance.com:9443/ws"
    assert codec.ws_url("ws://127.0.0.1:8765/") == "ws://127.0.0.1:8765/ws"
    assert codec.ws_url("ws://127.0.0.1:8765/stream") == "ws://127.0.0.1:8765/stream"
    url = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=100"
    assert codec.snapshot_request("BTC/USDT", "", 20) == RestRequest(url, "BTC/USDT", 5)
    url = "http://127.0.0.1:9/api/v3/depth?symbol=ZRXUSDT&limit=100"
    us = BinanceUS(["ZRX/USDT"]).snapshot_request("ZRX/USDT", "http://127.0.0.1:9/", 20)
    assert us == RestRequest(url, "ZRX/USDT", 1)
