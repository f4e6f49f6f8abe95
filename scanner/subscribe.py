"""What an event-server client asks for: the ``subscribe`` message and its filter.

A client may send, at any time, one text message (a JSON object) of this shape, every field
optional::

    {"type": "subscribe", "symbols": ["BTC/USDT"], "venues": ["binance", "okx"],
     "types": ["opened", "closed"], "min_net_bps": 8.0}

It replaces the client's previous filter (none at first: every event). A field that is absent
does not filter; a list is the set of values allowed:

* ``types``: the event's ``type``;
* ``symbols``: the ``symbol`` of opportunity, suspect, book and premium events (a
  cross-quote pair passes when either leg, ``symbol`` or ``sell_symbol``, is listed);
* ``venues``: the ``venue`` of venue, book and premium events; both legs (``buy_venue`` and
  ``sell_venue``) of an opportunity or suspect event;
* ``min_net_bps``: ``opened``/``updated`` events with ``net_bps`` below it are not sent; a
  ``closed`` event is then sent only if the client was sent an ``opened`` or ``updated`` of
  that opportunity.

Events without the field a filter names (``stats``, a venue event under ``symbols``) pass it.
Anything else (not JSON, not an object, another ``type``, an unknown field, a wrong type, an
unknown event type) is a :class:`BadSubscribe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

EVENT_TYPES = frozenset(
    {"opened", "updated", "closed", "venue", "book", "stats", "suspect", "premium"}
)
_OPPORTUNITY = frozenset({"opened", "updated", "closed"})
_PAIRS = _OPPORTUNITY | {"suspect"}
"""Events of a pair of legs: filtered on both venues and on either leg's symbol."""
_FIELDS = ("type", "symbols", "venues", "types", "min_net_bps")
MAX_VALUES = 256
"""At most this many values in one list."""


class BadSubscribe(ValueError):
    """A client message that is not a valid subscribe message (the reason says why)."""


@dataclass(slots=True, eq=False)
class Filter:
    """One client's filter; :meth:`wants` is called once per event for that client."""

    symbols: frozenset[str] | None = None
    venues: frozenset[str] | None = None
    types: frozenset[str] | None = None
    min_net_bps: float | None = None
    sent_ids: set[str] = field(default_factory=set)
    """Opportunities open that this client was sent (with ``min_net_bps`` only; bounded by
    the opportunities open at once: an id leaves with its ``closed`` event)."""

    def wants(self, event: dict[str, Any]) -> bool:
        kind = event["type"]
        if self.types is not None and kind not in self.types:
            if kind == "closed":
                self.sent_ids.discard(event["id"])
            return False
        if kind in _PAIRS:
            symbols = self.symbols
            if (
                symbols is not None
                and event["symbol"] not in symbols
                and event.get("sell_symbol") not in symbols  # a cross-quote pair's other leg
            ):
                return False
            venues = self.venues
            if venues is not None and not (
                event["buy_venue"] in venues and event["sell_venue"] in venues
            ):
                return False
            if self.min_net_bps is None or kind == "suspect":
                return True
            if kind == "closed":
                if event["id"] in self.sent_ids:
                    self.sent_ids.discard(event["id"])
                    return True
                return False
            if event["net_bps"] >= self.min_net_bps:
                self.sent_ids.add(event["id"])
                return True
            return False
        if self.symbols is not None and "symbol" in event and event["symbol"] not in self.symbols:
            return False
        return self.venues is None or "venue" not in event or event["venue"] in self.venues


def parse_subscribe(message: str | bytes) -> Filter:
    """The filter of a subscribe message; :class:`BadSubscribe` for anything else."""
    try:
        msg = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise BadSubscribe("not JSON") from None
    if not isinstance(msg, dict) or msg.get("type") != "subscribe":
        raise BadSubscribe('expected {"type": "subscribe", ...}')
    for key in msg:
        if key not in _FIELDS:
            raise BadSubscribe(f"unknown field {key!r}")
    types = _strings(msg, "types")
    if types is not None and not types <= EVENT_TYPES:
        raise BadSubscribe(f"types: unknown event type {sorted(types - EVENT_TYPES)[0]!r}")
    bps = msg.get("min_net_bps")
    if "min_net_bps" in msg and (
        isinstance(bps, bool) or not isinstance(bps, int | float) or not math.isfinite(bps)
    ):
        raise BadSubscribe("min_net_bps: expected a number")
    return Filter(
        symbols=_strings(msg, "symbols"),
        venues=_strings(msg, "venues"),
        types=types,
        min_net_bps=None if bps is None else float(bps),
    )


def _strings(msg: dict[str, Any], key: str) -> frozenset[str] | None:
    if key not in msg:
        return None
    values = msg[key]
    if (
        not isinstance(values, list)
        or len(values) > MAX_VALUES
        or not all(isinstance(v, str) for v in values)
    ):
        raise BadSubscribe(f"{key}: expected a list of at most {MAX_VALUES} strings")
    return frozenset(values)
