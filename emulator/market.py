"""The emulator's market model: sans-I/O, deterministic under a seed, time injected.

Per symbol one common log-price random walk; each venue follows it with its own lag (in
steps), noise, spread and depth on its own price grid, and keeps a full book of integer
levels (price in units of ``10**-price_decimals``, size in units of ``10**-size_decimals``).
Each :meth:`MarketModel.step` advances the model by one interval and returns, per venue and
symbol, the levels that changed (size 0 deletes), exactly what a venue's diff channel sends.

Dislocations move one venue's book by a known number of bps for a known time; every one,
random or added by hand, is recorded in :attr:`MarketModel.dislocations` (ground truth).

Across quotes: the first symbol of a base (BTC/USD) carries its walk; the base's other symbols
(BTC/USDT, BTC/KRW) follow it through the USD values of the two quotes, so a base is one
price everywhere up to the venues' own noise, lags and dislocations. A quote's USD value is
:data:`USD_VALUES` times a small mean-reverting noise of its own (stablecoins) and any depeg
episode (:class:`Depeg`), which moves the conversion books (USDT/USD, USDC/USDT, USDT/KRW)
and every book quoted in that asset together. ``local_premium_bps`` lifts a quote's crypto
books above the world price (the Korean premium of KRW books).
"""

from __future__ import annotations

import math
import random
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

BASE_PRICES: Final[Mapping[str, float]] = {
    "BTC": 60_000.0,
    "ETH": 3_000.0,
    "SOL": 150.0,
    "BNB": 600.0,
    "XRP": 0.6,
    "DOGE": 0.15,
    "ADA": 0.45,
}
USD_VALUES: Final[Mapping[str, float]] = {
    "USD": 1.0,
    "USDT": 1.0,
    "USDC": 1.0,
    "FDUSD": 1.0,
    "EUR": 1.08,
    "AUD": 0.66,
    "JPY": 1 / 150,
    "KRW": 1 / 1380,
}
"""USD per unit of the quote assets the model knows (others count as 1 USD)."""
STABLE_NOISE_BPS: Final = 0.3
"""Per-step noise of a stablecoin's USD value (mean-reverting: 10 % back per step)."""
_TABLE_BITS: Final = 12
_PRICE_DECIMALS: Final[Mapping[str, int]] = {"BTC": 1, "ETH": 2, "SOL": 2, "BNB": 1}


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """How one venue renders the common price: lag, noise, spread, grid and sizes."""

    lag_steps: int = 0
    noise_bps: float = 0.2
    spread_bps: float = 1.0
    level_bps: float = 0.37
    """Distance between book levels (the venue's grid), in bps of the base price."""
    extra_price_decimals: int = 0
    """Added to the symbol's price decimals (one venue ticks BTC at 0.01, another at 0.1)."""
    size_decimals: int = 8
    level_notional: float = 20_000.0
    """Mean quote notional of one level."""


