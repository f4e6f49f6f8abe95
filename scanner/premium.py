"""Fiat premiums: a venue's price of a base in USD against the other venues' (docs/quotes.md).

Money in KRW, JPY, EUR... cannot move between venues, so those books are compared, not traded.
Per base asset, at most once per ``interval_ns`` (on the book update that finds the interval
over), every venue with a usable book of the base gets one row: its mid (the book quoted outside
the USD group when it has one, else its first) converted to USD, and its premium against the
reference, the median of the other venues' USD mids::

    premium_bps = 1e4 · (mid_usd / median(other venues' mid_usd) − 1)

The rate of a quote Q to USD comes from venues' own books: a book Q/USD or USD/Q (mid), else
Q through a member S of the USD group (S/Q, then S/USD or USD/S); each book the venue's own if
it has one, else the median mid over every venue that streams it;
else the rate the user gave with the time it was set (``config:Q@time``). A row's ``premium``
event is emitted when it is first computed and then when it moved by ``update_bps``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.board import ASK_PX, ASK_SZ, BID_PX, BID_SZ, Board
from scanner.config import FixedRate
from scanner.events import Event, premium_event

USD = "USD"
FIAT = frozenset({"USD", "EUR", "GBP", "JPY", "KRW", "AUD", "TRY", "BRL", "CAD", "CHF", "SGD"})
"""Fiat currencies: never a base whose premium is measured."""


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per unit of a quote, where it came from and how old its oldest book is (ns)."""

    usd: float
    source: str
    age_ns: int


class PremiumScan:
    """Premium rows of every base quoted on two or more venues."""

    def __init__(
        self,
        board: Board,
        venues: Sequence[str],
        assets: Sequence[tuple[str, str]],
        names: Sequence[str],
        groups: Sequence[Sequence[str]],
        fixed: Mapping[str, FixedRate],
        interval_ns: int,
        update_bps: float,
    ) -> None:
        self.board, self.venues, self.names = board, list(venues), list(names)
        self.fixed = fixed
        self.interval_ns, self.update_bps = interval_ns, update_bps
        in_group = {q for g in groups for q in g}
        self.usd_group = next((list(g) for g in groups if USD in g), [USD])
        self.book_of: dict[tuple[str, str], int] = {}
        """(base, quote) -> row."""
        self.bases: dict[str, list[int]] = {}
        """base -> its rows, the ones quoted outside the USD group first."""
        for row, (base, quote) in enumerate(assets):
            self.book_of.setdefault((base, quote), row)
        for row, (base, quote) in enumerate(assets):
            # only the books whose quote some book (or the config) can ever give a USD rate
            if base not in in_group | FIAT and base not in fixed and self._priceable(quote):
                self.bases.setdefault(base, []).append(row)
        for rows in self.bases.values():
            rows.sort(key=lambda r: (assets[r][1] in self.usd_group, r))
        self.row_base = {row: base for base, rows in self.bases.items() for row in rows}
        self.quote_of = {row: q for row, (_, q) in enumerate(assets)}
        self._last_ns: dict[str, int] = {}
        self.emitted: dict[tuple[str, int], float] = {}
        """(base, venue) -> premium_bps last emitted."""

    def _priceable(self, quote: str) -> bool:
        """Whether some book (or the config) could ever give ``quote`` a USD rate."""
        if quote == USD or quote in self.fixed:
            return True
        if (quote, USD) in self.book_of or (USD, quote) in self.book_of:
            return True
        return any(
            ((quote, s) in self.book_of or (s, quote) in self.book_of)
            and ((s, USD) in self.book_of or (USD, s) in self.book_of)
            for s in self.usd_group
            if s not in (USD, quote)
        )

    def on_book(self, row: int, ts: int) -> list[Event]:
        """The premium events due after an update of ``row`` at ``ts`` (usually none)."""
        base = self.row_base.get(row)
        if base is None:
            return []
        last = self._last_ns.get(base)
        if last is not None and ts - last < self.interval_ns:
            return []
        self._last_ns[base] = ts
        return self.compute(base, ts)

    def compute(self, base: str, ts: int) -> list[Event]:
        """Every venue's row of ``base`` at ``ts``; the events of those that are due."""
        rows: dict[int, tuple[int, float, float, Rate]] = {}
        for v in range(self.board.n_venues):
            for row in self.bases[base]:
                mid = self._mid(row, v)
                rate = self.rate(self.quote_of[row], v, ts) if mid else None
                if mid and rate is not None:
                    rows[v] = (row, mid, mid * rate.usd, rate)
                    break
        out: list[Event] = []
        for v, (row, mid, usd, rate) in rows.items():
            others = [o[2] for w, o in rows.items() if w != v]
            if not others:
                continue
            ref = statistics.median(others)
            bps = 1e4 * (usd / ref - 1.0)
            before = self.emitted.get((base, v))
            if before is not None and abs(bps - before) < self.update_bps:
                continue
            self.emitted[(base, v)] = bps
            name = self.names[row]
            out.append(
                premium_event(
                    ts, base, self.venues[v], name, mid, usd, ref, bps,
                    rate.source, rate.age_ns / 1e6, len(others),
                )
            )  # fmt: skip
        return out

    def rate(self, quote: str, v: int, ts: int) -> Rate | None:
        """USD per unit of ``quote`` seen from venue ``v`` at ``ts`` (see the module doc)."""
        if quote == USD:
            return Rate(1.0, "usd", 0)
        direct = self._pair(quote, USD, v, ts)
        if direct is not None:
            return direct
        for stable in self.usd_group:
            if stable in (USD, quote):
                continue
            first = self._pair(quote, stable, v, ts)
            second = self._pair(stable, USD, v, ts) if first is not None else None
            if first is not None and second is not None:
                return Rate(
                    first.usd * second.usd,
                    f"{first.source}*{second.source}",
                    max(first.age_ns, second.age_ns),
                )
        fixed = self.fixed.get(quote)
        if fixed is None:
            return None
        when = dt.datetime.fromtimestamp(fixed.set_ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Rate(1.0 / fixed.per_usd, f"config:{quote}@{when}", max(0, ts - fixed.set_ns))

    def _pair(self, have: str, want: str, v: int, ts: int) -> Rate | None:
        """``want`` per unit of ``have`` from a book have/want or want/have: venue ``v``'s own,
        else the median mid of every venue that has one (one dislocated book elsewhere must
        not move every premium), its age that of the oldest book used."""
        books = ((self.book_of.get((have, want)), False), (self.book_of.get((want, have)), True))
        for row, invert in books:
            if row is None:
                continue
            name = self.names[row]
            found = [(v, mid)] if (mid := self._mid(row, v)) else []
            if not found:
                found = [(w, m) for w in range(self.board.n_venues) if (m := self._mid(row, w))]
            if found:
                mid = statistics.median(m for _, m in found)
                age = max(max(0, ts - int(self.board.updated_ns[row, w])) for w, _ in found)
                where = [self.venues[w] for w, _ in found]
                source = (
                    f"{where[0]}:{name}" if len(where) == 1 else f"median({','.join(where)}):{name}"
                )
                return Rate(1.0 / mid if invert else mid, source, age)
        return None

    def _mid(self, row: int, v: int) -> float:
        """The mid of book (row, v), 0.0 unless it is usable with both sides."""
        board = self.board
        if not board.usable[row, v]:
            return 0.0
        lv = board.levels[row, v]
        if not (lv[BID_SZ, 0] > 0.0 and lv[ASK_SZ, 0] > 0.0):
            return 0.0
        return float(lv[BID_PX, 0] + lv[ASK_PX, 0]) / 2.0
