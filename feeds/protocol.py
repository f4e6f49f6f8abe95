"""The contract between venue codecs and the shared feed machinery.

A codec only translates: it builds the frames a client sends (subscribe, ping, pong) and
turns one received frame into a list of typed events. It does no I/O, keeps no book, does
no sequencing and reads no clock. Everything that differs between venues in *how a book is
kept honest* is declared as data on the codec class (:class:`Integrity`), and the machinery
in :mod:`feeds` applies it, written once.

Levels are passed through as the venue sent them: ``(price, size)`` pairs of decimal
strings (or numbers, for venues that send JSON numbers). The book converts them; checksum
rules that are defined over the venue's own text use the original strings.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias

if TYPE_CHECKING:
    from feeds.lane import FrameShape
    from feeds.spec import VenueSpec

from feeds.checksum import ChecksumLayout

Number: TypeAlias = str | float | int
Level: TypeAlias = Sequence[Number]
"""One price level as sent: ``[price, size, ...]``; extra fields (counts, ids) are ignored."""


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BTC/USDT`` -> ``("BTC", "USDT")``; ValueError for anything that is not a canonical
    upper-case ``BASE/QUOTE`` symbol."""
    base, sep, quote = symbol.partition("/")
    if not (sep and base.isalnum() and quote.isalnum() and symbol.isupper()):
        raise ValueError(f"not a canonical BASE/QUOTE symbol: {symbol!r}")
    return base, quote


class ParseError(ValueError):
    """A frame that does not parse as this venue's protocol. The machinery drops and counts it."""


class SeqRule(enum.Enum):
    """How consecutive book messages of one symbol are proven contiguous."""

    NONE = "none"
    """No sequence: the venue gives no way to detect a lost message (Gemini, Bitstamp)."""
    RANGE = "range"
    """Update-id ranges ``[first, last]`` against the book's id, the snapshot's to begin with
    (Binance spot): drop ``last < id``; a gap when ``first > id + 1``; else apply, and the
    book's id becomes ``last``."""
    PREV_LINK = "prev_link"
    """Each message names the id of the one before it: ``prev == previous last`` (OKX
    ``prevSeqId``, Binance futures ``pu``, Deribit, Poloniex, HTX mbp)."""
    COUNTER = "counter"
    """A per-symbol counter: ``last == previous last + 1`` (Bybit ``u``, Bitfinex SEQ_ALL)."""
    SNAPSHOT_ONLY = "snapshot_only"
    """Every book message is a full snapshot (Upbit, Coinone, LBank, HTX step0)."""
    TIME = "time"
    """Snapshot and deltas are ordered by a venue timestamp only (Bitstamp microtimestamp):
    drop deltas at or before the snapshot's time."""


class SnapshotSource(enum.Enum):
    IN_BAND = "in_band"
    """The venue pushes a snapshot on the stream after subscribing."""
    REST = "rest"
    """The book is seeded from a REST request, built by :meth:`Codec.snapshot_request`."""
    REQUEST = "request"
    """The book is seeded from a snapshot asked for on the same connection
    (:meth:`Codec.snapshot_frame`), answered in-band: the deltas are buffered and bridged as
    for :attr:`REST`."""


