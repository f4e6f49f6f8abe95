"""The engine: book callbacks in, opportunity events out (board → kernel → lifecycle → emit).

``run.py`` wires ``listener_for(venue, symbol) = engine.leg(venue, symbol)``; the returned
:class:`Leg` satisfies the feeds' ``BookListener`` (docs/contracts.md) and runs inline in the
receiving task: one ``on_book`` call = one board write + one evaluation of that symbol.

Usability of a leg (docs/contracts.md): ``on_usable(False, reason)`` marks it unusable at once and
closes its opportunities with ``reason`` at that ``ts``. ``on_usable(True)`` (or, defensively, an
``on_book`` on an unusable leg, which is how a book that was stale by age comes back) starts
its warm-up at that ``ts``. The leg is paired again at the first ``on_book`` of any leg of the
same symbol whose ``ts - usable_since >= warmup_ms``, provided its own book has been written
since it became unusable; it is then evaluated at that ``ts`` as well. ``on_usable(True)`` on a
leg that is usable or already warming changes nothing.

Errors: an ``ArithmeticError``, ``ValueError`` or ``IndexError`` raised while handling one
``on_book`` (bad numbers from a feed reaching the board/kernel, or a bug there) is caught in
:meth:`Leg.on_book`, counted in ``stats.errors`` and logged (with traceback the first time per
leg). The scanner's copy of that book can no longer be trusted, so the leg is made unusable and
its opportunities close as ``desynced``; its next ``on_book`` rewrites the whole top-N and starts
a new warm-up. Anything else (a TypeError is a programming error) propagates to the feed.
"""

from __future__ import annotations

import itertools
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scanner.board import Board, BookView
from scanner.config import QuotesConfig, ScannerConfig
from scanner.crossquote import CrossFigures
from scanner.crossscan import CrossScan
from scanner.events import (
    CROSS_QUOTE,
    SAME_QUOTE,
    CloseReason,
    CrossInfo,
    Event,
    LegInfo,
    book_event,
    closed_event,
    opportunity_event,
    suspect_event,
)
from scanner.identity import board_rows
from scanner.kernel import Pair, evaluate
from scanner.lifecycle import CLOSED, Lifecycle, Transition
from scanner.premium import PremiumScan
from scanner.suspects import Suspects

log = logging.getLogger(__name__)

UNUSABLE_REASONS = frozenset(
    {CloseReason.STALE, CloseReason.DESYNCED, CloseReason.DISCONNECTED, CloseReason.CROSSED_BOOK}
)
"""Reasons a feed may pass to ``on_usable(False, reason, ts)``."""
PREMIUM, CROSS, CONVERSION = 1, 2, 4
"""What an update of a board row drives besides its same-quote pairs."""
CAUGHT = (ArithmeticError, ValueError, IndexError)
"""Exceptions of one update that are counted and logged instead of reaching the feed."""
TIMED_EVERY = 16
"""``on_book`` times one update in this many: the statistics' mean is over that sample. Two
clock reads on every update cost ~0.25 µs, 3 % of a Binance message's whole path."""
UPDATE_NS_BOUNDS = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
                    1_000_000, 5_000_000)  # fmt: skip
"""Upper bounds (ns, inclusive) of the buckets of :attr:`EngineStats.update_ns_buckets`."""


@dataclass(slots=True)
class EngineStats:
    """Counters for the console and benchmarks."""

    updates: int = 0
    """``on_book`` calls."""
    evaluations: int = 0
    usable_changes: int = 0
    """``on_usable`` calls."""
    events: int = 0
    """Events passed to ``emit``."""
    errors: int = 0
    """Updates that raised and were caught (see the module docstring)."""
    engine_ns: int = 0
    """Time spent inside the timed ``on_book`` calls, by the injected perf counter."""
    update_ns_buckets: list[int] = field(default_factory=lambda: [0] * (len(UPDATE_NS_BOUNDS) + 1))
    """The timed ``on_book`` calls by duration: how many took at most
    ``UPDATE_NS_BOUNDS[i]`` (and more than the bound before); the last, longer than all."""

    @property
    def timed(self) -> int:
        """``on_book`` calls timed: one in :data:`TIMED_EVERY`."""
        return self.updates // TIMED_EVERY

    def us_per_update(self) -> float:
        """Mean µs per ``on_book`` call, over the timed ones (0.0 before the first)."""
        return self.engine_ns / self.timed / 1e3 if self.timed else 0.0


