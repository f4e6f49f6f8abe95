"""The live opportunity console (rich).

It consumes the same event dicts as every other sink (behind the sinks' bounded queue, never
on the hot path) plus two plain-data providers wired by ``run.py``: per-venue health rows and
engine status. It renders four blocks: venue health, live opportunities sorted by net bps at
size, the most recently closed with reasons, and a status line. :class:`LiveConsole` refreshes
them a few times a second, sized to the terminal.

When one row per venue does not fit the terminal's height, the venue panel turns compact: a
summary line (healthy count, total msg/s, oldest healthy book, worst latency), the healthy
venues packed as ``name msg/s`` on as few lines as the budget allows (``+N more`` for the
rest), and a full detail row for every venue that is not healthy, that is not live, or with a
book older than ``BAD_AGE_MS`` or a latency above ``BAD_LATENCY_MS``. Lines go first to up to
5 open opportunities, then up to 3 closed ones, then the unhealthy venues (any that do not fit
are named on the summary line), then healthy venues, then more opportunities. Columns that
matter less (counters, ages, duration, size) are left out before anything is truncated, so at
80 columns ids, venues, net bps and profit stay whole.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scanner.events import VenueState
from scanner.premiumpanel import premium_table

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """One row of the venue table (plain numbers, filled by run.py from the feeds' stats)."""

    venue: str
    msgs_per_s: float = 0.0
    latency_ms: float | None = None
    """Receive time minus the venue's own timestamp, where the venue sends one."""
    book_age_ms: float | None = None
    """Age of the oldest book of this venue (ms since its last update)."""
    resyncs: int = 0
    reconnects: int = 0
    drops: int = 0
    """Malformed frames dropped plus events dropped by slow sinks."""


@dataclass(frozen=True, slots=True)
class Status:
    uptime_s: float = 0.0
    events_per_s: float = 0.0
    engine_us_per_update: float = 0.0
    updates: int = 0


class ConsoleModel:
    """What the console shows, kept up to date from the event stream."""

    def __init__(self, closed_kept: int = 6) -> None:
        self.open: dict[str, Mapping[str, object]] = {}
        self.opened_at: dict[str, int] = {}
        self.closed: deque[Mapping[str, object]] = deque(maxlen=closed_kept)
        self.venue_state: dict[str, tuple[str, str | None]] = {}
        self.premiums: dict[tuple[str, str], float] = {}
        """The latest premium_bps by (base, venue)."""
        self.events = 0

    def on_event(self, event: Mapping[str, object]) -> None:
        self.events += 1
        kind = event.get("type")
        if kind in ("opened", "updated"):
            key = str(event["id"])
            self.open[key] = event
            self.opened_at.setdefault(key, int(_num(event["ts"])))
        elif kind == "closed":
            self.open.pop(str(event["id"]), None)
            self.opened_at.pop(str(event["id"]), None)
            self.closed.appendleft(event)
        elif kind == "premium":
            self.premiums[(str(event["base"]), str(event["venue"]))] = _num(event["premium_bps"])
        elif kind == "venue":
            reason = event.get("reason")
            self.venue_state[str(event["venue"])] = (
                str(event["state"]),
                None if reason is None else str(reason),
            )


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _fmt_ms(ms: float | None) -> str:
    """A duration in at most 5 characters: ``812ms``, ``1.5s``, ``42s``, ``17m``, ``5h``."""
    if ms is None:
        return "-"
    if ms < 999.5:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    if seconds < 999.5:
        return f"{seconds:.0f}s"
    if seconds < 59_970:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _fmt_num(value: float, small: str = ".0f") -> str:
    """``small`` below 10,000, then 4 significant characters: ``12.3k``, ``456k``, ``7.8M``."""
    if abs(value) < 1e4:
        return format(value, small)
    for scale, unit in ((1e3, "k"), (1e6, "M"), (1e9, "G")):
        scaled = value / scale
        if abs(scaled) < 99.95:
            return f"{scaled:.1f}{unit}"
        if abs(scaled) < 999.5:
            return f"{scaled:.0f}{unit}"
    return f"{value / 1e12:.0f}T"


def _fmt_size(size: float) -> str:
    return _fmt_num(size, ".4g")


def _fmt_profit(profit: float) -> str:
    """Cents below 1,000 quote units, whole units above."""
    return _fmt_num(profit, ".2f" if abs(profit) < 1000 else ".0f")


_STATE_STYLE: dict[str, str] = {
    VenueState.LIVE: "green",
    VenueState.SYNCING: "yellow",
    VenueState.RESYNCING: "yellow",
    VenueState.CONNECTING: "yellow",
    VenueState.STALE: "red",
    VenueState.DOWN: "red",
}


BAD_AGE_MS = 5_000.0
"""A live venue whose oldest book is older than this gets a detail row in the compact panel."""
BAD_LATENCY_MS = 1_000.0
"""Likewise for a feed latency above this."""
MAX_OPEN_ROWS = 12


Cell = str | Text


def _table(
    title: str | None,
    columns: tuple[str, ...],
    left: int,
    rows: list[tuple[Cell, ...]],
    *,
    width: int,
    optional: tuple[str, ...] = (),
    rule: bool = True,
) -> Table:
    """A borderless table whose first ``left`` columns are left-aligned; rows never wrap.

    While the rows are wider than ``width``, the ``optional`` columns are left out in order,
    so that the ones that matter (ids, venues, bps, profit) are never truncated.
    """
    keep = list(range(len(columns)))

    def need() -> int:
        cells = [max([len(columns[i]), *(cell_len(str(r[i])) for r in rows)]) for i in keep]
        return sum(cells) + 2 * (len(cells) - 1)

    for name in optional:
        if need() <= width:
            break
        keep.remove(columns.index(name))
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD if rule else None,
        expand=True,
        title_justify="left",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for i in keep:
        table.add_column(columns[i], justify="left" if i < left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table


_VENUE_COLUMNS = ("venue", "state", "msg/s", "lat", "age", "resync", "recon", "drop")
_VENUE_OPTIONAL = ("recon", "resync", "drop", "lat")


def _venue_row(model: ConsoleModel, h: VenueHealth) -> tuple[Cell, ...]:
    state, reason = model.venue_state.get(h.venue, ("-", None))
    shown = state if reason in (None, state) else f"{state}:{reason}"
    return (
        h.venue,
        Text(shown, style=_STATE_STYLE.get(state, "")),
        _fmt_num(h.msgs_per_s),
        _fmt_ms(h.latency_ms),
        _fmt_ms(h.book_age_ms),
        _fmt_num(h.resyncs),
        _fmt_num(h.reconnects),
        _fmt_num(h.drops),
    )


def _healthy(model: ConsoleModel, h: VenueHealth) -> bool:
    """Live, with a fresh book and a small latency (unknown counts as fine)."""
    return (
        model.venue_state.get(h.venue, ("-", None))[0] == VenueState.LIVE
        and (h.book_age_ms or 0.0) <= BAD_AGE_MS
        and (h.latency_ms or 0.0) <= BAD_LATENCY_MS
    )


def _flow(items: list[str], width: int, max_lines: int) -> list[str]:
    """``items`` packed into lines of ``width``, two spaces apart and never split; when they
    need more than ``max_lines`` lines, the last one ends with ``+N more``."""
    lines: list[str] = []
    for i, item in enumerate(items):
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += "  " + item
        elif len(lines) < max_lines:
            lines.append(item)
        else:
            kept = lines[-1].split("  ")
            while len(kept) > 1 and len("  ".join(kept)) + len(f"  +{len(items) - i} more") > width:
                i -= 1
                kept.pop()
            lines[-1] = "  ".join([*kept, f"+{len(items) - i} more"])
            break
    return lines


def render(
    model: ConsoleModel,
    health: list[VenueHealth],
    status: Status,
    now_ns: int,
    *,
    width: int = 80,
    height: int | None = None,
) -> RenderableType:
    """The whole screen as one renderable (pure: same inputs, same output).

    With ``height`` None, or when everything fits, one full row per venue. Otherwise the
    compact venue panel (see the module docstring), with blank lines between the blocks only
    when three lines are left over.
    """
    ranked = sorted(model.open.values(), key=lambda e: (-_num(e.get("net_bps")), str(e["id"])))
    ranked = ranked[:MAX_OPEN_ROWS]
    closed_events = list(model.closed)
    # venues 3+n, open 3+rows, closed 3+rows, 3 blank lines, status line
    full = 3 + len(health) + 3 + len(ranked) + 3 + len(closed_events) + 3 + 1
    premiums = premium_table(model.premiums, width)
    bases = len({b for b, _ in model.premiums})
    if premiums is not None and height is not None and full + 4 + bases > height:
        premiums = None  # the premium table only where everything else fits beside it
    venues: RenderableType
    if height is None or full <= height:
        rows = [_venue_row(model, h) for h in health]
        venues = _table("venues", _VENUE_COLUMNS, 2, rows, width=width, optional=_VENUE_OPTIONAL)
        gap: list[RenderableType] = [Text("")]
    else:
        gap = []
        bad = [h for h in health if not _healthy(model, h)]
        good = [h for h in health if _healthy(model, h)]
        flow = [f"{h.venue} {_fmt_num(h.msgs_per_s)}" for h in good]
        flow_lines = len(_flow(flow, width, len(flow)))
        # summary line, two titles with header and rule, status line, first healthy line
        left = height - 8 - (1 if good else 0)
        n_open = min(len(ranked), 5, max(left, 0))
        left -= n_open
        n_closed = min(len(closed_events), 3, max(left, 0))
        left -= n_closed
        n_bad = min(len(bad), max(left - 1, 0))
        left -= n_bad + 1 if n_bad else 0
        n_flow = min(flow_lines, 1 + max(left, 0)) if good else 0
        left -= max(n_flow - 1, 0)
        extra = min(len(ranked) - n_open, max(left, 0))
        n_open += extra
        more_closed = min(len(closed_events) - n_closed, max(left - extra, 0))
        n_closed += more_closed
        if left - extra - more_closed >= 3:
            gap = [Text("")]
        ranked, closed_events = ranked[:n_open], closed_events[:n_closed]
        ages = [h.book_age_ms for h in good if h.book_age_ms is not None]
        lats = [h.latency_ms for h in good if h.latency_ms is not None]
        hidden = [h.venue for h in bad[n_bad:]]
        summary = (
            f"venues {len(good)}/{len(health)} healthy"
            + (f" · also unhealthy: {' '.join(hidden)}" if hidden else "")
            + f" · {_fmt_num(sum(h.msgs_per_s for h in health))} msg/s"
            + (f" · books ≤{_fmt_ms(max(ages))}" if ages else "")
            + (f" · lat ≤{_fmt_ms(max(lats))}" if lats else "")
        )
        parts: list[RenderableType] = [Text(summary, no_wrap=True, overflow="ellipsis")]
        if good:
            shown = _flow(flow, width, n_flow)
            parts.extend(
                Text(line, style="green", no_wrap=True, overflow="ellipsis") for line in shown
            )
        if n_bad:
            rows = [_venue_row(model, h) for h in bad[:n_bad]]
            parts.append(
                _table(
                    None, _VENUE_COLUMNS, 2, rows, width=width, optional=_VENUE_OPTIONAL, rule=False
                )
            )
        venues = Group(*parts)

    opp_rows: list[tuple[Cell, ...]] = []
    for e in ranked:
        since = (now_ns - int(_num(e["ts"]))) / NS_PER_MS
        opened = model.opened_at.get(str(e["id"]), int(_num(e["ts"])))
        opp_rows.append(
            (
                _symbol(e),
                f"{e['buy_venue']} → {e['sell_venue']}",
                _fmt_size(_num(e["size"])),
                f"{_num(e['net_bps']):.1f}",
                _fmt_profit(_num(e["profit"])),
                f"{_fmt_ms(_num(e['buy_age_ms']) + since)}/"
                f"{_fmt_ms(_num(e['sell_age_ms']) + since)}",
                _fmt_ms((now_ns - opened) / NS_PER_MS),
            )
        )
    opps = _table(
        f"open opportunities ({len(model.open)})",
        ("symbol", "buy → sell", "size", "net bps", "profit", "ages", "dur"),
        2,
        opp_rows,
        width=width,
        optional=("dur", "ages", "size"),
    )
    closed_rows: list[tuple[Cell, ...]] = [
        (
            _symbol(e),
            f"{e['buy_venue']} → {e['sell_venue']}",
            str(e["reason"]),
            _fmt_ms(_num(e["duration_ms"])),
            f"{_num(e['peak_net_bps']):.1f}",
            _fmt_profit(_num(e["peak_profit"])),
        )
        for e in closed_events
    ]
    closed = _table(
        "recently closed",
        ("symbol", "buy → sell", "reason", "dur", "peak bps", "peak profit"),
        2,
        closed_rows,
        width=width,
        optional=("dur", "peak bps"),
    )

    line = Text(
        f"up {_fmt_ms(status.uptime_s * 1000)} · {status.events_per_s:.1f} events/s · "
        f"engine {status.engine_us_per_update:.1f} µs/update · {status.updates} updates",
        style="dim",
        no_wrap=True,
        overflow="ellipsis",
    )
    table: list[RenderableType] = [premiums, *gap] if premiums is not None else []
    return Group(venues, *gap, opps, *gap, closed, *gap, *table, line)


def _symbol(e: Mapping[str, object]) -> str:
    """The symbol, and for a cross-quote opportunity the quote it sells for (BTC/USD>USDT)."""
    if e.get("kind") == "cross_quote":
        return f"{e['symbol']}>{e['sell_quote']}"
    return str(e["symbol"])


class LiveConsole:
    """Owns the terminal: call :meth:`on_event` from a sink, and run :meth:`run` as a task."""

    def __init__(
        self,
        health: Callable[[], list[VenueHealth]],
        status: Callable[[], Status],
        *,
        console: Console | None = None,
        refresh_hz: float = 4.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.model = ConsoleModel()
        self._health = health
        self._status = status
        self._console = console or Console()
        self._period = 1.0 / refresh_hz
        self._clock = clock

    def on_event(self, event: Mapping[str, object]) -> None:
        self.model.on_event(event)

    def frame(self) -> RenderableType:
        width, height = self._console.size
        return render(
            self.model, self._health(), self._status(), self._clock(), width=width, height=height
        )

    async def run(self) -> None:
        """Refresh until cancelled (rich redraws in place; the last frame stays on screen)."""
        with Live(self.frame(), console=self._console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(self._period)
                live.update(self.frame(), refresh=True)
