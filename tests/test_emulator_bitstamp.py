"""Bitstamp against the emulator: its control frames and REST errors (sans-I/O), and end to
end on 127.0.0.1: a lost diff goes unnoticed (the protocol has no sequence); the venue's
``bts:request_reconnect`` hands the book over to a new connection without a gap. (A crossed
book resynced from REST: tests/test_reliability.py, bitstamp-crossed; the diffs' and the
REST snapshot's shape: tests/test_conformance.py, bitstamp-wire.)"""

from __future__ import annotations

import asyncio

import httpx
import orjson

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.venues.base import HttpAnswer, Out
from feeds.backoff import Backoff
from feeds.runner import Runner, SessionOptions
from feeds.venues import codec_class
from tests.test_emulator_e2e import T0, until
from tests.test_emulator_wire import harness, recorded, same_shape, shape, step
from tests.venue_helpers import LastBook, model_top

SYMBOLS = ("BTC/USDT", "ETH/USDT")
LIVE, CROSSED, CLOSED = (True, None), (False, "crossed_book"), (False, "disconnected")
SUB = '{"event":"bts:subscribe","data":{"channel":"diff_order_book_btcusdt"}}'


def test_emulated_frames_and_rest_have_the_recorded_shape() -> None:
    model, venue, session = harness("bitstamp", "/")
    ack = '{"event":"bts:subscription_succeeded","channel":"diff_order_book_btcusdt","data":{}}'
    assert session.received(SUB, T0) == [Out(ack)]
    assert session.received('{"event":"bts:heartbeat"}', T0) == [
        Out('{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}')
    ]
    error = {"code": None, "message": "Bad subscription string."}
    assert session.received(SUB.replace("btcusdt", "nope"), T0) == [
        Out(orjson.dumps({"event": "bts:error", "channel": "", "data": error}).decode())
    ]
    assert session.shutdown_notice(T0) == [
        Out('{"event":"bts:request_reconnect","channel":"","data":""}')
    ]
    rec_in = [orjson.loads(d) for k, d in recorded("bitstamp") if k == "in"]
    rec_diff = next(f for f in rec_in if f["event"] == "data" and f["data"]["asks"])
    assert orjson.loads(ack) == rec_in[0] | {"channel": "diff_order_book_btcusdt"}
    frames = [orjson.loads(f) for _ in range(5) for f in step(model, venue, session)]
    assert len(frames) == 5
    for frame in frames:  # keys in order, strings of digits, amounts with 8 decimals
        assert same_shape(shape(frame), shape(rec_diff))
        assert all(len(s.split(".")[1]) == 8 for _, s in frame["data"]["bids"])
    assert frames[-1]["data"]["microtimestamp"] == str(model.now_ns // 1000)  # the model's time
    answer = venue.rest("/api/v2/order_book/btcusdt/", {}, model.now_ns)
    assert answer is not None and answer.status == 200
    assert venue.rest("/api/v2/order_book/nope", {}, T0) == HttpAnswer(
        404, '{"status":"error","reason":"Invalid pair.","code":"404"}'
    )


async def _feed(steps: int, fault: str) -> tuple[dict[str, LastBook], Runner, list[bool]]:
    """Synced, ``steps`` steps with the books equal to the model's after each, then the
    fault at BTC/USDT's next diff; returns whether the books equalled the model's after each
    of 3 further steps."""
    market = MarketConfig(venues=("bitstamp",), symbols=SYMBOLS, seed=21, dislocations_per_min=0)
    legs = {s: LastBook() for s in SYMBOLS}
    equal: list[bool] = []
    config = EmulatorConfig(market=market, autorun=False)
    async with (
        asyncio.timeout(15),
        Emulator(config, clock=lambda: T0) as emu,
        httpx.AsyncClient() as http,
    ):
        runner = Runner(
            codec_class("bitstamp"),
            SYMBOLS,
            legs.__getitem__,
            lambda *a: None,
            ws_url=emu.ws_url("bitstamp"),
            rest_url=emu.rest_url("bitstamp"),
            http=http,
            backoff=Backoff(base_s=0.01, cap_s=0.05),
            options=SessionOptions(snapshot_wait_s=0.0),
            tick_interval_s=0.01,
        )
        task = asyncio.create_task(runner.run())

        def synced() -> bool:
            return all(legs[s].top == model_top(emu, "bitstamp", s) for s in SYMBOLS)

        await until(synced)
        for _ in range(steps):
            emu.step(1)
            await until(synced)
        emu.inject("bitstamp", fault)
        for _ in range(3):
            emu.step(1)
            await asyncio.sleep(0.1)
            equal.append(synced())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return legs, runner, equal


def test_a_lost_diff_goes_unnoticed() -> None:
    """The protocol numbers nothing and carries no checksum: a diff lost on the wire leaves
    a wrong book that stays usable (docs: a lost delta is undetectable)."""
    legs, runner, equal = asyncio.run(_feed(2, "gap"))
    stats = runner.session.stats  # type: ignore[union-attr]
    assert (stats.gaps, stats.resyncs, stats.crossed) == (0, 0, 0)
    assert legs["BTC/USDT"].usable == [LIVE, CLOSED]
    assert equal[0] is False  # BTC/USDT's book misses the lost diff's levels


def test_request_reconnect_hands_the_book_over_without_a_gap() -> None:
    async def body() -> tuple[Runner, list[tuple[bool, str | None]]]:
        market = MarketConfig(venues=("bitstamp",), symbols=SYMBOLS[:1], seed=7)
        config = EmulatorConfig(market=market, connection_lifetime_s=2.0, shutdown_notice_s=1.5)
        leg = LastBook()
        async with asyncio.timeout(20), Emulator(config) as emu, httpx.AsyncClient() as http:
            runner = Runner(
                codec_class("bitstamp"),
                SYMBOLS[:1],
                lambda _: leg,
                lambda *a: None,
                ws_url=emu.ws_url("bitstamp"),
                rest_url=emu.rest_url("bitstamp"),
                http=http,
                backoff=Backoff(base_s=0.01, cap_s=0.05),
                tick_interval_s=0.02,
                options=SessionOptions(snapshot_wait_s=0.05),
                replace_sync_s=1.5,
            )
            task = asyncio.create_task(runner.run())
            await until(lambda: runner.stats.handovers >= 1)
            await asyncio.sleep(0.2)
            usable = list(leg.usable)  # before stopping (which closes the leg)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return runner, usable

    runner, usable = asyncio.run(body())
    assert (runner.stats.connects, runner.stats.replace_failures) == (1, 0)
    assert runner.stats.replacements == runner.stats.handovers == 1
    assert usable == [LIVE]  # usable throughout the handover
