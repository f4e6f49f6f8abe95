"""The present state of the scan as the event stream tells it: what an event-server client is
sent on joining (its snapshot) and what ``/health`` reports.

:meth:`Present.see` takes every emitted event (a few dict operations, nothing per book
update beyond that); :meth:`Present.snapshot` rebuilds the present as events:

* every open opportunity as an ``opened`` event with ``"snapshot": true`` and its latest
  figures (those of its last ``opened`` or ``updated`` event), in the order they opened;
* every venue's latest ``venue`` event, in the order the venues first reported;
* the latest ``premium`` event of each (base, venue);
* the latest ``stats`` event.

A snapshot ``opened`` event also carries ``opened_ts``, the ``ts`` of the opportunity's own
``opened`` event, so a late joiner knows how long it has been open.
"""

from __future__ import annotations

from scanner.events import Event


class Present:
    """Open opportunities, each venue's latest state, premiums and stats, from the events."""

    def __init__(self) -> None:
        self.open: dict[str, Event] = {}
        """Latest ``opened``/``updated`` event by opportunity id, until its ``closed``."""
        self.opened_ts: dict[str, int] = {}
        """``ts`` of each open opportunity's ``opened`` event."""
        self.premiums: dict[tuple[str, str], Event] = {}
        """Latest ``premium`` event by (base, venue)."""
        self.venues: dict[str, Event] = {}
        """Latest ``venue`` event by venue id."""
        self.stats: Event | None = None

    def see(self, event: Event) -> None:
        """Take one emitted event into account."""
        kind = event["type"]
        if kind == "updated":
            self.open[event["id"]] = event
        elif kind == "opened":
            self.open[event["id"]] = event
            self.opened_ts[event["id"]] = event["ts"]
        elif kind == "closed":
            self.open.pop(event["id"], None)
            self.opened_ts.pop(event["id"], None)
        elif kind == "venue":
            self.venues[event["venue"]] = event
        elif kind == "stats":
            self.stats = event
        elif kind == "premium":
            self.premiums[event["base"], event["venue"]] = event

    def snapshot(self) -> list[Event]:
        """The present as events (module docstring), oldest opportunity first."""
        opened = [
            {**e, "type": "opened", "snapshot": True, "opened_ts": self.opened_ts.get(i, e["ts"])}
            for i, e in self.open.items()
        ]
        stats = [self.stats] if self.stats else []
        return [*opened, *self.venues.values(), *self.premiums.values(), *stats]

    def state(self, venue: str) -> str | None:
        """``venue``'s latest state, None before its first venue event."""
        event = self.venues.get(venue)
        return None if event is None else str(event["state"])
