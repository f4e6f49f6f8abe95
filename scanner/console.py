"""The live opportunity console (rich).

It consumes the same event dicts as every other sink (behind the sinks' bounded queue, never
on the hot path) plus two plain-data providers wired by ``run.py``: per-venue health rows and
engine status. It renders four blocks that fit an 80-column terminal: venue health, live
opportunities sorted by net bps at size, the most recently closed with reasons, and a status
line. :class:`LiveConsole` refreshes them a few times a second.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scanner.events import VenueState

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


def render(
    model: ConsoleModel, health: list[VenueHealth], status: Status, now_ns: int
) -> RenderableType:
    """The whole screen as one renderable (pure: same inputs, same output)."""
    venues = Table(
        title="venues",
        box=box.SIMPLE_HEAD,
        expand=True,
        title_justify="left",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for name, justify in (
        ("venue", "left"),
        ("state", "left"),
        ("msg/s", "right"),
        ("lat", "right"),
        ("age", "right"),
        ("resync", "right"),
        ("recon", "right"),
        ("drop", "right"),
    ):
        venues.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for h in health:
        state, reason = model.venue_state.get(h.venue, ("-", None))
        shown = state if reason in (None, state) else f"{state}:{reason}"
        venues.add_row(
            h.venue,
            Text(shown, style=_STATE_STYLE.get(state, "")),
            _fmt_num(h.msgs_per_s),
            _fmt_ms(h.latency_ms),
            _fmt_ms(h.book_age_ms),
            _fmt_num(h.resyncs),
            _fmt_num(h.reconnects),
            _fmt_num(h.drops),
        )

    opps = Table(
        title=f"open opportunities ({len(model.open)})",
        box=box.SIMPLE_HEAD,
        expand=True,
        title_justify="left",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for name in ("symbol", "buy → sell", "size", "net bps", "profit", "ages", "dur"):
        opps.add_column(
            name, justify="left" if name in ("symbol", "buy → sell") else "right", no_wrap=True
        )
    ranked = sorted(model.open.values(), key=lambda e: (-_num(e.get("net_bps")), str(e["id"])))
    for e in ranked[:12]:
        since = (now_ns - int(_num(e["ts"]))) / NS_PER_MS
        opened = model.opened_at.get(str(e["id"]), int(_num(e["ts"])))
        opps.add_row(
            str(e["symbol"]),
            f"{e['buy_venue']} → {e['sell_venue']}",
            _fmt_size(_num(e["size"])),
            f"{_num(e['net_bps']):.1f}",
            _fmt_profit(_num(e["profit"])),
            f"{_fmt_ms(_num(e['buy_age_ms']) + since)}/{_fmt_ms(_num(e['sell_age_ms']) + since)}",
            _fmt_ms((now_ns - opened) / NS_PER_MS),
        )

    closed = Table(
        title="recently closed",
        box=box.SIMPLE_HEAD,
        expand=True,
        title_justify="left",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for name in ("symbol", "buy → sell", "reason", "dur", "peak bps", "peak profit"):
        closed.add_column(
            name, justify="left" if name in ("symbol", "buy → sell") else "right", no_wrap=True
        )
    for e in model.closed:
        closed.add_row(
            str(e["symbol"]),
            f"{e['buy_venue']} → {e['sell_venue']}",
            str(e["reason"]),
            _fmt_ms(_num(e["duration_ms"])),
            f"{_num(e['peak_net_bps']):.1f}",
            _fmt_profit(_num(e["peak_profit"])),
        )

    line = Text(
        f"up {_fmt_ms(status.uptime_s * 1000)} · {status.events_per_s:.1f} events/s · "
        f"engine {status.engine_us_per_update:.1f} µs/update · {status.updates} updates",
        style="dim",
    )
    return Group(venues, Text(""), opps, Text(""), closed, Text(""), line)


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
        return render(self.model, self._health(), self._status(), self._clock())

    async def run(self) -> None:
        """Refresh until cancelled (rich redraws in place; the last frame stays on screen)."""
        with Live(self.frame(), console=self._console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(self._period)
                live.update(self.frame(), refresh=True)
