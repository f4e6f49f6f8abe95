"""Asset identity: when a ticker on one venue is the same asset as on another (docs/quotes.md).

Feeds already translate a venue's own asset names to the common ones (Kraken v1 ``XBT`` ->
``BTC``, Bitfinex ``UST`` -> ``USDT``: the venue specs' rename tables). What is left is the
tickers that mean a different asset on some venue: those are given their own identity (the
asset's name) and so are never paired with the ticker elsewhere, unless the user declares them
equal. Where venues publish asset metadata (contract addresses), it can split a ticker further:
venues whose contracts for it share none are different assets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

KNOWN_DIFFERENT: Mapping[str, Mapping[str, str]] = {
    # As documented by ccxt (commonCurrencies of its htx and gate exchanges): on these venues
    # the ticker names another asset than the one usually traded under it.
    "htx": {
        "BIFI": "Bitcoin File",  # elsewhere Beefy Finance
        "GET": "Themis",  # elsewhere GET Protocol
        "GTC": "Game.com",  # elsewhere Gitcoin
        "HIT": "HitChain",
        "HOT": "Hydro Protocol",  # elsewhere Holo
        "PNT": "Penta",  # elsewhere pNetwork
        "SBTC": "Super Bitcoin",
    },
    "gate": {
        "BIFI": "Bitcoin File",
        "BOX": "DefiBox",
        "GTC": "Game.com",
        "HIT": "HitChain",
        "MPH": "Morpher",  # elsewhere 88mph
        "RAI": "Rai Reflex Index",  # elsewhere RAI Finance
        "SBTC": "Super Bitcoin",
        "TNC": "Trinity Network Credit",
        "VAI": "VAIOT",  # elsewhere Vai (Venus)
    },
}
"""Per venue id: ticker -> the asset it names there."""


@dataclass(frozen=True, slots=True)
class AssetMeta:
    """What a venue publishes about one of its assets."""

    name: str
    contracts: frozenset[str] = frozenset()
    """The contract addresses of its tokens, in lower case (venues name chains differently,
    an address is the same everywhere)."""


class IdentityMap:
    """``asset(venue, ticker)``: the identity two legs must share to be paired."""

    def __init__(
        self,
        different: Mapping[str, Mapping[str, str]] = KNOWN_DIFFERENT,
        equal: Iterable[tuple[str, str]] = (),
        metadata: Mapping[str, Mapping[str, AssetMeta]] | None = None,
    ) -> None:
        self._equal = frozenset(equal)
        self._split: dict[tuple[str, str], str] = {
            (venue, ticker): name
            for venue, table in different.items()
            for ticker, name in table.items()
        }
        if metadata:
            self._split.update(split_by_contracts(metadata))

    def asset(self, venue: str, ticker: str) -> str:
        """The identity of ``ticker`` on ``venue``: the ticker itself, or the name of the other
        asset it means there."""
        if (venue, ticker) in self._equal:
            return ticker
        return self._split.get((venue, ticker), ticker)

    def same(self, venue_a: str, venue_b: str, ticker: str) -> bool:
        """Whether ``ticker`` is one asset on both venues."""
        return self.asset(venue_a, ticker) == self.asset(venue_b, ticker)


def split_by_contracts(
    metadata: Mapping[str, Mapping[str, AssetMeta]],
) -> dict[tuple[str, str], str]:
    """(venue, ticker) -> identity for the tickers whose published contracts disagree: the
    venues of a ticker are grouped by shared contract addresses; the largest group (ties: the
    first venue in order) keeps the ticker, the others are ``TICKER@venue+venue``. A venue
    that publishes no contract for the ticker (a native coin, or no data) is not split."""
    out: dict[tuple[str, str], str] = {}
    tickers = sorted({t for table in metadata.values() for t in table})
    for ticker in tickers:
        groups: list[tuple[list[str], set[str]]] = []
        for venue in sorted(metadata):
            meta = metadata[venue].get(ticker)
            if meta is None or not meta.contracts:
                continue
            joined = [g for g in groups if g[1] & meta.contracts]
            venues, contracts = [venue], set(meta.contracts)
            for g in joined:
                groups.remove(g)
                venues = g[0] + venues
                contracts |= g[1]
            groups.append((sorted(venues), contracts))
        if len(groups) < 2:
            continue
        groups.sort(key=lambda g: (-len(g[0]), g[0]))
        for venues, _ in groups[1:]:
            for venue in venues:
                out[(venue, ticker)] = f"{ticker}@{'+'.join(venues)}"
    return out


def board_rows(
    symbols: Sequence[str], venues: Sequence[str], asset: Callable[[str, str], str]
) -> tuple[list[str], list[tuple[str, str]], dict[tuple[str, str], int]]:
    """One board row per (base, quote) identity, a ticker that is another asset on some venue
    getting a row of its own there: (row -> symbol, row -> identities, (venue, symbol) -> row)."""
    rows: dict[tuple[str, str], int] = {}
    names: list[str] = []
    row_of: dict[tuple[str, str], int] = {}
    for symbol in symbols:
        base, _, quote = symbol.partition("/")
        for venue in venues:
            key = (asset(venue, base), asset(venue, quote))
            if key not in rows:
                rows[key] = len(names)
                names.append(symbol)
            row_of[(venue, symbol)] = rows[key]
    return names, list(rows), row_of
