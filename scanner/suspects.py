"""Suspect pairs: a gross spread above ``max_gross_bps`` is two different assets or a wrong
book far more often than an opportunity, so such a pair is reported, never opened."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.kernel import Pair


class Suspects:
    """Which pairs are suspect now, keyed by (kind, symbol or family, buy, sell)."""

    def __init__(self, max_gross_bps: float) -> None:
        self.max_gross_bps = max_gross_bps
        self.keys: set[tuple[str, int, int, int]] = set()

    def screen(
        self, kind: str, s: int, v: int | None, pairs: Sequence[Pair]
    ) -> tuple[list[Pair], list[Pair]]:
        """(the pairs within the limit, the pairs newly above it). A pair is reported once,
        and again only after an evaluation of its leg ``v`` (every leg: None) found it
        within the limit or not paying."""
        limit = self.max_gross_bps
        keep = [p for p in pairs if p.figures.gross_bps <= limit]
        flagged = {(kind, s, p.buy, p.sell): p for p in pairs if p.figures.gross_bps > limit}
        if self.keys:
            for key in [k for k in self.keys if k[:2] == (kind, s) and k not in flagged]:
                if v is None or v in key[2:]:
                    self.keys.discard(key)
        new = [p for key, p in flagged.items() if key not in self.keys]
        self.keys.update(flagged)
        return keep, new
