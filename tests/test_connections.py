"""How run.py spreads a venue's symbols over connections: the venue's limit of products per
connection (Coinbase 10), overridden per venue by the config's [connections]."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbscan import cli
from arbscan.options import Plan
from arbscan.scan import chunk_symbols
from feeds.venues import codec_class

SYMBOLS = [f"C{i:02d}/USD" for i in range(25)]


def test_coinbase_connections_carry_ten_products_each() -> None:
    chunks = chunk_symbols(codec_class("coinbase"), SYMBOLS)
    assert chunks == [SYMBOLS[:10], SYMBOLS[10:20], SYMBOLS[20:]]
    assert [len(c) for c in chunks] == [10, 10, 5]


def test_a_configured_size_and_other_venues_limits() -> None:
    assert [len(c) for c in chunk_symbols(codec_class("coinbase"), SYMBOLS, 7)] == [7, 7, 7, 4]
    assert chunk_symbols(codec_class("coinbase"), SYMBOLS, 1000) == [SYMBOLS]
    usdt = [s.replace("/USD", "/USDT") for s in SYMBOLS]
    assert chunk_symbols(codec_class("okx"), usdt) == [usdt]  # the venue's default, 100


def test_symbols_of_one_product_share_a_connection_and_count_once() -> None:
    symbols = ["BTC/USD", "ETH/USD", "SOL/USD", "BTC/USDC", "USDT/USDC", "ETH/USDC"]
    assert chunk_symbols(codec_class("coinbase"), symbols, 2) == [
        ["BTC/USD", "BTC/USDC", "ETH/USD", "ETH/USDC"],
        ["SOL/USD", "USDT/USDC"],
    ]


def plan(tmp_path: Path, table: str) -> Plan:
    config = tmp_path / "arbscan.toml"
    config.write_text(f"[connections]\n{table}\n")
    return cli.plan_from(cli.parser().parse_args(["scan", "--config", str(config)]))


def test_the_config_sets_products_per_connection_by_venue_id(tmp_path: Path) -> None:
    assert plan(tmp_path, "coinbase = 3\nokex = 50").per_connection == {"coinbase": 3, "okx": 50}
    assert cli.plan_from(cli.parser().parse_args(["scan"])).per_connection == {}


def test_an_unknown_venue_or_a_bad_size_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "arbscan.toml"
    for table, message in [
        ("nowhere = 5", "run.py: connections.nowhere: unknown venue 'nowhere' (supported: "),
        ("coinbase = 0", "run.py: connections.coinbase: must be between 1 and 1000, got 0\n"),
        ("coinbase = '10'", "run.py: connections.coinbase: expected an integer, got '10'\n"),
    ]:
        config.write_text(f"[connections]\n{table}\n")
        assert cli.main(["--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, err