@dataclass(frozen=True, slots=True)
class Integrity:
    """The integrity rule of one venue's book channel, as data."""

    seq: SeqRule
    checksum: ChecksumLayout | None = None
    """The checksum the venue sends over the book after each message, if any."""
    snapshot: SnapshotSource = SnapshotSource.IN_BAND
    connection_counter: bool = False
    """One message counter per connection across all channels (Coinbase ``sequence_num``):
    a gap desyncs every book on that connection."""
    keep_text: bool = False
    """Whether the book must keep the venue's original level strings (checksums over text)."""
    level_seq: bool = False
    """Each level carries its own sequence as its third element (``[price, size, seq]``): a
    delta overlapping the book's id applies only its levels above that id, and one that ends
    at or below it is older (dropped)."""
    level_actions: bool = False
    """Each level of a delta carries the venue's action as its third element (``[price,
    size, "new" | "change" | "delete"]``): a ``new`` of a level the book holds, or a
    ``change``/``delete`` of one it lacks, means an update was missed (a gap: resync)."""
    verify_snapshots: bool = False
    """The venue sends whole books again on a live channel: each one is compared with the
    book the deltas built, on every level within the new book's price range per side (a
    snapshot of the top N levels says nothing below them); a difference is counted
    (``stats.snapshot_mismatch``), and either way the snapshot becomes the book."""

    @property
    def detects_loss(self) -> bool:
        """Whether a lost book message shows (a sequence, a checksum or a connection counter
        reveals it). Without any (TIME, NONE), only a crossed book reveals a wrong one;
        SNAPSHOT_ONLY loses nothing (the next push is a whole book)."""
        ordered = self.seq in (SeqRule.NONE, SeqRule.TIME)
        return not ordered or self.checksum is not None or self.connection_counter


# --- typed events out of Codec.parse ---------------------------------------------------


@dataclass(slots=True)
class BookSnapshot:
    """A full book for one symbol. ``seq`` is the id a following delta continues from
    (Binance/Gate ``lastUpdateId``, OKX ``seqId``, Bybit ``u``); None if the rule has none."""

    symbol: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    seq: int | None = None
    checksum: int | None = None
    venue_ts_ns: int | None = None


@dataclass(slots=True)
class BookDelta:
    """Changed levels of one symbol; size 0 deletes the level.

    ``first``/``last`` are the update-id range (RANGE), ``last`` alone the counter (COUNTER),
    ``prev``+``last`` the link (PREV_LINK). ``checksum`` is the venue's checksum after the
    delta is applied, or None when the message carries none (OKX sends 0 meaning none: the
    codec maps that to None).
    """

    symbol: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    first: int | None = None
    last: int | None = None
    prev: int | None = None
    checksum: int | None = None
    venue_ts_ns: int | None = None


@dataclass(slots=True)
class Subscribed:
    """The venue acknowledged a subscription. ``depth`` is the book depth the venue will
    maintain (Kraken truncates to it before checksumming), when the ack says."""

    symbol: str | None = None
    depth: int | None = None


@dataclass(slots=True)
class Heartbeat:
    """A keep-alive with no book content (proves the connection is alive)."""


@dataclass(slots=True)
class Reply:
    """A frame the client must send back right away (e.g. a pong to an application ping)."""

    frame: str


@dataclass(slots=True)
class VenueError:
    """The venue reported an error (bad subscription, rate limit...)."""

    message: str
    symbol: str | None = None


@dataclass(slots=True)
class ConnectionSeq:
    """The per-connection message counter carried by this frame (see
    :attr:`Integrity.connection_counter`). Emitted first, before the frame's other events,
    read from the envelope before the body: a frame whose body is malformed still counts.
    A frame whose counter cannot be read raises :class:`ParseError`; the next counter then
    tells whether it was one of the counted messages (a gap) or not (nothing lost)."""

    seq: int


@dataclass(slots=True)
class Malformed:
    """A part of a frame that does not parse, in a frame whose other parts do (its counter,
    other products' events). Counted as malformed. ``lost``: the symbols whose book missed an
    update with it (each resyncs); None when it may have been any book of the connection."""

    reason: str
    lost: tuple[str, ...] | None = ()


@dataclass(slots=True)
class Ignored:
    """A part of a frame of a kind this codec does not know (a new channel, event type or
    book side: venues add such kinds at any time), skipped and counted; not an error."""

    what: str


@dataclass(slots=True)
class PlannedClose:
    """The venue announced that it will close this connection soon (a server shutdown, a
    service upgrade): open the replacement now, while this one still delivers."""

    reason: str


@dataclass(slots=True)
class Suspended:
    """The venue suspended its service for a while (maintenance): every book of the
    connection is unusable, and book messages are ignored, until :class:`Resumed`."""

    reason: str


@dataclass(slots=True)
class Resumed:
    """The venue's service is back after :class:`Suspended`: every book resyncs."""

    reason: str


