"""End to end over loopback: emulator -> WebSockets -> feeds -> engine -> events.

A quiet market (no drift, no noise, no size redraws) makes the ground truth exact: only the
dislocated venue's book moves, so the opportunity the scanner opens must equal the brute-force
fill over the emulator's own books. Then a fault on one leg must close the open opportunity
with the matching reason, and no opportunity may use that leg until it is synced again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from emulator import Emulator, EmulatorConfig, MarketConfig, VenueProfile
from feeds.backoff import Backoff
from feeds.runner import Runner
from feeds.venues import codec_class
from scanner.config import ScannerConfig
from scanner.engine import Engine
from scanner.events import Event, venue_event
from tests.brute import VenueBook, fill
from tests.schema_check import check_all

VENUES = ("binance", "okx")
SYMBOL = "BTC/USDT"
FEE_BPS = {"binance": 10.0, "okx": 10.0}
QUIET = VenueProfile(lag_steps=0, noise_bps=0.0, spread_bps=1.0, extra_price_decimals=1)


def model_book(emu: Emulator, venue: str, n: int) -> VenueBook:
    book = emu.model.books[(venue, SYMBOL)]
    bids, asks = book.top(n)
    px, sz = 10**book.price_decimals, 10**book.size_decimals
    return VenueBook(
        bids=[(p / px, s / sz) for p, s in bids],
        asks=[(p / px, s / sz) for p, s in asks],
        fee=FEE_BPS[venue] / 1e4,
        usable=True,
    )


def board_matches_model(engine: Engine, emu: Emulator) -> bool:
    n = engine.config.depth_levels
    for v, venue in enumerate(VENUES):
        want = model_book(emu, venue, n)
        levels = engine.board.levels[0, v]
        if list(levels[0, : len(want.bids)]) != [p for p, _ in want.bids]:
            return False
        if list(levels[2, : len(want.asks)]) != [p for p, _ in want.asks]:
            return False
    return True


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.002)


def of_type(events: list[Event], *kinds: str) -> list[Event]:
    return [e for e in events if e["type"] in kinds]


async def scenario() -> tuple[list[Event], dict[str, object]]:
    market = MarketConfig(
        venues=VENUES,
        symbols=(SYMBOL,),
        seed=5,
        vol_bps=0.0,
        redraw_prob=0.0,
        dislocations_per_min=0.0,
        profiles={"binance": QUIET, "okx": QUIET},
    )
    events: list[Event] = []
    engine = Engine(ScannerConfig(), VENUES, (SYMBOL,), FEE_BPS, events.append)
    truth: dict[str, object] = {}
    async with (
        asyncio.timeout(20),
        Emulator(EmulatorConfig(market=market, autorun=False)) as emu,
        httpx.AsyncClient() as http,
    ):
        runners = [
            Runner(
                codec_class(venue),
                (SYMBOL,),
                lambda symbol, venue=venue: engine.leg(venue, symbol),  # type: ignore[misc]
                lambda state, reason, ts, venue=venue: events.append(  # type: ignore[misc]
                    venue_event(venue, state, reason, ts)
                ),
                ws_url=emu.ws_url(venue),
                rest_url=emu.rest_url(venue),
                http=http,
                backoff=Backoff(base_s=0.01, cap_s=0.05),
                tick_interval_s=0.01,
            )
            for venue in VENUES
        ]
        tasks = [asyncio.create_task(r.run()) for r in runners]

        async def step() -> None:
            emu.step(1)
            await until(lambda: board_matches_model(engine, emu))

        await until(lambda: board_matches_model(engine, emu) and bool(engine.board.usable.all()))
        assert of_type(events, "opened") == []  # a quiet market has no opportunity

        # 1. okx's book jumps 40 bps up for 1 s: buy on binance, sell on okx
        emu.model.add_dislocation(SYMBOL, "okx", 40.0, 1000)
        while not of_type(events, "opened"):
            await step()
        depth = engine.config.depth_levels
        truth["fill"] = fill(model_book(emu, "binance", depth), model_book(emu, "okx", depth), 0.0)
        while not of_type(events, "closed"):
            await step()

        # 2. a second dislocation; while it is open, okx's feed loses a message
        emu.model.add_dislocation(SYMBOL, "okx", 40.0, 5000)
        while len(of_type(events, "opened")) < 2:
            await step()
        emu.inject("okx", "gap")
        while len(of_type(events, "closed")) < 2:
            # okx's book must move for the frame after the dropped one to reveal the gap (and
            # the board cannot match the model until okx has resynced: do not wait for it)
            emu.model.add_dislocation(SYMBOL, "okx", 2.0, 5000)
            emu.step(1)
            await asyncio.sleep(0.02)
        # the leg resyncs in-band and the dislocation is still live: a new opportunity
        while len(of_type(events, "opened")) < 3:
            await step()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return events, truth


def test_dislocation_opens_at_ground_truth_and_faults_close_with_reason() -> None:
    events, truth = asyncio.run(scenario())
    check_all(events)
    opened = of_type(events, "opened")
    closed = of_type(events, "closed")
    expected = truth["fill"]
    assert expected is not None

    first = opened[0]
    assert (first["symbol"], first["buy_venue"], first["sell_venue"]) == (SYMBOL, "binance", "okx")
    for key in (
        "buy_price",
        "sell_price",
        "size",
        "buy_vwap",
        "sell_vwap",
        "cost",
        "proceeds",
        "profit",
        "net_bps",
        "gross_bps",
    ):
        assert first[key] == pytest.approx(getattr(expected, key), rel=1e-9), key
    assert first["net_bps"] > 5.0  # 40 bps of dislocation minus 20 bps of fees
    assert (closed[0]["id"], closed[0]["reason"]) == (first["id"], "spread_closed")

    second, third = opened[1], opened[2]
    assert (closed[1]["id"], closed[1]["reason"]) == (second["id"], "desynced")
    assert len({first["id"], second["id"], third["id"]}) == 3
    # between the desync and the next opportunity, okx went resyncing and came back live
    i_closed, i_third = events.index(closed[1]), events.index(third)
    okx_states = [
        e["state"] for e in events[i_closed:i_third] if e["type"] == "venue" and e["venue"] == "okx"
    ]
    assert okx_states[0] == "resyncing" and okx_states[-1] == "live"
    assert not of_type(events[i_closed + 1 : i_third], "opened", "updated")
    assert (third["buy_venue"], third["sell_venue"]) == ("binance", "okx")
