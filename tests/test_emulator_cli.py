"""``run.py emulate`` (``python -m emulator``): every bad value is argparse's one-line error
naming the option, exit status 2; a port in use is one line too."""

from __future__ import annotations

import socket

import pytest

from arbscan import cli
from emulator.venues import VENUES

TOP = 65536 - len(VENUES)  # the last port of the last venue is 65535
BAD_EMULATE = [
    (["--port-base", "70000"], f"--port-base: must be a number between 1 and {TOP}, got 70000"),
    (["--port-base", "-1"], f"--port-base: must be a number between 1 and {TOP}, got -1"),
    (
        ["--port-base", "65535", "--venues", "okx,kraken"],
        "--port-base: must be a number between 1 and 65534, got 65535",
    ),
    (["--rate", "-5"], "--rate: must be a number >= 0, got -5"),
    (
        ["--rate", "0.001"],  # every venue, 2 symbols
        f"--rate: at least one message a minute per book ({len(VENUES) * 2 / 60:g}/s here)",
    ),
    (["--rate", "nan"], "--rate: must be a number >= 0, got nan"),
    (
        ["--rate", "10", "--interval-ms", "5"],
        "--interval-ms: not with --rate (the rate sets the step)",
    ),
    (["--interval-ms", "0"], "--interval-ms: must be a number between 1 and 60000, got 0"),
    (
        ["--dislocations-per-min", "nan"],
        "--dislocations-per-min: must be a number between 0 and 60000, got nan",
    ),
    (["--duration", "-1"], "--duration: must be a number >= 0, got -1"),
    (["--duration", "inf"], "--duration: must be a number >= 0, got inf"),
    (["--symbols", "btcusdt"], "--symbols: 'btcusdt' is not a canonical BASE/QUOTE symbol"),
    (["--symbols", ""], "--symbols: expected a comma-separated list without empty items, got ''"),
    (["--symbols", "BTC/USDT,BTC/USDT"], "--symbols: duplicate in 'BTC/USDT,BTC/USDT'"),
    (["--venues", ","], "--venues: expected a comma-separated list without empty items, got ','"),
    (["--venues", "mtgox"], f"--venues: unknown venues ['mtgox']; have {sorted(VENUES)}"),
    (
        ["--venues", "binance", "--option", "okx:checksum_zero"],
        "--option: 'okx:checksum_zero': okx is not among the venues",
    ),
    (
        ["--host", "example.com"],
        "argument --host: expected an IP address or localhost, got 'example.com'",
    ),
    (
        ["--venues", "binance", "--fault", "okx:gap"],
        "--fault: 'okx:gap': okx is not among the venues (binance)",
    ),
    (
        ["--fault", "binance:bad_checksum@1s"],
        "--fault: 'binance:bad_checksum@1s': binance sends no checksum",
    ),
    (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (
        ["--symbols", "BTC/USDT", "--quiet-symbols", "SOL/USDT,BTC/USDT"],
        "--quiet-symbols: not among --symbols: ['SOL/USDT']",
    ),
    (
        ["--quiet-symbols", ""],
        "--quiet-symbols: expected a comma-separated list without empty items, got ''",
    ),
    (["--ping-interval", "-1"], "--ping-interval: must be a number >= 0, got -1"),
    (["--ping-interval", "nan"], "--ping-interval: must be a number >= 0, got nan"),
    (
        ["--option", "okx:requests_per_hour=0"],
        "--option: 'okx:requests_per_hour=0': okx option 'requests_per_hour' must be an "
        "integer >= 1, not 0",
    ),
    (
        ["--option", "binance:checksum_zero"],
        "--option: 'binance:checksum_zero': binance has no option 'checksum_zero' (has [])",
    ),
    (
        ["--option", "bybit:ts_text=yes"],
        "--option: 'bybit:ts_text=yes': bybit option 'ts_text' must be true or false, not 'yes'",
    ),
    (
        ["--venues", "okx", "--fault", "okx:overlap@1s"],
        "--fault: 'okx:overlap@1s': okx sends no update-id ranges",
    ),
    (
        ["--fault", "kraken:novel:count=2"],
        "--fault: 'kraken:novel:count=2': kraken has no novel fault",
    ),
]


@pytest.mark.parametrize(("argv", "message"), BAD_EMULATE)
def test_bad_emulate_values_exit_2_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["emulate", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: run.py emulate [-h]")
    assert err.endswith(f"]\nrun.py emulate: error: {message}\n")


def test_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["emulate", "--venues", "okx", "--port-base", str(port)]) == 2
    assert capsys.readouterr() == (
        "",
        "run.py emulate: error: cannot listen: error while attempting to bind on address "
        f"('127.0.0.1', {port}): address already in use\n",
    )