Event: TypeAlias = (
    BookSnapshot
    | BookDelta
    | Subscribed
    | Heartbeat
    | Reply
    | VenueError
    | ConnectionSeq
    | Malformed
    | Ignored
    | PlannedClose
    | Suspended
    | Resumed
)


@dataclass(frozen=True, slots=True)
class RestRequest:
    """A REST request for a snapshot: absolute URL (built from the overridable REST base) and
    the request weight the venue charges for it (:class:`RestLimits`)."""

    url: str
    symbol: str
    weight: int = 1
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class RestLimits:
    """A venue's published REST request budget and what one book snapshot costs, as data.

    ``budget`` request weight per ``window_s`` seconds (per IP when ``per_ip``); a snapshot of
    up to ``tiers[i][0]`` levels costs ``tiers[i][1]`` (ascending; the last bound is the largest
    limit the venue serves). ``used_weight_header`` names the response header in which the
    venue reports the weight already used in the current window, if it sends one.
    """

    budget: int
    window_s: float
    tiers: tuple[tuple[int, int], ...]
    per_ip: bool = True
    used_weight_header: str | None = None

    def __post_init__(self) -> None:
        bounds = [b for b, _ in self.tiers]
        if not bounds or bounds != sorted(set(bounds)) or min(w for _, w in self.tiers) < 1:
            raise ValueError("RestLimits.tiers: ascending (limit, weight >= 1) pairs")
        if self.budget < max(w for _, w in self.tiers) or self.window_s <= 0:
            raise ValueError("RestLimits: the budget must afford every snapshot")

    def snapshot_limit(self, levels: int) -> int:
        """The snapshot limit to ask for ``levels`` per side: the deepest one at the lowest
        weight that covers them (every limit of a tier costs the same), at most the largest
        limit served."""
        for bound, _ in self.tiers:
            if levels <= bound:
                return bound
        return self.tiers[-1][0]

    def snapshot_weight(self, limit: int) -> int:
        """The request weight of a snapshot with this limit."""
        for bound, weight in self.tiers:
            if limit <= bound:
                return weight
        return self.tiers[-1][1]


@dataclass(slots=True)
class Endpoints:
    """Where a venue lives. Every URL can be overridden (emulator, testnet)."""

    ws: str
    rest: str = ""