@dataclass(frozen=True, slots=True)
class Depeg:
    """``asset``'s USD value moves by ``bps`` (signed), ramping in linearly over ``ramp_s``
    from ``start_s`` after the model's start, held ``hold_s``, ramping out over ``ramp_s``."""

    asset: str
    start_s: float
    bps: float
    ramp_s: float = 10.0
    hold_s: float = 20.0

    def bps_at(self, t_s: float) -> float:
        """The depeg's move at ``t_s`` seconds after the start."""
        t = t_s - self.start_s
        ramp = max(self.ramp_s, 1e-9)
        if t <= 0.0 or t >= 2 * self.ramp_s + self.hold_s:
            return 0.0
        if t < self.ramp_s:
            return self.bps * t / ramp
        if t <= self.ramp_s + self.hold_s:
            return self.bps
        return self.bps * (2 * self.ramp_s + self.hold_s - t) / ramp


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """The market: which venues and symbols, the seed, the step and the dislocation rate."""

    venues: tuple[str, ...] = ("binance", "okx", "bybit", "coinbase", "kraken")
    symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")
    seed: int = 1
    interval_ms: int = 100
    depth: int = 25
    vol_bps: float = 0.5
    """Standard deviation of the common log-price per step, in bps."""
    dislocations_per_min: float = 2.0
    """Per symbol; 0 disables random dislocations."""
    dislocation_bps: tuple[float, float] = (20.0, 60.0)
    """Size range (either sign); fees make moves smaller than both legs' taker fees unprofitable."""
    dislocation_ms: tuple[int, int] = (500, 3000)
    redraw_prob: float = 0.15
    """Chance per step that a resting level's size changes."""
    base_prices: Mapping[str, float] = field(default_factory=dict)
    profiles: Mapping[str, VenueProfile] = field(default_factory=dict)
    quiet_symbols: frozenset[str] = frozenset()
    """Symbols whose books never change after the start: every venue sends their snapshot
    and then nothing for them (a quiet market; the connection carries only the rest)."""
    listings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per venue, the symbols it lists; a venue not named lists every symbol."""
    depegs: tuple[Depeg, ...] = ()
    local_premium_bps: Mapping[str, float] = field(default_factory=dict)
    """Per quote (KRW): how far above the world price its crypto books trade."""

    def lists(self, venue: str, symbol: str) -> bool:
        """Whether ``venue`` has a book of ``symbol``."""
        listed = self.listings.get(venue)
        return listed is None or symbol in listed

    def profile(self, venue: str) -> VenueProfile:
        """``profiles[venue]``, else the profile the venue's emulation declares."""
        from emulator.venues import VENUES  # the venues import this module

        own = VENUES.get(venue)
        return self.profiles.get(venue) or (own.profile if own else VenueProfile())

    def base_price(self, symbol: str) -> float:
        """The symbol's starting price: its base's in USD over its quote's USD value."""
        base, _, quote = symbol.partition("/")
        usd = BASE_PRICES.get(base) or USD_VALUES.get(base) or 100.0
        return self.base_prices.get(symbol) or usd / USD_VALUES.get(quote, 1.0)


@dataclass(frozen=True, slots=True)
class Dislocation:
    """Ground truth: ``venue``'s book of ``symbol`` is moved by ``bps`` (signed) over
    ``[start_ns, end_ns)`` relative to where the common price puts it."""

    symbol: str
    venue: str
    start_ns: int
    end_ns: int
    bps: float


@dataclass(slots=True)
class Book:
    """One venue's book of one symbol in integer units; ``bids``/``asks``: price -> size."""

    price_decimals: int
    size_decimals: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best ``n`` levels of each side, best first."""
        bids = sorted(self.bids.items(), reverse=True)[:n]
        return bids, sorted(self.asks.items())[:n]


@dataclass(frozen=True, slots=True)
class Change:
    """Changed levels (price, new size; 0 deletes) of one book in one step, best first."""

    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


def stable_seed(seed: int, *names: str) -> int:
    """A seed for one stream of the model that does not depend on Python's hash salt."""
    return zlib.crc32("/".join((str(seed), *names)).encode())


