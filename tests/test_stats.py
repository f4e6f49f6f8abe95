"""The ``stats`` event: exact counters per sink and per venue (across reconnects), and the
stderr summary written from the same event at exit."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace
from typing import Any, cast

from arbscan.scan import _Health, current_stats, summary_lines
from feeds.runner import Runner, RunnerStats, SessionOptions
from scanner.events import venue_event
from scanner.eventserver import WsEventServer
from scanner.sinks import CallbackSink, NdjsonSink, Sinks
from tests.fakecodec import make_codec
from tests.schema_check import check
from tests.venue_helpers import Recorder

T = 1_700_000_000_000_000_000


def new_session(
    options: SessionOptions,
    frames: int,
    resyncs: int,
    malformed: int,
    latency_ns: int | None = None,
) -> None:
    session = options.new_session(make_codec(), lambda symbol: Recorder(), lambda *a: None, "")
    stats = session.stats
    stats.frames, stats.resyncs, stats.malformed = frames, resyncs, malformed
    stats.latency_ns = latency_ns


def test_stats_event_counts_exactly_per_sink_and_venue_across_reconnects() -> None:
    async def main() -> dict[str, Any]:
        ndjson = NdjsonSink(io.BytesIO(), max_events=2)
        console = CallbackSink(lambda event: None, max_events=10)
        server = WsEventServer()  # never started: no client, nothing queued
        server.lagged = 3
        sinks = Sinks()
        for sink, name in ((ndjson, "stdout"), (console, "console"), (server, "serve:h:1")):
            sinks.add(sink, name)
        for i in range(3):
            sinks.emit(venue_event("okx", "live", None, T + i))  # stdout: 2 queued, 1 dropped
        runners = [
            SimpleNamespace(venue="okx", stats=RunnerStats(connects=3)),
            SimpleNamespace(venue="okx", stats=RunnerStats(connects=1)),
            SimpleNamespace(venue="binance", stats=RunnerStats(connects=0)),
        ]
        health = _Health(cast(list[Runner], runners), ["okx", "binance"], [])
        first = health.session_options("okx", SessionOptions(top_n=5))
        assert first.top_n == 5
        new_session(first, frames=10, resyncs=1, malformed=2)
        new_session(first, frames=5, resyncs=0, malformed=1)  # a reconnect: counts carry on
        new_session(first, frames=4, resyncs=2, malformed=0, latency_ns=1_250_000)
        second = health.session_options("okx", SessionOptions())  # okx's 2nd runner
        new_session(second, 7, 0, 0, latency_ns=2_500_000)  # the worst of the open sessions
        health.session_options("binance", SessionOptions())  # never connected
        return current_stats(sinks, health, server, 0.0)

    event = asyncio.run(main())
    check(event)
    assert event["sinks"] == {
        "stdout": {"events": 2, "dropped": 1},
        "console": {"events": 3, "dropped": 0},
        "serve:h:1": {"events": 0, "dropped": 0},
    }
    assert event["venues"] == {
        "okx": {"frames": 26, "resyncs": 3, "malformed": 3, "reconnects": 2, "latency_ms": 2.5},
        "binance": {
            "frames": 0, "resyncs": 0, "malformed": 0, "reconnects": 0, "latency_ms": None
        },
    }  # fmt: skip
    assert (event["clients"], event["clients_dropped"]) == (0, 3)
    assert summary_lines(event).splitlines() == [
        "run.py: sink stdout: 2 events, 1 dropped",
        "run.py: sink console: 3 events, 0 dropped",
        "run.py: sink serve:h:1: 0 events, 0 dropped",
        "run.py: event clients: 0 connected at exit, 3 disconnected for lagging",
        "run.py: venue okx: 26 frames, 3 malformed, 3 resyncs, 2 reconnects",
        "run.py: venue binance: 0 frames, 0 malformed, 0 resyncs, 0 reconnects",
    ]
