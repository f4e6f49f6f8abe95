"""The present state of the scan as the event stream tells it: what an event-server client is
sent on joining (its snapshot) and what ``/health`` reports.

:meth:`Present.see` takes every emitted event (a few dict operations, nothing per book
update beyond that); :meth:`Present.snapshot` rebuilds the present as events:

* every open opportunity as an ``opened`` event with ``"snapshot": true`` and its latest
  figures (those of its last ``opened`` or ``updated`` event), in the order they opened;
* every venue's latest ``venue`` event, in the order the venues first reported;
* the latest ``stats`` event.
"""

from __future__ import annotations

from scanner.events import Event


class Present:
    """Open opportunities, each venue's latest state and the latest stats, from the events."""

    def __init__(self) -> None:
        self.open: dict[str, Event] = {}
        """Latest ``opened``/``updated`` event by opportunity id, until its ``closed``."""
        self.venues: dict[str, Event] = {}
        """Latest ``venue`` event by venue id."""
        self.stats: Event | None = None

    def see(self, event: Event) -> None:
        """Take one emitted event into account."""
        kind = event["type"]
        if kind == "opened" or kind == "updated":
            self.open[event["id"]] = event
        elif kind == "closed":
            self.open.pop(event["id"], None)
        elif kind == "venue":
            self.venues[event["venue"]] = event
        elif kind == "stats":
            self.stats = event

    def snapshot(self) -> list[Event]:
        """The present as events (module docstring), oldest opportunity first."""
        opened = [{**e, "type": "opened", "snapshot": True} for e in self.open.values()]
        return [*opened, *self.venues.values(), *([self.stats] if self.stats else [])]

    def state(self, venue: str) -> str | None:
        """``venue``'s latest state, None before its first venue event."""
        event = self.venues.get(venue)
        return None if event is None else str(event["state"])
