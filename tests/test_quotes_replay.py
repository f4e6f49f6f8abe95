"""A recording of the simulated default market (kraken USD, binance USDT, upbit KRW; seed 1,
3 s) replays to the events of the live run byte for byte: same-quote, cross-quote and
premium events alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arbscan import cli
from tests.schema_check import check_all

FIXTURES = Path(__file__).parent / "fixtures"
CAPTURE = FIXTURES / "emulated_quotes.ndjson.gz"
GOLDEN = FIXTURES / "emulated_quotes.events.ndjson"


def test_cross_quote_and_premium_events_replay_byte_for_byte(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    outputs = []
    for _ in range(2):
        assert cli.main(["replay", str(CAPTURE), "--venues", "kraken,binance,upbit"]) == 0
        outputs.append(capsysbinary.readouterr().out)
    assert outputs[0] == outputs[1]
    lines = [
        line
        for line in outputs[0].splitlines(keepends=True)
        if b'"type":"venue"' not in line and b'"type":"stats"' not in line
    ]
    assert b"".join(lines) == GOLDEN.read_bytes()  # what the live run emitted
    events = [json.loads(line) for line in lines]
    check_all(events)
    kinds = [(e["type"], e.get("kind")) for e in events]
    assert kinds.count(("opened", "cross_quote")) == 4
    assert kinds.count(("premium", None)) == 23
    cross = next(e for e in events if e.get("kind") == "cross_quote")
    assert (cross["symbol"], cross["sell_symbol"], cross["fx_venue"], cross["fx_symbol"]) == (
        "ETH/USDT",
        "ETH/USDC",
        "binance",
        "USDC/USDT",
    )
