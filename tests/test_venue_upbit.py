"""Upbit beyond the conformance suite (tests/conformance/upbit.py): the emulator writes the
venue's number text, and serves binary frames, PING and errors over a real socket."""

from __future__ import annotations

import asyncio
from typing import Any

import websockets

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.venues.upbit import number
from feeds.protocol import BookSnapshot, Heartbeat, VenueError
from feeds.venues.upbit import Upbit
from tests.conformance.upbit import CASE
from tests.test_conformance import records
from tests.test_emulator_wire import T0

FRAMES = [r.data for r in records(CASE) if r.dir == "in"]


def test_emulated_numbers_are_written_as_the_recording_writes_them() -> None:
    """As recorded: ``20230.0``, ``0.00012221``, ``300.0``; in the whole 2021 capture also
    ``9.9E-7`` and ``6E-8`` (BTC-market prices below 1e-6), outside this slice."""
    cases = [(2023000, 2), (12221, 8), (30000000000, 8), (99, 8), (6, 8), (28046037885666, 8)]
    texts = [number(u, d) for u, d in cases]
    assert texts == ["20230.0", "0.00012221", "300.0", "9.9E-7", "6E-8", "280460.37885666"]
    recorded = b"".join(f for f in FRAMES if isinstance(f, bytes))
    assert all(f":{t},".encode() in recorded for t in texts[:3])


def test_emulated_venue_sends_binary_books_and_answers_ping_and_bad_requests() -> None:
    async def run() -> list[Any]:
        market = MarketConfig(venues=("upbit",), symbols=("BTC/USDT",), seed=4)
        codec = Upbit(["BTC/USDT"], depth=5)
        config = EmulatorConfig(market=market, autorun=False)
        async with asyncio.timeout(10), Emulator(config, clock=lambda: T0) as emu:
            ws = await websockets.connect(emu.ws_url("upbit"))
            await ws.send(codec.subscribe_frames(["BTC/USDT"])[0])
            await ws.send("PING")
            await ws.send('[{"type":"orderbook","codes":["USDT-BTC"]}]')
            frames = [await ws.recv() for _ in range(3)]
            emu.step(1)
            frames.append(await ws.recv())
            await ws.close()
        assert all(isinstance(f, bytes) for f in frames)
        return [e for f in frames for e in codec.parse(f)]

    snapshot, up, refused, push = asyncio.run(run())
    assert (up, refused) == (Heartbeat(), VenueError("NO_TICKET: 티켓이 존재하지 않습니다."))
    assert isinstance(snapshot, BookSnapshot) and isinstance(push, BookSnapshot)
    assert len(snapshot.bids) == len(snapshot.asks) == 5 and push.venue_ts_ns
