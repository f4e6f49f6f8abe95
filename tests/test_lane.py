"""The frame lane (feeds/lane.py, feeds/_lane.c) reads a frame only as the codec reads it.

The one property: whenever a lane accepts a frame, the venue's codec parses that frame into
exactly one delta with the same symbol, ids and time, whose levels change a book exactly as
the lane's do (the same levels, the same answer). Checked on every recorded frame, on every
frame the emulator sends, and on fuzzed variants of them; the recordings also replay through
``FeedSession`` to the same books, actions and counters with and without the lane. Then the
lane's own rules: what it declines, and numbers read exactly as ``float()`` reads them.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.book import Book, Lane
from feeds.codeckit import rfc3339_ns
from feeds.lane import FrameShape, LevelForm, TimeUnit, ZeroPrice, lane
from feeds.levelrules import apply_level_actions
from feeds.protocol import BookDelta, BookSnapshot, Codec, ConnectionSeq, Level, ParseError, SeqRule
from feeds.replay import Replayer
from feeds.sequencing import SeqState, lane_verdict, verdict
from tests.conformance import VenueCase, discover
from tests.fuzzing import fuzz_settings
from tests.test_conformance import in_frames, records, round_trip
from tests.venue_helpers import LastBook, mutated

CASES = [c for c in discover() if c.codec.shapes]
RECORDED = [c for c in CASES if c.recording is not None]

READS = {
    "bequant-v2": 141, "binance": 177, "binanceus": 336, "bitfinex": 1593, "bitflyer": 352,
    "bitstamp": 717, "deribit-raw": 44, "gate-book-update": 172, "gemini": 645,
    "hitbtc-v2": 105, "kucoin-2021": 3853, "poloniex": 294,
}  # fmt: skip
"""Recorded frames a lane reads (the rest: other channels, acks, first snapshots...)."""


def lanes(codec: Codec) -> list[Lane]:
    return [lane(shape, codec.lane_ids()) for shape in codec.shapes]


def scan(codec_lanes: list[Lane], frame: str | bytes) -> tuple[Lane, tuple[object, ...]] | None:
    """The lane that reads ``frame`` and what it read, as the session takes it (a time in
    text that is no RFC 3339 time is left to the codec)."""
    for one in codec_lanes:
        hit = one.scan(frame)
        if hit is not None and not (isinstance(hit[4], str) and rfc3339_ns(hit[4]) is None):
            return one, hit
    return None


def codec_of(case: VenueCase, emulated: bool = False) -> Codec:
    """The case's codec for its recording's frames, or for the emulator's."""
    return case.new_codec(case.emulator_symbols if emulated or not case.recording else None)


def agree(codec: Codec, codec_lanes: list[Lane], frame: str | bytes) -> bool:
    """Whether a lane read ``frame``; if so, assert that the codec (which parses every
    frame, in order, as a connection's would) agrees."""
    found = scan(codec_lanes, frame)
    events = codec.parse(frame)
    if found is None:
        return False
    read, (symbol, first, last, prev, ts, counter) = found
    *counted, ev = events
    assert counted == ([] if counter is None else [ConnectionSeq(counter)])  # type: ignore[arg-type]
    assert isinstance(ev, BookSnapshot | BookDelta) and ev.checksum is None
    assert ev.venue_ts_ns == (rfc3339_ns(ts) if isinstance(ts, str) else ts)
    if read.whole:
        assert isinstance(ev, BookSnapshot)
        assert (ev.symbol, ev.seq, first, prev) == (symbol, last, None, None)
    else:
        assert isinstance(ev, BookDelta)
        assert (ev.symbol, ev.first, ev.last, ev.prev) == (symbol, first, last, prev)
    prices = [(p, 1.0) for p, _, ask, _ in read.levels() if not ask][:3]
    for seed in ([], prices):  # an empty book, and one holding some of the frame's prices
        ours, theirs = Book(top_n=2), Book(top_n=2)
        for book in (ours, theirs):
            book.apply_snapshot(seed, [(1e9, 1.0)])
        changed = ours.apply_lane(read)
        if isinstance(ev, BookSnapshot):
            theirs.apply_snapshot(ev.bids, ev.asks)
        elif codec.integrity.level_actions:
            assert changed == apply_level_actions(theirs, ev.bids, ev.asks)
        else:
            assert changed == theirs.apply(ev.bids, ev.asks)
        assert (ours.side(True), ours.side(False)) == (theirs.side(True), theirs.side(False))
        read.scan(frame)  # the levels again, for the second seed
    return True