class Leg:
    """One (venue, symbol) of the engine; the feeds' book listener for that book."""

    __slots__ = ("_engine", "errors", "s", "since", "symbol", "usable", "v", "venue", "written")

    def __init__(self, engine: Engine, venue: str, symbol: str, v: int, s: int) -> None:
        self._engine = engine
        self.venue = venue
        self.symbol = symbol
        self.v = v
        self.s = s
        self.usable = False
        self.since: int | None = None
        """ts of the start of the current warm-up, None when not warming."""
        self.written = False
        """Book written since the leg last became unusable."""
        self.errors = 0

    def warmed(self, ts: int, warmup_ns: int) -> bool:
        """Warming, book written since, and warm for ``warmup_ns`` at ``ts``."""
        return self.since is not None and self.written and ts - self.since >= warmup_ns

    def on_book(self, book: BookView, ts_ns: int) -> None:
        """Write the top-N levels of ``book`` at ``ts_ns`` and evaluate this symbol once."""
        engine = self._engine
        stats = engine.stats
        stats.updates += 1
        timed = not stats.updates % TIMED_EVERY
        t0 = engine.perf_ns() if timed else 0
        try:
            engine._book(self, book, ts_ns)
        except CAUGHT as exc:
            engine._failed(self, exc, ts_ns)
        finally:
            if timed:
                took = engine.perf_ns() - t0
                stats.engine_ns += took
                stats.update_ns_buckets[bisect_left(UPDATE_NS_BOUNDS, took)] += 1

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        """The feed says this book became unusable (with ``reason``) or usable again."""
        engine = self._engine
        engine.stats.usable_changes += 1
        if usable:
            if reason is not None:
                raise ValueError(f"{self.venue} {self.symbol}: usable=True with reason {reason!r}")
            if not self.usable and self.since is None:
                engine._start_warmup(self, ts_ns)
            return
        if reason not in UNUSABLE_REASONS:
            raise ValueError(
                f"{self.venue} {self.symbol}: unusable reason {reason!r} "
                f"(known: {', '.join(sorted(UNUSABLE_REASONS))})"
            )
        engine._make_unusable(self, reason, ts_ns)


