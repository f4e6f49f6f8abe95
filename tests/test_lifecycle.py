"""Lifecycle transitions (docs/contracts.md), table-driven on hand-built pairs.

Config throughout unless a case says otherwise: open 5 bps, close 2 bps, update 1 bps,
min_profit 0, update interval 250 ms. Times in the tables are ms; venue indices 0, 1, 2.
A pair row is (buy, sell, net_bps, profit, size); the other figures are derived from them
(only net_bps, profit and size drive the rules).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.config import ScannerConfig
from scanner.events import Figures
from scanner.kernel import Pair
from scanner.lifecycle import Lifecycle, Transition

MS = 1_000_000
CFG = ScannerConfig(
    open_bps=5.0, close_bps=2.0, update_bps=1.0, min_profit=0.0, update_interval_ms=250
)

Row = tuple[int, int, float, float, float]


def pairs(*rows: Row) -> list[Pair]:
    """Pairs with the given (buy, sell, net_bps, profit, size) and consistent derived figures."""
    out = []
    for buy, sell, net, profit, size in rows:
        cost = profit * 1e4 / net
        figures = Figures(
            100.0, 101.0, size, cost / size, (cost + profit) / size, cost, cost + profit,
            profit, net, 100.0,
        )  # fmt: skip
        out.append(Pair(buy, sell, figures))
    return out


@dataclass(frozen=True)
class Step:
    kind: str
    """"eval" | "unusable" | "shutdown"."""
    t: int
    """ms"""
    v: int = 0
    rows: tuple[Row, ...] = ()
    reason: str = ""
    s: int = 0


def ev(v: int, t: int, *rows: Row, s: int = 0) -> Step:
    return Step("eval", t, v, rows, s=s)


def un(v: int, t: int, reason: str, s: int = 0) -> Step:
    return Step("unusable", t, v, reason=reason, s=s)


def down(t: int) -> Step:
    return Step("shutdown", t)


Brief = tuple[object, ...]


def op(oid: str, key: tuple[int, int], t: int, net: float, profit: float, size: float) -> Brief:
    return ("opened", oid, key, t, net, profit, size)


def up(oid: str, key: tuple[int, int], t: int, net: float, profit: float, size: float) -> Brief:
    return ("updated", oid, key, t, net, profit, size)


def cl(oid: str, key: tuple[int, int], t: int, net: float, profit: float, size: float,
       reason: str, dur: float, peak_net: float, peak_profit: float) -> Brief:  # fmt: skip
    return ("closed", oid, key, t, net, profit, size, reason, dur, peak_net, peak_profit)


def brief(t: Transition) -> Brief:
    """Like op/up/cl: times in ms."""
    fig = t.figures
    head = (t.kind, t.oid, (t.buy, t.sell), t.ts / MS, fig.net_bps, fig.profit, fig.size)
    if t.kind != "closed":
        return head
    return (*head, t.reason, t.duration_ns / MS, t.peak_net_bps, t.peak_profit)


def run(cfg: ScannerConfig, steps: list[tuple[Step, list[Brief]]]) -> None:
    lc = Lifecycle(cfg)
    for i, (step, expected) in enumerate(steps):
        ts = step.t * MS
        if step.kind == "eval":
            got = lc.evaluate(step.s, step.v, pairs(*step.rows), ts)
        elif step.kind == "unusable":
            got = lc.leg_unusable(step.s, step.v, step.reason, ts)
        else:
            got = lc.shutdown(ts)
        assert [brief(x) for x in got] == expected, f"step {i}: {step}"


K01, K21, K02, K10 = (0, 1), (2, 1), (0, 2), (1, 0)

CASES: dict[str, tuple[ScannerConfig, list[tuple[Step, list[Brief]]]]] = {
    "hysteresis": (
        CFG,
        [
            (ev(0, 0, (0, 1, 4.9, 1.0, 1.0)), []),  # below open_bps
            (ev(0, 1000, (0, 1, 5.0, 1.0, 1.0)), [op("1", K01, 1000, 5.0, 1.0, 1.0)]),
            # 2.0 >= close_bps: stays open; |2 - 5| >= 1 and 1000 ms >= 250 ms: updated
            (ev(1, 2000, (0, 1, 2.0, 0.4, 1.0)), [up("1", K01, 2000, 2.0, 0.4, 1.0)]),
            # 1.99 < close_bps: closed with this evaluation's figures
            (ev(0, 3000, (0, 1, 1.99, 0.3, 1.0)),
             [cl("1", K01, 3000, 1.99, 0.3, 1.0, "spread_closed", 2000.0, 5.0, 1.0)]),
            (ev(0, 4000, (0, 1, 4.0, 0.8, 1.0)), []),  # above close, below open
            (ev(0, 5000, (0, 1, 6.0, 1.2, 1.0)), [op("2", K01, 5000, 6.0, 1.2, 1.0)]),
        ],
    ),
    "min_profit gates opening only": (
        replace(CFG, min_profit=1.0),
        [
            (ev(0, 0, (0, 1, 10.0, 0.5, 1.0)), []),
            (ev(0, 1000, (0, 1, 10.0, 1.0, 1.0)), [op("1", K01, 1000, 10.0, 1.0, 1.0)]),
            # profit falls below min_profit, net and size unchanged: stays open, nothing material
            (ev(0, 2000, (0, 1, 10.0, 0.1, 1.0)), []),
            (down(3000), [cl("1", K01, 3000, 10.0, 0.1, 1.0, "shutdown", 2000.0, 10.0, 1.0)]),
        ],
    ),
    "rate limit and material change by bps": (
        CFG,
        [
            (ev(0, 0, (0, 1, 6.0, 1.0, 1.0)), [op("1", K01, 0, 6.0, 1.0, 1.0)]),
            (ev(0, 100, (0, 1, 8.0, 1.0, 1.0)), []),  # material, 100 ms < 250 ms
            (ev(0, 249, (0, 1, 9.0, 1.0, 1.0)), []),  # 249 ms < 250 ms
            (ev(0, 250, (0, 1, 9.0, 1.0, 1.0)), [up("1", K01, 250, 9.0, 1.0, 1.0)]),
            (ev(0, 600, (0, 1, 9.5, 1.0, 1.0)), []),  # |9.5 - 9| < 1: not material
            (ev(0, 700, (0, 1, 10.0, 1.0, 1.0)), [up("1", K01, 700, 10.0, 1.0, 1.0)]),
            (ev(0, 800, (0, 1, 4.0, 1.0, 1.0)), []),  # material, 100 ms after the last
            (ev(0, 950, (0, 1, 4.0, 1.0, 1.0)), [up("1", K01, 950, 4.0, 1.0, 1.0)]),
            (down(2000), [cl("1", K01, 2000, 4.0, 1.0, 1.0, "shutdown", 2000.0, 10.0, 1.0)]),
        ],
    ),
    "material change by size": (
        CFG,
        [
            (ev(0, 0, (0, 1, 6.0, 1.0, 2.0)), [op("1", K01, 0, 6.0, 1.0, 2.0)]),
            (ev(0, 1000, (0, 1, 6.0, 1.0, 2.18)), []),  # +9 %
            (ev(0, 2000, (0, 1, 6.0, 1.0, 2.25)), [up("1", K01, 2000, 6.0, 1.0, 2.25)]),
            (ev(0, 3000, (0, 1, 6.0, 1.0, 2.05)), []),  # -8.9 % of 2.25
            (ev(0, 4000, (0, 1, 6.0, 1.0, 2.0)), [up("1", K01, 4000, 6.0, 1.0, 2.0)]),  # -11 %
        ],
    ),
    "peaks over evaluations that emitted nothing; no longer pays": (
        CFG,
        [
            (ev(0, 0, (0, 1, 6.0, 1.0, 1.0)), [op("1", K01, 0, 6.0, 1.0, 1.0)]),
            (ev(0, 100, (0, 1, 9.0, 3.0, 1.0)), []),  # rate-limited: peaks only
            (ev(0, 300, (0, 1, 6.5, 1.2, 1.0)), []),  # not material vs 6.0
            # the pair is gone from the kernel's pairs: closed with the figures of t=300
            (ev(1, 400), [cl("1", K01, 400, 6.5, 1.2, 1.0, "spread_closed", 400.0, 9.0, 3.0)]),
        ],
    ),
    "only pairs of the evaluated leg; unusable leg closes its pairs": (
        CFG,
        [
            (ev(1, 0, (0, 1, 6.0, 1.0, 1.0), (2, 1, 7.0, 2.0, 1.0), (0, 2, 8.0, 3.0, 1.0)),
             [op("1", K01, 0, 6.0, 1.0, 1.0), op("2", K21, 0, 7.0, 2.0, 1.0)]),
            # leg 2 evaluated: (0, 1) does not involve it and is left alone; (0, 2) opens
            (ev(2, 10, (0, 1, 50.0, 9.0, 1.0), (2, 1, 7.0, 2.0, 1.0), (0, 2, 8.0, 3.0, 1.0)),
             [op("3", K02, 10, 8.0, 3.0, 1.0)]),
            # sorted by (buy, sell): (0, 2) before (2, 1)
            (ev(2, 20),
             [cl("3", K02, 20, 8.0, 3.0, 1.0, "spread_closed", 10.0, 8.0, 3.0),
              cl("2", K21, 20, 7.0, 2.0, 1.0, "spread_closed", 20.0, 7.0, 2.0)]),
            (ev(0, 30, (0, 1, 6.0, 1.0, 1.0), s=1), [op("4", K01, 30, 6.0, 1.0, 1.0)]),
            (un(2, 40, "stale"), []),  # no open opportunity of leg (0, 2) any more
            (un(0, 50, "crossed_book"),
             [cl("1", K01, 50, 6.0, 1.0, 1.0, "crossed_book", 50.0, 6.0, 1.0)]),
            (down(60), [cl("4", K01, 60, 6.0, 1.0, 1.0, "shutdown", 30.0, 6.0, 1.0)]),
        ],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_transitions(name: str) -> None:
    cfg, steps = CASES[name]
    run(cfg, steps)


@pytest.mark.parametrize("reason", ["stale", "desynced", "disconnected", "crossed_book"])
def test_unusable_reasons_close_and_reopen_with_new_id(reason: str) -> None:
    run(
        CFG,
        [
            (ev(0, 0, (1, 0, 6.0, 1.0, 1.0)), [op("1", K10, 0, 6.0, 1.0, 1.0)]),
            (un(0, 5, reason), [cl("1", K10, 5, 6.0, 1.0, 1.0, reason, 5.0, 6.0, 1.0)]),
            (ev(0, 9, (1, 0, 6.0, 1.0, 1.0)), [op("2", K10, 9, 6.0, 1.0, 1.0)]),
        ],
    )


def test_bad_config_and_reason_rejected() -> None:
    with pytest.raises(ValueError, match="close_bps must be <= open_bps"):
        Lifecycle(replace(CFG, close_bps=6.0))
    lc = Lifecycle(CFG)
    lc.evaluate(0, 0, pairs((0, 1, 6.0, 1.0, 1.0)), 0)
    with pytest.raises(ValueError, match="unknown close reason 'gone'"):
        lc.leg_unusable(0, 1, "gone", 1)


NETS = st.lists(
    st.one_of(st.none(), st.floats(0.5, 12.0).map(lambda x: round(x, 1))), min_size=1, max_size=40
)


@settings(max_examples=150, deadline=None)
@given(nets=NETS, gaps=st.lists(st.integers(1, 400), min_size=40, max_size=40))
def test_one_pair_matches_reference_model(nets: list[float | None], gaps: list[int]) -> None:
    """Random net_bps sequences (None = pair absent) on one key against a direct model."""
    lc = Lifecycle(CFG)
    t = 0
    is_open, emitted_net, emitted_t, peak, last = False, 0.0, 0, 0.0, 0.0
    oid = opened_t = 0
    for net, gap in zip(nets, gaps, strict=False):
        t += gap
        rows = [] if net is None else [(0, 1, net, net / 10, 1.0)]
        got = [brief(x) for x in lc.evaluate(0, 0, pairs(*rows), t * MS)]
        want: list[Brief] = []
        if not is_open:
            if net is not None and net >= 5.0:
                oid += 1
                is_open, emitted_net, emitted_t, peak, last = True, net, t, net, net
                want = [op(str(oid), K01, t, net, net / 10, 1.0)]
        elif net is None or net < 2.0:
            if net is not None:
                last, peak = net, max(peak, net)
            dur = float(t - opened_t)
            want = [
                cl(str(oid), K01, t, last, last / 10, 1.0, "spread_closed", dur, peak, peak / 10)
            ]
            is_open = False
        else:
            last, peak = net, max(peak, net)
            if t - emitted_t >= 250 and abs(net - emitted_net) >= 1.0:
                emitted_net, emitted_t = net, t
                want = [up(str(oid), K01, t, net, net / 10, 1.0)]
        if want and want[0][0] == "opened":
            opened_t = t
        assert got == want
