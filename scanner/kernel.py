"""The spread kernel: fee-net top-of-book pruning and the vectorised depth walk (DESIGN 2.2).

For symbol s, buying at venue i (asks a_m, sizes qa_m, taker fee f_i) and selling at venue j
(bids b_k, sizes qb_k, fee f_j), with a'_m = a_m (1 + f_i) ascending and b'_k = b_k (1 - f_j)
descending, the marginal profit of the q-th unit is b'(q) - a'(q), non-increasing in q, so
P(Q) = R(Q) - C(Q) is concave and piecewise linear. With cumulative sizes CA_m, CB_k:

    Q* = max { min(CB_k, CA_m) : b'_k > a'_m }        (0 if no level pair crosses)

(every unit q <= min(CB_k, CA_m) sits on bid level <= k and ask level <= m, so it pays at
least b'_k - a'_m > 0; the last paying unit is reached by some crossing (k, m)). Equal prices do
not pay. ``max_notional > 0`` caps the cost: Q_cap = C^-1(max_notional), interpolated inside the
ask level where the cumulative cost reaches it, and Q = min(Q*, Q_cap) (P is increasing below
Q*). The top-of-book spread b'_0 - a'_0 bounds every marginal profit, so only pairs with
b'_0 > a'_0 are walked, all K of them at once: (K, 2, L) ladders and a (K, L, L) crossing
matrix, about 25 numpy calls whatever K is (K is usually 0, sometimes 1 or 2). On the usual
update nothing crosses: the board's exact per-symbol best tops (``Board.may_pay``) say so in
O(1), and ``evaluate`` returns without a numpy call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scanner.board import ASK_PX, ASK_SZ, BID_PX, BID_SZ, Board

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.intp]


@dataclass(slots=True)
class Pairs:
    """The (buy, sell) pairs of one evaluation that pay, as a struct of arrays (one entry each).

    Prices are before fees; ``cost``/``proceeds`` include fees; ``size`` is Q* in base units.
    """

    buy: I64
    """Venue index bought at (its asks are walked)."""
    sell: I64
    """Venue index sold at (its bids are walked)."""
    buy_price: F64
    """Best ask a_0 of the buy venue."""
    sell_price: F64
    """Best bid b_0 of the sell venue."""
    size: F64
    """Q*: the profit-maximising size (capped by max_notional)."""
    buy_vwap: F64
    """Σ a·fill / Q, before fees."""
    sell_vwap: F64
    """Σ b·fill / Q, before fees."""
    cost: F64
    """C(Q) = Σ a·fill·(1 + f_buy)."""
    proceeds: F64
    """R(Q) = Σ b·fill·(1 - f_sell)."""
    profit: F64
    """P = R - C > 0."""
    net_bps: F64
    """1e4 · P / C."""
    gross_bps: F64
    """1e4 · (b_0 - a_0) / a_0."""

    def __len__(self) -> int:
        return len(self.buy)


def _frozen(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    a.flags.writeable = False
    return a


_NO_INT: I64 = _frozen(np.zeros(0, dtype=np.intp))  # type: ignore[assignment]
_NO_F64: F64 = _frozen(np.zeros(0))  # type: ignore[assignment]
EMPTY = Pairs(_NO_INT, _NO_INT, *([_NO_F64] * 10))
"""The (shared, read-only) result when no pair pays."""


def evaluate(board: Board, s: int, v: int, max_notional: float) -> Pairs:
    """The pairs of symbol s with leg v (bought or sold at v) whose profit is > 0: prune those
    whose fee-adjusted top of book does not cross, walk the books of the rest to Q*."""
    # The O(1) prune first (most updates end here), then v against every venue at once.
    if not board.may_pay(s, v):
        return EMPTY
    bid, ask = board.bid_eff[s], board.ask_eff[s]
    # (buy, buy, sell, sell) per candidate pair, to gather levels[s] rows (ask_px, ask_sz, bid_px,
    # bid_sz): buy at v and sell where the bid crosses v's ask, then buy where the ask is below
    # v's bid and sell at v. Comprehensions over the (1-2) candidates: cheaper than numpy calls.
    legs = [(v, v, j, j) for j in (bid > ask[v]).nonzero()[0].tolist() if j != v]
    legs += [(i, i, v, v) for i in (ask < bid[v]).nonzero()[0].tolist() if i != v]
    if not legs:
        return EMPTY
    return _walk(board, s, np.array(legs), max_notional)


_ROWS = np.array([ASK_PX, ASK_SZ, BID_PX, BID_SZ])
_PX, _SZ = slice(0, 4, 2), slice(1, 4, 2)
"""Of the gathered (K, 4, L) books: prices and sizes, each (K, 2, L) as [ask, bid]."""


def _walk(board: Board, s: int, legs: npt.NDArray[np.intp], max_notional: float) -> Pairs:
    """Depth-walk the candidate pairs ``legs[k] = (buy, buy, sell, sell)`` of symbol s together
    as (K, 2, L) arrays ([ask of buy, bid of sell] × level); keep those with profit > 0."""
    book = board.levels[s, legs, _ROWS]  # (K, 4, L)
    mult = board.fee_mult[legs, _ROWS]  # (K, 4): 1 + f_buy, 1, 1 - f_sell, 1
    eff = book * mult[:, :, None]  # fee-adjusted prices in rows 0 (ask) and 2 (bid)
    px, sz = book[:, _PX], book[:, _SZ]
    cum = np.add.accumulate(sz, axis=2)  # = cumsum, without its Python wrapper
    before = cum - sz
    # Q* = max over (bid level k, ask level m) with b'_k > a'_m of min(CB_k, CA_m).
    reach = np.minimum(cum[:, 1, :, None], cum[:, 0, None, :])
    reach *= eff[:, 2, :, None] > eff[:, 0, None, :]
    q = np.maximum.reduce(reach, axis=(1, 2))
    # (K, 2, 2): [[C, R], [a_0, b_0]] per pair, so that one subtraction gives [P, b_0 - a_0] and
    # one division [net, gross] / 1e4.
    figures = np.empty((len(legs), 2, 2))
    figures[:, 1] = px[:, :, 0]
    notional = _notional(px, sz, before, q, mult, figures)
    if max_notional > 0.0 and (figures[:, 0, 0] > max_notional).any():
        # Q_cap = C^-1(max_notional): what the budget left before each ask level buys there.
        step = eff[:, 0] * sz[:, 0]
        budget = max_notional - (np.add.accumulate(step, axis=1) - step)
        q_cap = np.add.reduce(np.maximum(np.minimum(budget / eff[:, 0], sz[:, 0]), 0.0), axis=1)
        q = np.minimum(q, q_cap)
        notional = _notional(px, sz, before, q, mult, figures)
    gain = figures[:, :, 1] - figures[:, :, 0]  # [P, b_0 - a_0]
    if min(gain[:, 0].tolist()) <= 0.0:  # rare (rounding): drop what does not pay
        keep = gain[:, 0] > 0.0
        if not keep.any():
            return EMPTY
        legs, q, notional = legs[keep], q[keep], notional[keep]
        figures, gain = figures[keep], gain[keep]
    bps = gain / figures[:, :, 0]
    bps *= 1e4
    vwap = notional / q[:, None]
    return Pairs(
        buy=legs[:, 0],
        sell=legs[:, 2],
        buy_price=figures[:, 1, 0],
        sell_price=figures[:, 1, 1],
        size=q,
        buy_vwap=vwap[:, 0],
        sell_vwap=vwap[:, 1],
        cost=figures[:, 0, 0],
        proceeds=figures[:, 0, 1],
        profit=gain[:, 0],
        net_bps=bps[:, 0],
        gross_bps=bps[:, 1],
    )


def _notional(px: F64, sz: F64, before: F64, q: F64, mult: F64, figures: F64) -> F64:
    """Σ px·fill per side (K, 2) for size q[k] on both ladders; C, R into ``figures[:, 0]``."""
    fill = np.subtract(q[:, None, None], before)
    np.minimum(fill, sz, out=fill)  # two in-place ufuncs: measured faster than np.clip
    np.maximum(fill, 0.0, out=fill)
    notional: F64 = np.vecdot(px, fill)
    np.multiply(notional, mult[:, _PX], out=figures[:, 0])
    return notional
