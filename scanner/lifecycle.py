"""Opportunity lifecycle: opened → updated* → closed, on venue/symbol indices (docs/contracts.md).

Sans-I/O and clock-free: each call gets the ``ts`` (int ns) of the frame that caused it and
returns the :class:`Transition` list it produced, in a deterministic order (sorted by
``(buy, sell)`` venue index; :meth:`Lifecycle.shutdown` by ``(symbol, buy, sell)``). The engine
turns transitions into events. The rules, exactly:

* An opportunity is keyed by (symbol, buy venue, sell venue). An evaluation of symbol ``s``
  caused by leg ``v`` covers every pair with ``v`` as buy or sell leg (only those pairs' figures
  can have changed); pairs of ``s`` not involving ``v`` are left alone.
* Open: no open opportunity for the key, and ``net_bps >= open_bps`` and ``profit >=
  min_profit``. It gets the next id from a per-:class:`Lifecycle` counter (``"1"``, ``"2"``, ...),
  so replays produce the same ids.
* Every evaluation that finds an open pair paying (including the one that closes it) records its
  figures as the opportunity's last figures and raises ``peak_net_bps``/``peak_profit``.
* Close ``spread_closed``: ``net_bps < close_bps`` (the closed event carries that evaluation's
  figures), or the pair no longer pays at all (absent from the kernel's pairs; the closed event
  carries the figures of the previous evaluation). ``min_profit`` never closes.
* Update: a material change against the last *emitted* figures (``|net_bps - emitted| >=
  update_bps`` or ``|size - emitted| >= 10 %`` of the emitted size) and at least
  ``update_interval_ms`` since the opportunity's last emitted event (its ``opened`` or last
  ``updated``). A change held back by the rate limit is emitted at the first later evaluation
  that is past the interval and still material against the last emitted figures.
* :meth:`Lifecycle.leg_unusable` closes every opportunity of that leg at ``ts`` with the leg's
  reason and the figures of the last evaluation; an opportunity found later is a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.events import CLOSE_REASONS, CloseReason, Figures

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scanner.config import ScannerConfig
    from scanner.kernel import Pair

SIZE_CHANGE = 0.10
"""Relative change of Q* that is material for an ``updated`` event."""

OPENED = "opened"
UPDATED = "updated"
CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle step of one opportunity; ``figures`` are the ones the event carries."""

    kind: str
    oid: str
    symbol: int
    buy: int
    sell: int
    ts: int
    figures: Figures
    reason: str | None = None
    duration_ns: int = 0
    peak_net_bps: float = 0.0
    peak_profit: float = 0.0


@dataclass(slots=True)
class Opportunity:
    """The state of one open opportunity."""

    oid: str
    symbol: int
    buy: int
    sell: int
    opened_ns: int
    last: Figures
    emitted: Figures
    emitted_ns: int
    peak_net_bps: float
    peak_profit: float


class Lifecycle:
    """All open opportunities and the rules that open, update and close them."""

    def __init__(self, config: ScannerConfig) -> None:
        if config.close_bps > config.open_bps:
            raise ValueError(
                f"close_bps must be <= open_bps ({config.close_bps} > {config.open_bps})"
            )
        self._open_bps = config.open_bps
        self._close_bps = config.close_bps
        self._update_bps = config.update_bps
        self._min_profit = config.min_profit
        self._interval_ns = config.update_interval_ms * 1_000_000
        self._open: dict[int, dict[tuple[int, int], Opportunity]] = {}
        self._next_id = 1

    def open_opportunities(self) -> list[Opportunity]:
        """The open opportunities, by (symbol, buy, sell)."""
        return [self._open[s][key] for s in sorted(self._open) for key in sorted(self._open[s])]

    def has_open(self, s: int) -> bool:
        """Whether symbol ``s`` has an open opportunity (else an evaluation that found no
        paying pair changes nothing)."""
        return s in self._open

    def evaluate(self, s: int, v: int, pairs: Sequence[Pair], ts: int) -> list[Transition]:
        """Apply one evaluation of symbol ``s`` caused by leg ``v`` (``pairs``: those that pay)."""
        book = self._open.get(s)
        if not pairs and not book:
            return []
        found = {(p.buy, p.sell): p.figures for p in pairs if v in (p.buy, p.sell)}
        keys = set(found)
        if book:
            keys.update(key for key in book if v in key)
        out: list[Transition] = []
        for key in sorted(keys):
            fig = found.get(key)
            opp = book.get(key) if book else None
            if opp is None:
                if (
                    fig is not None
                    and fig.net_bps >= self._open_bps
                    and fig.profit >= self._min_profit
                ):
                    out.append(self._opened(s, key, fig, ts))
                continue
            if fig is None:
                out.append(self._close(opp, CloseReason.SPREAD_CLOSED, ts))
                continue
            opp.last = fig
            opp.peak_net_bps = max(opp.peak_net_bps, fig.net_bps)
            opp.peak_profit = max(opp.peak_profit, fig.profit)
            if fig.net_bps < self._close_bps:
                out.append(self._close(opp, CloseReason.SPREAD_CLOSED, ts))
            elif ts - opp.emitted_ns >= self._interval_ns and self._material(opp.emitted, fig):
                opp.emitted = fig
                opp.emitted_ns = ts
                out.append(Transition(UPDATED, opp.oid, s, opp.buy, opp.sell, ts, fig))
        return out

    def leg_unusable(self, s: int, v: int, reason: str, ts: int) -> list[Transition]:
        """Close every open opportunity of symbol ``s`` with ``v`` as a leg, with ``reason``."""
        book = self._open.get(s)
        if not book:
            return []
        return [self._close(book[key], reason, ts) for key in sorted(book) if v in key]

    def close_symbol(self, s: int, reason: str, ts: int) -> list[Transition]:
        """Close every open opportunity of symbol ``s`` with ``reason``."""
        book = self._open.get(s, {})
        return [self._close(book[key], reason, ts) for key in sorted(book)]

    def shutdown(self, ts: int) -> list[Transition]:
        """Close every open opportunity with reason ``shutdown``."""
        return [self._close(opp, CloseReason.SHUTDOWN, ts) for opp in self.open_opportunities()]

    def _material(self, emitted: Figures, fig: Figures) -> bool:
        return (
            abs(fig.net_bps - emitted.net_bps) >= self._update_bps
            or abs(fig.size - emitted.size) >= SIZE_CHANGE * emitted.size
        )

    def _opened(self, s: int, key: tuple[int, int], fig: Figures, ts: int) -> Transition:
        oid = str(self._next_id)
        self._next_id += 1
        buy, sell = key
        opp = Opportunity(oid, s, buy, sell, ts, fig, fig, ts, fig.net_bps, fig.profit)
        self._open.setdefault(s, {})[key] = opp
        return Transition(OPENED, oid, s, buy, sell, ts, fig)

    def _close(self, opp: Opportunity, reason: str, ts: int) -> Transition:
        if reason not in CLOSE_REASONS:
            raise ValueError(f"unknown close reason {reason!r}")
        book = self._open[opp.symbol]
        del book[(opp.buy, opp.sell)]
        if not book:
            del self._open[opp.symbol]
        return Transition(
            CLOSED,
            opp.oid,
            opp.symbol,
            opp.buy,
            opp.sell,
            ts,
            opp.last,
            reason=reason,
            duration_ns=ts - opp.opened_ns,
            peak_net_bps=opp.peak_net_bps,
            peak_profit=opp.peak_profit,
        )
