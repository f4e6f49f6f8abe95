"""One venue, declared once: :class:`VenueSpec`.

Everything generic reads a venue from its spec: the registry (:mod:`feeds.venues`: ids and
aliases), the session and runner (integrity rule, endpoints, pings, budgets, connection
size and lifetime, through the codec class, which takes them from its ``spec``), replay
(which codec decodes a recorded connection), the default taker fees handed to the
scanner's config, the benchmarks and the cross-venue tests. A venue module in
``feeds/venues/`` holds its spec next to its codec and lists its codecs in ``CODECS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from feeds.protocol import Endpoints, Integrity, RestLimits


@dataclass(frozen=True, slots=True)
class TakerFee:
    """The default taker fee (lowest-volume tier) and where it was read."""

    bps: float
    tier: str
    """What the figure is, as the schedule names it (``0.100 % VIP 0``)."""
    source: str
    """The URL of the venue's public fee schedule."""
    checked: str
    """When the figure was last read there (``YYYY-MM``)."""


@dataclass(frozen=True, slots=True)
class OlderProtocol:
    """Another codec for recordings of an older protocol of the venue (Kraken WS v1): it
    decodes every recorded connection whose text (URLs, requests) lacks ``unless``."""

    codec: str
    """``module:Class`` of the codec."""
    unless: str
    """Text found only in recordings of the current protocol (``/v2``)."""


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """Everything about a venue that is data, not translation."""

    id: str
    """ccxt id of the venue (``binance``, ``okx``...)."""
    endpoints: Endpoints
    integrity: Integrity
    fee: TakerFee
    aliases: tuple[str, ...] = ()
    """Older ccxt ids accepted for this venue (``okex``, ``okex3``)."""
    symbol_format: str = "{base}{quote}"
    """The venue id of a spot symbol, from its (renamed) assets: ``{base}-{quote}``..."""
    asset_names: Mapping[str, str] = field(default_factory=dict)
    """The venue's own names of assets, both ways by explicit table (Kraken v1 BTC -> XBT)."""
    lower_case: bool = False
    """The venue writes its symbol ids in lower case (``btcusdt``)."""
    depths: frozenset[int] | None = None
    """The book depths the venue serves (subscribe parameter); None when not chosen."""
    default_depth: int | None = None
    max_symbols_per_connection: int = 100
    """Venue products per connection by default (symbols that share a product count once)."""
    subscribe_batch: int | None = None
    """Topics one subscribe request may name; None if the venue sets no limit."""
    sends_per_s: float | None = None
    """Frames a client may send per second on one connection, subscribes and application
    pings alike (Binance: 5); None if undocumented. The runner paces a connection's frames
    to 80 % of it (the pongs the WebSocket library sends count too on some venues), so a
    burst of subscribes or resyncs never gets the connection closed."""
    requests_per_hour: int | None = None
    """Subscribe/unsubscribe requests one connection may send in any hour; None if the
    venue documents no such limit. The session resyncs within it, else reconnects."""
    rest_limits: RestLimits | None = None
    """The REST budget and snapshot weights (REST-snapshot venues)."""
    ping_interval_s: float | None = None
    """How often the codec's application ping is sent; None if the venue needs none."""
    max_connection_s: float | None = None
    """How long the venue keeps a connection open (Binance: 24 h); None if undocumented.
    The runner replaces a connection before this."""
    snapshot_timeout_s: float | None = None
    """How long an in-band snapshot may take after subscribing before the symbol is
    subscribed again; None: the session's ``stale_after_s``."""
    older_protocols: tuple[OlderProtocol, ...] = ()
    """Codecs that replay recordings of the venue's older protocols."""

    def __post_init__(self) -> None:
        if self.depths is not None and self.default_depth not in self.depths:
            raise ValueError(f"{self.id}: default_depth must be one of the depths")
        if self.max_symbols_per_connection < 1:
            raise ValueError(f"{self.id}: max_symbols_per_connection must be >= 1")

    def symbol(self, base: str, quote: str) -> str:
        """The venue id of ``base``/``quote`` in :attr:`symbol_format`."""
        names = self.asset_names
        vid = self.symbol_format.format(base=names.get(base, base), quote=names.get(quote, quote))
        return vid.lower() if self.lower_case else vid

    def book_depth(self, depth: int | None) -> int | None:
        """``depth`` (the default when None), checked against :attr:`depths`."""
        if self.depths is None:
            return depth
        depth = self.default_depth if depth is None else depth
        if depth not in self.depths:
            raise ValueError(f"{self.id} book depth must be one of {sorted(self.depths)}")
        return depth
