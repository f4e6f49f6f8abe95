"""The spread kernel: fee-net top-of-book pruning and the depth walk (docs/contracts.md).

For symbol s, buying at venue i (asks a_m, sizes qa_m, taker fee f_i) and selling at venue j
(bids b_k, sizes qb_k, fee f_j), with a'_m = a_m (1 + f_i) ascending and b'_k = b_k (1 - f_j)
descending, the marginal profit of the q-th unit is b'(q) - a'(q), non-increasing in q, so
P(Q) = R(Q) - C(Q) is concave and piecewise linear. With cumulative sizes CA_m, CB_k:

    Q* = max { min(CB_k, CA_m) : b'_k > a'_m }        (0 if no level pair crosses)

(every unit q <= min(CB_k, CA_m) sits on bid level <= k and ask level <= m, so it pays at
least b'_k - a'_m > 0; the last paying unit is reached by some crossing (k, m)). Equal prices do
not pay. ``max_notional > 0`` caps the cost: Q_cap = C^-1(max_notional), interpolated inside the
ask level where the cumulative cost reaches it, and Q = min(Q*, Q_cap) (P is increasing below
Q*).

The top-of-book spread b'_0 - a'_0 bounds every marginal profit, so only pairs with b'_0 > a'_0
are walked. On the usual update nothing crosses: the board's exact per-symbol best tops
(``Board.may_pay``) say so in O(1) and ``evaluate`` returns at once. Otherwise one numpy
comparison of the changed venue's fee-adjusted top against every venue's finds the candidate
pairs, and each is walked as a merge of its two ladders, filling unit by unit the way the
profit formula reads: the walk stops at the first level pair that does not cross, so it costs
O(levels crossed), usually 1-5. Measured with 20 levels, it takes 3-7 µs per pair; the
vectorised (K, L, L) crossing-matrix walk it replaced took 28-50 µs for one pair, ~25 numpy
calls of ~1 µs each on arrays of a few dozen numbers.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from scanner.board import Board
from scanner.events import Figures


class Pair(NamedTuple):
    """A (buy, sell) pair of one evaluation that pays, with its figures: prices before fees,
    ``cost``/``proceeds`` including fees, ``size`` = Q* in base units, ``profit`` > 0."""

    buy: int
    """Venue index bought at (its asks are walked)."""
    sell: int
    """Venue index sold at (its bids are walked)."""
    figures: Figures


def evaluate(board: Board, s: int, v: int, max_notional: float) -> list[Pair]:
    """The pairs of symbol s with leg v (bought or sold at v) whose profit is > 0, buying at v
    first (by sell venue), then selling at v (by buy venue): prune those whose fee-adjusted top
    of book does not cross, walk the books of the rest to Q*."""
    if not board.may_pay(s, v):  # most updates end here
        return []
    bid, ask = board.bid_eff[s], board.ask_eff[s]
    # buy at v, sell where the bid is above v's ask; then buy where the ask is below v's bid
    legs = [(v, j) for j in (bid > ask[v]).nonzero()[0].tolist() if j != v]
    legs += [(i, v) for i in (ask < bid[v]).nonzero()[0].tolist() if i != v]
    walked = [_walk(board, s, buy, sell, max_notional) for buy, sell in legs]
    return [pair for pair in walked if pair is not None]


def _walk(board: Board, s: int, buy: int, sell: int, max_notional: float) -> Pair | None:
    """Walk the asks of ``buy`` against the bids of ``sell`` (symbol s) to Q*; None unless
    the profit is > 0 (a pair whose top crosses by an ulp may round to no profit)."""
    depth, cells = board.depth, board.cells
    at = (s * board.n_venues + buy) * 4 * depth + 2 * depth  # ask rows of the buy leg
    ask_px, ask_sz = _row(cells, at, depth), _row(cells, at + depth, depth)
    at = (s * board.n_venues + sell) * 4 * depth  # bid rows of the sell leg
    bid_px, bid_sz = _row(cells, at, depth), _row(cells, at + depth, depth)
    fa, fb = board.ask_fee[buy], board.bid_fee[sell]
    # Merge the ladders: at (k, m) the units up to min(CB_k, CA_m) sit on bid level k and ask
    # level m; while that level pair crosses they pay, and the side that runs out first moves
    # on. Q* is the last such min. Missing levels never cross (bid price 0, ask MISSING_ASK).
    k = m = 0
    cum_b, cum_a = bid_sz[0], ask_sz[0]
    q = 0.0
    while bid_px[k] * fb > ask_px[m] * fa:
        if cum_a < cum_b:
            q = cum_a
        else:
            q = cum_b
            k += 1
            if k == depth:
                break
            cum_b += bid_sz[k]
        if q == cum_a:
            m += 1
            if m == depth:
                break
            cum_a += ask_sz[m]
    paid = _notional(ask_px, ask_sz, q)
    if max_notional > 0.0 and paid * fa > max_notional:
        q = min(q, _affordable(ask_px, ask_sz, fa, max_notional))
        paid = _notional(ask_px, ask_sz, q)
    if not q > 0.0:
        return None
    got = _notional(bid_px, bid_sz, q)
    cost, proceeds = paid * fa, got * fb
    profit = proceeds - cost
    if not profit > 0.0:
        return None
    a0, b0 = ask_px[0], bid_px[0]
    net_bps, gross_bps = profit / cost * 1e4, (b0 - a0) / a0 * 1e4
    figures = Figures(a0, b0, q, paid / q, got / q, cost, proceeds, profit, net_bps, gross_bps)
    return Pair(buy, sell, figures)


def _row(cells: memoryview[float], at: int, n: int) -> list[float]:
    """``n`` cells from ``at`` (typeshed types ``memoryview.tolist()`` as a list of int)."""
    return cast("list[float]", cells[at : at + n].tolist())


def _notional(px: list[float], sz: list[float], q: float) -> float:
    """Σ price · fill over a ladder (best first) for the first ``q`` units."""
    total = before = 0.0
    for p, z in zip(px, sz, strict=True):
        cum = before + z
        if q <= cum:
            return total + p * (q - before)
        total += p * z
        before = cum
    return total


def _affordable(px: list[float], sz: list[float], fee: float, budget: float) -> float:
    """Q_cap: the units whose fee-inclusive cost on the ask ladder is ``budget``."""
    q = spent = 0.0
    for p, z in zip(px, sz, strict=True):
        step = p * fee * z
        if spent + step >= budget:
            return q + (budget - spent) / (p * fee)
        q += z
        spent += step
    return q
