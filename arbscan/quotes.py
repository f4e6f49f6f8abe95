"""Across quotes, as composed here: the simulated market's listings and depegs, and the asset
identity map the engine is given (known collisions, the user's declarations, and the venues'
published asset metadata when enabled)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from emulator.market import Depeg
from scanner.config import ConfigError, IdentityConfig
from scanner.identity import AssetMeta, IdentityMap

USD_SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD")
USDT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
KRW_SYMBOLS = ("BTC/KRW", "ETH/KRW", "SOL/KRW", "XRP/KRW", "USDT/KRW")
EMULATED_LISTINGS: Mapping[str, tuple[str, ...]] = {
    "kraken": (*USD_SYMBOLS, "USDT/USD", "USDC/USD"),
    "coinbase": (*USD_SYMBOLS, "USDT/USD"),
    "bitstamp": (*USD_SYMBOLS, "USDT/USD"),
    "gemini": USD_SYMBOLS,
    "binance": (*USDT_SYMBOLS, "BTC/USDC", "ETH/USDC", "USDC/USDT"),
    "okx": (*USDT_SYMBOLS, "USDC/USDT"),
    "bybit": (*USDT_SYMBOLS, "USDC/USDT"),
    "upbit": KRW_SYMBOLS,
    "bithumb": KRW_SYMBOLS,
    "bitflyer": ("BTC/JPY", "ETH/JPY", "XRP/JPY"),
    "independentreserve": ("BTC/AUD", "ETH/AUD", "XRP/AUD", "SOL/AUD", "USDT/AUD"),
}
"""What each venue lists in the simulated market (the others: the USDT symbols): USD venues
beside USDT venues, the conversion books between them, and the fiat venues."""
EMULATED_DEPEGS = (
    Depeg("USDT", start_s=60.0, bps=-120.0, ramp_s=20.0, hold_s=30.0),
    Depeg("USDC", start_s=150.0, bps=-80.0, ramp_s=15.0, hold_s=20.0),
)
"""The simulated market's depeg episodes: they move the conversion books and every book
quoted in the asset together, never one venue against another."""
EMULATED_PREMIUM_BPS: Mapping[str, float] = {"KRW": 150.0}


def emulated_market(venues: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The default simulated market of ``venues``: every symbol (the USD ones first: a base's
    first symbol carries its price walk) and each venue's listing."""
    listings = {v: list(EMULATED_LISTINGS.get(v, USDT_SYMBOLS)) for v in venues}
    listed = {s for symbols in listings.values() for s in symbols}
    ordered = [*USD_SYMBOLS, *USDT_SYMBOLS]
    ordered += sorted(s for s in listed if s not in ordered)
    return [s for s in ordered if s in listed], listings


# -- asset metadata ---------------------------------------------------------------------------

METADATA_URLS: Mapping[str, str] = {
    "kucoin": "https://api.kucoin.com/api/v3/currencies",
    "gate": "https://api.gateio.ws/api/v4/spot/currencies",
}
"""The venues whose asset metadata (contract addresses per chain) is public, and where."""

Fetch = Callable[[str], Any]
"""GET a URL, return its parsed JSON (injected: tests never reach the network)."""


def parse_kucoin(doc: Any) -> dict[str, AssetMeta]:
    """KuCoin ``/api/v3/currencies``: ``data[]`` of ``currency``, ``fullName``, ``chains[]``
    with ``contractAddress`` (chain names differ between venues: the address alone is kept)."""
    out = {}
    for item in doc["data"]:
        contracts = frozenset(
            c["contractAddress"].lower()
            for c in item.get("chains") or ()
            if c.get("contractAddress")
        )
        out[item["currency"]] = AssetMeta(item.get("fullName") or item["currency"], contracts)
    return out


def parse_gate(doc: Any) -> dict[str, AssetMeta]:
    """Gate ``/api/v4/spot/currencies``: a list of ``currency``, ``name``, ``chains[]`` with
    ``name`` and ``addr``."""
    out = {}
    for item in doc:
        contracts = frozenset(c["addr"].lower() for c in item.get("chains") or () if c.get("addr"))
        out[item["currency"]] = AssetMeta(item.get("name") or item["currency"], contracts)
    return out


PARSERS: Mapping[str, Callable[[Any], dict[str, AssetMeta]]] = {
    "kucoin": parse_kucoin,
    "gate": parse_gate,
}


def load_metadata(
    venues: Sequence[str], cache: str, fetch: Fetch | None
) -> dict[str, dict[str, AssetMeta]]:
    """Each venue's asset metadata (those of ``venues`` that publish it): from the ``cache``
    file when it has the venue, else fetched once and written back to it."""
    path = Path(cache) if cache else None
    raw: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"identity.metadata_cache: cannot read {cache}: {exc}") from None
    fetched = False
    for venue in venues:
        if venue in PARSERS and venue not in raw:
            if fetch is None:
                raise ConfigError(f"identity.metadata: no way to fetch {venue}'s asset metadata")
            raw[venue] = fetch(METADATA_URLS[venue])
            fetched = True
    if path is not None and fetched:
        path.write_text(json.dumps(raw, sort_keys=True), encoding="utf-8")
    return {v: PARSERS[v](raw[v]) for v in venues if v in PARSERS and v in raw}


def identity_map(
    config: IdentityConfig, venues: Sequence[str], fetch: Fetch | None = None
) -> IdentityMap:
    """The engine's identity map: known collisions, the config's declarations and, when
    ``identity.metadata`` is on, the venues' published contracts."""
    metadata = load_metadata(venues, config.metadata_cache, fetch) if config.metadata else None
    return IdentityMap(equal=config.equal, metadata=metadata)
