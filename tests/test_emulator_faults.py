"""Fault specs as text (``VENUE:KIND[@DELAY][:key=value,...]``): parsed exactly, refused with
one message naming the spec, and scheduled by the emulator on its market clock."""

from __future__ import annotations

import asyncio
import math

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator import FAULTS, Emulator, FaultSpec, FaultSpecError, parse_fault
from emulator.faults import parse_duration
from emulator.venues import VENUES
from feeds.venues import canonical_venue
from tests.fuzzing import fuzz_settings
from tests.test_emulator_server import BYBIT_SUB, T0, config, recv, subscribed, sync


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("okx:gap", FaultSpec("okx", "gap")),
        ("okx:gap@10s", FaultSpec("okx", "gap", delay_s=10.0)),
        ("OKX : gap @ 250ms", FaultSpec("okx", "gap", delay_s=0.25)),
        ("kraken:bad_checksum@1.5:count=3", FaultSpec("kraken", "bad_checksum", {"count": 3}, 1.5)),
        ("binance:rest_error@0s:status=429", FaultSpec("binance", "rest_error", {"status": 429})),
        (
            "binance:rest_timeout:delay_s=2.5",
            FaultSpec("binance", "rest_timeout", {"delay_s": 2.5}),
        ),
        (
            "bybit:disconnect@2m:code=1006,reason=bye",
            FaultSpec("bybit", "disconnect", {"code": 1006, "reason": "bye"}, 120.0),
        ),
        (
            "coinbase:stall@5s:seconds=inf",
            FaultSpec("coinbase", "stall", {"seconds": math.inf}, 5.0),
        ),
        (
            "okx:slow:delay_s=0.2,seconds=3",
            FaultSpec("okx", "slow", {"delay_s": 0.2, "seconds": 3.0}),
        ),
        (
            "kraken:crossed@1s:symbol=BTC/USDT,steps=2",
            FaultSpec("kraken", "crossed", {"symbol": "BTC/USDT", "steps": 2}, 1.0),
        ),
        ("okx:abort@30s:every=1m", FaultSpec("okx", "abort", {}, delay_s=30.0, every_s=60.0)),
        (
            "okx:malformed:every=500ms,count=2",
            FaultSpec("okx", "malformed", {"count": 2}, every_s=0.5),
        ),
        ("binance:overlap@3s:count=2", FaultSpec("binance", "overlap", {"count": 2}, 3.0)),
        ("coinbase:bad_body:count=4", FaultSpec("coinbase", "bad_body", {"count": 4})),
        ("coinbase:novel@1s", FaultSpec("coinbase", "novel", {}, 1.0)),
        (
            "okx:silent@20s:seconds=30",
            FaultSpec("okx", "silent", {"seconds": 30.0}, delay_s=20.0),
        ),
    ],
)
def test_specs_parse_exactly(text: str, spec: FaultSpec) -> None:
    assert parse_fault(text) == spec


