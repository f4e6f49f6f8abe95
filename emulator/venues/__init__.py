"""The emulated venues, by ccxt id."""

from __future__ import annotations

from typing import Final

from emulator.venues.base import Venue
from emulator.venues.binance import Binance, BinanceUS
from emulator.venues.bybit import Bybit
from emulator.venues.coinbase import Coinbase
from emulator.venues.kraken import Kraken
from emulator.venues.kucoin import KuCoin
from emulator.venues.okx import Okx

VENUES: Final[dict[str, type[Venue]]] = {
    v.name: v for v in (Binance, BinanceUS, Okx, Bybit, Coinbase, Kraken, KuCoin)
}

__all__ = ["VENUES", "Venue"]