def reads(codec: Codec, frames: list[str | bytes] | list[str]) -> int:
    """How many of ``frames`` (one connection's, in order) a lane reads, each checked."""
    codec_lanes = lanes(codec)
    return sum(agree(codec, codec_lanes, frame) for frame in frames)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in RECORDED])
def test_every_recorded_frame_the_lane_reads_the_codec_reads_alike(case: VenueCase) -> None:
    assert reads(case.new_codec(), in_frames(case)) == READS[case.id]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.replay])
def test_recording_replays_the_same_with_and_without_the_lane(case: VenueCase) -> None:
    """The recording, or the documented stream of a venue without one."""

    def replay(codec_class: type[Codec]) -> tuple[object, ...]:
        legs: dict[str, LastBook] = {}
        states: list[object] = []
        summary = Replayer(
            records(case),
            lambda venue, conn: codec_class(case.symbols, depth=case.depth),
            lambda venue, symbol: legs.setdefault(symbol, LastBook()),
            lambda *state: states.append(state),
        ).run(records(case))
        (session,) = summary.sessions.values()
        books = {s: (b.side(True), b.side(False)) for s, b in session.books.items()}
        return repr(session.stats), books, legs, states

    plain = type("Plain", (case.codec,), {"shapes": ()})
    assert replay(case.codec) == replay(plain)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.emulated])
def test_the_lane_reads_the_emulated_venue_as_the_codec_does(case: VenueCase) -> None:
    sent, _, _, equal = round_trip(case)
    assert all(equal)
    assert reads(codec_of(case, emulated=True), sent) >= 10  # every step's deltas


def _source(case: VenueCase) -> tuple[list[str], list[str]]:
    """The frames of the case's recording (else of the emulator) as text, and the first 40
    the lane reads."""
    frames = in_frames(case) if case.recording else round_trip(case)[0]
    text = [f if isinstance(f, str) else f.decode() for f in frames]
    codec = codec_of(case)
    codec_lanes = lanes(codec)
    found = []
    for frame in text:
        if scan(codec_lanes, frame):
            found.append(frame)
        codec.parse(frame)  # in order, as the connection's codec
    return text, found[:40]


SOURCES = {c.id: _source(c) for c in CASES}
EDITS = st.sampled_from([*'"{}[],:0123456789.-+eE \\aeuz', "\u00e9", '"x":1,', "[]"])


@st.composite
def edited(draw: st.DrawFn, frames: list[str]) -> str:
    """A frame with 1-4 characters deleted, replaced or inserted."""
    text = draw(st.sampled_from(frames))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(("delete", "replace", "insert")))
        cut = at + (how != "insert")
        text = text[:at] + ("" if how == "delete" else draw(EDITS)) + text[cut:]
    return text


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
@fuzz_settings(60)
@given(data=st.data())
def test_fuzz_lane_reads_edited_frames_as_the_codec_does(
    case: VenueCase, data: st.DataObject
) -> None:
    every, frames = SOURCES[case.id]
    frame = data.draw(edited(frames) | mutated([json.loads(f) for f in frames]))
    for variant in (frame, frame.encode("utf-8", "surrogatepass")):
        codec = codec_of(case)
        codec_lanes = lanes(codec)
        if not codec.lane_ids():  # ids the venue names on the connection (channel numbers)
            for earlier in every:
                codec.parse(earlier)
        try:
            agree(codec, codec_lanes, variant)
        except ParseError:  # the lane must never read what the codec refuses
            assert scan(codec_lanes, variant) is None


# -- the lane's own rules -------------------------------------------------------------------

SHAPE = FrameShape(
    match=((("e",), "u"),), symbol=("s",), first=("U",), last=("u",), ts=("E",),
    bids=("b",), asks=("a",),
)  # fmt: skip
PLAIN = '{"e":"u","s":"X","U":5,"u":7,"E":1000,"b":[["1.5","2"]],"a":[["2.5","0"]]}'


def plain_lane(shape: FrameShape = SHAPE) -> Lane:
    return lane(shape, {"X": "X/Y"})


