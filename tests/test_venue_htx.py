"""HTX quirks (the rest, the venue's pings and the emulator's refusals: tests/conformance/htx.py;
the 2021 ``depth.step0`` recording read and its rule proven by the independent model:
tests/test_reference.py): its pings answered as recorded, the gzip frames (a bomb refused,
fuzzed inside gzip), the emulated venue's gzip binary frames and Java number text."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import zlib
from pathlib import Path

import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.venues.htx import java_double
from feeds.actions import Send
from feeds.capture import read_capture
from feeds.protocol import Subscribed
from feeds.session import FeedSession
from feeds.venues.htx import MAX_FRAME, Htx, HtxStep0, gunzip
from tests.conformance.htx import MBP, STEP0
from tests.fuzzing import fuzz_settings
from tests.test_emulator_wire import T0, harness, step
from tests.venue_helpers import Recorder, fuzz, mutated

RECORDS = list(read_capture(Path(__file__).parent / "fixtures" / "htx.ndjson.gz"))
FRAMES = [r.data for r in RECORDS if r.dir == "in"]


def test_the_session_answers_every_recorded_ping_as_recorded() -> None:
    # (every frame read and every push followed by the independent model: test_reference.py)
    session = FeedSession(HtxStep0(STEP0.symbols), lambda _: Recorder(), lambda *_: None)
    session.opened(RECORDS[0].t)
    sent = [a for r in RECORDS if r.dir == "in" for a in session.frame(r.data, r.t)]
    pongs = [r.data for r in RECORDS if isinstance(r.data, str) and "pong" in r.data]
    assert sent == [Send(p) for p in pongs] and len(pongs) == 6


def test_a_gzip_bomb_is_refused_not_inflated() -> None:
    bomb = zlib.compressobj(wbits=31)
    data = bomb.compress(b"{" + b" " * (MAX_FRAME + 10) + b"}") + bomb.flush()
    assert len(data) < MAX_FRAME // 100
    with pytest.raises(ValueError, match="too large"):  # a ParseError
        gunzip(data)


JSON_SAMPLES = [json.loads(f) for f, _ in MBP.samples if isinstance(f, str) and f[:1] == "{"]


@fuzz_settings(300)
@given(mutated(JSON_SAMPLES), st.booleans())
def test_fuzz_mutated_frames_inside_gzip(frame: str, cut: bool) -> None:
    data = gzip.compress(frame.encode())
    fuzz(Htx(["BTC/USDT"]).parse, data[: len(data) // 2] if cut else data, ("BTC/USDT",))


# --- the emulated venue ---------------------------------------------------------------------

JAVA_NUMBER = re.compile(r"[0-9]+\.[0-9]+(?:E-?[0-9]+)?")
"""A non-zero number as the venue writes a double (``710.01``, ``5.0``, ``1.58E-4``)."""


def level_texts(text: str) -> list[str]:
    """Every number of the ``bids``/``asks`` levels of a frame, as written."""
    sides = re.findall(r'"(?:bids|asks)":\[((?:\[[^\]]*\],?)*)\]', text)
    return [n for side in sides for n in re.findall(r"[^\[\],]+", side)]


def test_emulated_numbers_are_written_as_recorded() -> None:
    model, venue, session = harness("htx", "/feed", depth=150)
    session.received(Htx(["BTC/USDT"]).subscribe_frames(["BTC/USDT"])[0], T0)
    (rep,) = session.received(Htx(["BTC/USDT"]).snapshot_frame("BTC/USDT"), T0)
    frames = [rep.frame, *(f for _ in range(5) for f in step(model, venue, session))]
    ours = [n for f in frames for n in level_texts(f)]
    theirs = [n for f in FRAMES for n in level_texts(gunzip(f).decode())]  # type: ignore[union-attr]
    assert len(theirs) == 40202  # both numbers of the 20101 levels of the 118 recorded books
    assert all(JAVA_NUMBER.fullmatch(n) for n in theirs)
    assert all(JAVA_NUMBER.fullmatch(n) or n == "0" for n in ours) and "0" in ours
    java = {(158, 6): "1.58E-4", (5, 0): "5.0", (71001, 2): "710.01", (1, 3): "0.001",
            (10**8, 1): "1.0E7"}  # fmt: skip
    assert {k: java_double(*k) for k in java} == java


def test_the_emulated_venue_sends_gzip_binary_frames() -> None:
    async def run() -> bytes:
        market = MarketConfig(venues=("htx",), symbols=("BTC/USDT",), seed=4)
        config = EmulatorConfig(market=market, autorun=False)
        async with asyncio.timeout(10), Emulator(config, clock=lambda: T0) as emu:
            ws = await websockets.connect(emu.ws_url("htx"))
            await ws.send(Htx(["BTC/USDT"]).subscribe_frames(["BTC/USDT"])[0])
            frame = await ws.recv()
            await ws.close()
        assert isinstance(frame, bytes)
        return frame

    frame = asyncio.run(run())
    assert frame[:2] == b"\x1f\x8b" and Htx(["BTC/USDT"]).parse(frame) == [Subscribed("BTC/USDT")]
