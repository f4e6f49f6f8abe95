"""Event dicts of the JSON event stream, schema 1 (docs/contracts.md).

Every builder returns a plain ``dict`` whose keys are in the documented field order, so that
``orjson.dumps`` writes the same bytes for the same inputs on every run. Values are plain Python
``int``/``float``/``str``/``None`` (never numpy scalars). ``events.schema.json`` beside this
module is the JSON Schema of the stream; :func:`schema` loads it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_VERSION = 1
NS_PER_MS = 1_000_000
SAME_QUOTE = "same_quote"
CROSS_QUOTE = "cross_quote"
"""The ``kind`` of an opportunity: both legs in one quote, or the proceeds converted."""


class CloseReason(enum.StrEnum):
    """Every ``reason`` a ``closed`` event may carry (its JSON text is the value)."""

    SPREAD_CLOSED = "spread_closed"
    STALE = "stale"
    DESYNCED = "desynced"
    DISCONNECTED = "disconnected"
    CROSSED_BOOK = "crossed_book"
    SHUTDOWN = "shutdown"


class VenueState(enum.StrEnum):
    """Every ``state`` a ``venue`` event may carry (its JSON text is the value)."""

    CONNECTING = "connecting"
    SYNCING = "syncing"
    LIVE = "live"
    RESYNCING = "resyncing"
    STALE = "stale"
    DOWN = "down"


CLOSE_REASONS: tuple[str, ...] = tuple(CloseReason)
VENUE_STATES: tuple[str, ...] = tuple(VenueState)

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Figures:
    """The numbers of one evaluation of one pair (docs/contracts.md, the profit formula), in
    quote/base units."""

    buy_price: float
    sell_price: float
    size: float
    buy_vwap: float
    sell_vwap: float
    cost: float
    proceeds: float
    profit: float
    net_bps: float
    gross_bps: float


@dataclass(frozen=True, slots=True)
class CrossInfo:
    """What a cross-quote event says about its quotes and conversion book."""

    sell_symbol: str
    buy_quote: str
    sell_quote: str
    fx_venue: str
    fx_symbol: str
    fx_rate: float
    fx_age_ms: float
    fx_fee_bps: float


@dataclass(frozen=True, slots=True)
class LegInfo:
    """What an opportunity event says about one leg: venue id, taker fee used, book age."""

    venue: str
    fee_bps: float
    age_ms: float


def opportunity_event(
    kind: str,
    oid: str,
    ts: int,
    symbol: str,
    buy: LegInfo,
    sell: LegInfo,
    fig: Figures,
    cross: CrossInfo | None = None,
) -> Event:
    """An ``opened`` or ``updated`` event (also the common head of ``closed``); ``cross``
    makes it a cross-quote one (money figures in the buy quote)."""
    event: Event = {
        "schema": SCHEMA_VERSION,
        "type": kind,
        "kind": SAME_QUOTE if cross is None else CROSS_QUOTE,
        "id": oid,
        "ts": ts,
        "symbol": symbol,
        "buy_venue": buy.venue,
        "sell_venue": sell.venue,
        "buy_price": fig.buy_price,
        "sell_price": fig.sell_price,
        "size": fig.size,
        "buy_vwap": fig.buy_vwap,
        "sell_vwap": fig.sell_vwap,
        "cost": fig.cost,
        "proceeds": fig.proceeds,
        "profit": fig.profit,
        "net_bps": fig.net_bps,
        "gross_bps": fig.gross_bps,
        "buy_fee_bps": buy.fee_bps,
        "sell_fee_bps": sell.fee_bps,
        "buy_age_ms": buy.age_ms,
        "sell_age_ms": sell.age_ms,
    }
    if cross is not None:
        event["sell_symbol"] = cross.sell_symbol
        event["buy_quote"] = cross.buy_quote
        event["sell_quote"] = cross.sell_quote
        event["fx_venue"] = cross.fx_venue
        event["fx_symbol"] = cross.fx_symbol
        event["fx_rate"] = cross.fx_rate
        event["fx_age_ms"] = cross.fx_age_ms
        event["fx_fee_bps"] = cross.fx_fee_bps
    return event


def closed_event(
    oid: str,
    ts: int,
    symbol: str,
    buy: LegInfo,
    sell: LegInfo,
    fig: Figures,
    *,
    reason: str,
    duration_ms: float,
    peak_net_bps: float,
    peak_profit: float,
    cross: CrossInfo | None = None,
) -> Event:
    """A ``closed`` event: the figures of the last evaluation while open, plus the close data."""
    if reason not in CLOSE_REASONS:
        raise ValueError(f"unknown close reason {reason!r} (known: {', '.join(CLOSE_REASONS)})")
    event = opportunity_event("closed", oid, ts, symbol, buy, sell, fig, cross)
    event["reason"] = str(reason)  # plain text, also for a CloseReason
    event["duration_ms"] = duration_ms
    event["peak_net_bps"] = peak_net_bps
    event["peak_profit"] = peak_profit
    return event


def suspect_event(
    ts: int,
    kind: str,
    symbol: str,
    sell_symbol: str,
    buy_venue: str,
    sell_venue: str,
    fig: Figures,
    max_gross_bps: float,
) -> Event:
    """A ``suspect`` event: a pair whose gross spread is too large to be one asset on both
    venues; never an opportunity. Prices in the buy quote."""
    return {
        "schema": SCHEMA_VERSION,
        "type": "suspect",
        "kind": kind,
        "ts": ts,
        "symbol": symbol,
        "sell_symbol": sell_symbol,
        "buy_venue": buy_venue,
        "sell_venue": sell_venue,
        "buy_price": fig.buy_price,
        "sell_price": fig.sell_price,
        "gross_bps": fig.gross_bps,
        "max_gross_bps": max_gross_bps,
        "reason": (
            f"gross spread {fig.gross_bps:.1f} bps > max_gross_bps {max_gross_bps:g}: "
            "the tickers may name different assets, or a book is wrong"
        ),
    }


def premium_event(
    ts: int,
    base: str,
    venue: str,
    symbol: str,
    mid: float,
    mid_usd: float,
    reference_usd: float,
    premium_bps: float,
    fx_source: str,
    fx_age_ms: float,
    venues: int,
) -> Event:
    """A ``premium`` event: ``venue``'s mid of ``symbol`` in USD against the median of the
    other ``venues`` venues' USD mids of ``base``."""
    return {
        "schema": SCHEMA_VERSION,
        "type": "premium",
        "ts": ts,
        "base": base,
        "venue": venue,
        "symbol": symbol,
        "mid": mid,
        "mid_usd": mid_usd,
        "reference_usd": reference_usd,
        "premium_bps": premium_bps,
        "fx_source": fx_source,
        "fx_age_ms": fx_age_ms,
        "reference_venues": venues,
    }