def test_a_plain_frame_is_read_with_its_ids_time_and_levels() -> None:
    read = plain_lane()
    assert read.scan(PLAIN) == ("X/Y", 5, 7, None, 1000 * 1_000_000, None)
    assert read.levels() == [(1.5, 2.0, 0, ""), (2.5, 0.0, 1, "")]
    assert read.scan(PLAIN.encode()) == ("X/Y", 5, 7, None, 1_000_000_000, None)


@pytest.mark.parametrize(
    "frame",
    [
        PLAIN[:-1],  # truncated
        PLAIN + "x",  # trailing text
        PLAIN.replace('"X"', '"Z"'),  # not our symbol
        PLAIN.replace('"u","s"', '"v","s"'),  # another kind
        PLAIN.replace('"s":"X"', '"s":"\\u0058"'),  # an escape
        PLAIN.replace('"E":1000', '"E":1000,"E":1000'),  # a wanted member twice
        PLAIN.replace('"E":1000,', ""),  # a wanted member missing
        PLAIN.replace('"U":5', '"U":-5'),  # a negative id
        PLAIN.replace('"U":5', '"U":5.0'),  # not an integer
        PLAIN.replace('"U":5', '"U":"5"'),  # text, not asked for
        PLAIN.replace('"U":5', '"U":1234567890123456789'),  # past 18 digits
        PLAIN.replace('"2"]', '"-2"]'),  # a negative size
        PLAIN.replace('"1.5"', '"0"'),  # a zero price
        PLAIN.replace('"1.5"', '"1_5"'),  # float() reads it, JSON venues do not write it
        PLAIN.replace('"1.5"', '"nan"'),
        PLAIN.replace('"1.5"', '"1e999"'),  # not finite
        PLAIN.replace('["1.5","2"]', '["1.5"]'),  # a level without a size
        PLAIN.replace('"b":[', '"b":{"x":').replace('"2"]]', '"2"]}'),  # not a list
        PLAIN.replace('"e":"u"', '"e":"u","z":' + "[" * 70 + "]" * 70),  # too deep
        PLAIN.replace('"e":"u"', '"e":"u","z":tru'),
        PLAIN.replace('"e":"u"', '"e":"u","z":01'),
        PLAIN.replace('"e":"u"', '"e":"u","z":"\x01"'),  # a control character
        PLAIN.replace('"e":"u"', '"e":"u","z":"\ud800"'),  # a lone surrogate (str frames)
    ],
)
def test_the_lane_declines_what_it_would_have_to_interpret(frame: str) -> None:
    assert plain_lane().scan(frame) is None


def test_non_ascii_is_read_in_text_frames_and_declined_in_bytes() -> None:
    frame = PLAIN.replace('"e":"u"', '"e":"u","n":"café"')
    assert plain_lane().scan(frame) is not None
    assert plain_lane().scan(frame.encode()) is None
    assert plain_lane().scan(bytearray(PLAIN.encode())) is None  # type: ignore[arg-type]


@given(st.decimals(min_value="1e-12", max_value="1e12", places=None, allow_nan=False))
def test_a_decimal_string_is_read_exactly_as_float_reads_it(value: object) -> None:
    text = str(value)
    read = plain_lane()
    frame = PLAIN.replace('"1.5"', json.dumps(text))
    if read.scan(frame) is None:
        assert float(text) <= 0 or len(text) > 63
    else:
        assert read.levels()[0][0] == float(text)


@given(st.floats(min_value=1e-12, max_value=1e15) | st.integers(1, 10**18 - 1))
def test_a_json_number_is_read_exactly_as_the_codec_reads_it(value: float) -> None:
    text = orjson.dumps(value).decode()
    read = plain_lane()
    assert read.scan(PLAIN.replace('"1.5"', text)) is not None
    assert read.levels()[0][0] == float(orjson.loads(text))


