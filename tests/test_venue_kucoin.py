"""KuCoin's quirks (samples, fuzzing, the 2021 replay and its codec, the emulator round trip:
tests/conformance/kucoin.py): the docs' calibration example (only changes above the
snapshot's sequence apply), the bullet answer, and over sockets a new token per connection."""

from __future__ import annotations

import asyncio
import json

import httpx
import orjson
import pytest
from hypothesis import given

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.venues.kucoin import KuCoin as EmulatedKuCoin
from feeds.actions import FetchSnapshot
from feeds.protocol import ParseError, RestRequest
from feeds.session import FeedSession
from feeds.venues.kucoin import KuCoin
from tests.fuzzing import fuzz_settings
from tests.test_venue_rules_e2e import T0, Feed, stepped, until
from tests.venue_helpers import ARBITRARY_INPUT, LastBook, mutated

# https://www.kucoin.com/docs-new/3470068w0
DOCS_DELTA = json.loads(
    '{"topic":"/market/level2:BTC-USDT","type":"message","subject":"trade.l2update","data":'
    '{"changes":{"asks":[["3988.59","3","16"],["3988.61","0","19"],["3988.62","8","15"]],'
    '"bids":[["3988.50","44","18"]]},"sequenceEnd":19,"sequenceStart":15,"symbol":"BTC-USDT",'
    '"time":1729816425625}}'
)
DOCS_SNAPSHOT = json.loads(
    '{"code":"200000","data":{"sequence":"16","time":1729816425000,"asks":[["3988.59","3"],'
    '["3988.60","47"],["3988.61","32"],["3988.62","8"]],"bids":[["3988.51","56"],'
    '["3988.50","15"],["3988.49","100"],["3988.48","10"]]}}'
)
BULLET = json.loads(
    '{"code":"200000","data":{"token":"2neAiuYvAU61ZDXANAGA","instanceServers":[{"endpoint":'
    '"wss://ws-api-spot.kucoin.com/","encrypt":true,"protocol":"websocket","pingInterval":18000,'
    '"pingTimeout":10000}]}}'
)


def synced(seq: int = 16) -> tuple[FeedSession, dict[str, LastBook]]:
    legs = {"BTC/USDT": LastBook()}
    session = FeedSession(KuCoin(["BTC/USDT"]), legs.__getitem__, lambda *a: None)
    session.opened(T0)
    body = DOCS_SNAPSHOT | {"data": DOCS_SNAPSHOT["data"] | {"sequence": str(seq)}}
    session.snapshot("BTC/USDT", orjson.dumps(body), T0)
    return session, legs


def test_docs_calibration_example_applies_only_changes_above_the_snapshot() -> None:
    # snapshot sequence 16; of the message 15..19 the changes 15 and 16 are ignored, 18
    # updates 3988.50 to 44, 19 removes 3988.61
    session, legs = synced()
    assert session.frame(json.dumps(DOCS_DELTA), T0) == []
    assert legs["BTC/USDT"].top == (
        [3988.51, 3988.50, 3988.49, 3988.48],
        [56, 44, 100, 10],
        [3988.59, 3988.60, 3988.62],
        [3, 47, 8],
    )
    # a message ending at the book's sequence is older; a bad change sequence resyncs
    older, _ = synced(19)
    older.frame(json.dumps(DOCS_DELTA), T0)
    assert (older.stats.older, older.stats.book_msgs) == (1, 1)
    bad = json.dumps(DOCS_DELTA).replace('"15"]', '"x"]')
    assert synced()[0].frame(bad, T0) == [
        FetchSnapshot(KuCoin(["BTC/USDT"]).snapshot_request("BTC/USDT", "", 20))
    ]


def test_the_bullet_answer_names_the_url_and_the_ping_interval() -> None:
    codec = KuCoin(["BTC/USDT", "ETH/USDT"])
    assert codec.connect_request("") == RestRequest(
        "https://api.kucoin.com/api/v1/bullet-public", "", 10, "POST"
    )
    assert codec.connect_url(orjson.dumps(BULLET)) == (
        "wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61ZDXANAGA&connectId=1"
    )
    assert codec.ping_interval_s == 18.0
    assert codec.unsubscribe_frames(["ETH/USDT"])[0].startswith('{"id":2,"type":"unsubscribe"')
    assert codec.ping_frame() == '{"id":"3","type":"ping"}'
    assert codec.snapshot_request("BTC/USDT", "http://127.0.0.1:9/", 50).url == (
        "http://127.0.0.1:9/api/v1/market/orderbook/level2_100?symbol=BTC-USDT"
    )
    assert codec.venue_symbol("WAXP/USDT") == "WAX-USDT"
    for body in (b'{"code":"400100","msg":"bad"}', orjson.dumps(BULLET).replace(b"endpoint", b"e")):
        with pytest.raises(ParseError):
            codec.connect_url(body)


@fuzz_settings(200)
@given(mutated([BULLET]) | ARBITRARY_INPUT)
def test_fuzz_bullet_answers(body: str | bytes) -> None:
    codec = KuCoin(["BTC/USDT"])
    try:
        url = codec.connect_url(body.encode() if isinstance(body, str) else body)
    except ParseError:
        return
    assert "/?token=" in url and codec.ping_interval_s is not None


def test_each_connection_asks_a_new_token_and_a_refused_ask_is_retried() -> None:
    seen: list[tuple[int, int, int]] = []

    async def steps(emu: Emulator, f: Feed) -> None:
        venue, first = emu.venue("kucoin"), f.runner.session
        assert isinstance(venue, EmulatedKuCoin) and first is not None
        emu.inject("kucoin", "rest_error", status=500)  # the next bullet fails
        emu.inject("kucoin", "disconnect")
        await until(lambda: f.runner.stats.connects == 2 and f.runner.session is not first)
        emu.step(1)
        await until(lambda: f.synced(emu, "kucoin"))
        seen.append((f.runner.stats.refused, f.runner.stats.snapshot_fetches, len(venue.tokens)))
        async with httpx.AsyncClient() as http:  # the bullet is POST only
            got = await http.get(emu.rest_url("kucoin") + "/api/v1/bullet-public")
        seen.append((emu.rest_requests("kucoin"), got.status_code, 0))

    market = MarketConfig(
        venues=("kucoin",), symbols=("BTC/USDT", "ETH/USDT"), seed=4, dislocations_per_min=0
    )
    f = asyncio.run(stepped(EmulatorConfig(market=market, autorun=False), "kucoin", steps))
    # a token, two snapshots; a refused bullet; a new token and two snapshots: 3 bullets + 4
    # snapshots served
    assert seen == [(1, 4, 2), (7, 405, 0)]
    assert [s for s, _ in f.states] == [
        "connecting", "syncing", "live", "down", "connecting", "down", "connecting", "syncing",
        "live", "down",
    ]  # fmt: skip
    assert str(f.states[5][1]).endswith("/api/v1/bullet-public: HTTP 500")
