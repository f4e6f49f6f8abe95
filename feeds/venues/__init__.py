"""The venue registry: ccxt id -> codec class, with older ccxt ids as aliases.

Every venue here has a working feed, proven on real recordings or the venue's documented
examples (tests/test_venue_*.py) and end to end against the emulator.
"""

from __future__ import annotations

import importlib
from typing import Final

from feeds.protocol import Codec

_CODECS: Final[dict[str, tuple[str, str]]] = {
    "binance": ("feeds.venues.binance", "Binance"),
    "binanceus": ("feeds.venues.binance", "BinanceUS"),
    "okx": ("feeds.venues.okx", "Okx"),
    "bybit": ("feeds.venues.bybit", "Bybit"),
    "coinbase": ("feeds.venues.coinbase", "Coinbase"),
    "kraken": ("feeds.venues.kraken", "Kraken"),
}

# Old ccxt ids (ccxt "Exchanges By Country") accepted for current ones (docs/contracts.md).
ALIASES: Final[dict[str, str]] = {
    "okex": "okx",
    "okex3": "okx",
}

VENUES: Final[tuple[str, ...]] = tuple(_CODECS)


class UnknownVenue(ValueError):
    """A venue id that no codec serves."""


def canonical_venue(name: str) -> str:
    """The current ccxt id for ``name`` (an id or an accepted alias)."""
    venue = ALIASES.get(name.lower(), name.lower())
    if venue not in _CODECS:
        raise UnknownVenue(f"unknown venue {name!r} (supported: {', '.join(VENUES)})")
    return venue


def codec_class(name: str) -> type[Codec]:
    """The codec class of a venue id or alias."""
    module, cls = _CODECS[canonical_venue(name)]
    found = getattr(importlib.import_module(module), cls)
    if not (isinstance(found, type) and issubclass(found, Codec)):
        raise TypeError(f"{module}.{cls} is not a Codec")
    return found
