"""The console's premium table: base × venue, premium_bps of each venue's USD-equivalent mid
against the median of the others, green above, red below (from ``premium`` events)."""

from __future__ import annotations

from collections.abc import Mapping

from rich import box
from rich.table import Table
from rich.text import Text

CELL = 9
"""Width of one venue column, with its gap."""


def premium_table(premiums: Mapping[tuple[str, str], float], width: int) -> Table | None:
    """The table of the latest ``premiums`` by (base, venue), None when there is none. The
    venues with the largest premiums are kept when not all fit in ``width``."""
    if not premiums:
        return None
    bases = sorted({b for b, _ in premiums})
    spread: dict[str, float] = {}
    for (_, venue), bps in premiums.items():
        spread[venue] = max(spread.get(venue, 0.0), abs(bps))
    fits = max(1, (width - 6) // CELL)
    venues = sorted(sorted(spread, key=lambda v: (-spread[v], v))[:fits])
    hidden = len(spread) - len(venues)
    title = "premium bps vs the other venues' median (USD)" + (
        f" · {hidden} venues not shown" if hidden else ""
    )
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        expand=True,
        title_justify="left",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    table.add_column("base", justify="left", no_wrap=True)
    for venue in venues:
        table.add_column(venue[: CELL - 1], justify="right", no_wrap=True)
    for base in bases:
        cells: list[str | Text] = [base]
        for venue in venues:
            got = premiums.get((base, venue))
            if got is None:
                cells.append("-")
            else:
                bps = got
                style = "green" if bps > 0.5 else "red" if bps < -0.5 else ""
                cells.append(Text(f"{bps:+.0f}", style=style))
        table.add_row(*cells)
    return table
