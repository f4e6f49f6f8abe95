"""One venue's conformance case: what ``tests/test_conformance.py`` checks, as data.

Every venue (``feeds.venues.VENUES``) and every emulated venue (``emulator.venues.VENUES``)
needs a case, or the suite fails. Write ``tests/conformance/<venue>.py`` exporting ``CASE``
(or ``CASES``, a tuple, for a venue with several codecs or older protocols). Each check then
runs for the case with the id ``<name>-<check>`` (``okx-replay``)::

    from feeds.venues.gate import Gate
    from tests.conformance import Replay, VenueCase, delta

    CASE = VenueCase(
        codec=Gate,
        symbols=("BTC/USDT",),
        recording="gate.ndjson.gz",  # tests/fixtures; else frames=(...) from the docs
        subscribe=('{"channel":"spot.order_book_update","event":"subscribe",...}',),
        samples=((FRAME, (delta("BTC/USDT", "1:2", "", first=5, last=7),)),),
        malformed=('{"channel":"spot.order_book_update"}', "[]"),
        replay=Replay(messages=80, snapshots=1, deltas=79, checks=79,
                      tops={"BTC/USDT": (30243.4, 0.5, 30243.5, 1.25)}),
    )

``samples`` give frames with their exact events (:func:`snap` and :func:`delta` write a book
event's levels as text, ``"price:size price:size"``): a snapshot, a delta and every control
frame (each JSON one is also mutated by the fuzz tests; each is truncated for the
``ParseError`` check). ``replay``: book messages applied, snapshots (stream and REST),
deltas, integrity checks proven (checksums matched + deltas whose sequence fields continued +
connection counters that continued) and every symbol's final ``tops`` (best bid, its size,
best ask, its size), from the independent model of the recording (``model``: a plain-json
``read`` of each record and its exact counts, :mod:`tests.reference`), never from the code
under test. ``gap``
(default: a symbol's second delta once every symbol is usable) is the replayed frame the
resync check drops. Emulated venues also get the round trip and the wire check; ``wire``
and ``wire_ignore`` choose the reference frames when the recording predates the emulated
protocol. A check without data for a case is not generated; the completeness check needs a
replay for every venue and a case for every emulated venue.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from feeds.protocol import BookDelta, BookSnapshot, Codec, Event
from tests.reference import Model

FIXTURES = Path(__file__).parent.parent / "fixtures"

Top = tuple[float, float, float, float]
"""Best bid, its size, best ask, its size."""


@dataclass(frozen=True)
class Replay:
    """The exact figures of a replay through ``FeedSession``."""

    messages: int
    """Book messages applied (snapshots included): ``stats.book_msgs``."""
    snapshots: int
    """Snapshots the stream and REST delivered."""
    deltas: int
    """Deltas the codec read from the stream (applied or dropped as older)."""
    checks: int
    """Integrity checks proven: checksums matched, plus deltas whose sequence fields
    continued the book, plus connection counters that continued."""
    tops: Mapping[str, Top]
    """Every symbol's final top, from an independent model."""
    older: int = 0
    """Deltas dropped as already in the REST snapshot."""


