"""run.py, the composition root: replay is byte-identical to the live run it recorded, the
book tape agrees with the profit model, bad start-up input exits 2 naming the problem, and a
SIGTERM shuts a live scan down cleanly (every opportunity closed, exit 0)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

import run
from tests.brute import VenueBook, fill
from tests.schema_check import check_all

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CAPTURE = FIXTURES / "emulated_binance_okx.ndjson.gz"
GOLDEN = FIXTURES / "emulated_binance_okx.events.ndjson"
SYMBOLS = "BTC/USDT,ETH/USDT"


def replay(capsysbinary: pytest.CaptureFixture[bytes], *extra: str) -> bytes:
    assert run.main(["replay", str(CAPTURE), "--symbols", SYMBOLS, *extra]) == 0
    return capsysbinary.readouterr().out


def test_replay_reproduces_the_live_run_byte_for_byte(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    first = replay(capsysbinary)
    assert replay(capsysbinary) == first
    events = [orjson.loads(line) for line in first.splitlines()]
    check_all(events)
    opportunities = [
        line for line in first.splitlines(keepends=True) if b'"type":"venue"' not in line
    ]
    assert b"".join(opportunities) == GOLDEN.read_bytes()
    kinds = [(e["type"], e["id"]) for e in events if e["type"] != "venue"]
    assert kinds[0] == ("opened", "1") and ("closed", "1") in kinds
    # every venue state the replay reports is a schema-1 state, and both venues went live
    live = {e["venue"] for e in events if e["type"] == "venue" and e["state"] == "live"}
    assert live == {"binance", "okx"}


def _venue_book(event: dict[str, list[list[float]]], fee_bps: float) -> VenueBook:
    return VenueBook(
        bids=[(p, q) for p, q in event["bids"]],
        asks=[(p, q) for p, q in event["asks"]],
        fee=fee_bps / 1e4,
        usable=True,
    )


def test_book_tape_reproduces_every_opened_figure(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    events = [orjson.loads(line) for line in replay(capsysbinary, "--books", "20").splitlines()]
    check_all(events)
    books: dict[tuple[str, str], dict[str, list[list[float]]]] = {}
    checked = 0
    for e in events:
        if e["type"] == "book":
            books[(e["venue"], e["symbol"])] = e
        elif e["type"] == "opened":
            buy, sell = books[(e["buy_venue"], e["symbol"])], books[(e["sell_venue"], e["symbol"])]
            expected = fill(
                _venue_book(buy, e["buy_fee_bps"]), _venue_book(sell, e["sell_fee_bps"]), 0.0
            )
            assert expected is not None
            for key in ("size", "buy_vwap", "sell_vwap", "cost", "proceeds", "profit", "net_bps"):
                assert e[key] == pytest.approx(getattr(expected, key), rel=1e-9), key
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--venues", "nowhere"], "run.py: --venues: unknown venue 'nowhere'"),
        (["--symbols", "btc-usdt"], "run.py: --symbols: 'btc-usdt' is not a canonical"),
        (["--symbols", "BTC-X/USDT"], "run.py: --symbols: not a canonical BASE/QUOTE symbol"),
        (["--venues", "binance", "--symbols", "AB/CD,ABC/D"], "run.py: --symbols: 'ABC/D' and"),
        (["--duration", "0"], "run.py: --duration: must be > 0"),
        (["--serve", "localhost:http"], "run.py: --serve: expected HOST:PORT"),
        (["replay", str(CAPTURE)], "run.py: --symbols: replay needs the capture's"),
    ],
)
def test_bad_command_lines_exit_2_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.main(argv) == 2
    assert capsys.readouterr().err.startswith(message)


def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[scanner]\nopen_bps = 'high'\n")
    assert run.main(["--config", str(config)]) == 2
    assert capsys.readouterr().err == "run.py: scanner.open_bps: expected a number, got 'high'\n"
    assert run.main(["replay", str(CAPTURE), "--symbols", SYMBOLS, "--config", str(config)]) == 2


def test_sigterm_closes_every_opportunity_and_exits_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "--json",
            "--venues",
            "binance,okx,bybit",
            "--symbols",
            SYMBOLS,
            "--out",
            str(out),
            "--duration",
            "60",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = out.read_bytes() if out.exists() else b""
            if text.count(b'"state":"live"') >= 3 and b'"type":"opened"' in text:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    check_all(events)
    opened = {e["id"] for e in events if e["type"] == "opened"}
    closed = {e["id"]: e["reason"] for e in events if e["type"] == "closed"}
    assert opened and opened == set(closed)
    # the ones still open at the signal close as shutdown, after which nothing else happens
    assert "shutdown" in closed.values() and "disconnected" not in closed.values()
    last_close = max(i for i, e in enumerate(events) if e["type"] == "closed")
    assert all(e["type"] == "venue" for e in events[last_close + 1 : -1])
    assert events[-1]["type"] == "stats"  # the final counts, after everything else
    last_states = {e["venue"]: e["state"] for e in events if e["type"] == "venue"}
    assert last_states == {"binance": "down", "okx": "down", "bybit": "down"}


def test_emulate_serves_urls_and_stops_by_itself() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "emulate",
            "--venues",
            "binance,kraken",
            "--symbols",
            "BTC/USDT",
            "--duration",
            "0.5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("binance ws://127.0.0.1:") and "/ws http://127.0.0.1:" in lines[0]
    assert lines[1].startswith("kraken ws://127.0.0.1:") and "/v2 http://127.0.0.1:" in lines[1]


def test_record_then_replay_gives_the_live_events(tmp_path: Path) -> None:
    capture = tmp_path / "session.ndjson.gz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    live = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "record",
            str(capture),
            "--venues",
            "binance,okx",
            "--symbols",
            SYMBOLS,
            "--duration",
            "4",
            "--seed",
            "3",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert live.returncode == 0, live.stderr
    replayed = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "replay", str(capture), "--symbols", SYMBOLS],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert replayed.returncode == 0, replayed.stderr

    def opportunities(out: bytes) -> list[bytes]:
        skip = (b'"type":"venue"', b'"type":"stats"')  # a replay has no live counters
        return [line for line in out.splitlines() if not any(k in line for k in skip)]

    assert opportunities(replayed.stdout) == opportunities(live.stdout)
    with gzip.open(capture) as fh:
        kinds = {orjson.loads(line)["dir"] for line in fh.read().splitlines()}
    assert kinds == {"open", "out", "in", "rest", "close"}
