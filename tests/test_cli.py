"""run.py, the composition root: replay is byte-identical to the live run it recorded, the
book tape agrees with the profit model, bad start-up input exits 2 naming the problem, and a
SIGTERM shuts a live scan down cleanly (every opportunity closed, exit 0)."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import websockets.sync.client

import emulator
import emulator.venues
from arbscan import cli
from emulator import FaultSpec
from feeds.venues import VENUES
from tests.brute import VenueBook, fill
from tests.schema_check import check_all

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CAPTURE = FIXTURES / "emulated_binance_okx.ndjson.gz"
GOLDEN = FIXTURES / "emulated_binance_okx.events.ndjson"
SYMBOLS = "BTC/USDT,ETH/USDT"


def replay(capsysbinary: pytest.CaptureFixture[bytes], *extra: str) -> bytes:
    assert cli.main(["replay", str(CAPTURE), "--symbols", SYMBOLS, *extra]) == 0
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


SUPPORTED = f"(supported: {', '.join(VENUES)})"
FAULTS = ", ".join(sorted(emulator.FAULTS))
SYMBOLS_4 = "BTC/USDT, ETH/USDT, SOL/USDT, XRP/USDT"
BAD_COMMAND_LINES = [
    (["--venues", "nowhere"], f"--venues: unknown venue 'nowhere' {SUPPORTED}"),
    (["--venues", ""], "--venues: expected a comma-separated list, got ''"),
    (["--venues", "binance,,okx"], "--venues: expected a comma-separated list, got 'binance,,okx'"),
    (["--venues", "okx,okex"], "--venues: duplicate venue in ['okx', 'okex']"),
    (["--symbols", ""], "--symbols: expected a comma-separated list, got ''"),
    (["--symbols", ","], "--symbols: expected a comma-separated list, got ','"),
    (["--symbols", "BTC/USDT/X"], "--symbols: 'BTC/USDT/X' is not a canonical BASE/QUOTE symbol"),
    (["--symbols", "btc-usdt"], "--symbols: 'btc-usdt' is not a canonical BASE/QUOTE symbol"),
    (["--symbols", "BTC/BTC"], "--symbols: 'BTC/BTC' is not a canonical BASE/QUOTE symbol"),
    (["--duration", "0"], "--duration: must be a finite number of seconds > 0, got 0"),
    (["--duration", "-1"], "--duration: must be a finite number of seconds > 0, got -1"),
    (["--duration", "nan"], "--duration: must be a finite number of seconds > 0, got nan"),
    (["--duration", "inf"], "--duration: must be a finite number of seconds > 0, got inf"),
    (["--books", "21"], "--books: at most scanner.depth_levels (20) levels are kept, got 21"),
    (
        ["--serve", "localhost:http"],
        "--serve: expected HOST:PORT with a port 1-65535, got 'localhost:http'",
    ),
    (
        ["--serve", "127.0.0.1:0"],
        "--serve: expected HOST:PORT with a port 1-65535, got '127.0.0.1:0'",
    ),
    (
        ["--serve", "[::1]:65536"],
        "--serve: expected HOST:PORT with a port 1-65535, got '[::1]:65536'",
    ),
    (
        ["--serve", "::1:8765"],
        "--serve: an IPv6 host goes in brackets ([::1]:PORT), got '::1:8765'",
    ),
    (["--serve", "[::1]"], "--serve: expected [IPV6]:PORT, got '[::1]'"),
    (
        ["--serve", "example.com:8765"],
        "--serve: the host must be an IP address or localhost, got 'example.com'",
    ),
    (
        ["--serve", "[nohost]:8765"],
        "--serve: the host must be an IP address or localhost, got 'nohost'",
    ),
    (
        ["--serve", "999.1.1.1:8765"],
        "--serve: the host must be an IP address or localhost, got '999.1.1.1'",
    ),
    (
        ["--web", "example.com:8080"],
        "--web: the host must be an IP address or localhost, got 'example.com'",
    ),
    (["--web", "[::1]:65536"], "--web: expected HOST:PORT with a port 0-65535, got '[::1]:65536'"),
    (
        ["--web", "--serve", "127.0.0.1:8765"],
        "--web: the dashboard's server serves the events too (on /ws): "
        "give --serve or --web, not both",
    ),
    (["--out", "{tmp}"], "--out: '{tmp}' is a directory"),
    (["--out", "{tmp}/missing/events.ndjson"], "--out: the folder '{tmp}/missing' does not exist"),
    (["--out", "-"], "--out: '-' is not a file (--json writes the events to stdout)"),
    (
        ["--out", "/proc/no-such-file"],
        "--out: cannot open /proc/no-such-file: No such file or directory",
    ),
    (["--config", "{tmp}/c.toml", "--out", "{tmp}/c.toml"], "--out: the same file as --config"),
    (
        ["record", "{tmp}/c.toml", "--config", "{tmp}/c.toml"],
        "CAPTURE: the same file as --config",
    ),
    (["record", "{tmp}/missing/c.ndjson.gz"], "CAPTURE: the folder '{tmp}/missing' does not exist"),
    (["record", "{tmp}"], "CAPTURE: '{tmp}' is a directory"),
    (
        ["record", "{tmp}/c.ndjson", "--out", "{tmp}/c.ndjson"],
        "--out: the same file as CAPTURE",
    ),
    (["live", "--seed", "3"], "--seed: only for the simulated market, not the real venues"),
    (["live", "--fault", "okx:gap"], "--fault: only for the simulated market, not the real venues"),
    (
        ["record", "{tmp}/c.gz", "--live", "--seed", "1"],
        "--seed: only for the simulated market, not the real venues",
    ),
    (
        ["--venues", "binance", "--fault", "okx:gap@1s"],
        "--fault: 'okx:gap@1s': okx is not among the venues (binance)",
    ),
    (
        ["--fault", "okx:gap@soon"],
        "--fault: 'okx:gap@soon': 'soon' is not a duration (like 500ms, 10s, 2m)",
    ),
    (["--fault", "okx"], "--fault: 'okx': expected VENUE:KIND[@DELAY][:key=value,...]"),
    (["--fault", "okx:gap:"], "--fault: 'okx:gap:': nothing after the last ':'"),
    (
        ["--fault", "okx:gap:count=0"],
        "--fault: 'okx:gap:count=0': count: must be between 1 and 1000000, got '0'",
    ),
    (["--fault", "okx:gap:count"], "--fault: 'okx:gap:count': expected key=value, got 'count'"),
    (
        ["--fault", "okx:gap:colour=red"],
        "--fault: 'okx:gap:colour=red': gap takes no parameter 'colour' (takes: count, every)",
    ),
    (
        ["--fault", "okx:gap:every=50ms"],
        "--fault: 'okx:gap:every=50ms': every: at least 100ms, got '50ms'",
    ),
    (
        ["--fault", "okx:melt"],
        f"--fault: 'okx:melt': unknown fault 'melt' (have {FAULTS})",
    ),
    (["--fault", "okx:rest_error"], "--fault: 'okx:rest_error': okx serves no REST snapshot"),
    (
        ["--fault", "binance:bad_checksum"],
        "--fault: 'binance:bad_checksum': binance sends no checksum",
    ),
    (["--fault", "mtgox:gap"], f"--fault: 'mtgox:gap': unknown venue 'mtgox' {SUPPORTED}"),
    (
        ["--fault", "okx:crossed:symbol=DOGE/USDT"],
        "--fault: 'okx:crossed:symbol=DOGE/USDT': "
        f"symbol 'DOGE/USDT' is not among the symbols ({SYMBOLS_4}, USDC/USDT)",
    ),
    (
        ["--fault", "okx:disconnect:code=99"],
        "--fault: 'okx:disconnect:code=99': code: must be between 1000 and 4999, got '99'",
    ),
    (
        ["--symbols", "BTC-X/USDT"],
        "--symbols: 'BTC-X/USDT' is not a canonical BASE/QUOTE symbol",
    ),
    (
        ["--venues", "binance", "--symbols", "AB/CD,ABC/D"],
        "--symbols: 'ABC/D' and 'AB/CD' are both 'ABCD'",
    ),
    (
        ["replay", str(CAPTURE)],
        "--symbols: replay needs the capture's canonical symbols (its open records do not "
        "name them)",
    ),
    (
        ["replay", str(CAPTURE), "--symbols", ""],
        "--symbols: expected a comma-separated list, got ''",
    ),
    (["replay", str(CAPTURE), "--venues", ""], "--venues: expected a comma-separated list, got ''"),
    (
        ["replay", str(CAPTURE), "--venues", "kraken"],
        "--venues: 'kraken' is not in the capture (binance, okx)",
    ),
    (
        ["replay", str(CAPTURE), "--symbols", SYMBOLS, "--serve", "127.0.0.1:65536"],
        "--serve: expected HOST:PORT with a port 0-65535, got '127.0.0.1:65536'",
    ),
    (["replay", str(CAPTURE), "--wait-clients", "1"], "--wait-clients: needs --serve"),
    (
        ["replay", str(CAPTURE), "--symbols", SYMBOLS, "--books", "21"],
        "--books: at most scanner.depth_levels (20) levels are kept, got 21",
    ),
    (
        ["replay", str(CAPTURE), "--symbols", SYMBOLS, "--out", "{tmp}"],
        "--out: '{tmp}' is a directory",
    ),
    (
        ["replay", str(CAPTURE), "--symbols", SYMBOLS, "--out", "/proc/no-such-file"],
        "--out: cannot open /proc/no-such-file: No such file or directory",
    ),
    (
        [
            "replay",
            str(CAPTURE),
            "--symbols",
            SYMBOLS,
            "--config",
            "{tmp}/c.toml",
            "--out",
            "{tmp}/c.toml",
        ],
        "--out: the same file as --config",
    ),
]


@pytest.mark.parametrize(("argv", "message"), BAD_COMMAND_LINES)
def test_bad_command_lines_exit_2_with_one_line_naming_the_option(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.toml").write_text("# mine\n")
    assert cli.main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == f"run.py: {message.replace('{tmp}', str(tmp_path))}\n"
    assert not (tmp_path / "c.ndjson").exists()  # nothing was written
    assert (tmp_path / "c.toml").read_text() == "# mine\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--duration", "soon"],
        ["--json", "live"],
        ["replay", str(CAPTURE), "--seed", "1"],
        ["--books", "-1"],
        ["replay", str(CAPTURE), "--symbols", "BTC/USDT", "--books", "-1"],
    ],
)
def test_argparse_errors_exit_2_too(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    *_, last = capsys.readouterr().err.splitlines()
    assert last.startswith("run.py") and ": error: " in last


def test_replay_never_writes_over_the_capture_it_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "c.ndjson.gz"
    capture.write_bytes(CAPTURE.read_bytes())
    argv = ["replay", str(capture), "--symbols", SYMBOLS, "--out", str(tmp_path / "c.ndjson.gz")]
    assert cli.main(argv) == 2
    assert capsys.readouterr() == ("", "run.py: --out: the same file as CAPTURE\n")
    assert capture.read_bytes() == CAPTURE.read_bytes()


def test_a_serve_port_in_use_exits_2_before_any_file_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "events.ndjson"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["--venues", "okx", "--serve", f"127.0.0.1:{port}", "--out", str(out), "--json"]
        assert cli.main([*argv, "--duration", "5"]) == 2
    assert capsys.readouterr().err == (
        f"run.py: --serve: 127.0.0.1:{port} is already in use (another arbscan?); "
        "give another port: --serve HOST:PORT\n"
    )
    assert not out.exists()


BAD_CONFIGS = [
    (
        "[urls.okx]\nws = 'https://okx.example/ws'\n",
        [],
        "urls.okx.ws: expected a ws:// or wss:// URL with a host, got 'https://okx.example/ws'",
    ),
    (
        "[urls.binance]\nrest = 'wss://binance.example'\n",
        [],
        "urls.binance.rest: expected a http:// or https:// URL with a host, got 'wss://binance.example'",
    ),
    ("[fees]\nmtgox = 5\n", [], f"fees.mtgox: unknown venue 'mtgox' {SUPPORTED}"),
    ("[fees]\nokx = 5\nokex = 6\n", [], "fees.okex: the same venue as fees.okx"),
    (
        "[emulator]\nfaults = ['okx:melt']\n",
        [],
        f"emulator.faults[0]: 'okx:melt': unknown fault 'melt' (have {FAULTS})",
    ),
    (
        "[emulator]\nfaults = ['okx:gap', 'kraken:gap@1s']\n",
        ["--venues", "okx"],
        "emulator.faults[1]: 'kraken:gap@1s': kraken is not among the venues (okx)",
    ),
    (
        "[emulator]\nfaults = ['okx:gap@1s']\n",
        ["live"],
        "emulator.faults: faults are for the simulated market only",
    ),
    (
        "[urls.binance]\nws = 'wss://testnet.binance.vision/ws'\n",
        [],
        "urls.binance: endpoint overrides are for the real venues (run.py live, record --live); "
        "the simulated market serves its own",
    ),
    (
        "[scanner]\ndepth_levels = 5\n",
        ["--books", "6"],
        "--books: at most scanner.depth_levels (5) levels are kept, got 6",
    ),
]


@pytest.mark.parametrize(("text", "argv", "message"), BAD_CONFIGS)
def test_bad_configs_exit_2_with_one_line_naming_the_key(
    text: str, argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert cli.main([*argv, "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"run.py: {message}\n"


def test_a_config_that_is_not_utf8_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes(b"[fees]\n# \xe9\n")
    assert cli.main(["--config", str(config)]) == 2
    assert capsys.readouterr().err == f"run.py: {config}: not UTF-8 text (line 2)\n"


def test_an_alias_in_the_config_sets_the_venues_fee_and_url(tmp_path: Path) -> None:
    config = tmp_path / "alias.toml"
    config.write_text("[fees]\nokex = 3.5\n[urls.okex3]\nws = 'wss://okx.example/ws/v5/public'\n")
    args = cli.parser().parse_args(["live", "--venues", "okx,binance", "--config", str(config)])
    plan = cli.plan_from(args)
    assert (plan.config.fee_bps("okx"), plan.config.fee_bps("binance")) == (3.5, 10.0)
    assert plan.ws_urls == {"okx": "wss://okx.example/ws/v5/public"}


def test_the_simulated_scan_takes_every_emulated_venue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = dict(emulator.venues.VENUES)
    assert cli.plan_from(cli.parser().parse_args(["scan"])).venues == sorted(served)
    # a venue with a feed but no emulator adapter yet: scanned live, not simulated
    del served["kraken"]
    monkeypatch.setattr(emulator.venues, "VENUES", served)
    assert cli.plan_from(cli.parser().parse_args(["scan"])).venues == sorted(served)
    assert cli.plan_from(cli.parser().parse_args(["record", "x.ndjson"])).venues == sorted(served)
    assert cli.plan_from(cli.parser().parse_args(["live"])).venues == list(VENUES)
    for argv in (["scan", "--venues", "all"], ["record", "x", "--venues", " ALL "]):  # the default
        assert cli.plan_from(cli.parser().parse_args(argv)).venues == sorted(served)
    assert cli.plan_from(cli.parser().parse_args(["live", "--venues", "all"])).venues == list(
        VENUES
    )
    assert "kraken" in VENUES
    assert cli.main(["--venues", "okx,kraken"]) == 2
    serves = ", ".join(sorted(served))
    assert capsys.readouterr().err == (
        f"run.py: --venues: the emulator does not serve kraken (it serves {serves}; "
        "`live` scans every venue)\n"
    )


def test_faults_from_the_config_then_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "faults.toml"
    config.write_text("[emulator]\nfaults = ['okex:gap@10s', 'binance:rest_error:status=500']\n")
    argv = ["scan", "--config", str(config), "--fault", "kraken:bad_checksum@2m:count=2,every=30s"]
    plan = cli.plan_from(cli.parser().parse_args(argv))
    assert plan.faults == [
        FaultSpec("okx", "gap", {}, delay_s=10.0),
        FaultSpec("binance", "rest_error", {"status": 500}),
        FaultSpec("kraken", "bad_checksum", {"count": 2}, delay_s=120.0, every_s=30.0),
    ]
    assert plan.seed == 1 and plan.emulated


def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[scanner]\nopen_bps = 'high'\n")
    assert cli.main(["--config", str(config)]) == 2
    assert capsys.readouterr().err == "run.py: scanner.open_bps: expected a number, got 'high'\n"
    assert cli.main(["replay", str(CAPTURE), "--symbols", SYMBOLS, "--config", str(config)]) == 2


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
    assert sorted(events[-1]["venues"]) == ["binance", "bybit", "okx"]
    assert all("latency_ms" in counts for counts in events[-1]["venues"].values())
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


def _scan(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *argv],
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_scheduled_gap_resyncs_that_venue_only() -> None:
    done = _scan(
        "--json", "--venues", "binance,okx", "--symbols", "BTC/USDT", "--duration", "3.5",
        "--fault", "okx:gap@1.5s",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [orjson.loads(line) for line in done.stdout.splitlines()]
    check_all(events)
    states = {
        venue: [(e["state"], e["reason"]) for e in events if e.get("venue") == venue]
        for venue in ("binance", "okx")
    }
    start = [("connecting", None), ("syncing", None), ("live", None)]
    assert states["binance"] == [*start, ("down", "stopped")]
    assert states["okx"] == [*start, ("resyncing", "desynced"), ("live", None), ("down", "stopped")]
    connecting, resyncing = (
        e["ts"]
        for e in events
        if e.get("venue") == "okx" and e["state"] in ("connecting", "resyncing")
    )
    assert resyncing - connecting >= 1.0e9  # the gap came at its delay, not at start-up


def _free_ipv6_loopback_port() -> int | None:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port: int = s.getsockname()[1]
            return port
    except OSError:
        return None


def test_the_event_server_serves_over_ipv6_loopback() -> None:
    port = _free_ipv6_loopback_port()
    if port is None:
        pytest.skip("this machine has no IPv6 loopback (::1): nothing to connect to")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--json", "--venues", "binance,okx",
         "--symbols", "BTC/USDT", "--duration", "3", "--serve", f"[::1]:{port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                ws = websockets.sync.client.connect(f"ws://[::1]:{port}", open_timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
        with ws:
            events = [orjson.loads(frame) for frame in ws]  # until the scan ends
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    check_all(events)
    last = {e["venue"]: e["state"] for e in events if e["type"] == "venue"}
    assert last == {"binance": "down", "okx": "down"}
