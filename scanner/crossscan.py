"""Which books pair across quotes, and their evaluation (docs/quotes.md).

A *family* is one base asset quoted in two or more quotes of one convertible group (BTC/USD,
BTC/USDT, BTC/USDC); its legs are (slot, venue) flattened to ``slot * V + venue``, which the
lifecycle keys opportunities by, with the family index as its "symbol". A *conversion book* is
a row whose base and quote are both in the group (USDT/USD, USDC/USDT). A pair (buy leg in
quote A, sell leg in quote B) is evaluated with every conversion book from B to A that is
usable (synced, warmed up, fresh by its feed's rules) and, when ``fx_max_age_ns`` > 0, updated
within that age; the one giving the largest profit is chosen (ties: the first in row, then
venue order). No such book: the pair is not evaluated at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from scanner.board import Board
from scanner.crossquote import CrossFigures, Ladder, ladder, walk
from scanner.kernel import Pair


@dataclass(slots=True)
class Family:
    """One base asset over the quotes of one group: ``rows[slot]`` quoted in ``quotes[slot]``."""

    base: str
    rows: list[int] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)


class CrossScan:
    """The cross-quote structure of a board and its evaluation."""

    def __init__(
        self,
        board: Board,
        assets: Sequence[tuple[str, str]],
        groups: Sequence[Sequence[str]],
        fx_max_age_ns: int,
        max_notional: float,
    ) -> None:
        """``assets[row]`` = (base, quote) identities of each board row."""
        self.board = board
        self.fx_max_age_ns = fx_max_age_ns
        self.max_notional = max_notional
        group_of = {q: g for g, members in enumerate(groups) for q in members}
        self.conversions: dict[tuple[str, str], list[tuple[int, bool]]] = {}
        """(B, A) -> the rows converting B to A: (row, True) for B/A, (row, False) for A/B."""
        self.conversion_rows: set[int] = set()
        by_base: dict[tuple[str, int], Family] = {}
        for row, (base, quote) in enumerate(assets):
            g = group_of.get(quote)
            if g is None:
                continue
            if group_of.get(base) == g:
                self.conversions.setdefault((base, quote), []).append((row, True))
                self.conversions.setdefault((quote, base), []).append((row, False))
                self.conversion_rows.add(row)
                continue
            fam = by_base.setdefault((base, g), Family(base))
            fam.rows.append(row)
            fam.quotes.append(quote)
        self.families = [f for f in by_base.values() if len(set(f.quotes)) > 1]
        self.slot_of: dict[int, tuple[int, int]] = {
            row: (f, slot)
            for f, fam in enumerate(self.families)
            for slot, row in enumerate(fam.rows)
        }
        """row -> (family, slot)."""
        self.using: dict[int, list[int]] = {}
        """conversion row -> the families whose pairs it may convert."""
        for f, fam in enumerate(self.families):
            for qa in fam.quotes:
                for qb in fam.quotes:
                    for row, _ in self.conversions.get((qb, qa), ()):
                        if f not in self.using.setdefault(row, []):
                            self.using[row].append(f)

    def leg(self, f: int, flat: int) -> tuple[int, int]:
        """(row, venue) of flattened leg ``flat`` of family ``f``."""
        slot, v = divmod(flat, self.board.n_venues)
        return self.families[f].rows[slot], v

    def evaluate(self, f: int, changed: tuple[int, int] | None, ts: int) -> list[Pair]:
        """The paying pairs of family ``f`` with leg ``changed`` = (row, venue) as buy or sell
        (every pair when None), by (buy, sell) flattened leg, with their chosen conversion.
        Pruned first by the fee-net tops: bid_eff(j) · best conversion rate > ask_eff(i)."""
        board, fam, nv = self.board, self.families[f], self.board.n_venues
        out: list[Pair] = []
        for sa, (row_a, qa) in enumerate(zip(fam.rows, fam.quotes, strict=True)):
            for sb, (row_b, qb) in enumerate(zip(fam.rows, fam.quotes, strict=True)):
                if qa == qb or (changed is not None and changed[0] not in (row_a, row_b)):
                    continue
                books = self._live(qb, qa, ts)
                if not books:
                    continue
                best = max(self._top_rate(row, v, sell_base) for row, v, sell_base in books)
                bids = board.bid_eff[row_b] * best
                asks = board.ask_eff[row_a]
                if changed is None:
                    legs = np.argwhere(asks[:, None] < bids[None, :]).tolist()
                elif changed[0] == row_a:
                    i = changed[1]
                    legs = [[i, j] for j in np.flatnonzero(bids > asks[i]).tolist()]
                else:
                    j = changed[1]
                    legs = [[i, j] for i in np.flatnonzero(asks < bids[j]).tolist()]
                for i, j in legs:
                    fig = self._best(row_a, i, row_b, j, books)
                    if fig is not None:
                        out.append(Pair(sa * nv + i, sb * nv + j, fig))
        out.sort(key=lambda p: (p.buy, p.sell))
        return out

    def _live(self, qb: str, qa: str, ts: int) -> list[tuple[int, int, bool]]:
        """The conversion books from ``qb`` to ``qa`` that pass the gate: (row, venue, B/A)."""
        board, max_age = self.board, self.fx_max_age_ns
        out = []
        for row, sell_base in self.conversions.get((qb, qa), ()):
            for v in np.flatnonzero(board.usable[row]).tolist():
                if max_age > 0 and ts - int(board.updated_ns[row, v]) > max_age:
                    continue
                if self._top_rate(row, v, sell_base) > 0.0:
                    out.append((row, v, sell_base))
        return out

    def _top_rate(self, row: int, v: int, sell_base: bool) -> float:
        """The best fee-net rate of one conversion book, A per B (0.0 when that side is empty)."""
        if sell_base:
            bid = float(self.board.bid_eff[row, v])
            return bid if bid > 0.0 else 0.0
        ask = float(self.board.ask_eff[row, v])
        return 1.0 / ask if 0.0 < ask < math.inf else 0.0

    def _best(
        self, row_a: int, i: int, row_b: int, j: int, books: list[tuple[int, int, bool]]
    ) -> CrossFigures | None:
        best: CrossFigures | None = None
        for row, v, sell_base in books:
            conv: Ladder = ladder(self.board, row, v, sell_base)
            fig = walk(self.board, (row_a, i), (row_b, j), conv, self.max_notional)
            if fig is not None and (best is None or fig.profit > best.profit):
                best = replace(fig, fx_symbol=row, fx_venue=v)
        return best
