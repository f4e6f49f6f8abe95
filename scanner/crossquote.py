"""Cross-quote pairs: buy a base in quote A at venue i, sell it for quote B at venue j and
convert the proceeds back to A on a conversion book some venue streams (docs/quotes.md).

With the buy leg's asks a_m (sizes qa_m, fee f_i), the sell leg's bids b_k (sizes qb_k, fee f_j)
and one conversion book turned into a ladder of B -> A levels (rate r_n in A per B before its
fee, rate after fee e_n, capacity w_n in B, best first):

    C(Q)   = Σ a_m·δa_m(Q)·(1+f_i)             cost in A
    R_B(Q) = Σ b_k·δb_k(Q)·(1−f_j)             sell proceeds in B
    G(x)   = Σ e_n·δw_n(x)                     A received for x of B, walking the conversion
    P(Q)   = G(R_B(Q)) − C(Q)

G and R_B are increasing, concave and piecewise linear, so P is concave: the marginal profit
of the q-th unit is e_n·b_k(1−f_j) − a_m(1+f_i) on the levels (k, m, n) that unit sits on,
non-increasing in q. Q* is where it stops being > 0, found by merging the three ladders; the
conversion ladder running out ends the walk (the size is capped at what its visible depth
absorbs). A conversion book B/A is sold into (its bids: r = price, e = price·(1−f_c), w = size);
a book A/B is bought from (its asks: r = 1/price, e = 1/(price·(1+f_c)), w = price·size·(1+f_c)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from scanner.board import MISSING_ASK, Board
from scanner.events import Figures
from scanner.kernel import _affordable, _notional, _row


@dataclass(frozen=True, slots=True)
class CrossFigures(Figures):
    """:class:`Figures` of a cross-quote pair, every money figure in the buy quote (sell
    prices converted at ``fx_rate``), plus the conversion used."""

    fx_symbol: int = 0
    """Board row of the conversion book."""
    fx_venue: int = 0
    fx_rate: float = 0.0
    """A per B over the converted amount, before the conversion fee."""
    converted: float = 0.0
    """R_B(Q*): the sell proceeds converted, in the sell quote."""


class Ladder(NamedTuple):
    """A conversion book as B -> A levels, best first."""

    raw: list[float]
    eff: list[float]
    cap: list[float]


def ladder(board: Board, s: int, v: int, sell_base: bool) -> Ladder:
    """The B -> A ladder of book (s, v): its bids when it is B/A (``sell_base``), else its
    asks (A/B). Missing levels are dropped."""
    depth, cells = board.depth, board.cells
    at = (s * board.n_venues + v) * 4 * depth
    fee = float(board.fee[v])
    if sell_base:
        px, sz = _row(cells, at, depth), _row(cells, at + depth, depth)
        n = sum(1 for z in sz if z > 0.0)
        return Ladder(px[:n], [p * (1.0 - fee) for p in px[:n]], sz[:n])
    px, sz = _row(cells, at + 2 * depth, depth), _row(cells, at + 3 * depth, depth)
    n = sum(1 for p, z in zip(px, sz, strict=True) if z > 0.0 and p < MISSING_ASK)
    return Ladder(
        [1.0 / p for p in px[:n]],
        [1.0 / (p * (1.0 + fee)) for p in px[:n]],
        [p * z * (1.0 + fee) for p, z in zip(px[:n], sz[:n], strict=True)],
    )


def convert(conv: Ladder, x: float) -> tuple[float, float]:
    """(A after the fee, A before it) for ``x`` of B walked down the ladder (all of it is
    converted: the caller keeps x within the ladder's capacity)."""
    got = raw = used = 0.0
    for r, e, w in zip(conv.raw, conv.eff, conv.cap, strict=True):
        take = min(w, x - used)
        got += e * take
        raw += r * take
        used += take
        if used >= x:
            break
    return got, raw


def walk(
    board: Board,
    buy: tuple[int, int],
    sell: tuple[int, int],
    conv: Ladder,
    max_notional: float,
) -> CrossFigures | None:
    """Q* and the figures of buying on book ``buy`` = (s, v) and selling on ``sell``,
    converting through ``conv``; None unless the profit is > 0. ``fx_symbol``/``fx_venue``
    are left 0 (the caller names the book)."""
    depth, cells, nv = board.depth, board.cells, board.n_venues
    at = (buy[0] * nv + buy[1]) * 4 * depth + 2 * depth
    ask_px, ask_sz = _row(cells, at, depth), _row(cells, at + depth, depth)
    at = (sell[0] * nv + sell[1]) * 4 * depth
    bid_px, bid_sz = _row(cells, at, depth), _row(cells, at + depth, depth)
    fa, fb = board.ask_fee[buy[1]], board.bid_fee[sell[1]]
    if not conv.cap:
        return None
    k = m = n = 0
    cum_a, cum_b, cum_w = ask_sz[0], bid_sz[0], conv.cap[0]
    before_b = 0.0  # Q at the start of bid level k
    got_before_b = 0.0  # R_B at the start of bid level k
    q = 0.0
    while conv.eff[n] * bid_px[k] * fb > ask_px[m] * fa:
        # the Q at which R_B reaches the end of conversion level n, within bid level k
        q_w = max(before_b, before_b + (cum_w - got_before_b) / (bid_px[k] * fb))
        q = min(cum_a, cum_b, q_w)
        if q == cum_b:
            got_before_b += bid_px[k] * fb * bid_sz[k]
            before_b = cum_b
            k += 1
            if k == depth or bid_sz[k] <= 0.0:
                break
            cum_b += bid_sz[k]
        if q == cum_a:
            m += 1
            if m == depth:
                break
            cum_a += ask_sz[m]
        if q == q_w:
            n += 1
            if n == len(conv.cap):
                break
            cum_w += conv.cap[n]
    paid = _notional(ask_px, ask_sz, q)
    if max_notional > 0.0 and paid * fa > max_notional:
        q = min(q, _affordable(ask_px, ask_sz, fa, max_notional))
        paid = _notional(ask_px, ask_sz, q)
    if not q > 0.0:
        return None
    sold = _notional(bid_px, bid_sz, q)
    converted = min(sold * fb, sum(conv.cap))
    proceeds, raw = convert(conv, converted)
    cost = paid * fa
    profit = proceeds - cost
    if not profit > 0.0:
        return None
    rate = raw / converted
    a0, b0 = ask_px[0], bid_px[0] * rate
    return CrossFigures(
        a0,
        b0,
        q,
        paid / q,
        sold / q * rate,
        cost,
        proceeds,
        profit,
        profit / cost * 1e4,
        (b0 - a0) / a0 * 1e4,
        fx_rate=rate,
        converted=converted,
    )
