"""Configuration: defaults, overrides, and one clear error naming the key for each mistake."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.venues import VENUES, canonical_venue, default_fees
from scanner.config import (
    Config,
    ConfigError,
    Endpoint,
    FeedsConfig,
    ScannerConfig,
    load_config,
    parse_config,
)
from tests.fuzzing import fuzz_settings

DEFAULT_TAKER_FEES_BPS = default_fees()


def test_defaults_without_a_file() -> None:
    cfg = load_config(None, default_fees=DEFAULT_TAKER_FEES_BPS)
    assert cfg == Config(fees_bps=DEFAULT_TAKER_FEES_BPS)
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
    cfg = load_config(path, default_fees=DEFAULT_TAKER_FEES_BPS)
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
        ({"urls": {"binance": {"ws": "nope"}}}, "urls.binance.ws: expected a ws:// or wss:// URL"),
        ({"urls": {"binance": {"wss": "ws://x"}}}, "urls.binance.wss: unknown key"),
        ({"scaner": {}}, "scaner: unknown section"),
        ({"connections": {"coinbase": 0}}, "connections.coinbase: must be between 1 and 1000"),
        ({"connections": {"coinbase": 2.5}}, "connections.coinbase: expected an integer, got 2.5"),
        ({"connections": {"coinbase": True}}, "connections.coinbase: expected an integer"),
        ({"connections": {"okx": 1001}}, "connections.okx: must be between 1 and 1000, got 1001"),
        ({"connections": 10}, "connections: expected a table of venue = products per connection"),
        (
            {"cluster": {"fx_stale_ms": 50}},
            "cluster.fx_stale_ms: must be between 100 and 3.6e+06, got 50",
        ),
        ({"cluster": {"fx_rate_hz": 0}}, "cluster.fx_rate_hz: must be between 0.1 and 1000"),
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


def test_a_venue_alias_sets_the_venues_own_fee_and_urls(tmp_path: Path) -> None:
    path = tmp_path / "alias.toml"
    path.write_text('[fees]\nokex = 25\nBinance = 7\n[urls.okex3]\nws = "wss://okx.example/ws"\n')
    cfg = load_config(path, venue=canonical_venue)
    assert cfg.fee_bps("okx") == 25.0
    assert cfg.fee_bps("binance") == 7.0
    assert cfg.urls == {"okx": Endpoint(ws="wss://okx.example/ws", rest=None)}
    assert "okex" not in cfg.fees_bps and "Binance" not in cfg.fees_bps


SUPPORTED = f"(supported: {', '.join(VENUES)})"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fees": {"nowhere": 5}}, f"fees.nowhere: unknown venue 'nowhere' {SUPPORTED}"),
        ({"fees": {"okx": 5, "okex": 6}}, "fees.okex: the same venue as fees.okx"),
        ({"fees": {"binance": 1, "BINANCE": 2}}, "fees.BINANCE: the same venue as fees.binance"),
        ({"urls": {"mtgox": {"ws": "ws://x"}}}, f"urls.mtgox: unknown venue 'mtgox' {SUPPORTED}"),
        (
            {"urls": {"okex": {"ws": "ws://a"}, "okx": {"rest": "http://b"}}},
            "urls.okx: the same venue as urls.okex",
        ),
        (
            {"urls": {"okx": {"ws": "http://okx.example/ws"}}},
            "urls.okx.ws: expected a ws:// or wss:// URL with a host, got 'http://okx.example/ws'",
        ),
        (
            {"urls": {"okx": {"rest": "wss://okx.example"}}},
            "urls.okx.rest: expected a http:// or https:// URL with a host, got "
            "'wss://okx.example'",
        ),
        (
            {"urls": {"okx": {"ws": "wss://"}}},
            "urls.okx.ws: expected a ws:// or wss:// URL with a host, got 'wss://'",
        ),
        (
            {"urls": {"okx": {"ws": "wss://okx.example:99999/ws"}}},
            "urls.okx.ws: not a valid URL: 'wss://okx.example:99999/ws'",
        ),
        (
            {"urls": {"okx": {"rest": 5}}},
            "urls.okx.rest: expected a http:// or https:// URL, got 5",
        ),
        ({"scanner": {"open_bps": 10**30}}, "scanner.open_bps: out of range, got " + str(10**30)),
        (
            {"emulator": {"faults": "okx:gap"}},
            "emulator.faults: expected a list of strings, got 'okx:gap'",
        ),
        ({"emulator": {"faults": [1]}}, "emulator.faults: expected a list of strings, got [1]"),
        ({"emulator": {"seed": 1}}, "emulator.seed: unknown key (known: faults)"),
        ({"emulator": []}, "emulator: expected a table"),
        (
            {"connections": {"mtgox": 5}},
            f"connections.mtgox: unknown venue 'mtgox' {SUPPORTED}",
        ),
        (
            {"connections": {"okx": 5, "okex": 6}},
            "connections.okex: the same venue as connections.okx",
        ),
        (
            {"fees": {"bin\nance": 1}},
            "fees.\"bin\\nance\": unknown venue 'bin\\nance' " + SUPPORTED,
        ),
        (
            {"scanner": {"open bps": 1}},
            'scanner."open bps": unknown key (known: open_bps, '
            "close_bps, update_bps, min_profit, depth_levels, max_notional, update_interval_ms)",
        ),
    ],
)
def test_each_venue_and_url_mistake_names_its_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, venue=canonical_venue)
    assert str(info.value) == message


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[scanner]\n# café\nopen_bps = 5\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: not UTF-8 text (line 2)"


def test_a_venue_alias_sets_the_venues_products_per_connection() -> None:
    raw = {"connections": {"okex": 50, "Coinbase": 3}}
    assert parse_config(raw, venue=canonical_venue).connections == {"okx": 50, "coinbase": 3}


def test_emulator_faults_are_kept_as_written() -> None:
    raw = {"emulator": {"faults": ["okx:gap@10s", "binance:rest_error:status=429"]}}
    assert parse_config(raw).emulator_faults == ("okx:gap@10s", "binance:rest_error:status=429")


_KEYS = st.sampled_from(
    ["scanner", "feeds", "fees", "urls", "emulator", "connections", "coinbase", "open_bps",
     "close_bps", "depth_levels", "stale_after_s", "okx", "okex", "binance", "ws", "rest",
     "faults", "x"]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["ws://127.0.0.1:1/ws", "https://h", "wss://", "okx:gap@1s"])
)
_NESTED = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(_KEYS | st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)


@fuzz_settings(300)
@given(raw=st.dictionaries(_KEYS, _NESTED, max_size=5))
def test_fuzz_config_dicts_give_a_config_or_a_config_error(raw: dict[str, Any]) -> None:
    try:
        cfg = parse_config(raw, venue=canonical_venue)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(cfg, Config)


_LINES = st.sampled_from(
    ["[scanner]", "[feeds]", "[fees]", "[urls.okx]", "[urls.okex]", "[emulator]", "[x]",
     "[connections]", "coinbase = 0",
     "open_bps = 1", "close_bps = 9", "depth_levels = 0", "stale_after_s = 1e999",
     "okx = 10", "okex = 5", "binance = -1", 'ws = "ws://127.0.0.1:9/ws"', 'rest = "ftp://x"',
     'faults = ["okx:gap@1s"]', "faults = [1, 2]", "warmup_ms = 9999999999999999999",
     "a.b = 1", "= =", "[[fees]]"]
)  # fmt: skip


@fuzz_settings(300)
@given(lines=st.lists(_LINES | st.text(max_size=30), max_size=12), raw=st.binary(max_size=8))
def test_fuzz_config_text_gives_a_config_or_a_config_error(lines: list[str], raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + raw)
        try:
            cfg = load_config(path, venue=canonical_venue)
        except ConfigError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert isinstance(cfg, Config)


def test_a_utf8_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[scanner]\nopen_bps = 6\n")
    assert load_config(path).scanner.open_bps == 6.0