def venue_event(venue: str, state: str, reason: str | None, ts: int) -> Event:
    """A feed state event (``type`` = ``venue``); ``reason`` is None when there is none."""
    if state not in VENUE_STATES:
        raise ValueError(f"unknown venue state {state!r} (known: {', '.join(VENUE_STATES)})")
    return {
        "schema": SCHEMA_VERSION,
        "type": "venue",
        "venue": venue,
        "state": str(state),  # plain text, also for a state enum
        "reason": None if reason is None else str(reason),
        "ts": ts,
    }


def book_event(
    venue: str,
    symbol: str,
    bid_px: Sequence[float],
    bid_sz: Sequence[float],
    ask_px: Sequence[float],
    ask_sz: Sequence[float],
    ts: int,
    levels: int,
) -> Event:
    """A ``book`` tape event with the top ``levels`` of each side, best first, as [price, size]."""
    return {
        "schema": SCHEMA_VERSION,
        "type": "book",
        "ts": ts,
        "venue": venue,
        "symbol": symbol,
        "bids": _side(bid_px, bid_sz, levels),
        "asks": _side(ask_px, ask_sz, levels),
    }


def stats_event(
    ts: int,
    uptime_s: float,
    sinks: Mapping[str, Mapping[str, int]],
    venues: Mapping[str, Mapping[str, int]],
    clients: int,
    clients_dropped: int,
    latency_ms: Mapping[str, float | None] | None = None,
) -> Event:
    """A ``stats`` event: counters since start, per sink (``events``, ``dropped``) and per
    venue (``frames``, ``resyncs``, ``malformed``, ``reconnects``, and with ``latency_ms``
    the venue's latest feed latency: receive time minus the venue's own time of the
    message, null when the venue sends none), and the event server's clients connected now
    and disconnected so far for lagging."""
    return {
        "schema": SCHEMA_VERSION,
        "type": "stats",
        "ts": ts,
        "uptime_s": uptime_s,
        "sinks": {n: {"events": c["events"], "dropped": c["dropped"]} for n, c in sinks.items()},
        "venues": {
            venue: {
                **{k: c[k] for k in ("frames", "resyncs", "malformed", "reconnects")},
                **({} if latency_ms is None else {"latency_ms": latency_ms.get(venue)}),
            }
            for venue, c in venues.items()
        },
        "clients": clients,
        "clients_dropped": clients_dropped,
    }


PROTOCOL_VERSION = 1
"""Version of the event server's protocol (what a client is sent on connecting)."""


def hello_event(server_time: int, venues: Sequence[str], symbols: Sequence[str]) -> Event:
    """The event server's first message to a client (and its answer to a subscribe message):
    a snapshot of the present follows, up to ``snapshot_end``."""
    return {
        "schema": SCHEMA_VERSION,
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "server_time": server_time,
        "venues": list(venues),
        "symbols": list(symbols),
    }


SNAPSHOT_END: Event = {"schema": SCHEMA_VERSION, "type": "snapshot_end"}
"""The end of a snapshot: the live stream follows."""


def error_event(error: str, detail: str | None) -> Event:
    """What the event server tells a client before closing it: ``error`` names the kind
    (``bad_subscribe``...), ``detail`` says why."""
    return {"schema": SCHEMA_VERSION, "type": "error", "error": error, "detail": detail}


def _side(px: Sequence[float], sz: Sequence[float], levels: int) -> list[list[float]]:
    return [[float(p), float(q)] for p, q in zip(px[:levels], sz[:levels], strict=True)]


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the event stream, shipped as package data."""
    text = resources.files("scanner").joinpath("events.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
