"""The kit every emulated venue is built from: ids, the subscribing session, the adapter.

An emulated venue is one :class:`Adapter` subclass in ``emulator/venues/<venue>.py``, listed
in that module's ``ADAPTERS``; ``emulator/venues/__init__.py`` finds it (nothing to register
by hand). ``name`` is the feed's venue id: the adapter reads that venue's
:class:`feeds.spec.VenueSpec` (WebSocket path from the endpoint URL, symbol format, depths,
checksum layout, ``requests_per_hour``), so none of it is repeated. The generic
:class:`KitSession` keeps the subscribed symbols, applies (un)subscribe requests, sends the
snapshot on subscribe, publishes each step's changes of the subscribed symbols, enforces the
per-connection request budget and applies the ``overlap`` fault. The adapter supplies only:

* ``parse(session, text, now_ns)``: a client frame -> a :class:`Request` (subscribe or
  unsubscribe of :class:`Sub` items, an :class:`Out` per refused item) or the replies
  themselves (pong, error);
* ``answer`` (one reply per request) and/or ``acked`` (one per item), ``refusal`` (over the
  budget);
* frames in the venue's exact number text: ``snapshot``, ``delta`` (one frame or several),
  and optionally ``heartbeat``, ``notice``, ``opened``, ``rest``.

Ids live in the adapter (venue-wide, per symbol, seeded by ``stable_seed``): keep them in
``self.track(UpdateRanges(...))`` / ``PrevLinks`` / ``Counter`` in ``setup()`` and they
advance once per market step for each symbol whose book changed; ``session.seq`` is the
per-connection counter. ``self.book_checksum(levels, number_text, symbol, corrupt)`` signs
a book with the spec's layout (0 with the ``checksum_zero`` option). Class attributes:
``profile`` (the market model's lag, spread and grid for the venue), ``option_names`` (own
options, booleans), ``body_faults``, ``publish_sorted``; ``accept(path)`` for other paths
than the spec's. ``tests/test_emulator_kit.py`` fails for a feed venue without an adapter.
Example::
Example::

    class Acme(Adapter):
        name = "acme"  # feeds/venues/acme.py has SPEC with id "acme"
        profile = VenueProfile(lag_steps=1, spread_bps=1.5)

        def parse(self, session, text, now_ns):
            req = json_object(text) or {}
            subs = [Sub(self.symbols[s]) for s in req.get("symbols", []) if s in self.symbols]
            return Request(req.get("op") == "subscribe", subs)

        def answer(self, session, req, now_ns):
            return [Out('{"ok":true}')]

        def snapshot(self, sub, now_ns):
            return Out(dumps({"snapshot": self.book(sub.symbol).top(25)}), book=True)

        def delta(self, sub, bids, asks, now_ns, corrupt):
            return Out(dumps({"update": [bids, asks]}), book=True)

    ADAPTERS = (Acme,)
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import orjson

from emulator.market import Change, MarketModel, stable_seed
from emulator.venues.base import Out, Session, Venue
from feeds.checksum import ChecksumLayout, crc32
from feeds.protocol import SeqRule
from feeds.spec import VenueSpec
from feeds.venues import SPECS

Levels = Sequence[tuple[int, int]]
_HOUR_NS = 3_600_000_000_000


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


def json_object(text: str) -> dict[str, Any] | None:
    """The request object of ``text``; ``{}`` for JSON that is not an object; None when
    ``text`` is no JSON at all."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else {}


# -- ids ---------------------------------------------------------------------------------


class SymbolIds:
    """Venue-wide ids per symbol, drawn from ``start`` and moved once per market step for
    each changed symbol by 1 (``jump`` 1) or a random 1..``jump``."""

    def __init__(
        self, symbols: Iterable[str], rng: random.Random, start: tuple[int, int], jump: int = 1
    ) -> None:
        self.last = {s: rng.randrange(*start) for s in symbols}
        self.prev = dict.fromkeys(self.last, -1)
        self._rng, self._jump = rng, jump

    def advance(self, symbol: str) -> None:
        self.prev[symbol] = self.last[symbol]
        self.last[symbol] += self._rng.randint(1, self._jump) if self._jump > 1 else 1


class UpdateRanges(SymbolIds):
    """An event covers the ids ``[U, u]`` = ``[first, last]`` (the ``overlap`` fault's)."""

    def first(self, symbol: str) -> int:
        return self.prev[symbol] + 1


class PrevLinks(SymbolIds):
    """An event names its own id (``last``) and the previous event's (``prev``, -1 before
    the first)."""


class Counter(SymbolIds):
    """A per-symbol counter growing by one per event."""


class ConnectionCounter:
    """One counter per connection over every message, whatever its channel."""

    def __init__(self, start: int = 0) -> None:
        self.value = start - 1

    def next(self) -> int:
        self.value += 1
        return self.value