def test_forms_of_levels() -> None:
    tagged = plain_lane(FrameShape(symbol=("s",), levels=("c",), form=LevelForm.TAGGED,
                                   tags=("buy", "sell")))  # fmt: skip
    assert tagged.scan('{"s":"X","c":[["sell","2","1",9],["buy","1","3"]]}') is not None
    assert tagged.levels() == [(2.0, 1.0, 1, ""), (1.0, 3.0, 0, "")]
    assert tagged.scan('{"s":"X","c":[["hold","2","1"]]}') is None
    objects = plain_lane(FrameShape(symbol=("s",), bids=("b",), form=LevelForm.OBJECT))
    assert objects.scan('{"s":"X","b":[{"size":2,"x":[1],"price":1.25}]}') is not None
    assert objects.levels() == [(1.25, 2.0, 0, "")]
    assert objects.scan('{"s":"X","b":[{"price":1,"price":1,"size":2}]}') is None
    assert objects.scan('{"s":"X","b":[{"price":1}]}') is None
    actions = plain_lane(FrameShape(symbol=("s",), bids=("b",), form=LevelForm.ACTION))
    assert actions.scan('{"s":"X","b":[["new",1,2],["delete",3,0]]}') is not None
    assert actions.levels() == [(1.0, 2.0, 0, "new"), (3.0, 0.0, 0, "delete")]
    assert actions.scan('{"s":"X","b":[["new",1,2,3]]}') is None  # exactly three
    assert actions.scan('{"s":"X","b":[["add",1,2]]}') is None


def test_zero_prices_left_out_only_as_the_venue_writes_them() -> None:
    text = plain_lane(replace_shape(skip_zero=ZeroPrice.TEXT))
    assert text.scan(PLAIN.replace('"1.5"', '"0"')) is not None
    assert text.levels() == [(2.5, 0.0, 1, "")]
    assert text.scan(PLAIN.replace('"1.5"', '"0.0"')) is None
    number = plain_lane(replace_shape(skip_zero=ZeroPrice.NUMBER))
    assert number.scan(PLAIN.replace('"1.5"', "0.0")) is not None
    assert number.scan(PLAIN.replace('"1.5"', '"0"')) is None


def replace_shape(**changes: object) -> FrameShape:
    from dataclasses import replace

    return replace(SHAPE, **changes)  # type: ignore[arg-type]


def test_paths_through_arrays_name_every_element() -> None:
    shape = FrameShape(symbol=("d", 0, "s"), bids=("d", 0, "b"), last=("d", 0, "i"))
    read = plain_lane(shape)
    assert read.scan('{"d":[{"s":"X","b":[],"i":3}]}') == ("X/Y", None, 3, None, None, None)
    assert read.scan('{"d":[{"s":"X","b":[],"i":3},{"s":"X","b":[],"i":4}]}') is None


def test_a_member_of_any_name_is_the_symbol() -> None:
    shape = FrameShape(symbol=("u", "*"), last=("u", "*", "s"), bids=("u", "*", "b"))
    read = plain_lane(shape)
    assert read.scan('{"u":{"X":{"s":4,"b":[["1","1"]]}}}') == ("X/Y", None, 4, None, None, None)
    assert read.scan('{"u":{"X":{"s":4,"b":[]},"X2":{"s":4,"b":[]}}}') is None
    assert read.scan('{"u":{"Z":{"s":4,"b":[]}}}') is None


def test_match_contains_absent_prefix_linked_text_ids_and_times() -> None:
    shape = FrameShape(
        contains=((("c",), "@depth"),), absent=(("full",),), symbol=("ch",), symbol_prefix="b_",
        first=("U",), linked=True, last=("u",), ids_as_text=True, ts=("t",), ts_as_text=True,
        ts_unit=TimeUnit.US, bids=("b",),
    )  # fmt: skip
    read = plain_lane(shape)
    frame = '{"c":"x@depth@1","ch":"b_X","U":"11","u":12,"t":"5","b":[]}'
    assert read.scan(frame) == ("X/Y", 11, 12, 10, 5000, None)
    assert read.scan(frame.replace("@depth", "@trade")) is None
    assert read.scan(frame.replace('"U"', '"full":false,"U"')) is None
    assert read.scan(frame.replace("b_X", "X")) is None
    assert read.scan(frame.replace('"11"', '"0"')) is None  # linked: no id before 0
    rfc = plain_lane(replace_shape(ts_unit=TimeUnit.RFC3339))
    assert rfc.scan(PLAIN.replace('"E":1000', '"E":"2021-01-01T00:00:00Z"'))[4] == (  # type: ignore[index]
        "2021-01-01T00:00:00Z"
    )


