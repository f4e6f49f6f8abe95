"""Helpers shared by the venue codec tests: an independent reference book, listeners that
record every call, and the codec fuzzing strategies and checks."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, get_args

import pytest
from hypothesis import strategies as st

from emulator import Emulator
from emulator.market import MarketModel
from feeds.book import BadLevel, Book
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    Event,
    ParseError,
)
from feeds.session import FeedSession

Top = tuple[float, float, float, float]
"""Best bid, its size, best ask, its size."""


@dataclass
class ReferenceBook:
    """Plain dicts fed the raw JSON, with the Binance spot rule (docs/venues.md)."""

    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    snapshot_id: int | None = None
    last_u: int | None = None

    def apply_levels(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, qty in levels:
                if float(qty) == 0.0:
                    side.pop(float(price), None)
                else:
                    side[float(price)] = float(qty)

    def top(self, n: int) -> tuple[list[float], list[float], list[float], list[float]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return (
            [p for p, _ in bids],
            [q for _, q in bids],
            [p for p, _ in asks],
            [q for _, q in asks],
        )

    def best(self) -> Top:
        bid, ask = max(self.bids), min(self.asks)
        return (bid, self.bids[bid], ask, self.asks[ask])


@dataclass
class RecordingLeg:
    """A BookListener that keeps every call."""

    books: list[tuple[list[float], list[float], list[float], list[float], int]] = field(
        default_factory=list
    )
    usable: list[tuple[bool, str | None, int]] = field(default_factory=list)

    def on_book(self, book: Book, ts_ns: int) -> None:
        bid_px, bid_sz, ask_px, ask_sz = book.top()
        self.books.append((list(bid_px), list(bid_sz), list(ask_px), list(ask_sz), ts_ns))

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable.append((usable, reason, ts_ns))

    def view(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """What the listener currently knows: the levels of its last on_book."""
        return self.books[-1][:4]


class Recorder:
    """A BookListener that keeps every call."""

    def __init__(self) -> None:
        self.tops: list[Top] = []
        self.usable: list[tuple[bool, str | None, int]] = []

    def on_book(self, book: Book, ts_ns: int) -> None:
        bid_px, bid_sz, ask_px, ask_sz = book.top()
        self.tops.append((bid_px[0], bid_sz[0], ask_px[0], ask_sz[0]))

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable.append((usable, reason, ts_ns))


def book_refuses(events: list[Event], bids: list[Any], asks: list[Any], error: str) -> None:
    """``events`` is one book event carrying ``bids``/``asks`` exactly as sent, and the book
    refuses them with BadLevel (the session then resyncs: tests/test_session.py)."""
    assert len(events) == 1 and isinstance(events[0], BookSnapshot | BookDelta)
    assert (events[0].bids, events[0].asks) == (bids, asks)
    with pytest.raises(BadLevel, match=error):
        Book().apply_snapshot(events[0].bids, events[0].asks)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


ARBITRARY_INPUT = st.binary(max_size=64) | st.text(max_size=64) | JSON_VALUES.map(json.dumps)
"""Random bytes, random text, random JSON documents."""


def _paths(obj: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, frames: list[Any]) -> str:
    """A valid frame with 1-3 keys/items dropped or replaced by random JSON."""
    obj = copy.deepcopy(draw(st.sampled_from(frames)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(_paths(obj))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return json.dumps(obj)  # stdlib: keeps huge ints and writes NaN, both invalid for orjson


def check_events(events: list[Event], symbols: tuple[str, ...]) -> None:
    """What a codec may return: typed events; book events of a known symbol whose level
    lists the book either refuses (BadLevel) or holds exactly as the plain dict model."""
    for event in events:
        assert isinstance(event, get_args(Event))
        if isinstance(event, BookSnapshot | BookDelta):
            assert event.symbol in symbols
            assert isinstance(event.bids, list) and isinstance(event.asks, list)
            book = Book()
            try:
                book.apply_snapshot(event.bids, event.asks)
            except BadLevel:
                continue
            for levels, bids in ((event.bids, True), (event.asks, False)):
                model: dict[float, float] = {}
                for price, size, *_ in levels:
                    assert 0.0 < float(price) < math.inf and 0.0 <= float(size) < math.inf
                    if float(size):
                        model[float(price)] = float(size)
                    else:
                        model.pop(float(price), None)
                assert book.side(bids) == sorted(model.items(), reverse=bids)


def fuzz(parse: Any, data: str | bytes, symbols: tuple[str, ...]) -> None:
    try:
        events = parse(data)
    except ParseError:
        return
    check_events(events, symbols)


Levels = tuple[list[float], list[float], list[float], list[float]]
"""A book's top levels: bid prices, bid sizes, ask prices, ask sizes."""


@dataclass
class LastBook:
    """A BookListener keeping the last book's top levels and every usability change."""

    top: Levels | None = None
    usable: list[tuple[bool, str | None]] = field(default_factory=list)

    def on_book(self, book: Book, ts_ns: int) -> None:
        bid_px, bid_sz, ask_px, ask_sz = book.top()
        self.top = (list(bid_px), list(bid_sz), list(ask_px), list(ask_sz))

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        self.usable.append((usable, reason))


def model_top(emu: Emulator, venue: str, symbol: str, n: int = 20) -> Levels:
    """The emulator's model book of ``venue``/``symbol``: what a synced feed must hold."""
    return model_levels(emu.model, venue, symbol, n)


def model_levels(model: MarketModel, venue: str, symbol: str, n: int = 20) -> Levels:
    """The market model's book of ``venue``/``symbol`` (top ``n``) as floats."""
    book = model.books[(venue, symbol)]
    bids, asks = book.top(n)
    px, sz = 10**book.price_decimals, 10**book.size_decimals
    return (
        [p / px for p, _ in bids],
        [s / sz for _, s in bids],
        [p / px for p, _ in asks],
        [s / sz for _, s in asks],
    )


def session_for(codec: Codec) -> tuple[FeedSession, dict[str, Recorder], list[str]]:
    """A ``FeedSession`` of ``codec``: a :class:`Recorder` per symbol, and its states."""
    recorders = {s: Recorder() for s in codec.symbols}
    states: list[str] = []
    session = FeedSession(codec, recorders.__getitem__, lambda s, r, t: states.append(s))
    return session, recorders, states
