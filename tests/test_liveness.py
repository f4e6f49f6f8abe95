"""Connection liveness counts all traffic (frames, WebSocket pings and pongs), a quiet
connection is probed, and the per-connection subscription-request budget: the sans-I/O
session, the budget, the runner with a fake transport and the WebSocket client."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve

from feeds.actions import Ping, Reconnect, Send
from feeds.budget import ConnectionBudget
from feeds.capture import CaptureError, CaptureWriter, Record, parse_record, read_capture
from feeds.protocol import SeqRule
from feeds.replay import replay
from feeds.session import HOUR_NS, FeedSession
from feeds.wsconnect import websocket_connect
from tests.fakecodec import FakeCodec, make_codec
from tests.fuzzing import fuzz_settings
from tests.test_runner import BTC as BTC_USDT
from tests.test_runner import CrcToy, Harness, connected, crc_snapshot, until
from tests.test_session import (
    BTC,
    SUB_ALL,
    SUB_BTC,
    T0,
    UNSUB_BTC,
    Log,
    S,
    delta,
    live_in_band,
    new,
    snap,
    usable,
)

PING = Send('{"op":"ping"}')
WS = "ws://crc.invalid/ws"


class NoAppPing(FakeCodec):
    """A venue without an application ping (Binance: only WebSocket pings)."""

    def ping_frame(self) -> str | None:
        return None


# -- the session -------------------------------------------------------------------------------


def test_websocket_pings_and_pongs_keep_a_quiet_connection_alive() -> None:
    s, log = live_in_band(make_codec(), stale_after_s=10.0)
    s.alive(T0 + 8 * S, 2)
    assert s.tick(T0 + 13 * S - 1) == []
    assert s.tick(T0 + 13 * S) == [PING]  # quiet for half of stale_after_s: a probe
    s.alive(T0 + 14 * S)
    assert s.tick(T0 + 18 * S) == []  # 10 s after the first pongs, 4 s after the last
    assert s.tick(T0 + 19 * S) == [PING]
    assert s.tick(T0 + 24 * S) == []  # exactly stale_after_s since the last traffic
    assert s.tick(T0 + 24 * S + 1) == [Reconnect("stale")]  # then truly silent
    assert (s.stats.control_frames, s.stats.last_control_ns, s.stats.pings) == (3, T0 + 14 * S, 2)
    assert log.states[-1] == ("stale", "no frame for 10.0 s", T0 + 24 * S + 1)
    assert log.take() == [
        usable(BTC, False, "stale", T0 + 24 * S + 1),
        usable("ETH/USD", False, "stale", T0 + 24 * S + 1),
    ]


def test_a_venue_without_application_ping_is_probed_with_a_websocket_ping() -> None:
    log = Log()
    s = FeedSession(NoAppPing(("BTC/USD",)), log.listener_for, log.on_state)
    s.opened(T0)
    s.frame('{"snap": "BTCUSD", "b": [["100", "1"]], "a": [["101", "1"]]}', T0)  # synced
    assert s.tick(T0 + 5 * S - 1) == []
    assert s.tick(T0 + 5 * S) == [Ping()]
    assert s.tick(T0 + 9 * S) == []  # one probe per quiet spell
    s.frame('{"sub": "BTCUSD"}', T0 + 9 * S)  # an ack is traffic too
    assert s.tick(T0 + 14 * S - 1) == []
    assert s.tick(T0 + 14 * S) == [Ping()]
    assert s.stats.pings == 2


def test_pongs_to_probes_keep_a_quiet_connection_alive_past_the_venue_ping_interval() -> None:
    # OKX and Bybit ping every 20 s, twice stale_after_s: without probes a connection whose
    # books do not move would go stale every 10 s. Each ping is answered 100 ms later.
    s, _ = live_in_band(make_codec(ping_interval_s=20.0), stale_after_s=10.0)
    sent: list[int] = []
    pong_at = None
    for t in range(T0 + S // 4, T0 + 120 * S + 1, S // 4):
        if pong_at is not None and t >= pong_at:
            s.frame('{"hb": 1}', pong_at)
            pong_at = None
        actions = s.tick(t)
        assert Reconnect("stale") not in actions
        if actions == [PING]:
            sent.append((t - T0) // (S // 4))
            pong_at = t + S // 10
    # a probe 5 s after each pong, on the next 250 ms tick: every 5.25 s from 5 s
    assert sent == [20 + 21 * k for k in range(22)]
    assert s.stats.pings == 22


class Budget5(FakeCodec):
    requests_per_hour = 5
    integrity = make_codec(SeqRule.PREV_LINK).integrity


def _gap(s: FeedSession, t: int) -> list[object]:
    """BTC snapshot (seq 10), then a delta that does not link: one resync of BTC."""
    assert s.frame(snap("BTCUSD", [["100", "1"]], [["101", "1"]], seq=10), t) == []
    return list(s.frame(delta("BTCUSD", [["100", "2"]], [], last=12, prev=11), t))


def test_resyncs_spend_the_subscribe_budget_then_reconnect() -> None:
    log = Log()
    s = FeedSession(Budget5(("BTC/USD", "ETH/USD")), log.listener_for, log.on_state)
    assert s.opened(T0) == [SUB_ALL]  # 1 request
    assert _gap(s, T0 + S) == [UNSUB_BTC, SUB_BTC]  # 3
    assert _gap(s, T0 + 2 * S) == [UNSUB_BTC, SUB_BTC]  # 5: all spent
    assert s.budget is not None and s.budget.left(T0 + 3 * S) == 0
    assert _gap(s, T0 + 3 * S) == [Reconnect("desynced")]
    assert (s.stats.resyncs, s.stats.budget_reconnects) == (3, 1)


def test_the_budget_is_per_hour_on_the_injected_clock() -> None:
    log = Log()
    s = FeedSession(Budget5(("BTC/USD", "ETH/USD")), log.listener_for, log.on_state)
    s.opened(T0)
    _gap(s, T0 + S)
    _gap(s, T0 + 2 * S)
    # an hour after the subscribe, one request is back: not enough for two
    assert _gap(s, T0 + HOUR_NS) == [Reconnect("desynced")]
    s = FeedSession(Budget5(("BTC/USD", "ETH/USD")), log.listener_for, log.on_state)
    s.opened(T0)
    _gap(s, T0 + S)
    _gap(s, T0 + 2 * S)
    assert _gap(s, T0 + HOUR_NS + S) == [UNSUB_BTC, SUB_BTC]  # three back
    assert s.stats.budget_reconnects == 0


def test_venues_without_a_budget_resync_without_limit() -> None:
    s, _ = new(make_codec(SeqRule.PREV_LINK))
    s.opened(T0)
    assert s.budget is None
    for k in range(1, 600):
        assert _gap(s, T0 + k) == [UNSUB_BTC, SUB_BTC]


# -- the budget --------------------------------------------------------------------------------


def test_request_budget_edges() -> None:
    b = ConnectionBudget(3, 10)
    assert (b.spend(2, 100), b.spend(2, 101), b.spend(1, 101)) == (True, False, True)
    assert b.left(109) == 0
    assert b.left(110) == 2  # the two sent at 100 left the window [101, 110]
    assert b.spend(3, 111) and b.left(111) == 0
    assert not b.spend(1, 111)


@fuzz_settings(300)
@given(
    limit=st.integers(1, 6),
    window=st.integers(1, 50),
    steps=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 7)), max_size=40),
)
def test_fuzz_request_budget_matches_counting_every_window(
    limit: int, window: int, steps: Sequence[tuple[int, int]]
) -> None:
    b = ConnectionBudget(limit, window)
    sent: list[int] = []
    now = 0
    for dt, count in steps:
        now += dt
        in_window = sum(1 for t in sent if t > now - window)
        ok = in_window + count <= limit
        assert b.spend(count, now) is ok
        if ok:
            sent += [now] * count
        assert b.left(now) == limit - sum(1 for t in sent if t > now - window)


# -- the runner and the transports -------------------------------------------------------------


def test_runner_counts_websocket_pings_and_pongs_as_traffic() -> None:
    async def scenario() -> Harness:
        h = Harness(CrcToy, [BTC_USDT])
        async with h.running():
            fake = await connected(h, 1)
            fake.feed(crc_snapshot([("100", "1")], [("101", "1")]))
            await until(lambda: h.session_stat("frames") == 1)
            h.clock.advance(8 * S)
            await until(lambda: fake.pings == 1)  # the quiet connection is probed
            fake.control(2)  # e.g. its pong and a venue ping
            await until(lambda: h.session_stat("control_frames") == 2)
            h.clock.advance(10 * S)  # 18 s since the frame, 10 s since the pong
            await until(lambda: fake.pings == 2)
            await asyncio.sleep(0.01)  # several ticks run
            assert not fake.closed
            h.clock.advance(1)
            await until(lambda: fake.closed)
            assert h.runner.stats.connects == 1
        return h

    h = asyncio.run(scenario())
    assert h.states[:5] == [
        ("connecting", None, T0),
        ("syncing", None, T0),
        ("live", None, T0),
        ("stale", "no frame for 10.0 s", T0 + 18 * S + 1),
        ("down", "stale", T0 + 18 * S + 1),
    ]


def test_client_counts_pings_and_pongs_and_sends_pings() -> None:
    async def venue(ws: ServerConnection) -> None:
        pong = await ws.ping(b"venue")  # the client answers it, and counts it
        await asyncio.wait_for(pong, 2)
        await ws.send("after the ping")
        await asyncio.sleep(5)

    async def body() -> None:
        async with asyncio.timeout(10), serve(venue, "127.0.0.1", 0, ping_interval=None) as srv:
            url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}/"
            conn = await websocket_connect(url, 1024, ping_interval_s=0)
            assert await conn.recv() == "after the ping"
            assert conn.control_frames == 1
            await conn.ping()  # the server's pong is counted, never returned by recv
            while conn.control_frames < 2:
                await asyncio.sleep(0.002)
            assert conn.control_frames == 2
            await conn.close()

    asyncio.run(body())


# -- capture and replay: pings and pongs are recorded, and keep the replayed connection alive --


def test_runner_records_pings_and_pongs_as_ctl_records(tmp_path: Path) -> None:
    async def scenario() -> None:
        with CaptureWriter(tmp_path / "rec.ndjson") as recorder:
            h = Harness(CrcToy, [BTC_USDT], recorder=recorder)
            async with h.running():
                fake = await connected(h, 1)
                h.clock.advance(S)
                fake.control(2)
                await until(lambda: h.session_stat("control_frames") == 2)

    asyncio.run(scenario())
    lines = (tmp_path / "rec.ndjson").read_text().splitlines()
    ctl = '{"v":1,"t":%d,"venue":"toycrc","dir":"ctl","url":"%s","data":"2"}'
    assert lines[2] == ctl % (T0 + S, WS)
    assert [r.dir for r in read_capture(tmp_path / "rec.ndjson")] == ["open", "out", "ctl", "close"]


def _replayed(ctl_every_s: int | None) -> list[tuple[object, ...]]:
    snapshot = crc_snapshot([("100", "1")], [("101", "1")])
    records = [Record(T0, "toycrc", "open", WS, ""), Record(T0 + 1, "toycrc", "in", WS, snapshot)]
    if ctl_every_s is not None:
        records += [
            Record(T0 + k * S, "toycrc", "ctl", WS, "1")
            for k in range(ctl_every_s, 30, ctl_every_s)
        ]
    records.append(Record(T0 + 30 * S, "toycrc", "in", WS, snapshot))
    states: list[tuple[object, ...]] = []
    replay(
        records,
        lambda venue, conn: CrcToy([BTC_USDT]),
        lambda venue, symbol: Log().listener_for(symbol),
        lambda venue, state, reason, ts: states.append((state, reason, ts)),
    )
    return states


def test_replay_counts_ctl_records_as_traffic() -> None:
    assert _replayed(4) == [
        ("connecting", None, T0),
        ("syncing", None, T0),
        ("live", None, T0 + 1),
    ]
    # without them, the same capture is stale at its next record (replay ticks at records)
    assert _replayed(None)[3:5] == [
        ("stale", "no frame for 30.0 s", T0 + 30 * S),
        ("down", "stale", T0 + 30 * S),
    ]


def test_a_ctl_record_carries_a_count() -> None:
    head = '{"v":1,"t":1,"venue":"okx","dir":"ctl","url":"ws://x",'
    assert parse_record(head + '"data":"12"}').data == "12"
    for data in ('"data":""', '"data":"-1"', '"data":"1.5"', '"data":"1234567890"', '"b64":"MQ=="'):
        with pytest.raises(CaptureError, match="'ctl' record's 'data' must be a count"):
            parse_record(head + data + "}")


def test_spending_nothing_holds_no_entry() -> None:
    b = ConnectionBudget(2, 10)
    for now in range(100):
        assert b.spend(0, now)
    assert (b.left(100), len(b._window._spent)) == (2, 0)