@dataclass(frozen=True)
class VenueCase:
    """What the conformance checks need to know about one codec of one venue."""

    codec: type[Codec]
    symbols: tuple[str, ...]
    """The canonical symbols of the recording (or of the frames)."""
    subscribe: tuple[str, ...]
    """``codec(symbols).subscribe_frames(symbols)``: the recorded subscribe frames, or the
    documented request when the recording has none."""
    samples: tuple[tuple[str | bytes, tuple[Event, ...]], ...]
    """Frames with their exact events (parsed by a fresh ``codec(symbols)``)."""
    malformed: tuple[str | bytes, ...]
    """Frames that must raise ``ParseError``."""
    name: str = ""
    """The case id (default: the venue id); cases of older protocols say which."""
    recording: str | None = None
    """A capture in tests/fixtures replayed through ``FeedSession``."""
    frames: tuple[str, ...] = ()
    """Without a recording: a documented stream replayed instead (one connection)."""
    replay: Replay | None = None
    gap: int | None = None
    """The index (among the replayed frames) of the frame the resync check drops."""
    depth: int | None = None
    """The codec's book depth (its spec's default when None)."""
    emulated: bool = True
    """Whether the emulator serves this protocol (the round trip and wire checks)."""
    emulator_symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")
    """What the emulator round trip subscribes to (at the codec's default depth)."""
    emulator_path: str | None = None
    """The emulator path the codec's URL names (default: the venue's ``ws_path``)."""
    wire: tuple[str, ...] | None = None
    """Reference frames for the wire-shape check (default: the recording's frames)."""
    wire_ignore: frozenset[str] = field(default_factory=frozenset)
    """Keys the emulator sends that the reference frames predate."""
    exact_decimals: bool = False
    """Wire shape compares the number of decimals too (same precision in both)."""
    model: Model | None = None
    """The recording read and sequenced independently (:mod:`tests.reference`)."""
    refusals: tuple[tuple[str, str | None, str], ...] = ()
    """Requests the emulator refuses as the venue does: (request, its exact answer or None,
    the ``VenueError`` message the codec reads in it)."""
    heartbeat: tuple[int, str] | None = None
    """The emulated venue's own ping, once subscribed: every how many seconds, and the first
    one's frame (the codec answers it and the venue takes the answer)."""
    rest_errors: tuple[tuple[bytes, str], ...] = ()
    """REST error bodies, and the text of the ``ParseError`` ``parse_snapshot`` raises."""

    @property
    def venue(self) -> str:
        return self.codec.venue

    @property
    def id(self) -> str:
        return self.name or self.venue

    def new_codec(self, symbols: tuple[str, ...] | None = None) -> Codec:
        return self.codec(self.symbols if symbols is None else symbols, depth=self.depth)


def levels(text: str) -> list[list[str]]:
    """Levels exactly as the venue writes them: ``"1.5:2 1.4:0.3"`` is
    ``[["1.5", "2"], ["1.4", "0.3"]]`` (a third field too: ``"1.5:2:1582905486.49"``)."""
    return [level.split(":") for level in text.split()]


def snap(
    symbol: str, bids: str, asks: str, *, seq: int | None = None, checksum: int | None = None,
    ts: int | None = None,
) -> BookSnapshot:  # fmt: skip
    """The exact snapshot event, its levels written as :func:`levels` reads them."""
    return BookSnapshot(symbol, levels(bids), levels(asks), seq, checksum, ts)


def delta(
    symbol: str, bids: str, asks: str, *, first: int | None = None, last: int | None = None,
    prev: int | None = None, checksum: int | None = None, ts: int | None = None,
) -> BookDelta:  # fmt: skip
    """The exact delta event, its levels written as :func:`levels` reads them."""
    return BookDelta(symbol, levels(bids), levels(asks), first, last, prev, checksum, ts)


def discover() -> tuple[VenueCase, ...]:
    """Every case of every module of this package, in module order."""
    found: list[VenueCase] = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        mod = importlib.import_module(f"{__name__}.{module}")
        cases = getattr(mod, "CASES", None) or (getattr(mod, "CASE", None),)
        for case in cases:
            if not isinstance(case, VenueCase):
                raise TypeError(f"{__name__}.{module}: CASE/CASES must be VenueCase, not {case!r}")
            found.append(case)
    ids = [c.id for c in found]
    if len(set(ids)) != len(ids):
        raise TypeError(f"conformance case ids repeat: {ids}")
    return tuple(found)


@dataclass(frozen=True)
class FramesOut:
    """What a codec sends besides its subscriptions, as the venue documents it: once the
    case's samples are parsed (they may name channel ids), ``unsubscribe_frames`` of the
    case's symbols and ``ping_frame()``. A module exports ``FRAMES_OUT`` (one or a tuple)."""

    case: VenueCase
    unsubscribe: tuple[str, ...]
    ping: str | None


def frames_out() -> tuple[FramesOut, ...]:
    """Every module's ``FRAMES_OUT``, in module order."""
    found: list[FramesOut] = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        value = getattr(importlib.import_module(f"{__name__}.{module}"), "FRAMES_OUT", ())
        found += value if isinstance(value, tuple) else [value]
    return tuple(found)