class Codec:
    """Base of every venue codec.

    A venue codec sets :attr:`spec` (its :class:`feeds.spec.VenueSpec`: the class attributes
    below are taken from it) and implements :meth:`parse` and :meth:`subscribe_frames` (plus
    the REST pair for SnapshotSource.REST). Construct one per connection with the canonical
    symbols it serves; the codec maps canonical ``BASE/QUOTE`` symbols to venue ids and
    back, by explicit table (never by guessing).
    """

    spec: ClassVar[VenueSpec]
    venue: ClassVar[str]
    """ccxt id of the venue (``binance``, ``okx``...)."""
    aliases: ClassVar[tuple[str, ...]] = ()
    integrity: ClassVar[Integrity]
    endpoints: ClassVar[Endpoints]
    ping_interval_s: float | None = None
    """May be set per connection from :meth:`connect_url`'s answer."""
    max_symbols_per_connection: ClassVar[int] = 100
    requests_per_hour: ClassVar[int | None] = None
    rest_limits: ClassVar[RestLimits | None] = None
    max_connection_s: ClassVar[float | None] = None
    sends_per_s: ClassVar[float | None] = None
    snapshot_timeout_s: ClassVar[float | None] = None
    """See :class:`feeds.spec.VenueSpec` for the meaning of each."""
    shapes: ClassVar[tuple[FrameShape, ...]] = ()
    """The venue's common frame, one book delta, as data (the ways the venue may wrap it,
    the most common first): the session reads such frames straight into the book
    (:mod:`feeds.lane`); every other frame goes through :meth:`parse`."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is not None:
            cls.venue = spec.id
            cls.aliases = spec.aliases
            cls.integrity = spec.integrity
            cls.endpoints = spec.endpoints
            cls.ping_interval_s = spec.ping_interval_s
            cls.max_symbols_per_connection = spec.max_symbols_per_connection
            cls.requests_per_hour = spec.requests_per_hour
            cls.rest_limits = spec.rest_limits
            cls.max_connection_s = spec.max_connection_s
            cls.sends_per_s = spec.sends_per_s
            cls.snapshot_timeout_s = spec.snapshot_timeout_s

    def __init__(self, symbols: Sequence[str], *, depth: int | None = None) -> None:
        spec: VenueSpec | None = getattr(self, "spec", None)
        self.symbols: tuple[str, ...] = tuple(symbols)
        self.depth = depth if spec is None else spec.book_depth(depth)
        self.clock: Callable[[], int] = time.time_ns
        """The time (ns) for the requests of a venue that wants it in them (Gate's ``time``);
        the runner sets its own clock here. Parsing never reads it."""
        self._canonical: dict[str, str] = {}
        """The explicit table of this connection: venue id -> canonical symbol."""
        for symbol in self.symbols:
            vid = self.venue_symbol(symbol)
            first = self._canonical.setdefault(vid, symbol)
            # "AB/CD" and "ABC/D" are both "ABCD" on some venues: refuse rather than guess
            # (asset identity by explicit mapping, never by guessing: docs/contracts.md), unless
            # the venue documents one of them as another name of the same product.
            if first != symbol and not (self.same_product(symbol) or self.same_product(first)):
                raise ValueError(f"{symbol!r} and {first!r} are both {vid!r}")

    # -- symbol mapping ---------------------------------------------------------------
    def venue_symbol(self, symbol: str) -> str:
        """The venue's id for a canonical symbol (by default the spec's symbol format)."""
        return self.spec.symbol(*split_symbol(symbol))

    def same_product(self, symbol: str) -> bool:
        """Whether the venue documents ``symbol`` as served by the product of its venue id
        under another name (then two symbols may share that id and its book)."""
        return False

    def lane_ids(self) -> dict[str, str] | dict[int, str]:
        """Venue id as :attr:`shapes` find it in a frame -> canonical symbol."""
        return self._canonical

    # -- frames out -------------------------------------------------------------------
    def ws_url(self, base: str) -> str:
        """The URL to connect to, from the (possibly overridden) WS base URL."""
        return base

    def connect_request(self, rest_base: str) -> RestRequest | None:
        """The REST request whose answer names the WebSocket URL to connect to (a venue that
        hands out its endpoint and a token that way), made before every connection; None
        when the URL is known beforehand."""
        return None

    def connect_url(self, body: bytes) -> str:
        """The WebSocket URL from the answer to :meth:`connect_request` (ParseError if the
        answer has none)."""
        raise NotImplementedError

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """Frames that subscribe the book channel of ``symbols`` (sent right after the
        connection opens, and again for one symbol to resync it in-band)."""
        raise NotImplementedError

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        """Frames that unsubscribe ``symbols`` (in-band resync: unsubscribe, then subscribe,
        and the venue sends a fresh snapshot). Empty if the venue has no unsubscribe."""
        return []

    def ping_frame(self) -> str | None:
        """An application-level ping, sent every :attr:`ping_interval_s`."""
        return None

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> RestRequest:
        """The REST request that seeds ``symbol`` with at least ``levels`` per side when the
        venue serves that many (only for SnapshotSource.REST)."""
        raise NotImplementedError

    def snapshot_frame(self, symbol: str) -> str:
        """The frame that asks for a snapshot of ``symbol`` on the connection, answered by a
        :class:`BookSnapshot` event (only for SnapshotSource.REQUEST)."""
        raise NotImplementedError

    def parse_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        """Turn a REST snapshot body into a snapshot (only for SnapshotSource.REST)."""
        raise NotImplementedError

    # -- frames in --------------------------------------------------------------------
    def parse(self, frame: str | bytes) -> list[Event]:
        """Translate one received frame. Raise :class:`ParseError` for anything that is not
        this venue's protocol; return ``[]`` for frames that carry nothing we use."""
        raise NotImplementedError