@pytest.mark.parametrize(
    ("paths", "error"),
    [
        (((("a",), 1, 0, None),), TypeError),  # a match without its value
        (((("a",), 99, 0, None),), ValueError),
        (((("a",), 1, 0, "x"), (("a",), 1, 0, "y")), ValueError),  # two paths, one place
        (((("a",), 1, 0, "x"), (("a", "b"), 1, 0, "y")), ValueError),  # through a value
        (((("a", 0), 1, 0, "x"), (("a", "b"), 1, 0, "y")), ValueError),  # array and object
        (((("a", -1), 1, 0, "x"),), ValueError),
        (((("a", 1.5), 1, 0, "x"),), TypeError),
        (tuple(((f"k{i}",), 1, 0, "x") for i in range(40)), ValueError),  # too many
    ],
)
def test_a_bad_shape_is_refused(paths: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        Lane(paths, 0, {})  # type: ignore[arg-type]


def test_apply_lane_needs_a_scan_and_a_book_without_text() -> None:
    read = plain_lane()
    with pytest.raises(ValueError, match="no scanned frame"):
        Book().apply_lane(read)
    read.scan(PLAIN)
    with pytest.raises(ValueError, match="no venue text"):
        Book(keep_text=True).apply_lane(read)
    book = Book()
    assert book.apply_lane(read) is True
    with pytest.raises(ValueError, match="no scanned frame"):  # one apply per scan
        book.apply_lane(read)


IDS = st.none() | st.integers(0, 12)


@given(st.sampled_from(SeqRule), IDS, IDS, IDS, IDS, IDS, IDS, st.booleans())
def test_lane_verdict_is_verdict_where_it_answers(
    rule: SeqRule, held: int | None, snap: int | None, first: int | None, last: int | None,
    prev: int | None, ts: int | None, cut: bool,
) -> None:  # fmt: skip
    ours, theirs = SeqState(held, snap), SeqState(held, snap)
    ev = BookDelta("X/Y", [], [], first, last, prev, None, ts)
    found = lane_verdict(rule, ours, first, last, prev, ts, cut)
    if found is None:
        assert (ours.last, ours.bridged) == (held, False)
    else:
        assert verdict(rule, True, theirs, ev) is found
        assert (ours.last, ours.bridged) == (theirs.last, theirs.bridged)
        # an overlap the venue's level sequences must cut is never answered here
        assert not (cut and rule is SeqRule.RANGE and first is not None and held is not None
                    and first <= held)  # fmt: skip


def test_counted_levels_on_numbered_channels_with_the_connection_counter() -> None:
    channels: dict[int, str] = {}
    read = lane(FrameShape(symbol=(0,), level=(1,), counter=(2,), form=LevelForm.COUNTED),
                channels)  # fmt: skip
    assert read.scan("[7,[100.5,2,-0.25],41]") is None  # channel 7 not subscribed yet
    channels[7] = "X/Y"  # the codec's table, read at each frame
    assert read.scan("[7,[100.5,2,-0.25],41]") == ("X/Y", None, None, None, None, 41)
    assert read.levels() == [(100.5, 0.25, 1, "")]
    assert read.scan("[7,[100,0,1],42]") is not None
    assert read.levels() == [(100.0, 0.0, 0, "")]  # count 0: delete, amount 1 names the bids
    for bad in ("[7,[100,0,2],1]", "[7,[100,1,0],1]", "[7,[100,-1,1],1]", "[7,[100,1,1,1],1]",
                '[7,"hb",1]', '[7,"cs",-5,1]', "[7,[[100,1,1]],1]", "[7,[100,1,1]]"):  # fmt: skip
        assert read.scan(bad) is None, bad


def test_a_value_layout_checksum_needs_no_kept_text() -> None:
    from feeds.checksum import BITFINEX_P0, INDEPENDENT_RESERVE

    levels: tuple[list[Level], list[Level]] = ([(0.000015, 2.5), ("30000", 1)], [(30001.5, 1e-7)])
    for code in (BITFINEX_P0.code, INDEPENDENT_RESERVE.code):
        kept, values = Book(keep_text=True), Book()
        kept.apply_snapshot(*levels)
        values.apply_snapshot(*levels)
        assert values.crc32(code) == kept.crc32(code)