def checksum(
    layout: ChecksumLayout,
    levels: tuple[Levels, Levels],
    number: Callable[[int, int], str],
    decimals: tuple[int, int],
    corrupt: bool = False,
) -> int:
    """The venue's checksum over the top of ``(bids, asks)`` written by ``number(units,
    decimals)`` as the venue writes it; ``corrupt`` flips the lowest bit."""
    pd, sd = decimals
    bids, asks = (
        [(number(p, pd), number(s, sd)) for p, s in side[: layout.levels]] for side in levels
    )
    return crc32(layout, bids, asks) ^ int(corrupt)


# -- requests and sessions ---------------------------------------------------------------


@dataclass(slots=True)
class Sub:
    """One symbol's subscription: the venue's topic name and depth as requested, and the
    book view a venue that truncates to the depth keeps."""

    symbol: str
    topic: str = ""
    depth: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    session: KitSession = field(init=False)
    """The connection (set when the subscription is applied)."""


@dataclass(slots=True)
class Request:
    """A subscribe (or unsubscribe) of ``items`` in order: a :class:`Sub` is applied, an
    :class:`Out` (that item's error) sent in its place. ``meta``: what the acks echo."""

    subscribe: bool
    items: list[Sub | Out]
    meta: dict[str, Any] = field(default_factory=dict)


class KitSession(Session):
    """One connection: subscriptions, budget and faults generic, frames by the adapter."""

    def __init__(self, venue: Adapter, conn_id: int, now_ns: int, path: str) -> None:
        self.venue, self.conn_id, self.opened_ns, self.path = venue, conn_id, now_ns, path
        self.subs: dict[str, Sub] = {}
        self.channels: set[str] = set()
        """Non-book channels subscribed (a heartbeat channel)."""
        self.seq = ConnectionCounter()
        self.beats = 0
        self.starts: dict[str, int] = {}
        """Per symbol, the first update id of the event being encoded (update ranges)."""
        self._requests: deque[int] = deque()
        self._overlaps = 0
        self._last: dict[str, tuple[int, Levels, Levels]] = {}

    def opened(self, now_ns: int) -> list[Out]:
        return self.venue.opened(self, now_ns)

    def received(self, text: str, now_ns: int) -> list[Out]:
        req = self.venue.parse(self, text, now_ns)
        if not isinstance(req, Request):
            return req
        if not self._admit(now_ns):
            self.venue.refused += 1
            return [self.venue.refusal(self, now_ns)]
        for item in req.items:
            if isinstance(item, Sub):
                item.session = self
                if req.subscribe:
                    self.subs[item.symbol] = item
                else:
                    self.subs.pop(item.symbol, None)
        out = self.venue.answer(self, req, now_ns)
        for item in req.items:
            if isinstance(item, Out):
                out.append(item)
                continue
            out += self.venue.acked(self, req, item, now_ns)
            snapshot = self.venue.snapshot(item, now_ns) if req.subscribe else None
            if snapshot is not None:
                out.append(snapshot)
        return out

    def _admit(self, now_ns: int) -> bool:
        budget, requests = self.venue.requests_per_hour, self._requests
        if budget is None:
            return True
        while requests and requests[0] <= now_ns - _HOUR_NS:
            requests.popleft()
        if len(requests) >= budget:
            return False
        requests.append(now_ns)
        return True

    def publish(self, changes: Mapping[str, Change], now_ns: int, corrupt: bool) -> list[Out]:
        out: list[Out] = []
        overlapped = False
        for symbol in sorted(self.subs) if self.venue.publish_sorted else list(self.subs):
            change = changes.get(symbol)
            if change is None or not (change.bids or change.asks):
                continue
            bids, asks = change.bids, change.asks
            ranges = self.venue.ranges
            if ranges is not None:
                first, previous = ranges.first(symbol), self._last.get(symbol)
                if self._overlaps and previous is not None:
                    first = previous[0]
                    bids = tuple(sorted((dict(previous[1]) | dict(bids)).items(), reverse=True))
                    asks = tuple(sorted((dict(previous[2]) | dict(asks)).items()))
                    overlapped = True
                self._last[symbol] = (first, bids, asks)
                self.starts[symbol] = first
            frame = self.venue.delta(self.subs[symbol], bids, asks, now_ns, corrupt and not out)
            if isinstance(frame, Out):
                out.append(frame)
            elif frame is not None:  # a venue that sends a change as several frames
                out += frame
        if overlapped:
            self._overlaps -= 1
        return out

    def overlap(self, count: int) -> None:
        self._overlaps += count

    def heartbeat(self, now_ns: int) -> list[Out]:
        return self.venue.heartbeat(self, now_ns)

    def shutdown_notice(self, now_ns: int) -> list[Out]:
        return self.venue.notice(self, now_ns)

    def bad_body(self, out: Out) -> Out:
        return self.venue.bad_body(self, out)

    def novel(self, now_ns: int) -> list[Out]:
        return self.venue.novel(self, now_ns)


# -- the adapter -------------------------------------------------------------------------

_Ids = TypeVar("_Ids", bound=SymbolIds)


