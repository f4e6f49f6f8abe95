"""The event server's operator endpoints: ``GET /health`` (JSON) and ``GET /metrics``
(Prometheus text format, by ``prometheus-client`` from a registry of the server's own).

Nothing here runs per book update: the counters already kept by the feeds, the sinks and the
engine are read when a request comes, through :class:`Readings` (what ``run.py`` wires: the
feeds and sinks live outside this package), and the server's own state (the venues' latest
states, the open opportunities, the clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from scanner.engine import UPDATE_NS_BOUNDS, EngineStats
from scanner.events import VENUE_STATES, VenueState

if TYPE_CHECKING:
    from scanner.eventserver import WsEventServer

VENUE_COUNTERS = {
    "frames": ("arbscan_venue_frames", "Frames received"),
    "book_updates": ("arbscan_venue_book_updates", "Snapshots and deltas applied to a book"),
    "resyncs": ("arbscan_venue_resyncs", "Books resynchronised"),
    "malformed": ("arbscan_venue_malformed_frames", "Malformed frames dropped"),
    "reconnects": ("arbscan_venue_reconnects", "Connections opened again"),
}
"""Per-venue counter: (metric name, help), by the key of :attr:`Readings.venues`."""
REJECTIONS = ("origin", "token", "full")
"""Why the event server refuses a handshake (:mod:`scanner.access`)."""


@dataclass(frozen=True, slots=True)
class Readings:
    """The counters since start that live outside the event server, read at each request."""

    venues: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per venue: ``frames``, ``book_updates``, ``resyncs``, ``malformed``, ``reconnects``
    and ``last_frame_ns`` (wall clock ns of its last frame, 0 before the first)."""
    sinks: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per sink: ``events`` and ``dropped``."""
    engine: EngineStats | None = None


def health(server: WsEventServer, readings: Readings, now_ns: int) -> tuple[int, bytes]:
    """HTTP status and JSON body of ``/health``: each venue's state (null before its first
    venue event) and the age of its last frame in ms (null before the first); 200 when at
    least one venue is live, else 503."""
    venues = {}
    for venue in dict.fromkeys([*server.venues, *server.present.venues]):
        last = readings.venues.get(venue, {}).get("last_frame_ns", 0)
        venues[venue] = {
            "state": server.present.state(venue),
            "last_frame_age_ms": round((now_ns - last) / 1e6, 3) if last else None,
        }
    live = sum(v["state"] == VenueState.LIVE for v in venues.values())
    body = {
        "status": "ok" if live else "down",
        "live": live,
        "venues": venues,
        "clients": len(server.clients),
        "open_opportunities": len(server.present.open),
    }
    return (200 if live else 503), orjson.dumps(body)


class _Collector(Collector):
    """Builds every metric family from the current values at each scrape."""

    def __init__(self, server: WsEventServer) -> None:
        self.server = server

    def collect(self) -> Iterable[Metric]:
        server = self.server
        readings = server.readings()
        for key, (name, text) in VENUE_COUNTERS.items():
            family = CounterMetricFamily(name, text, labels=["venue"])
            for venue, counts in readings.venues.items():
                family.add_metric([venue], counts.get(key, 0))
            yield family
        states = GaugeMetricFamily(
            "arbscan_venue_state", "1 for the venue's current state", labels=["venue", "state"]
        )
        for venue in dict.fromkeys([*server.venues, *server.present.venues]):
            now = server.present.state(venue)
            for state in VENUE_STATES:
                states.add_metric([venue, state], 1.0 if state == now else 0.0)
        yield states
        events = CounterMetricFamily("arbscan_sink_events", "Events taken", labels=["sink"])
        dropped = CounterMetricFamily("arbscan_sink_dropped", "Events dropped", labels=["sink"])
        for sink, counts in readings.sinks.items():
            events.add_metric([sink], counts["events"])
            dropped.add_metric([sink], counts["dropped"])
        yield from (events, dropped)
        if readings.engine is not None:
            yield from _engine(readings.engine)
        yield GaugeMetricFamily(
            "arbscan_open_opportunities", "Opportunities open now", len(server.present.open)
        )
        yield GaugeMetricFamily("arbscan_clients", "Event clients connected", len(server.clients))
        yield CounterMetricFamily(
            "arbscan_clients_lagged", "Event clients disconnected for falling behind", server.lagged
        )
        rejected = CounterMetricFamily(
            "arbscan_clients_rejected", "Event client handshakes refused", labels=["reason"]
        )
        for reason in REJECTIONS:
            rejected.add_metric([reason], server.rejected[reason])
        yield rejected


def _engine(stats: EngineStats) -> Iterable[Metric]:
    yield CounterMetricFamily("arbscan_engine_updates", "Book updates evaluated", stats.updates)
    yield CounterMetricFamily(
        "arbscan_engine_errors", "Book updates that failed (leg made unusable)", stats.errors
    )
    buckets, total = [], 0
    for bound, n in zip([*UPDATE_NS_BOUNDS, None], stats.update_ns_buckets, strict=True):
        total += n
        buckets.append(("+Inf" if bound is None else repr(bound / 1e9), total))
    yield HistogramMetricFamily(
        "arbscan_engine_update_seconds",
        "Engine time per book update, one update in 16 timed",
        buckets=buckets,
        sum_value=stats.engine_ns / 1e9,
    )


class Metrics:
    """The server's own registry (never the process-wide one): ``/metrics``'s text."""

    def __init__(self, server: WsEventServer) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(server))

    def text(self) -> bytes:
        return generate_latest(self.registry)
