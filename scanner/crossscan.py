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
        # flat views of the board's per-leg arrays (index row * V + venue): a scalar read costs
        # a fraction of numpy's 2-D item access
        self._bid = board.bid_eff.data.cast("B").cast("d")
        self._ask = board.ask_eff.data.cast("B").cast("d")
        self._usable = board.usable.data.cast("B").cast("?")
        self._updated = board.updated_ns.data.cast("B").cast("q")
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

        Pruned first in O(1) by the board's exact best fee-net tops and the conversion rows'
        best fee-net rates (an upper bound of the usable ones'), then per venue by
        bid_eff(j) · best live conversion rate > ask_eff(i); only the rest are walked."""
        board, fam, nv = self.board, self.families[f], self.board.n_venues
        bid, ask = self._bid, self._ask
        out: list[Pair] = []
        for sa, (row_a, qa) in enumerate(zip(fam.rows, fam.quotes, strict=True)):
            for sb, (row_b, qb) in enumerate(zip(fam.rows, fam.quotes, strict=True)):
                if qa == qb:
                    continue
                if changed is None:
                    bound = board.bid_max[row_b] * self._bound(qb, qa) > board.ask_min[row_a]
                elif changed[0] == row_a:
                    at = row_a * nv + changed[1]
                    bound = board.bid_max[row_b] * self._bound(qb, qa) > ask[at]
                elif changed[0] == row_b:
                    at = row_b * nv + changed[1]
                    bound = bid[at] * self._bound(qb, qa) > board.ask_min[row_a]
                else:
                    continue
                if not bound:
                    continue
                books = self._live(qb, qa, ts)
                if not books:
                    continue
                rates = [self._top_rate(row, v, sell_base) for row, v, sell_base in books]
                rate = max(rates)
                ladders: dict[int, Ladder] = {}  # built once per book, when first walked
                buys = [changed[1]] if changed is not None and changed[0] == row_a else range(nv)
                sells = [changed[1]] if changed is not None and changed[0] == row_b else range(nv)
                for i in buys:
                    a = ask[row_a * nv + i]
                    for j in sells:
                        b = bid[row_b * nv + j]
                        if b * rate > a:
                            fig = self._best(row_a, i, row_b, j, books, rates, b, a, ladders)
                            if fig is not None:
                                out.append(Pair(sa * nv + i, sb * nv + j, fig))
        out.sort(key=lambda p: (p.buy, p.sell))
        return out

    def _bound(self, qb: str, qa: str) -> float:
        """The best fee-net rate from ``qb`` to ``qa`` over the usable conversion books'
        tops, whatever their age (0.0 when none)."""
        board, best = self.board, 0.0
        for row, sell_base in self.conversions.get((qb, qa), ()):
            if sell_base:
                rate = board.bid_max[row]
            else:
                low = board.ask_min[row]
                rate = 1.0 / low if 0.0 < low < math.inf else 0.0
            best = max(best, rate)
        return best

    def _live(self, qb: str, qa: str, ts: int) -> list[tuple[int, int, bool]]:
        """The conversion books from ``qb`` to ``qa`` that pass the gate: (row, venue, B/A)."""
        nv, max_age = self.board.n_venues, self.fx_max_age_ns
        out = []
        for row, sell_base in self.conversions.get((qb, qa), ()):
            for v in range(nv):
                at = row * nv + v
                if not self._usable[at]:
                    continue
                if max_age > 0 and ts - self._updated[at] > max_age:
                    continue
                if self._top_rate(row, v, sell_base) > 0.0:
                    out.append((row, v, sell_base))
        return out

    def _top_rate(self, row: int, v: int, sell_base: bool) -> float:
        """The best fee-net rate of one conversion book, A per B (0.0 when that side is empty)."""
        at = row * self.board.n_venues + v
        if sell_base:
            bid = self._bid[at]
            return bid if bid > 0.0 else 0.0
        ask = self._ask[at]
        return 1.0 / ask if 0.0 < ask < math.inf else 0.0

    def _best(
        self,
        row_a: int,
        i: int,
        row_b: int,
        j: int,
        books: list[tuple[int, int, bool]],
        rates: list[float],
        bid: float,
        ask: float,
        ladders: dict[int, Ladder],
    ) -> CrossFigures | None:
        """The most profitable conversion of pair (i, j) among ``books`` (fee-net top
        ``rates``; ``bid``, ``ask``: the pair's fee-net tops): a book whose first unit does
        not pay is not walked, since no later unit can."""
        best: CrossFigures | None = None
        for k, (row, v, sell_base) in enumerate(books):
            if not bid * rates[k] > ask:
                continue
            conv = ladders.get(k)
            if conv is None:
                conv = ladders[k] = ladder(self.board, row, v, sell_base)
            fig = walk(self.board, (row_a, i), (row_b, j), conv, self.max_notional)
            if fig is not None and (best is None or fig.profit > best.profit):
                best = replace(fig, fx_symbol=row, fx_venue=v)
        return best
