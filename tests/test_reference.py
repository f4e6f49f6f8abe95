"""Every recorded venue against one independent model (:mod:`tests.reference`): the codec
reads every recorded message exactly as the venue's plain-json ``read`` does; the model
proves the venue's rule on every message with its exact counts and ends on the case's golden
tops; ``FeedSession`` holds the model's book after every message. Ids ``<case>-model-*``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest import MarkDecorator

from feeds.actions import Action, FetchSnapshot
from feeds.protocol import BookSnapshot
from feeds.session import FeedSession
from tests.conformance import VenueCase, discover
from tests.reference import Model, Replay
from tests.test_conformance import records

CASES = [c for c in discover() if c.model is not None]


def cases(check: str) -> MarkDecorator:
    return pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.id}-{check}") for c in CASES])


def model_of(case: VenueCase) -> Model:
    assert case.model is not None
    return case.model


def fresh(case: VenueCase) -> Replay:
    return Replay(model_of(case), case.codec.integrity.seq)


def test_every_recording_has_a_model() -> None:
    assert [c.id for c in discover() if c.recording and c.model is None] == []


@cases("model-read")
def test_the_codec_reads_every_recorded_message_as_the_model(case: VenueCase) -> None:
    codec, memo, model = case.new_codec(), dict[str, Any](), model_of(case)
    codec.subscribe_frames(case.symbols)
    for record in records(case):
        if record.dir == "rest":
            (snap,) = model.read(record, memo)
            assert isinstance(snap, BookSnapshot)
            assert codec.parse_snapshot(snap.symbol, str(record.data).encode()) == snap
        elif record.dir == "in":
            assert codec.parse(record.data) == model.read(record, memo), record.data


@cases("model-rule")
def test_the_model_proves_the_rule_and_gives_the_golden_tops(case: VenueCase) -> None:
    replay = fresh(case)
    for record in records(case):
        if record.dir in ("rest", "in"):
            replay.record(record)
    assert dict(+replay.counts) == dict(model_of(case).counts)
    assert replay.pending == {}
    assert case.replay is not None
    assert {s: replay.best(s) for s in case.symbols} == dict(case.replay.tops)


@cases("model-steps")
def test_the_session_holds_the_models_book_after_every_message(case: VenueCase) -> None:
    session = FeedSession(case.new_codec(), lambda _: _Quiet(), lambda *_: None, snapshot_wait_s=0)
    replay, asked = fresh(case), list[FetchSnapshot]()
    n = min(10, case.new_codec().depth or 10)
    for record in records(case):
        actions: list[Action] = []
        if record.dir == "open":
            actions = session.opened(record.t)
        elif record.dir == "rest":
            (snap,) = replay.record(record)
            assert isinstance(snap, BookSnapshot)
            assert session.snapshot(snap.symbol, str(record.data).encode(), record.t) == []
        elif record.dir == "in":
            replay.record(record)
            actions = session.frame(record.data, record.t)
        asked += [a for a in actions if isinstance(a, FetchSnapshot)]
        for symbol in replay.books:
            assert session.books[symbol].top(n) == replay.top(symbol, n), (symbol, record)
    recorded = sorted(model_of(case).rest_url(r.url) for r in records(case) if r.dir == "rest")
    assert sorted(a.request.url for a in asked) == recorded  # exactly the recorded requests
    assert (session.stats.gaps, session.stats.resyncs, session.stats.checksum_fail) == (0, 0, 0)


class _Quiet:
    on_book: Callable[..., None] = staticmethod(lambda *_: None)
    on_usable: Callable[..., None] = staticmethod(lambda *_: None)
