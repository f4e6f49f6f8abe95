"""KuCoin's quirks (the recording, samples, fuzzing, replay figures and the emulator round
trip are the conformance suite's: tests/conformance/kucoin.py): the docs' calibration example
(only changes above the snapshot's sequence apply), the bullet answer, the 2021 recording
replayed with its own snapshot requests, and the feed against the emulator over sockets
(a gap, a refused bullet, a new token on reconnecting)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.venues.kucoin import KuCoin as EmulatedKuCoin
from feeds.actions import FetchSnapshot
from feeds.capture import read_capture
from feeds.protocol import BookDelta, ParseError, RestRequest
from feeds.session import FeedSession
from feeds.venues import replay_codec_class
from feeds.venues.kucoin import KuCoin, KuCoin2021
from tests.fuzzing import fuzz_settings
from tests.test_venue_rules_e2e import T0, Feed, stepped, until
from tests.venue_helpers import ARBITRARY_INPUT, LastBook, mutated

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "kucoin.ndjson.gz"))
BTC_BASES = ("SNX", "CAPP", "ANKR", "FET", "DAPPT", "NRG", "COV", "EQZ")
SYMBOLS = ("BCHSV/USDT", *(f"{b}/BTC" for b in BTC_BASES))
L2 = "trade.l2update"


# -- the docs' examples -----------------------------------------------------------------

DOCS_DELTA: dict[str, Any] = {
    "topic": "/market/level2:BTC-USDT",
    "type": "message",
    "subject": L2,
    "data": {
        "changes": {
            "asks": [["3988.59", "3", "16"], ["3988.61", "0", "19"], ["3988.62", "8", "15"]],
            "bids": [["3988.50", "44", "18"]],
        },
        "sequenceEnd": 19,
        "sequenceStart": 15,
        "symbol": "BTC-USDT",
        "time": 1729816425625,
    },
}
DOCS_SNAPSHOT: dict[str, Any] = {
    "code": "200000",
    "data": {
        "sequence": "16",
        "time": 1729816425000,
        "asks": [["3988.59", "3"], ["3988.60", "47"], ["3988.61", "32"], ["3988.62", "8"]],
        "bids": [["3988.51", "56"], ["3988.50", "15"], ["3988.49", "100"], ["3988.48", "10"]],
    },
}


def synced(seq: int = 16) -> tuple[FeedSession, dict[str, LastBook]]:
    legs = {"BTC/USDT": LastBook()}
    session = FeedSession(KuCoin(["BTC/USDT"]), legs.__getitem__, lambda *a: None)
    session.opened(T0)
    body = DOCS_SNAPSHOT | {"data": DOCS_SNAPSHOT["data"] | {"sequence": str(seq)}}
    session.snapshot("BTC/USDT", orjson.dumps(body), T0)
    return session, legs


def test_docs_calibration_example_applies_only_changes_above_the_snapshot() -> None:
    # https://www.kucoin.com/docs-new/3470068w0: snapshot sequence 16; of the message 15..19
    # the changes 15 and 16 are ignored, 18 updates 3988.50 to 44, 19 removes 3988.61.
    session, legs = synced()
    assert session.frame(json.dumps(DOCS_DELTA), T0) == []
    assert legs["BTC/USDT"].top == (
        [3988.51, 3988.50, 3988.49, 3988.48],
        [56, 44, 100, 10],
        [3988.59, 3988.60, 3988.62],
        [3, 47, 8],
    )
    (event,) = KuCoin(["BTC/USDT"]).parse(json.dumps(DOCS_DELTA))
    assert event == BookDelta(
        "BTC/USDT",
        [["3988.50", "44", "18"]],
        [["3988.59", "3", "16"], ["3988.61", "0", "19"], ["3988.62", "8", "15"]],
        15,
        19,
        venue_ts_ns=1729816425625_000000,
    )
    # a message ending at the book's sequence is older; a bad change sequence resyncs
    older, _ = synced(19)
    older.frame(json.dumps(DOCS_DELTA), T0)
    assert (older.stats.older, older.stats.book_msgs) == (1, 1)
    bad = json.dumps(DOCS_DELTA).replace('"15"]', '"x"]')
    assert synced()[0].frame(bad, T0) == [
        FetchSnapshot(KuCoin(["BTC/USDT"]).snapshot_request("BTC/USDT", "", 20))
    ]


BULLET = {
    "code": "200000",
    "data": {
        "token": "2neAiuYvAU61ZDXANAGA",
        "instanceServers": [
            {
                "endpoint": "wss://ws-api-spot.kucoin.com/",
                "encrypt": True,
                "protocol": "websocket",
                "pingInterval": 18000,
                "pingTimeout": 10000,
            }
        ],
    },
}


def test_the_bullet_answer_names_the_url_and_the_ping_interval() -> None:
    codec, bullet = KuCoin(["BTC/USDT", "ETH/USDT"]), BULLET
    assert codec.connect_request("") == RestRequest(
        "https://api.kucoin.com/api/v1/bullet-public", "", 10, "POST"
    )
    assert codec.connect_url(orjson.dumps(bullet)) == (
        "wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61ZDXANAGA&connectId=1"
    )
    assert codec.ping_interval_s == 18.0
    assert codec.unsubscribe_frames(["ETH/USDT"])[0].startswith('{"id":2,"type":"unsubscribe"')
    assert codec.ping_frame() == '{"id":"3","type":"ping"}'
    assert codec.snapshot_request("BTC/USDT", "http://127.0.0.1:9/", 50).url == (
        "http://127.0.0.1:9/api/v1/market/orderbook/level2_100?symbol=BTC-USDT"
    )
    assert codec.venue_symbol("WAXP/USDT") == "WAX-USDT"
    for body in (b'{"code":"400100","msg":"bad"}', orjson.dumps(bullet).replace(b"endpoint", b"e")):
        with pytest.raises(ParseError):
            codec.connect_url(body)
    with pytest.raises(ParseError, match="400100"):
        codec.parse_snapshot("BTC/USDT", b'{"code":"400100","msg":"symbol not exists"}')


@fuzz_settings(200)
@given(mutated([BULLET]) | ARBITRARY_INPUT)
def test_fuzz_bullet_answers(body: str | bytes) -> None:
    codec = KuCoin(["BTC/USDT"])
    try:
        url = codec.connect_url(body.encode() if isinstance(body, str) else body)
    except ParseError:
        return
    assert "/?token=" in url and codec.ping_interval_s is not None


def test_replay_reads_the_recording_with_its_own_codec() -> None:
    # (its snapshot requests answered, its figures and tops: kucoin-2021-replay and
    # kucoin-2021-model-steps)
    recorded = [r.url if r.dir == "open" else str(r.data) for r in RECORDS if r.dir != "in"]
    assert replay_codec_class("kucoin", "\n".join(recorded).lower()) is KuCoin2021
    assert replay_codec_class("kucoin", KuCoin(SYMBOLS).subscribe_frames(SYMBOLS)[0]) is KuCoin


SAMPLE_FRAMES = [*[orjson.loads(r.data) for r in RECORDS if r.dir == "in"][:60], DOCS_DELTA]


# -- against the emulator ------------------------------------------------------------------


def test_the_feed_keeps_the_emulators_book_through_a_gap_and_a_reconnect() -> None:
    seen: list[tuple[int, int, int]] = []

    async def steps(emu: Emulator, f: Feed) -> None:
        venue, first = emu.venue("kucoin"), f.runner.session
        assert isinstance(venue, EmulatedKuCoin) and first is not None
        emu.inject("kucoin", "gap")
        while first.stats.gaps == 0:  # the next message of the symbol that lost one
            emu.step(1)
            await asyncio.sleep(0.005)
        await until(lambda: f.synced(emu, "kucoin"))
        seen.append((first.stats.gaps, first.stats.resyncs, len(venue.tokens)))
        # the new connection asks for a new token; the first ask fails (HTTP 500): a failed
        # connection, retried after the backoff
        emu.inject("kucoin", "rest_error", status=500)
        emu.inject("kucoin", "disconnect")
        await until(lambda: f.runner.stats.connects == 2 and f.runner.session is not first)
        emu.step(1)
        await until(lambda: f.synced(emu, "kucoin"))
        stats = f.runner.stats
        seen.append((stats.refused, stats.snapshot_fetches, len(venue.tokens)))
        async with httpx.AsyncClient() as http:  # the bullet is POST only
            got = await http.get(emu.rest_url("kucoin") + "/api/v1/bullet-public")
        seen.append((emu.rest_requests("kucoin"), got.status_code, 0))

    market = MarketConfig(
        venues=("kucoin",), symbols=("BTC/USDT", "ETH/USDT"), seed=4, dislocations_per_min=0
    )
    f = asyncio.run(stepped(EmulatorConfig(market=market, autorun=False), "kucoin", steps))
    # one gap, one REST resync, one token; then a refused bullet, a new token and two
    # snapshots after the reconnect: 3 bullets + 5 snapshots served
    assert seen == [(1, 1, 1), (1, 5, 2), (8, 405, 0)]
    assert [s for s, _ in f.states] == [
        "connecting",
        "syncing",
        "live",
        "resyncing",
        "live",
        "down",
        "connecting",
        "down",
        "connecting",
        "syncing",
        "live",
        "down",
    ]
    assert str(f.states[7][1]).endswith("/api/v1/bullet-public: HTTP 500")
    assert f.runner.session is not None and f.runner.session.stats.gaps == 0


def l2update(**data: object) -> str:
    body = {"sequenceStart": 5, "sequenceEnd": 7, "symbol": "BTC-USDT", "time": 1, **data}
    return json.dumps({"type": "message", "subject": "trade.l2update", "data": body})


def test_changes_of_price_0_only_advance_the_sequence() -> None:
    codec = KuCoin(["BTC/USDT"])
    bids = [["3988.5", "1", "5"], ["0", "0", "6"]]
    asks = [["3988.6", "2", "7"]]
    frame = l2update(changes={"bids": bids, "asks": asks})
    assert codec.parse(frame) == [
        BookDelta("BTC/USDT", [["3988.5", "1", "5"]], asks, 5, 7, venue_ts_ns=1_000_000)
    ]
    for bad in (
        l2update(changes={"bids": bids, "asks": {}}),
        l2update(changes={"bids": bids}),
        l2update(changes={"bids": bids, "asks": asks}, sequenceStart=8),
        l2update(changes={"bids": bids, "asks": asks}, sequenceEnd=True),
        l2update(changes={"bids": bids, "asks": asks}, time="x"),
        l2update(changes={"bids": bids, "asks": asks}, symbol="ETH-USDT"),
    ):
        with pytest.raises(ParseError):
            codec.parse(bad)
