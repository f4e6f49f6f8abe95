"""Every venue against one set of checks (the cases: :mod:`tests.conformance`).

For each case: the codec reproduces the subscribe frames; exact events on the sample frames;
the recording replayed through the real ``FeedSession`` (REST snapshots answered from its
``rest`` records) with its exact figures, no gap, no checksum failure, the integrity rule
proven on every delta and the independent model's final tops; ``ParseError`` on malformed
and truncated frames; fuzzing; a lost frame resyncs its symbol only; the emulator's frames
decoded through ``FeedSession`` rebuild the emulator's book exactly after every step, and
have the recording's shape. A venue without a case fails the suite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest import MarkDecorator

from emulator.venues import VENUES as EMULATED
from feeds.actions import Action, FetchSnapshot, Reconnect, Send
from feeds.capture import Record, read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    ConnectionSeq,
    Event,
    Heartbeat,
    ParseError,
    Reply,
    SeqRule,
    SnapshotSource,
    VenueError,
)
from feeds.replay import CaptureIndex, Replayer
from feeds.session import FeedSession
from feeds.venues import VENUES, replay_codec_class
from tests.conformance import FIXTURES, FramesOut, Top, VenueCase, discover, frames_out
from tests.fuzzing import fuzz_settings
from tests.test_emulator_wire import T0, NumberText, drop_keys, harness, same_shape, shape, step
from tests.venue_helpers import (
    ARBITRARY_INPUT,
    LastBook,
    check_events,
    model_levels,
    mutated,
)

CASES = discover()


def cases(check: str, when: Callable[[VenueCase], object] = lambda c: True) -> MarkDecorator:
    """Parametrise a check over the cases ``when`` selects, with ids ``<case>-<check>``."""
    return pytest.mark.parametrize(
        "case", [pytest.param(c, id=f"{c.id}-{check}") for c in CASES if when(c)]
    )


def records(case: VenueCase) -> list[Record]:
    if case.recording is not None:
        return list(read_capture(FIXTURES / case.recording))
    url = case.codec.endpoints.ws
    opened = Record(T0, case.venue, "open", url, "", symbols=case.symbols)
    return [opened] + [
        Record(T0 + (i + 1) * 1_000_000, case.venue, "in", url, f)
        for i, f in enumerate(case.frames)
    ]


def in_frames(case: VenueCase) -> list[str | bytes]:
    return [r.data for r in records(case) if r.dir == "in"]


def top1(session: FeedSession, symbol: str) -> Top:
    bid_px, bid_sz, ask_px, ask_sz = session.books[symbol].top(1)
    return (bid_px[0], bid_sz[0], ask_px[0], ask_sz[0])


# -- completeness ------------------------------------------------------------------------------


def test_every_venue_has_a_case() -> None:
    replayed = {c.venue for c in CASES if c.replay is not None}
    assert [v for v in VENUES if v not in replayed] == []
    emulated = {c.venue for c in CASES if c.emulated}
    assert [v for v in EMULATED if v not in emulated] == []


# -- the codec's frames -------------------------------------------------------------------------


@cases("subscribe")
def test_subscribe_frames(case: VenueCase) -> None:
    assert case.new_codec().subscribe_frames(case.symbols) == list(case.subscribe)


@cases("samples")
def test_sample_frames_give_their_exact_events(case: VenueCase) -> None:
    codec = case.new_codec()
    for frame, events in case.samples:
        assert codec.parse(frame) == list(events), frame


@cases("malformed")
def test_malformed_frames_raise_parse_error(case: VenueCase) -> None:
    for frame in case.malformed:
        with pytest.raises(ParseError):
            case.new_codec().parse(frame)


@cases("truncated")
def test_truncated_sample_frames_raise_parse_error(case: VenueCase) -> None:
    codec = case.new_codec()
    for frame, _ in case.samples:
        for cut in range(0, len(frame), max(1, len(frame) // 24)):
            with pytest.raises(ParseError):
                codec.parse(frame[:cut])


@cases("fuzz")
@fuzz_settings(150)
@given(data=ARBITRARY_INPUT)
def test_fuzz_arbitrary_input(case: VenueCase, data: str | bytes) -> None:
    try:
        events = case.new_codec().parse(data)
    except ParseError:
        return
    check_events(events, case.symbols)


def json_samples(case: VenueCase) -> list[Any]:
    loaded = [json.loads(f) for f, _ in case.samples if f[:1] in ("{", "[", b"{", b"[")]
    return [obj for obj in loaded if obj]


@cases("fuzz-mutated", json_samples)
@fuzz_settings(200)
@given(data=st.data())
def test_fuzz_mutated_sample_frames(case: VenueCase, data: st.DataObject) -> None:
    frame = data.draw(mutated(json_samples(case)))
    try:
        events = case.new_codec().parse(frame)
    except ParseError:
        return
    check_events(events, case.symbols)


def rest_samples(case: VenueCase) -> list[Any]:
    """The recording's first REST snapshot body, cut to four levels a side (wherever in the
    body the sides are); read once per case."""
    found = _REST.get(id(case))
    if found is None:
        bodies = [r.data for r in records(case) if r.dir == "rest"][:1]
        found = _REST[id(case)] = [_cut(json.loads(body)) for body in bodies]
    return found


_REST: dict[int, list[Any]] = {}


def _cut(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: v[:4] if k in ("bids", "asks") and isinstance(v, list) else _cut(v)
            for k, v in value.items()
        }
    return value


@cases("fuzz-rest", rest_samples)
@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_mutated_rest_snapshots(case: VenueCase, data: st.DataObject) -> None:
    body = data.draw(mutated(rest_samples(case)) | st.binary(max_size=32))
    try:
        snapshot = case.new_codec().parse_snapshot(case.symbols[0], _bytes(body))
    except ParseError:
        return
    check_events([snapshot], case.symbols)


def _bytes(body: str | bytes) -> bytes:
    return body.encode() if isinstance(body, str) else body


# -- the recording through FeedSession ---------------------------------------------------------


def proven(case: VenueCase, events: list[Event]) -> int:
    """The deltas whose sequence fields the rule checks, plus continued connection counters."""
    rule = case.codec.integrity
    need: dict[SeqRule, Callable[[BookDelta], bool]] = {
        SeqRule.RANGE: lambda d: d.first is not None and d.last is not None,
        SeqRule.PREV_LINK: lambda d: d.prev is not None,
        SeqRule.COUNTER: lambda d: d.last is not None,
        SeqRule.TIME: lambda d: d.venue_ts_ns is not None,  # against the snapshot's time
    }
    if not rule.detects_loss:  # no sequence, checksum or counter: the rule is the check
        need[SeqRule.NONE] = lambda d: True  # that the book is not crossed, after every delta
    linked = need.get(rule.seq)
    count = sum(1 for e in events if isinstance(e, BookDelta) and linked and linked(e))
    counters = sum(1 for e in events if isinstance(e, ConnectionSeq))
    return count + (max(0, counters - 1) if rule.connection_counter else 0)


@cases("replay", lambda c: c.replay)
def test_replay_gives_the_exact_figures_and_tops(case: VenueCase) -> None:
    assert case.replay is not None
    states: list[tuple[str, str | None]] = []
    legs: dict[str, LastBook] = {}
    replayer = Replayer(
        records(case),
        lambda venue, conn: case.new_codec(),
        lambda venue, symbol: legs.setdefault(symbol, LastBook()),
        lambda venue, state, reason, t: states.append((state, reason)),
    )
    summary = replayer.run(records(case))
    (session,) = summary.sessions.values()
    stats = session.stats
    codec = case.new_codec()
    events = [e for frame in in_frames(case) for e in codec.parse(frame)]
    snapshots = sum(isinstance(e, BookSnapshot) for e in events) + summary.rest_served
    deltas = sum(isinstance(e, BookDelta) for e in events)
    checks = stats.checksum_ok + proven(case, events) - stats.older
    assert (stats.book_msgs, snapshots, deltas, checks, stats.older) == (
        case.replay.messages,
        case.replay.snapshots,
        case.replay.deltas,
        case.replay.checks,
        case.replay.older,
    )
    assert checks >= stats.book_msgs - snapshots  # the rule proven on every delta applied
    assert (stats.gaps, stats.checksum_fail, stats.crossed, stats.resyncs) == (0, 0, 0, 0)
    assert (stats.malformed, stats.codec_errors, stats.unknown_symbol) == (0, 0, 0)
    assert (summary.rest_unanswered, summary.reconnects, summary.skipped) == (0, 0, 0)
    assert states == [("connecting", None), ("syncing", None), ("live", None)]
    assert {s: top1(session, s) for s in case.symbols} == dict(case.replay.tops)
    assert {s: leg.usable for s, leg in legs.items()} == {s: [(True, None)] for s in case.symbols}


def resync_expected(case: VenueCase, symbol: str) -> list[Action]:
    twin = case.new_codec()
    twin.subscribe_frames(case.symbols)
    if case.codec.integrity.snapshot is SnapshotSource.REST:
        return [FetchSnapshot(twin.snapshot_request(symbol, twin.endpoints.rest))]
    if case.codec.integrity.snapshot is SnapshotSource.REQUEST:
        return [Send(twin.snapshot_frame(symbol))]
    return [Send(f) for f in twin.unsubscribe_frames([symbol]) + twin.subscribe_frames([symbol])]


def resyncs(case: VenueCase) -> bool:
    """A replayed venue where a lost message shows: not snapshot-only (its next push is a
    whole book), and with a sequence, a checksum or a counter (without any, as on Bitstamp,
    the venue's own tests show that a lost message goes unnoticed and a crossed book resyncs)."""
    integrity = case.codec.integrity
    return (
        case.replay is not None
        and integrity.seq is not SeqRule.SNAPSHOT_ONLY
        and integrity.detects_loss
    )


@cases("resync", resyncs)
def test_a_lost_frame_resyncs_its_symbol_only(case: VenueCase) -> None:
    legs = {s: LastBook() for s in case.symbols}
    codec = case.new_codec()
    session = FeedSession(codec, legs.__getitem__, lambda *_: None, snapshot_wait_s=0.0)
    rest = {r.url: r for r in records(case) if r.dir == "rest"}
    parser = case.new_codec()

    def deltas(frame: str | bytes) -> set[str]:
        return {
            e.symbol for e in parser.parse(frame) if isinstance(e, BookDelta) and (e.bids or e.asks)
        }

    def run(actions: list[Action], t: int) -> None:
        for action in actions:
            if isinstance(action, FetchSnapshot):
                (body,) = [r.data for u, r in rest.items() if _same_symbol(u, action.request.url)]
                run(session.snapshot(action.request.symbol, str(body).encode(), t), t)

    frames = [r for r in records(case) if r.dir == "in"]
    run(session.opened(frames[0].t - 1), frames[0].t - 1)
    gap, seen = case.gap, set[str]()  # by default: a symbol's second delta once all are usable
    for index, record in enumerate(frames):
        lost = deltas(record.data)  # every frame, in order: a codec may keep channel ids
        lost = lost if all(leg.usable for leg in legs.values()) else set()
        if gap is None and len(lost) == 1 and lost <= seen:
            gap = index
        seen |= lost
        if index == gap:
            break
        run(session.frame(record.data, record.t), record.t)
    assert gap is not None
    (symbol,) = deltas(frames[gap].data)
    usable = {s: list(leg.usable) for s, leg in legs.items()}
    counter = case.codec.integrity.connection_counter
    after = next(r for r in frames[gap + 1 :] if counter or symbol in deltas(r.data))
    for record in frames[gap + 1 :]:
        actions = session.frame(record.data, record.t)
        if record is after:
            break
        assert actions == [], record.data
    if counter:  # a lost counted message may have been any book's: reconnect
        assert [type(a) for a in actions] == [Reconnect]
        return
    assert actions == resync_expected(case, symbol)
    assert session.stats.gaps + session.stats.checksum_fail == session.stats.resyncs == 1
    usable[symbol].append((False, "desynced"))
    assert {s: leg.usable for s, leg in legs.items()} == usable


def _same_symbol(recorded: str, requested: str) -> bool:
    def key(url: str) -> tuple[str, list[tuple[str, str]]]:
        parts = urlsplit(url)
        return parts.path, [(k, v) for k, v in parse_qsl(parts.query) if k != "limit"]

    return key(recorded) == key(requested)


# -- the emulator round trip ---------------------------------------------------------------------

STEPS = 25


def round_trip(case: VenueCase) -> tuple[list[str], list[str], FeedSession, list[bool]]:
    """The codec through ``FeedSession`` against the emulated venue (sans-I/O): every frame and
    REST body the emulator sent, the session, and whether the books equalled the model after
    each step."""
    path = case.emulator_path or EMULATED[case.venue].ws_path
    model, venue, emulated = harness(case.venue, path, symbols=case.emulator_symbols, seed=3)
    codec = case.codec(case.emulator_symbols)  # at the venue's default depth
    session = FeedSession(codec, lambda _: LastBook(), lambda *_: None, snapshot_wait_s=0.0)
    sent: list[str] = []
    rest: list[str] = []

    def deliver(frames: list[str], t: int) -> None:
        for frame in frames:
            sent.append(frame)
            run(session.frame(frame, t), t)

    def run(actions: list[Action], t: int) -> None:
        for action in actions:
            if isinstance(action, Send):
                deliver([o.frame for o in emulated.received(action.frame, t)], t)
            elif isinstance(action, FetchSnapshot):
                url = urlsplit(action.request.url)
                answer = venue.rest(url.path, dict(parse_qsl(url.query)), t)
                assert answer is not None and answer.status == 200
                rest.append(answer.body)
                run(session.snapshot(action.request.symbol, answer.body.encode(), t), t)

    deliver([o.frame for o in emulated.opened(T0)], T0)
    run(session.opened(T0), T0)
    equal = []
    for _ in range(STEPS):
        deliver(step(model, venue, emulated), model.now_ns)
        equal.append(
            all(
                tuple(list(v) for v in session.books[s].top()) == model_levels(model, case.venue, s)
                for s in case.emulator_symbols
            )
        )
    return sent, rest, session, equal


@cases("emulator", lambda c: c.emulated)
def test_codec_rebuilds_the_emulated_book_after_every_step(case: VenueCase) -> None:
    sent, rest, session, equal = round_trip(case)
    assert equal == [True] * STEPS
    stats = session.stats
    # every book message the emulator sent (REST snapshots included) was applied, or dropped
    # as already in its REST snapshot
    codec = case.codec(case.emulator_symbols)
    books = sum(isinstance(e, BookSnapshot | BookDelta) for f in sent for e in codec.parse(f))
    assert stats.book_msgs + stats.older == books + len(rest)
    assert (stats.gaps, stats.checksum_fail, stats.crossed, stats.resyncs) == (0, 0, 0, 0)
    assert (stats.malformed, stats.codec_errors, stats.venue_errors, stats.ignored) == (0, 0, 0, 0)
    assert stats.book_msgs > STEPS


def load(frame: str) -> object:
    return json.loads(frame, parse_float=NumberText, parse_int=NumberText)


def kind(events: list[Event]) -> tuple[str, ...]:
    """What a frame is, by the events it gives (its counter aside)."""
    return tuple(sorted({type(e).__name__ for e in events if not isinstance(e, ConnectionSeq)}))


def reference_kind(codec: Codec, frame: str | bytes) -> tuple[str, ...]:
    try:
        return kind(codec.parse(frame))
    except ParseError:
        return ()


@cases("wire", lambda c: c.emulated)
def test_emulated_frames_have_the_reference_shape(case: VenueCase) -> None:
    sent, rest, _, _ = round_trip(case)
    reference = case.wire if case.wire is not None else in_frames(case)
    codec = case.new_codec()
    by_kind: dict[tuple[str, ...], object] = {}
    for frame in reference:
        text = frame.decode() if isinstance(frame, bytes) else frame  # binary UTF-8 frames
        by_kind.setdefault(reference_kind(codec, frame), load(text))
    emulated_codec = case.codec(case.emulator_symbols)
    compared: set[tuple[str, ...]] = set()
    for frame in sent:
        frame_kind = kind(emulated_codec.parse(frame))  # every emulated frame parses
        if frame_kind and frame_kind in by_kind:
            got = shape(drop_keys(load(frame), set(case.wire_ignore)), case.exact_decimals)
            assert same_shape(got, shape(by_kind[frame_kind], case.exact_decimals)), frame
            compared.add(frame_kind)
    assert {"BookSnapshot", "BookDelta"} & {k for ks in compared for k in ks}
    for body in [r.data for r in records(case) if r.dir == "rest"][:1]:  # and REST's answer
        got, want = (shape(load(str(b)), case.exact_decimals) for b in (rest[0], body))
        assert same_shape(got, want)


# -- a lost frame where nothing numbers the messages ----------------------------------------------


def loses_silently(case: VenueCase) -> bool:
    """A replayed venue where a lost message cannot show (no sequence, checksum or counter;
    not snapshot-only): its docs promise nothing more, the check proves nothing less."""
    integrity = case.codec.integrity
    return (
        case.replay is not None
        and not integrity.detects_loss
        and integrity.seq is not SeqRule.SNAPSHOT_ONLY
    )


@cases("unnoticed", loses_silently)
def test_a_lost_frame_goes_unnoticed(case: VenueCase) -> None:
    """The replay twice in step, the second losing the first frame, once every book is usable,
    that changes a book's top: from then on the same actions (none), the same usable states,
    no gap, resync or crossed book, and that book differs from the one that got the frame."""
    rest = [r for r in records(case) if r.dir == "rest"]
    runs = [_Run(case, rest), _Run(case, rest)]
    frames = [r for r in records(case) if r.dir == "in"]
    for run in runs:
        run.act(run.session.opened(frames[0].t - 1), frames[0].t - 1)
    lost: str | None = None
    for record in frames:
        before = {s: runs[0].session.books[s].top() for s in case.symbols}
        usable = all(leg.usable[-1:] == [(True, None)] for leg in runs[0].legs.values())
        actions = runs[0].session.frame(record.data, record.t)
        runs[0].act(actions, record.t)
        changed = [s for s in case.symbols if runs[0].session.books[s].top() != before[s]]
        if lost is None and usable and len(changed) == 1:
            (lost,) = changed
            assert runs[1].session.books[lost].top() != runs[0].session.books[lost].top()
            continue
        got = runs[1].session.frame(record.data, record.t)
        assert got == actions and (lost is None or got == []), record.data
        runs[1].act(actions, record.t)
    assert lost is not None
    assert [leg.usable for leg in runs[1].legs.values()] == [
        leg.usable for leg in runs[0].legs.values()
    ]
    stats = runs[1].session.stats
    assert (stats.gaps, stats.resyncs, stats.crossed, stats.malformed) == (0, 0, 0, 0)


class _Run:
    """A session replaying a case, REST snapshots answered from the recording."""

    def __init__(self, case: VenueCase, rest: list[Record]) -> None:
        self.legs = {s: LastBook() for s in case.symbols}
        self.session = FeedSession(
            case.new_codec(), self.legs.__getitem__, lambda *_: None, snapshot_wait_s=0.0
        )
        self.rest = rest

    def act(self, actions: list[Action], t: int) -> None:
        for action in actions:
            if isinstance(action, FetchSnapshot):
                url = action.request.url
                (body,) = [r.data for r in self.rest if _same_symbol(r.url, url)]
                self.act(self.session.snapshot(action.request.symbol, str(body).encode(), t), t)


# -- the codec's ping, answered by the emulated venue ---------------------------------------------


def pings(case: VenueCase) -> bool:
    return case.emulated and case.codec(case.emulator_symbols).ping_frame() is not None


@cases("ping", pings)
def test_the_emulated_venue_answers_the_codecs_ping_with_a_heartbeat(case: VenueCase) -> None:
    path = case.emulator_path or EMULATED[case.venue].ws_path
    _, _, emulated = harness(case.venue, path, symbols=case.emulator_symbols)
    codec = case.codec(case.emulator_symbols)
    ping = codec.ping_frame()
    assert ping is not None
    answers = [codec.parse(o.frame) for o in emulated.received(ping, T0)]
    assert [[type(e).__name__ for e in events] for events in answers] == [["Heartbeat"]]


# -- frames out besides the subscriptions -----------------------------------------------------


OUT = [pytest.param(o, id=f"{o.case.id}-frames-out") for o in frames_out()]


@pytest.mark.parametrize("out", OUT)
def test_unsubscribe_and_ping_frames(out: FramesOut) -> None:
    codec = out.case.new_codec()
    codec.subscribe_frames(out.case.symbols)
    for frame, _ in out.case.samples:
        codec.parse(frame)
    assert codec.unsubscribe_frames(out.case.symbols) == list(out.unsubscribe)
    assert codec.ping_frame() == out.ping


# -- the codec a replay picks ---------------------------------------------------------------------


def connections(case: VenueCase) -> list[str]:
    """What ``replay_codec_class`` reads of a connection (its URLs and the text frames it sent,
    lower case): every recorded one; without a recording, the codec's own, to the venue and
    to the emulator."""
    if case.recording is not None:
        return [
            "\n".join(t).lower()
            for t in CaptureIndex.read(FIXTURES / case.recording).texts.values()
        ]
    codec, path = case.new_codec(), case.emulator_path or EMULATED[case.venue].ws_path
    sent = codec.subscribe_frames(case.symbols)
    bases = (codec.endpoints.ws, f"ws://127.0.0.1:9{path if path != '/' else ''}")
    return ["\n".join([codec.ws_url(base), *sent]).lower() for base in bases]


@cases("replay-codec", lambda c: c.recording is not None or c.emulated)
def test_a_replay_picks_the_codec_of_the_protocol_spoken(case: VenueCase) -> None:
    (codec,) = [c for c in case.codec.__mro__ if c.__module__.startswith("feeds.")][:1]
    for text in connections(case):  # (a case's codec may be a test's subclass of the venue's)
        assert replay_codec_class(case.venue, text) is codec, text[:200]


# -- what the emulator refuses -------------------------------------------------------------------


@cases("refusals", lambda c: c.refusals)
def test_the_emulator_refuses_bad_requests_as_the_venue_does(case: VenueCase) -> None:
    path = case.emulator_path or EMULATED[case.venue].ws_path
    _, _, session = harness(case.venue, path, symbols=case.emulator_symbols)
    codec = case.codec(case.emulator_symbols)
    for request, answer, error in case.refusals:
        (out,) = session.received(request, T0)
        assert answer is None or out.frame == answer, request
        assert codec.parse(out.frame) == [VenueError(error)], request


@cases("heartbeat", lambda c: c.heartbeat)
def test_the_venue_pings_every_interval_and_the_codec_answers(case: VenueCase) -> None:
    assert case.heartbeat is not None
    every, ping = case.heartbeat
    path = case.emulator_path or EMULATED[case.venue].ws_path
    _, _, session = harness(case.venue, path, symbols=case.emulator_symbols)
    codec = case.codec(case.emulator_symbols)
    for frame in codec.subscribe_frames(case.emulator_symbols):
        session.received(frame, T0)
    sent = [[o.frame for o in session.heartbeat(T0 + i * 10**9)] for i in range(1, 2 * every + 1)]
    assert [i + 1 for i, frames in enumerate(sent) if frames] == [every, 2 * every]
    assert sent[every - 1] == [ping]
    events = codec.parse(ping)
    assert all(isinstance(e, Heartbeat | Reply) for e in events)
    (answer,) = [e.frame for e in events if isinstance(e, Reply)]
    for out in session.received(answer, T0):  # taken silently, or answered with a heartbeat
        assert codec.parse(out.frame) == [Heartbeat()]


@cases("rest-errors", lambda c: c.rest_errors)
def test_rest_error_bodies_raise_parse_error_with_the_venues_message(case: VenueCase) -> None:
    for body, message in case.rest_errors:
        with pytest.raises(ParseError, match=re.escape(message)):
            case.new_codec().parse_snapshot(case.symbols[0], body)