def test_aliases_resolve_through_the_given_resolver() -> None:
    assert parse_fault("okex3:gap", venue=canonical_venue) == FaultSpec("okx", "gap")
    with pytest.raises(FaultSpecError) as info:
        parse_fault("okex3:gap")
    assert str(info.value) == (f"'okex3:gap': no emulated venue 'okex3' (have {', '.join(VENUES)})")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected VENUE:KIND[@DELAY][:key=value,...]"),
        ("okx:gap@", "expected VENUE:KIND[@DELAY][:key=value,...]"),
        ("okx:gap@-1s", "'-1s' is not a duration (like 500ms, 10s, 2m)"),
        ("okx:gap@1h", "'1h' is not a duration (like 500ms, 10s, 2m)"),
        ("okx:gap@20000m", "'20000m' is longer than a week"),
        ("okx:gap:count=1,count=2", "count given twice"),
        ("okx:gap:every=1s,every=2s", "every given twice"),
        ("okx:gap:count=1.5", "count: expected an integer, got '1.5'"),
        ("okx:stall:seconds=nan", "seconds: must be between 0.001 and inf, got 'nan'"),
        ("okx:slow:delay_s=61", "delay_s: must be between 0 and 60, got '61'"),
        ("binance:rest_error:status=200", "status: must be between 400 and 599, got '200'"),
        ("okx:crossed:symbol=", "symbol: expected 1 to 64 characters, got ''"),
        ("okx:abort:count=1", "abort takes no parameter 'count' (takes: every)"),
        ("okx:gap:,", "expected key=value, got ''"),
        ("okx:overlap", "okx sends no update-id ranges"),
        ("binance:bad_body", "binance has no bad_body fault"),
        ("kraken:novel:count=2", "kraken has no novel fault"),
        ("coinbase:novel:count=0", "count: must be between 1 and 1000000, got '0'"),
        ("okx:silent:seconds=0", "seconds: must be between 0.001 and inf, got '0'"),
        ("okx:silent:count=1", "silent takes no parameter 'count' (takes: seconds, every)"),
    ],
)
def test_bad_specs_name_the_spec(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault(text)
    assert str(info.value) == f"{text!r}: {message}"


def test_durations() -> None:
    assert [parse_duration(t) for t in ("250ms", "10s", "1.5", "2m", " 0 ")] == [
        0.25,
        10.0,
        1.5,
        120.0,
        0.0,
    ]


_PIECES = st.sampled_from(
    ["okx", "binance", "kraken", "okex", ":", "@", ",", "=", "gap", "rest_error", "crossed",
     "10s", "1.5", "ms", "m", "count", "every", "status", "symbol", "BTC/USDT", "nan", "-", "1",
     *sorted(FAULTS)]
)  # fmt: skip


@fuzz_settings(500)
@given(pieces=st.lists(_PIECES | st.text(max_size=5), max_size=10))
def test_fuzz_fault_specs_parse_or_name_the_spec(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        spec = parse_fault(text, venue=canonical_venue, symbols=("BTC/USDT",))
    except FaultSpecError as exc:  # the resolver's refusals too
        assert str(exc).startswith(f"{text!r}: ") and "\n" not in str(exc)
    else:
        assert spec.fault in FAULTS and spec.venue in VENUES
        assert spec.delay_s >= 0 and (spec.every_s == 0 or spec.every_s >= 0.1)


@sync
async def test_a_scheduled_gap_repeats_on_the_market_clock() -> None:
    gap = FaultSpec("bybit", "gap", delay_s=0.3, every_s=0.5)  # steps 3, 8, 13 (100 ms each)
    async with asyncio.timeout(10), Emulator(config(gap), clock=lambda: T0) as emu:
        ws = await subscribed(emu, "bybit", BYBIT_SUB, 1)  # the ack
        u0 = orjson.loads(await recv(ws))["data"]["u"]  # the snapshot
        emu.step(14)
        seen = []
        with pytest.raises(TimeoutError):
            while True:
                seen.append(orjson.loads(await asyncio.wait_for(recv(ws), 0.5))["data"]["u"] - u0)
        assert seen == [k for k in range(1, 15) if k not in (3, 8, 13)]
        await ws.close()


@sync
async def test_a_repeated_rest_fault_waits_instead_of_piling_up() -> None:
    errors = FaultSpec("binance", "rest_error", {"status": 500, "count": 2}, every_s=0.1)
    async with (
        asyncio.timeout(10),
        Emulator(config(errors), clock=lambda: T0) as emu,
        httpx.AsyncClient(timeout=2) as http,
    ):
        emu.step(20)  # 20 more firings while nobody asks: still two errors queued, not 42
        url = emu.rest_url("binance") + "/api/v3/depth?symbol=BTCUSDT&limit=5"
        codes = [(await http.get(url)).status_code for _ in range(3)]
        assert codes == [500, 500, 200]
        emu.step(1)
        assert [(await http.get(url)).status_code for _ in range(3)] == [500, 500, 200]