class Engine:
    """Maps venue/symbol names to board indices once and runs the scan for every update."""

    def __init__(
        self,
        config: ScannerConfig,
        venues: Sequence[str],
        symbols: Sequence[str],
        fees_bps: Mapping[str, float],
        emit: Callable[[Event], None],
        *,
        warmup_ms: int = 0,
        book_levels: int = 0,
        perf_ns: Callable[[], int] = time.perf_counter_ns,
        quotes: QuotesConfig | None = None,
        identity: Callable[[str, str], str] | None = None,
    ) -> None:
        """``book_levels`` > 0 also emits a ``book`` event with that many levels per update.
        ``quotes`` (default: the defaults) drives cross-quote pairs, premiums and suspects;
        ``identity(venue, ticker)`` names the asset a ticker is on a venue (default: itself):
        books of one symbol whose assets differ are never paired."""
        for kind, names in (("venue", venues), ("symbol", symbols)):
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate {kind} in {list(names)}")
        missing = [v for v in venues if v not in fees_bps]
        if missing:
            raise ValueError(f"no taker fee for venue {missing[0]!r}")
        if warmup_ms < 0 or book_levels < 0:
            raise ValueError("warmup_ms and book_levels must be >= 0")
        self.config = config
        self.quotes = quotes = quotes if quotes is not None else QuotesConfig()
        self.venues = list(venues)
        self.fees_bps = [float(fees_bps[v]) for v in venues]
        rows = board_rows(symbols, venues, identity or (lambda _venue, ticker: ticker))
        self.symbols, self.assets, self._row_of = rows
        """Board row -> the symbol its events name, its (base, quote) identities; (venue,
        symbol) -> its row."""
        self.board = Board(
            len(self.symbols), len(venues), config.depth_levels, np.array(self.fees_bps) / 1e4
        )
        ids = itertools.count(1)
        self.lifecycle = Lifecycle(config, ids)
        self.cross = CrossScan(
            self.board,
            self.assets,
            quotes.groups,
            quotes.fx_max_age_ms * 1_000_000,
            config.max_notional,
        )
        self.cross_lifecycle = Lifecycle(config, ids)
        self.premium = PremiumScan(
            self.board,
            self.venues,
            self.assets,
            self.symbols,
            quotes.groups,
            quotes.fx,
            quotes.premium_interval_ms * 1_000_000,
            quotes.premium_update_bps,
        )
        self.suspects = Suspects(quotes.max_gross_bps)
        # Per board row, what more an update of it drives (one list read on the hot path):
        # PREMIUM its base's premiums, CROSS its family's pairs, CONVERSION the pairs it converts.
        self._more = [
            (PREMIUM if row in self.premium.row_base else 0)
            | (CROSS if row in self.cross.slot_of else 0)
            | (CONVERSION if row in self.cross.using else 0)
            for row in range(len(self.symbols))
        ]
        """(kind, symbol or family, buy, sell) reported as suspect and still so."""
        self.stats = EngineStats()
        self.perf_ns = perf_ns
        self._emit = emit
        self._warmup_ns = warmup_ms * 1_000_000
        self._book_levels = book_levels
        self._venue_index = {name: i for i, name in enumerate(self.venues)}
        self._symbol_names = set(symbols)
        self._legs: dict[tuple[int, int], Leg] = {}
        self._warming: list[list[Leg]] = [[] for _ in self.symbols]
        self.stopped = False
        """Set by :meth:`shutdown`: nothing opens after it, and no leg closes anything."""

    def leg(self, venue: str, symbol: str) -> Leg:
        """The listener of (venue, symbol); the same object on every call."""
        v = self._venue_index.get(venue)
        if v is None:
            raise ValueError(f"unknown venue {venue!r} (known: {', '.join(self.venues)})")
        if symbol not in self._symbol_names:
            known = ", ".join(sorted(self._symbol_names))
            raise ValueError(f"unknown symbol {symbol!r} (known: {known})")
        s = self._row_of[(venue, symbol)]
        leg = self._legs.get((s, v))
        if leg is None:
            leg = self._legs[(s, v)] = Leg(self, venue, symbol, v, s)
        return leg

    def shutdown(self, ts_ns: int) -> None:
        """Close every open opportunity with reason ``shutdown`` and stop evaluating: call it
        before the feeds are torn down, so their disconnects find nothing left to close."""
        self.stopped = True
        self._publish(self.lifecycle.shutdown(ts_ns))
        self._publish(self.cross_lifecycle.shutdown(ts_ns), cross=True)

    def stop_symbol(self, symbol: str, ts_ns: int) -> None:
        """Make ``symbol``'s legs unusable with reason ``shutdown`` (closing its open
        opportunities, same-quote and cross-quote, and those converting through it), before
        its feeds are torn down (a worker handing the symbol over): until its books are
        live again, nothing of it is evaluated."""
        for leg in [leg for leg in self._legs.values() if leg.symbol == symbol]:
            self._make_unusable(leg, CloseReason.SHUTDOWN, ts_ns)

    # --- called by Leg ------------------------------------------------------------------

    def _book(self, leg: Leg, book: BookView, ts: int) -> None:
        """Board write, warm-up promotion, evaluation(s), lifecycle, emit."""
        s, v = leg.s, leg.v
        self.board.write_book(s, v, book, ts)
        leg.written = True
        if self._book_levels:
            n = self._book_levels
            self._emit_one(book_event(leg.venue, leg.symbol, *book.top(n), ts, n))
        if not leg.usable and leg.since is None:
            self._start_warmup(leg, ts)
        warming = self._warming[s]
        if warming:
            for other in [w for w in warming if w.warmed(ts, self._warmup_ns)]:
                warming.remove(other)
                other.usable = True
                other.since = None
                self.board.set_usable(s, other.v, True)
                if other is not leg:
                    self._evaluate(s, other.v, ts)
        if leg.usable:
            self._evaluate(s, v, ts)
        if self._more[s] & PREMIUM and not self.stopped:
            for event in self.premium.on_book(s, ts):
                self._emit_one(event)

    def _start_warmup(self, leg: Leg, ts: int) -> None:
        leg.since = ts
        self._warming[leg.s].append(leg)

    def _make_unusable(self, leg: Leg, reason: str, ts: int) -> None:
        leg.usable = False
        leg.written = False
        if leg.since is not None:
            leg.since = None
            self._warming[leg.s].remove(leg)
        self.board.set_usable(leg.s, leg.v, False)
        self._publish(self.lifecycle.leg_unusable(leg.s, leg.v, reason, ts))
        slot = self.cross.slot_of.get(leg.s)
        if slot is not None:
            f, flat = slot[0], slot[1] * self.board.n_venues + leg.v
            self._publish(self.cross_lifecycle.leg_unusable(f, flat, reason, ts), cross=True)
        if leg.s in self.cross.conversion_rows:
            row, v = leg.s, leg.v

            def uses(o: object) -> bool:
                fig = getattr(o, "last", None)
                return isinstance(fig, CrossFigures) and (fig.fx_symbol, fig.fx_venue) == (row, v)

            self._publish(self.cross_lifecycle.close_where(uses, reason, ts), cross=True)

    def _failed(self, leg: Leg, exc: BaseException, ts: int) -> None:
        self.stats.errors += 1
        leg.errors += 1
        message = "%s %s: update at ts=%d failed (%d so far); leg made unusable: %r"
        args = (leg.venue, leg.symbol, ts, leg.errors, exc)
        if leg.errors == 1:
            log.error(message, *args, exc_info=exc)
        else:
            log.debug(message, *args, exc_info=exc)
        self._make_unusable(leg, CloseReason.DESYNCED, ts)

    # --- internals ----------------------------------------------------------------------

    def _evaluate(self, s: int, v: int, ts: int) -> None:
        if self.stopped:
            return
        self.stats.evaluations += 1
        pairs = evaluate(self.board, s, v, self.config.max_notional)
        if pairs or self.suspects.keys:
            pairs = self._screen(SAME_QUOTE, s, v, pairs, ts)
        if pairs or self.lifecycle.has_open(s):
            self._publish(self.lifecycle.evaluate(s, v, pairs, ts))
        more = self._more[s]
        if more & CROSS:
            f, slot = self.cross.slot_of[s]
            flat = slot * self.board.n_venues + v
            self._evaluate_cross(f, (s, v), flat, ts)
        elif more & CONVERSION:
            for f in self.cross.using[s]:
                self._evaluate_cross(f, None, None, ts)

    def _evaluate_cross(
        self, f: int, changed: tuple[int, int] | None, flat: int | None, ts: int
    ) -> None:
        pairs = self.cross.evaluate(f, changed, ts)
        if pairs or self.suspects.keys:
            pairs = self._screen(CROSS_QUOTE, f, flat, pairs, ts)
        if pairs or self.cross_lifecycle.has_open(f):
            self._publish(self.cross_lifecycle.evaluate(f, flat, pairs, ts), cross=True)

    def _screen(self, kind: str, s: int, v: int | None, pairs: list[Pair], ts: int) -> list[Pair]:
        """``pairs`` without the suspect ones, each reported once (:mod:`scanner.suspects`)."""
        keep, new = self.suspects.screen(kind, s, v, pairs)
        for p in new:
            (row_a, i), (row_b, j) = self._pair_legs(kind, s, p.buy, p.sell)
            self._emit_one(
                suspect_event(
                    ts,
                    kind,
                    self.symbols[row_a],
                    self.symbols[row_b],
                    self.venues[i],
                    self.venues[j],
                    p.figures,
                    self.suspects.max_gross_bps,
                )
            )
        return keep

    def _pair_legs(
        self, kind: str, s: int, buy: int, sell: int
    ) -> tuple[tuple[int, int], tuple[int, int]]:
        """(row, venue) of the buy and sell legs of a pair of symbol (or family) ``s``."""
        if kind == SAME_QUOTE:
            return (s, buy), (s, sell)
        return self.cross.leg(s, buy), self.cross.leg(s, sell)

    def _publish(self, transitions: list[Transition], *, cross: bool = False) -> None:
        for t in transitions:
            self._emit_one(self.event(t, CROSS_QUOTE if cross else SAME_QUOTE))

    def _emit_one(self, event: Event) -> None:
        self.stats.events += 1
        self._emit(event)

    def event(self, t: Transition, kind: str = SAME_QUOTE) -> Event:
        """The schema-1 event of transition ``t`` (ages of both legs' books at ``t.ts``); a
        cross-quote one (``t.symbol`` is then the family) names its conversion."""
        (row_a, i), (row_b, j) = self._pair_legs(kind, t.symbol, t.buy, t.sell)
        buy, sell = self._leg_info(row_a, i, t.ts), self._leg_info(row_b, j, t.ts)
        fig, info = t.figures, None
        if isinstance(fig, CrossFigures):
            fx_age = max(0, t.ts - int(self.board.updated_ns[fig.fx_symbol, fig.fx_venue]))
            info = CrossInfo(
                sell_symbol=self.symbols[row_b],
                buy_quote=self.symbols[row_a].partition("/")[2],
                sell_quote=self.symbols[row_b].partition("/")[2],
                fx_venue=self.venues[fig.fx_venue],
                fx_symbol=self.symbols[fig.fx_symbol],
                fx_rate=fig.fx_rate,
                fx_age_ms=fx_age / 1e6,
                fx_fee_bps=self.fees_bps[fig.fx_venue],
            )
        symbol = self.symbols[row_a]
        if t.kind != CLOSED:
            return opportunity_event(t.kind, t.oid, t.ts, symbol, buy, sell, fig, info)
        return closed_event(
            t.oid,
            t.ts,
            symbol,
            buy,
            sell,
            fig,
            reason=t.reason or "",
            duration_ms=t.duration_ns / 1e6,
            peak_net_bps=t.peak_net_bps,
            peak_profit=t.peak_profit,
            cross=info,
        )

    def _leg_info(self, s: int, v: int, ts: int) -> LegInfo:
        age_ns = max(0, ts - int(self.board.updated_ns[s, v]))
        return LegInfo(self.venues[v], self.fees_bps[v], age_ns / 1e6)