class MarketModel:
    """The market: call :meth:`step` once per interval; read :attr:`books`."""

    def __init__(self, config: MarketConfig, start_ns: int) -> None:
        self.config = config
        self.interval_ns = config.interval_ms * 1_000_000
        self.now_ns = start_ns
        self.steps = 0
        self.dislocations: list[Dislocation] = []
        self._live: dict[str, list[Dislocation]] = {}
        self._rng = random.Random(stable_seed(config.seed, "market"))
        self._multipliers = [self._rng.lognormvariate(0.0, 0.8) for _ in range(1 << _TABLE_BITS)]
        self._fx_rng = random.Random(stable_seed(config.seed, "quotes"))
        self._start_ns = start_ns
        self._primary: dict[str, str] = {}
        for symbol in config.symbols:
            self._primary.setdefault(symbol.partition("/")[0], symbol)
        self._noise = {q: 0.0 for q in USD_VALUES if q != "USD" and USD_VALUES[q] == 1.0}
        self._walk = {s: math.log(config.base_price(self._leader(s))) for s in config.symbols}
        self._log_px = {s: self._derived(s) for s in config.symbols}
        max_lag = max((config.profile(v).lag_steps for v in config.venues), default=0)
        self._history = {
            s: deque([x] * (max_lag + 1), maxlen=max_lag + 1) for s, x in self._log_px.items()
        }
        self._crossed: dict[tuple[str, str], int] = {}
        self.books: dict[tuple[str, str], Book] = {}
        self._grid: dict[tuple[str, str], int] = {}
        self._venue_rng: dict[tuple[str, str], random.Random] = {}
        for venue in config.venues:
            profile = config.profile(venue)
            for symbol in config.symbols:
                if not config.lists(venue, symbol):
                    continue
                price = config.base_price(symbol)
                digits = math.floor(math.log10(price)) + 1
                base = _PRICE_DECIMALS.get(symbol.partition("/")[0], max(0, 6 - digits))
                pd = min(8, base + profile.extra_price_decimals)
                key = (venue, symbol)
                self.books[key] = Book(pd, profile.size_decimals)
                self._grid[key] = max(1, round(price * 10**pd * profile.level_bps * 1e-4))
                self._venue_rng[key] = random.Random(stable_seed(config.seed, venue, symbol))
        self._rebuild(initial=True)

    # -- prices across quotes --------------------------------------------------------------
    def _leader(self, symbol: str) -> str:
        """The symbol whose walk ``symbol`` follows: the first of its base."""
        return self._primary[symbol.partition("/")[0]]

    def usd_log(self, asset: str) -> float:
        """log USD value of a quote asset now: its nominal value, noise and depegs."""
        t_s = (self.now_ns - self._start_ns) / 1e9
        bps = self._noise.get(asset, 0.0)
        bps += sum(d.bps_at(t_s) for d in self.config.depegs if d.asset == asset)
        return math.log(USD_VALUES.get(asset, 1.0)) + bps * 1e-4

    def _derived(self, symbol: str) -> float:
        """The log price of ``symbol``: its own walk if it leads its base, else the leader's
        walk carried across the two quotes' USD values (and the local premium)."""
        base, _, quote = symbol.partition("/")
        if base in USD_VALUES:  # a conversion book: the two assets' values
            return self.usd_log(base) - self.usd_log(quote)
        leader = self._leader(symbol)
        if leader == symbol:
            return self._walk[symbol]
        lead_quote = leader.partition("/")[2]
        premium = self.config.local_premium_bps
        shift = premium.get(quote, 0.0) - premium.get(lead_quote, 0.0)
        return self._walk[leader] + self.usd_log(lead_quote) - self.usd_log(quote) + shift * 1e-4

    # -- control ---------------------------------------------------------------------------
    def add_dislocation(
        self, symbol: str, venue: str, bps: float, duration_ms: int, start_ns: int | None = None
    ) -> Dislocation:
        """Move ``venue``'s ``symbol`` book by ``bps`` from ``start_ns`` (default: the next
        step) for ``duration_ms``; recorded as ground truth and returned."""
        if (venue, symbol) not in self.books:
            raise KeyError(f"no book {venue} {symbol}")
        start = self.now_ns + self.interval_ns if start_ns is None else start_ns
        found = Dislocation(symbol, venue, start, start + duration_ms * 1_000_000, bps)
        self.dislocations.append(found)
        self._live.setdefault(symbol, []).append(found)
        return found

    def cross(self, venue: str, symbol: str, steps: int = 1) -> None:
        """For the next ``steps`` steps, keep a bid one grid step above the best ask."""
        if (venue, symbol) not in self.books:
            raise KeyError(f"no book {venue} {symbol}")
        self._crossed[(venue, symbol)] = steps

    # -- time ------------------------------------------------------------------------------
    def skip(self, steps: int) -> None:
        """Move the clock ``steps`` intervals on without moving the market (a driver that
        fell far behind catches up this way instead of flooding its clients)."""
        self.now_ns += steps * self.interval_ns

    def step(self) -> dict[tuple[str, str], Change]:
        """Advance one interval: move prices, maybe start a dislocation, diff every book."""
        self.now_ns += self.interval_ns
        self.steps += 1
        cfg = self.config
        for asset in self._noise:  # stablecoins wander a little around their peg
            self._noise[asset] = 0.9 * self._noise[asset] + self._fx_rng.gauss(
                0.0, STABLE_NOISE_BPS
            )
        for symbol in cfg.symbols:
            if symbol in cfg.quiet_symbols:
                continue
            self._walk[symbol] += self._rng.gauss(0.0, cfg.vol_bps * 1e-4)
            self._log_px[symbol] = self._derived(symbol)
            self._history[symbol].append(self._log_px[symbol])
            self._maybe_dislocate(symbol)
        return self._rebuild(initial=False)

    def _maybe_dislocate(self, symbol: str) -> None:
        cfg, rng = self.config, self._rng
        p = cfg.dislocations_per_min * cfg.interval_ms / 60_000.0
        if p <= 0.0 or rng.random() >= p or self._active(symbol, None) or not cfg.venues:
            return
        venues = cfg.venues
        if cfg.listings:  # only those with a book of it (no listings: every venue, as ever)
            venues = tuple(v for v in cfg.venues if cfg.lists(v, symbol))
            if not venues:
                return
        venue = rng.choice(venues)
        bps = rng.uniform(*cfg.dislocation_bps) * rng.choice((-1.0, 1.0))
        duration = rng.randint(*cfg.dislocation_ms)
        self.add_dislocation(symbol, venue, round(bps, 2), duration, start_ns=self.now_ns)

    def _active(self, symbol: str, venue: str | None) -> float:
        """The summed bps of the dislocations live now on ``symbol`` (at ``venue``)."""
        live = self._live.get(symbol)
        if not live:
            return 0.0
        live[:] = [d for d in live if d.end_ns > self.now_ns]
        return sum(d.bps for d in live if d.start_ns <= self.now_ns and venue in (None, d.venue))

    def _rebuild(self, *, initial: bool) -> dict[tuple[str, str], Change]:
        changes: dict[tuple[str, str], Change] = {}
        quiet = self.config.quiet_symbols
        for (venue, symbol), book in self.books.items():
            if symbol in quiet and not initial:
                continue  # no change at all: venues publish nothing for it
            profile, rng = self.config.profile(venue), self._venue_rng[(venue, symbol)]
            history = self._history[symbol]
            lagged = history[max(0, len(history) - 1 - profile.lag_steps)]
            shift = (rng.gauss(0.0, profile.noise_bps) + self._active(symbol, venue)) * 1e-4
            mid = math.exp(lagged) * (1.0 + shift) * 10**book.price_decimals
            grid, half = self._grid[(venue, symbol)], profile.spread_bps * 0.5e-4
            best_bid = math.floor(mid * (1.0 - half) / grid) * grid
            best_ask = max(best_bid + grid, math.ceil(mid * (1.0 + half) / grid) * grid)
            depth = self.config.depth
            bid_px = [best_bid - k * grid for k in range(depth) if best_bid - k * grid > 0]
            ask_px = [best_ask + k * grid for k in range(depth)]
            if self._crossed.get((venue, symbol), 0) > 0:
                self._crossed[(venue, symbol)] -= 1
                bid_px.insert(0, best_ask + grid)
            unit = 10**book.size_decimals
            notional = profile.level_notional / USD_VALUES.get(symbol.partition("/")[2], 1.0)
            size_of = self._sizer(rng, notional, mid / 10**book.price_decimals, unit)
            new_bids = _diff(book.bids, bid_px, size_of, rng, self.config.redraw_prob, initial)
            new_asks = _diff(book.asks, ask_px, size_of, rng, self.config.redraw_prob, initial)
            changes[(venue, symbol)] = Change(
                tuple(sorted(new_bids, reverse=True)), tuple(sorted(new_asks))
            )
        return changes

    def _sizer(self, rng: random.Random, notional: float, price: float, unit: int) -> _Sizer:
        return _Sizer(rng, notional / price * unit, self._multipliers)


