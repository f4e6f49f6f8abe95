"""Asset identity: renames by the venues' own tables, collisions documented by ccxt, the
user's declarations, and identity confirmed or split by published contract addresses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arbscan.quotes import METADATA_URLS, identity_map, load_metadata, parse_gate, parse_kucoin
from feeds.venues import codec_class
from feeds.venues.bitfinex import SPEC as BITFINEX
from feeds.venues.kraken_v1 import V1_ASSETS, KrakenV1
from scanner.config import ConfigError, IdentityConfig
from scanner.identity import KNOWN_DIFFERENT, AssetMeta, IdentityMap, split_by_contracts

ASSETS = Path(__file__).parent / "fixtures" / "assets"


def test_venue_renames_reach_the_scanner_as_the_common_tickers() -> None:
    """Kraken v1 writes XBT and XDG, Bitfinex UST for Tether (UST is TerraUSD elsewhere):
    the venues' tables translate them, so the scanner only sees BTC, DOGE and USDT."""
    assert V1_ASSETS == {"BTC": "XBT", "DOGE": "XDG"}
    assert BITFINEX.asset_names["USDT"] == "UST"
    assert KrakenV1(["DOGE/USD"]).venue_symbol("DOGE/USD") == "XDG/USD"
    assert codec_class("bitfinex")(["BTC/USDT"]).venue_symbol("BTC/USDT") == "tBTCUST"


@pytest.mark.parametrize(
    ("venue", "ticker", "other"),
    [
        ("htx", "GTC", "Game.com"),
        ("htx", "HOT", "Hydro Protocol"),
        ("htx", "PNT", "Penta"),
        ("gate", "MPH", "Morpher"),
        ("gate", "RAI", "Rai Reflex Index"),
        ("gate", "VAI", "VAIOT"),
    ],
)
def test_collisions_documented_by_ccxt_are_not_paired(venue: str, ticker: str, other: str) -> None:
    identity = IdentityMap()
    assert identity.asset(venue, ticker) == other
    assert identity.asset("binance", ticker) == ticker
    assert not identity.same(venue, "binance", ticker)
    assert identity.same("binance", "okx", ticker)
    declared = IdentityMap(equal=[(venue, ticker)])
    assert declared.same(venue, "binance", ticker)


def test_game_com_on_htx_and_gate_is_one_asset() -> None:
    identity = IdentityMap()
    assert identity.same("htx", "gate", "GTC")
    assert set(KNOWN_DIFFERENT) == {"htx", "gate"}


def test_contracts_split_a_ticker_and_confirm_another() -> None:
    kucoin = parse_kucoin(json.loads((ASSETS / "kucoin_currencies.json").read_text()))
    gate = parse_gate(json.loads((ASSETS / "gate_currencies.json").read_text()))
    assert kucoin["GTC"] == AssetMeta(
        "Gitcoin", frozenset({"0xde30da39c46104798bb5aa3fe8b9e0e1f348163f"})
    )
    assert kucoin["BTC"].contracts == frozenset()
    # the chains are named differently (ERC20 / ETH): the address alone decides
    split = split_by_contracts({"kucoin": kucoin, "gate": gate})
    assert split == {("kucoin", "GTC"): "GTC@kucoin"}  # one venue each: the first keeps GTC
    identity = IdentityMap(different={}, metadata={"kucoin": kucoin, "gate": gate})
    assert identity.same("kucoin", "gate", "USDT")
    assert not identity.same("kucoin", "gate", "GTC")
    assert identity.same("kucoin", "gate", "BTC")  # no contract: not contradicted


def test_metadata_is_fetched_once_then_read_from_the_cache(tmp_path: Path) -> None:
    docs = {
        METADATA_URLS["kucoin"]: json.loads((ASSETS / "kucoin_currencies.json").read_text()),
        METADATA_URLS["gate"]: json.loads((ASSETS / "gate_currencies.json").read_text()),
    }
    asked: list[str] = []

    def fetch(url: str) -> Any:
        asked.append(url)
        return docs[url]

    cache = tmp_path / "assets.json"
    first = load_metadata(["kucoin", "gate", "binance"], str(cache), fetch)
    assert sorted(first) == ["gate", "kucoin"] and len(asked) == 2
    again = load_metadata(["kucoin", "gate"], str(cache), None)  # no fetch needed now
    assert again == first and len(asked) == 2
    config = IdentityConfig(metadata=True, metadata_cache=str(cache))
    assert identity_map(config, ["kucoin", "gate"]).asset("gate", "GTC") == "Game.com"


def test_metadata_without_a_way_to_fetch_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^identity\.metadata: no way to fetch kucoin"):
        load_metadata(["kucoin"], str(tmp_path / "none.json"), None)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match=r"^identity\.metadata_cache: cannot read"):
        load_metadata(["kucoin"], str(tmp_path / "bad.json"), None)
    assert identity_map(IdentityConfig(), ["kucoin"]).asset("kucoin", "GTC") == "GTC"
