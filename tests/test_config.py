"""Configuration: defaults, overrides, and one clear error naming the key for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import (
    DEFAULT_TAKER_FEES_BPS,
    Config,
    ConfigError,
    Endpoint,
    FeedsConfig,
    ScannerConfig,
    load_config,
    parse_config,
)


def test_defaults_without_a_file() -> None:
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.scanner == ScannerConfig(
        open_bps=5.0,
        close_bps=2.0,
        update_bps=1.0,
        min_profit=0.0,
        depth_levels=20,
        max_notional=0.0,
        update_interval_ms=250,
    )
    assert cfg.feeds == FeedsConfig(
        stale_after_s=10.0, max_book_age_s=60.0, warmup_ms=0, stats_interval_s=10.0
    )
    assert cfg.fee_bps("binance") == 10.0


def test_file_overrides_and_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "arbscan.toml"
    path.write_text(
        "[scanner]\nopen_bps = 8\ndepth_levels = 5\n"
        "[feeds]\nwarmup_ms = 500\nstats_interval_s = 0\n"
        "[fees]\nbinance = 7.5\nnewvenue = 20\n"
        '[urls.binance]\nws = "ws://127.0.0.1:9000/ws"\n'
    )
    cfg = load_config(path)
    assert cfg.scanner.open_bps == 8.0 and isinstance(cfg.scanner.open_bps, float)
    assert cfg.scanner.depth_levels == 5
    assert cfg.scanner.close_bps == 2.0
    assert (cfg.feeds.warmup_ms, cfg.feeds.stats_interval_s) == (500, 0.0)
    assert cfg.fee_bps("binance") == 7.5
    assert cfg.fee_bps("newvenue") == 20.0
    assert cfg.fee_bps("okx") == DEFAULT_TAKER_FEES_BPS["okx"]
    assert cfg.urls["binance"] == Endpoint(ws="ws://127.0.0.1:9000/ws", rest=None)
    assert cfg.connections == {}


def test_products_per_connection(tmp_path: Path) -> None:
    path = tmp_path / "arbscan.toml"
    path.write_text("[connections]\ncoinbase = 5\nbinance = 200\n")
    assert load_config(path).connections == {"coinbase": 5, "binance": 200}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"scanner": {"open_bps": "x"}}, "scanner.open_bps: expected a number, got 'x'"),
        ({"scanner": {"depth_levels": 2.5}}, "scanner.depth_levels: expected an integer, got 2.5"),
        ({"scanner": {"depth_levels": 0}}, "scanner.depth_levels: must be between 1 and 1000"),
        ({"scanner": {"open_bps": True}}, "scanner.open_bps: expected a number, got True"),
        ({"scanner": {"foo": 1}}, "scanner.foo: unknown key"),
        ({"scanner": {"close_bps": 9.0}}, "scanner.close_bps: must be <= scanner.open_bps"),
        ({"scanner": {"min_profit": -1}}, "scanner.min_profit: must be between 0 and inf"),
        ({"feeds": {"stale_after_s": 0}}, "feeds.stale_after_s: must be between 0.1 and 3600"),
        ({"feeds": 3}, "feeds: expected a table"),
        ({"feeds": {"stats_interval_s": -1}}, "feeds.stats_interval_s: must be between 0 and"),
        ({"feeds": {"stats_interval_s": "10s"}}, "feeds.stats_interval_s: expected a number"),
        ({"fees": {"binance": "ten"}}, "fees.binance: expected a number, got 'ten'"),
        ({"fees": {"binance": -1}}, "fees.binance: must be between 0 and 10000 bps"),
        ({"urls": {"binance": {"ws": "nope"}}}, "urls.binance.ws: expected a URL, got 'nope'"),
        ({"urls": {"binance": {"wss": "ws://x"}}}, "urls.binance.wss: unknown key"),
        ({"scaner": {}}, "scaner: unknown section"),
        ({"connections": {"coinbase": 0}}, "connections.coinbase: must be between 1 and 1000"),
        ({"connections": {"coinbase": 2.5}}, "connections.coinbase: expected an integer, got 2.5"),
        ({"connections": {"coinbase": True}}, "connections.coinbase: expected an integer"),
        ({"connections": {"okx": 1001}}, "connections.okx: must be between 1 and 1000, got 1001"),
        ({"connections": 10}, "connections: expected a table of venue = products per connection"),
    ],
)
def test_each_mistake_names_its_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert str(info.value).startswith(message)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[scanner\nopen_bps = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_unknown_venue_fee_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^fees\.nowhere: no taker fee known"):
        Config().fee_bps("nowhere")