@dataclass(slots=True)
class _Sizer:
    """Level sizes: the mean times a lognormal multiplier drawn from a seeded table (a table
    lookup is several times cheaper than ``lognormvariate``, and sizes need no more)."""

    rng: random.Random
    mean_units: float
    table: list[float]

    def __call__(self) -> int:
        return max(1, round(self.mean_units * self.table[self.rng.getrandbits(_TABLE_BITS)]))


def _diff(
    side: dict[int, int],
    prices: Sequence[int],
    size_of: _Sizer,
    rng: random.Random,
    redraw: float,
    initial: bool,
) -> list[tuple[int, int]]:
    """Make ``side`` hold exactly ``prices`` (new levels get sizes; about ``redraw`` of the
    kept ones get new sizes); return the changes."""
    out: list[tuple[int, int]] = []
    wanted = set(prices)
    for px in [p for p in side if p not in wanted]:
        del side[px]
        out.append((px, 0))
    kept = [p for p in prices if p in side]
    for px in [p for p in prices if p not in side]:
        side[px] = size_of()
        out.append((px, side[px]))
    if not initial and kept:
        count = int(redraw * len(kept) + rng.random())  # the expected number, drawn fairly
        for px in set(rng.choices(kept, k=count)):
            size = size_of()
            if size != side[px]:
                side[px] = size
                out.append((px, size))
    return out
