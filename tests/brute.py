"""A pure-Python reference model of the profit formula (docs/contracts.md), independent of
scanner.kernel (no numpy).

It walks the two ladders together segment by segment, the way a trader would fill: take the
best remaining ask and bid; while the fee-adjusted bid pays strictly more than the fee-adjusted
ask, trade the smaller remaining quantity of the two levels (or, with a notional cap, only what
the remaining budget buys at that ask), then move to the next level of whichever side ran out.
"""

from __future__ import annotations

from dataclasses import dataclass

Level = tuple[float, float]
"""(price, size)."""


@dataclass(frozen=True)
class VenueBook:
    """One venue's book for one symbol: bids best (highest) first, asks best (lowest) first."""

    bids: list[Level]
    asks: list[Level]
    fee: float
    usable: bool


@dataclass(frozen=True)
class Fill:
    """The figures of one paying (buy, sell) pair."""

    buy_price: float
    sell_price: float
    size: float
    buy_vwap: float
    sell_vwap: float
    cost: float
    proceeds: float
    profit: float
    net_bps: float
    gross_bps: float


def top_net(buy: VenueBook, sell: VenueBook) -> float:
    """b0 (1 - f_sell) - a0 (1 + f_buy), or -inf when a leg is unusable or lacks that side."""
    if not (buy.usable and sell.usable and buy.asks and sell.bids):
        return float("-inf")
    return sell.bids[0][0] * (1.0 - sell.fee) - buy.asks[0][0] * (1.0 + buy.fee)


def fill(buy: VenueBook, sell: VenueBook, max_notional: float) -> Fill | None:
    """Buy on ``buy``'s asks and sell on ``sell``'s bids while it pays; None unless profit > 0."""
    if not (buy.usable and sell.usable and buy.asks and sell.bids):
        return None
    ai = bi = 0
    left_a, left_b = buy.asks[0][1], sell.bids[0][1]
    size = bought = sold = cost = proceeds = 0.0
    while ai < len(buy.asks) and bi < len(sell.bids):
        ask, bid = buy.asks[ai][0], sell.bids[bi][0]
        pay_ask, get_bid = ask * (1.0 + buy.fee), bid * (1.0 - sell.fee)
        if not get_bid > pay_ask:
            break
        qty = min(left_a, left_b)
        last = max_notional > 0.0 and cost + qty * pay_ask >= max_notional
        if last:
            qty = (max_notional - cost) / pay_ask
        size += qty
        bought += ask * qty
        sold += bid * qty
        cost += pay_ask * qty
        proceeds += get_bid * qty
        if last:
            break
        left_a -= qty
        left_b -= qty
        if left_a <= 0.0:
            ai += 1
            left_a = buy.asks[ai][1] if ai < len(buy.asks) else 0.0
        if left_b <= 0.0:
            bi += 1
            left_b = sell.bids[bi][1] if bi < len(sell.bids) else 0.0
    profit = proceeds - cost
    if not profit > 0.0:
        return None
    a0, b0 = buy.asks[0][0], sell.bids[0][0]
    return Fill(
        buy_price=a0,
        sell_price=b0,
        size=size,
        buy_vwap=bought / size,
        sell_vwap=sold / size,
        cost=cost,
        proceeds=proceeds,
        profit=profit,
        net_bps=1e4 * profit / cost,
        gross_bps=1e4 * (b0 - a0) / a0,
    )


def evaluate(books: list[VenueBook], v: int, max_notional: float) -> dict[tuple[int, int], Fill]:
    """Every (buy, sell) pair involving venue ``v`` (buy != sell) that pays, by (buy, sell)."""
    out: dict[tuple[int, int], Fill] = {}
    for other in range(len(books)):
        if other == v:
            continue
        for i, j in ((v, other), (other, v)):
            result = fill(books[i], books[j], max_notional)
            if result is not None:
                out[(i, j)] = result
    return out


@dataclass(frozen=True)
class ConversionBook:
    """A conversion book between the sell quote B and the buy quote A: ``sell_base`` when it
    is B/A (B is sold on its bids ``levels``), else A/B (A is bought on its asks ``levels``)."""

    levels: list[Level]
    fee: float
    sell_base: bool


@dataclass(frozen=True)
class CrossFill:
    """The figures of one paying cross-quote pair, money in the buy quote."""

    fill: Fill
    fx_rate: float
    converted: float


def cross_fill(
    buy: VenueBook, sell: VenueBook, conv: ConversionBook, max_notional: float
) -> CrossFill | None:
    """Buy on ``buy``'s asks, sell on ``sell``'s bids, convert each unit's proceeds at once on
    ``conv``, one segment at a time while the unit pays; None unless profit > 0."""
    if not (buy.usable and sell.usable and buy.asks and sell.bids and conv.levels):
        return None

    def level(n: int) -> tuple[float, float, float]:
        """(A per B before fee, A per B after fee, B it takes) of conversion level n."""
        price, size = conv.levels[n]
        if conv.sell_base:
            return price, price * (1.0 - conv.fee), size
        return 1.0 / price, 1.0 / (price * (1.0 + conv.fee)), price * size * (1.0 + conv.fee)

    ai = bi = ci = 0
    left_a, left_b = buy.asks[0][1], sell.bids[0][1]
    left_c = level(0)[2]
    size = bought = sold = cost = in_b = raw = got = 0.0
    while ai < len(buy.asks) and bi < len(sell.bids) and ci < len(conv.levels):
        ask, bid = buy.asks[ai][0], sell.bids[bi][0]
        rate, eff, _ = level(ci)
        pay_ask, get_bid = ask * (1.0 + buy.fee), bid * (1.0 - sell.fee)
        if not eff * get_bid > pay_ask:
            break
        qty = min(left_a, left_b, left_c / get_bid)
        last = max_notional > 0.0 and cost + qty * pay_ask >= max_notional
        if last:
            qty = (max_notional - cost) / pay_ask
        size += qty
        bought += ask * qty
        sold += bid * qty
        cost += pay_ask * qty
        in_b += get_bid * qty
        raw += rate * get_bid * qty
        got += eff * get_bid * qty
        if last:
            break
        if qty == left_c / get_bid:
            ci += 1
            left_c = level(ci)[2] if ci < len(conv.levels) else 0.0
        else:
            left_c -= get_bid * qty
        left_a -= qty
        left_b -= qty
        if left_a <= 0.0:
            ai += 1
            left_a = buy.asks[ai][1] if ai < len(buy.asks) else 0.0
        if left_b <= 0.0:
            bi += 1
            left_b = sell.bids[bi][1] if bi < len(sell.bids) else 0.0
    profit = got - cost
    if not profit > 0.0:
        return None
    fx = raw / in_b
    a0, b0 = buy.asks[0][0], sell.bids[0][0] * fx
    return CrossFill(
        Fill(
            buy_price=a0,
            sell_price=b0,
            size=size,
            buy_vwap=bought / size,
            sell_vwap=sold / size * fx,
            cost=cost,
            proceeds=got,
            profit=profit,
            net_bps=1e4 * profit / cost,
            gross_bps=1e4 * (b0 - a0) / a0,
        ),
        fx,
        in_b,
    )