class Adapter(Venue):
    """One emulated venue read from its feed's spec; subclasses encode its frames."""

    spec: ClassVar[VenueSpec]
    option_names: ClassVar[frozenset[str]] = frozenset()
    """The venue's own options (besides ``checksum_zero`` and ``requests_per_hour``)."""
    publish_sorted: ClassVar[bool] = False
    """Publish the subscribed symbols in sorted order (else in subscription order)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        if cls.name not in SPECS:
            raise TypeError(f"{cls.__name__}: no feed spec for venue {cls.name!r}")
        spec = cls.spec = SPECS[cls.name]
        if getattr(cls, "ws_path", None) is None:
            cls.ws_path = urlsplit(spec.endpoints.ws).path or "/"
        cls.has_checksum = spec.integrity.checksum is not None
        cls.has_ranges = spec.integrity.seq is SeqRule.RANGE
        cls.sends_per_s = spec.sends_per_s
        if spec.rest_limits is not None:
            cls.rest_limit = (spec.rest_limits.budget, spec.rest_limits.window_s)
            cls.used_weight_header = spec.rest_limits.used_weight_header

    @classmethod
    def check_options(cls, options: Mapping[str, object]) -> None:
        """Raise ValueError naming the first option the venue does not take, or its value."""
        known: dict[str, type] = dict.fromkeys(cls.option_names, bool)
        if cls.has_checksum:
            known["checksum_zero"] = bool
        if cls.spec.requests_per_hour is not None:
            known["requests_per_hour"] = int
        for key, value in options.items():
            kind = known.get(key)
            if kind is None:
                raise ValueError(f"{cls.name} has no option {key!r} (has {sorted(known)})")
            if type(value) is not kind or (isinstance(value, int) and kind is int and value < 1):
                want = "true or false" if kind is bool else "an integer >= 1"
                raise ValueError(f"{cls.name} option {key!r} must be {want}, not {value!r}")

    def __init__(self, model: MarketModel, options: Mapping[str, object]) -> None:
        super().__init__(model, options)
        self.check_options(options)
        self.rng = random.Random(stable_seed(model.config.seed, self.name, "ids"))
        self.ids: list[SymbolIds] = []
        self.ranges: UpdateRanges | None = None
        self.checksum_zero = bool(options.get("checksum_zero", False))
        budget = options.get("requests_per_hour", self.spec.requests_per_hour)
        self.requests_per_hour = budget if isinstance(budget, int) else None
        self.refused = 0
        """Requests refused over the budget, on every connection."""
        self.setup()

    def setup(self) -> None:
        """The venue's own state (its ids: :meth:`track`), once the kit's is set."""

    def track(self, ids: _Ids) -> _Ids:
        """Advance ``ids`` with the market (in the order tracked)."""
        self.ids.append(ids)
        if isinstance(ids, UpdateRanges):
            self.ranges = ids
        return ids

    def venue_symbol(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        return self.spec.symbol(base, quote)

    def advance(self, changes: Mapping[str, Change], now_ns: int) -> None:
        for symbol, change in changes.items():
            if change.bids or change.asks:
                for ids in self.ids:
                    ids.advance(symbol)

    def accept(self, path: str) -> list[Sub] | None:
        """The subscriptions a connection to ``path`` starts with, or None to refuse it."""
        return [] if path == self.ws_path else None

    def session(self, path: str, conn_id: int, now_ns: int) -> KitSession | None:
        initial = self.accept(path)
        if initial is None:
            return None
        session = KitSession(self, conn_id, now_ns, path)
        for sub in initial:
            sub.session = session
            session.subs[sub.symbol] = sub
        return session

    def book_checksum(
        self,
        levels: tuple[Levels, Levels],
        number: Callable[[int, int], str],
        symbol: str,
        corrupt: bool = False,
    ) -> int:
        """The spec's checksum of ``levels`` (0 with the ``checksum_zero`` option)."""
        layout = self.spec.integrity.checksum
        if self.checksum_zero or layout is None:
            return 0
        book = self.book(symbol)
        return checksum(layout, levels, number, (book.price_decimals, book.size_decimals), corrupt)

    # -- what the adapter writes -----------------------------------------------------------
    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        raise NotImplementedError

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        """The one reply to a request (after its bookkeeping, before the items' frames)."""
        return []

    def acked(self, session: KitSession, req: Request, sub: Sub, now_ns: int) -> list[Out]:
        """The reply to one item of a request (before its snapshot)."""
        return []

    def refusal(self, session: KitSession, now_ns: int) -> Out:
        raise NotImplementedError(f"{self.name} has a request budget but no refusal")

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        """The book snapshot sent on subscribe (None: the venue sends none)."""
        return None

    def delta(
        self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool
    ) -> Out | list[Out] | None:
        """One step's change of a subscribed book: a frame, several (a venue that sends each
        level apart), or None."""
        raise NotImplementedError

    def opened(self, session: KitSession, now_ns: int) -> list[Out]:
        return []

    def heartbeat(self, session: KitSession, now_ns: int) -> list[Out]:
        return []

    def notice(self, session: KitSession, now_ns: int) -> list[Out]:
        return []

    def bad_body(self, session: KitSession, out: Out) -> Out:
        raise NotImplementedError

    def novel(self, session: KitSession, now_ns: int) -> list[Out]:
        raise NotImplementedError
