"""The soak's own logic (benchmarks/soak.py), without running it: the fault rotation and how
the event stream is read. ``make soak`` runs the real thing."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import soak
from emulator.faults import parse_fault
from emulator.server import FAULTS
from feeds.venues import SPECS
from feeds.venues import VENUES as REGISTERED

VENUES = REGISTERED


def test_the_rotation_covers_every_fault_on_venues_that_can_have_it() -> None:
    rounds = 3  # 15 kinds a round: three reach 21 venues, each given its least-used kinds
    done = [soak.fault_specs(VENUES, i, 30.0 * (i + 1)) for i in range(rounds * len(soak.KINDS))]
    names = [name.split() for name, _ in done]
    assert [kind for _, kind in names[: len(soak.KINDS)]] == list(soak.KINDS)  # each, in turn
    for venue, kind in names:
        assert venue in soak.eligible(VENUES, kind)
    assert {venue for venue, _ in names} == set(VENUES)  # the rounds reach every venue
    checksummed = sorted(v for v in VENUES if SPECS[v].integrity.checksum)
    assert soak.eligible(VENUES, "bad_checksum") == checksummed
    assert {"bitfinex", "kraken", "okx"} <= set(checksummed)
    assert soak.eligible(VENUES, "rest_timeout") == ["binance", "binanceus", "kucoin"]
    assert soak.eligible(VENUES, "overlap") == ["binance", "binanceus", "kucoin"]
    assert soak.eligible(VENUES, "novel") == ["bitfinex", "coinbase"]
    # a lost diff cannot show on Bitstamp: no gap, and no REST fault (each comes with a gap)
    assert "bitstamp" not in soak.eligible(VENUES, "gap") + soak.eligible(VENUES, "rest_500")
    assert {soak.EMULATOR_FAULT.get(k, k) for k in soak.KINDS} == FAULTS
    # each spec is one the scan's --fault accepts, at the rotation's time
    assert done[8][1] == ["kucoin:rest_error@270s:status=429,retry_after=5", "kucoin:gap@270s"]
    for _, specs in done:
        for spec in specs:
            parse_fault(spec, venues=tuple(VENUES))


def test_the_rotation_leaves_the_end_quiet() -> None:
    times = [t for t, _, _ in soak.rotation(VENUES, 30.0, 600.0)]
    assert times == [30.0 * (i + 1) for i in range(19)]  # none in the last 30 s


def test_the_watch_keeps_each_venues_last_state_before_the_shutdown() -> None:
    watch = soak.Watch()
    lines = [
        b'{"schema":1,"type":"venue","venue":"okx","state":"live","reason":null,"ts":1}',
        b'{"schema":1,"type":"venue","venue":"okx","state":"resyncing","reason":"desynced","ts":2}',
        b'{"schema":1,"type":"closed","id":"1","reason":"desynced","ts":2}',
        b'{"schema":1,"type":"venue","venue":"okx","state":"live","reason":null,"ts":3}',
        b'{"schema":1,"type":"closed","id":"2","reason":"shutdown","ts":4}',
        b'{"schema":1,"type":"venue","venue":"okx","state":"down","reason":"stopped","ts":5}',
    ]
    for line in lines:
        watch.on_event(line)
    assert (watch.events, watch.state) == (6, {"okx": "live"})
    assert watch.transitions == {"okx resyncing": 1}
    assert watch.closed == {"desynced": 1, "shutdown": 1}


GOOD = [(60.0, 80.0), (120.0, 90.0), (600.0, 99.0)]


@pytest.mark.parametrize(
    ("samples", "state", "code", "errors", "verdict"),
    [
        (GOOD, "live", 0, 0, 0),
        ([(60.0, 80.0), (120.0, 90.0), (600.0, 130.0)], "live", 0, 0, 1),
        (GOOD, "stale", 0, 0, 1),
        (GOOD, "live", 1, 0, 1),
        (GOOD, "live", 0, 1, 1),
    ],
)
def test_the_verdict(
    samples: list[tuple[float, float]], state: str, code: int, errors: int, verdict: int
) -> None:
    args = argparse.Namespace(max_growth_mb=25.0)
    watch = soak.Watch(state=dict.fromkeys(VENUES, state), errors=errors)
    assert soak.verdict(args, 600.0, samples, watch, VENUES, code) == verdict
