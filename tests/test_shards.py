"""The shard assignment and the lease rules (sans-I/O), against a model of the bucket."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbscan.cluster.shards import Leases, Op, assign, family, is_conversion, lease_key

SYMBOLS = [f"S{i}/USDT" for i in range(12)]
names = st.sets(st.text("abcdefgh", min_size=1, max_size=4), min_size=1, max_size=8)
symbol_lists = st.lists(
    st.from_regex(r"[A-Z]{2,5}/USDT", fullmatch=True), unique=True, min_size=0, max_size=40
)


@given(symbol_lists, names)
def test_every_symbol_has_one_owner_and_the_load_is_balanced(
    symbols: list[str], workers: set[str]
) -> None:
    got = assign(symbols, workers)
    assert set(got) == workers
    owned = [s for mine in got.values() for s in mine]
    assert sorted(owned) == sorted(symbols)
    low, high = len(symbols) // len(workers), -(-len(symbols) // len(workers))
    assert all(low <= len(mine) <= high for mine in got.values())


@given(symbol_lists, names, st.randoms())
def test_every_worker_computes_the_same_assignment(
    symbols: list[str], workers: set[str], rnd: random.Random
) -> None:
    shuffled = list(workers)
    rnd.shuffle(shuffled)
    assert assign(symbols, shuffled) == assign(symbols, sorted(workers))


def test_a_worker_leaving_moves_its_own_symbols_and_few_others() -> None:
    before = assign(SYMBOLS, ["a", "b", "c"])
    after = assign(SYMBOLS, ["a", "b"])
    moved = [s for w in ("a", "b") for s in before[w] if s not in after[w]]
    assert sorted(before["c"]) == sorted(
        set(after["a"] + after["b"]) - set(before["a"] + before["b"])
    )
    assert len(moved) <= 2  # only to make room: 12 over 2 is 6 each


def test_golden_assignment() -> None:
    assert assign(SYMBOLS[:6], ["w1", "w2", "w3"]) == {
        "w1": ["S3/USDT", "S4/USDT"],
        "w2": ["S1/USDT", "S2/USDT"],
        "w3": ["S0/USDT", "S5/USDT"],
    }


CURRENCIES = {"USD", "USDT", "USDC", "KRW"}
BASES = ["BTC", "ETH", "SOL", "XRP", "ADA", "USDT", "USDC"]
family_lists = st.lists(
    st.tuples(st.sampled_from(BASES), st.sampled_from(sorted(CURRENCIES))).map("/".join),
    unique=True,
    max_size=28,
).map(lambda symbols: [s for s in symbols if s.split("/")[0] != s.split("/")[1]])


def unit(symbol: str) -> str:
    return family(symbol, CURRENCIES)


def test_a_family_is_its_base_and_a_conversion_book_its_own() -> None:
    assert [unit(s) for s in ["BTC/USD", "BTC/USDT", "BTC/KRW", "USDT/USD", "USDT/KRW"]] == [
        "BTC",
        "BTC",
        "BTC",
        "USDT/USD",
        "USDT/KRW",
    ]
    assert is_conversion("USDC/USDT", CURRENCIES) and not is_conversion("BTC/USDT", CURRENCIES)


@given(family_lists, names, st.randoms())
def test_a_family_is_never_split_and_the_families_are_balanced(
    symbols: list[str], workers: set[str], rnd: random.Random
) -> None:
    got = assign(symbols, workers, unit)
    assert sorted(s for mine in got.values() for s in mine) == sorted(symbols)
    owner = {s: w for w, mine in got.items() for s in mine}
    for s in symbols:
        assert {owner[t] for t in symbols if unit(t) == unit(s)} == {owner[s]}
    units = len({unit(s) for s in symbols})
    low, high = units // len(workers), -(-units // len(workers))
    assert all(low <= len({unit(s) for s in mine}) <= high for mine in got.values())
    shuffled = list(workers)
    rnd.shuffle(shuffled)
    assert assign(symbols, shuffled, unit) == got


def test_golden_family_assignment() -> None:
    symbols = ["BTC/USD", "BTC/USDT", "ETH/USDT", "USDT/USD", "ETH/USD", "USDC/USDT"]
    assert assign(symbols, ["w1", "w2"], unit) == {
        "w1": ["USDT/USD", "USDC/USDT"],
        "w2": ["BTC/USD", "BTC/USDT", "ETH/USDT", "ETH/USD"],
    }


def test_lease_key_names_the_symbol() -> None:
    assert lease_key("BTC/USDT") == "lease.BTC-USDT"


def test_a_lease_is_renewed_every_third_of_the_ttl_and_stopped_before_it_can_expire() -> None:
    leases = Leases("a", ["X/USDT"], ttl_ns=600, margin_ns=150)
    assert leases.plan(0, {"a"}) == [Op("acquire", "X/USDT")]
    assert leases.acquired("X/USDT", 7, sent_ns=0) == [Op("start", "X/USDT")]
    assert leases.plan(199, {"a"}) == []
    assert leases.plan(200, {"a"}) == [Op("renew", "X/USDT", 7)]
    leases.renew_unanswered("X/USDT")  # NATS away: retried, the deadline still runs from 0
    assert leases.plan(300, {"a"}) == [Op("renew", "X/USDT", 7)]
    leases.renew_unanswered("X/USDT")
    assert leases.deadline("X/USDT") == 450
    assert leases.plan(450, {"a"}) == [Op("stop", "X/USDT"), Op("acquire", "X/USDT")]


def test_a_symbol_given_up_is_stopped_before_its_lease_is_released() -> None:
    leases = Leases("a", ["X/USDT", "Y/USDT"], ttl_ns=600, margin_ns=150)
    for op in leases.plan(0, {"a"}):
        leases.acquired(op.symbol, 3, 0)
    ops = leases.plan(10, {"a", "b"})
    given_up = next(s for s in ("X/USDT", "Y/USDT") if Op("stop", s) in ops)
    assert ops == [Op("stop", given_up), Op("release", given_up, 3)]


def test_a_failed_renewal_stops_at_once() -> None:
    leases = Leases("a", ["X/USDT"], ttl_ns=600, margin_ns=150)
    leases.plan(0, {"a"})
    leases.acquired("X/USDT", 1, 0)
    assert leases.plan(200, {"a"}) == [Op("renew", "X/USDT", 1)]
    assert leases.renewed("X/USDT", None, 200) == [Op("stop", "X/USDT")]
    assert leases.held == {}


def test_the_margin_must_leave_room_for_two_renewals() -> None:
    with pytest.raises(ValueError, match="margin"):
        Leases("a", [], ttl_ns=600, margin_ns=200)


@dataclass
class Bucket:
    """The key-value bucket: per key (value, revision, write time); expiry after ``ttl``."""

    ttl: int
    entries: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    revision: int = 0

    def live(self, key: str, now: int) -> tuple[str, int, int] | None:
        entry = self.entries.get(key)
        return entry if entry is not None and now < entry[2] + self.ttl else None

    def write(self, key: str, value: str, last: int | None, now: int) -> int | None:
        entry = self.live(key, now)
        if (entry is None) != (last is None) or (entry is not None and entry[1] != last):
            return None
        self.revision += 1
        self.entries[key] = (value, self.revision, now)
        return self.revision

    def put(self, key: str, value: str, now: int) -> None:
        self.revision += 1
        self.entries[key] = (value, self.revision, now)

    def delete(self, key: str, last: int, now: int) -> None:
        entry = self.live(key, now)
        if entry is not None and entry[1] == last:
            del self.entries[key]


TTL, MARGIN, TICK = 1200, 300, 100
step = st.tuples(
    st.integers(0, 2),  # the worker whose round it is
    st.integers(1, TICK),  # time to the next round
    st.sampled_from(["ok", "ok", "lost", "unanswered", "partition", "heal", "crash", "revive"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=300))
def test_two_workers_never_scan_one_symbol_at_once(steps: list[tuple[int, int, str]]) -> None:
    """Three workers, lost requests, lost answers, partitions and crashes; each worker checks
    its deadlines only once a tick (as the worker's loop does): at every moment each symbol is
    scanned by at most one worker, and only while that worker's lease is live in the bucket.
    Then, with every request answered, every symbol ends up scanned by one live worker."""
    symbols = ["BTC/USD", "BTC/USDT", "USDT/USD", "ETH/USDT", "ETH/USD"]  # three families
    bucket = Bucket(TTL)
    workers = [Leases(n, symbols, TTL, MARGIN, unit) for n in "abc"]
    scanning: list[set[str]] = [set(), set(), set()]
    up = [True, True, True]
    cut = [False, False, False]
    next_check = [0, 0, 0]
    beat = [-TTL, -TTL, -TTL]
    now = 0

    def run(i: int, ops: list[Op], fate: str) -> None:
        w = workers[i]
        for op in ops:
            if op.kind == "start":
                scanning[i].add(op.symbol)
            elif op.kind == "stop":
                scanning[i].discard(op.symbol)
            else:
                applied = not cut[i] and fate != "lost"
                answered = applied and fate != "unanswered"
                key = lease_key(op.symbol)
                rev = None
                if applied and op.kind == "acquire":
                    rev = bucket.write(key, w.name, None, now)
                elif applied and op.kind == "renew":
                    rev = bucket.write(key, w.name, op.revision, now)
                elif applied:
                    bucket.delete(key, op.revision, now)
                if op.kind == "acquire":
                    run(i, w.acquired(op.symbol, rev if answered else None, now), "ok")
                elif op.kind == "renew" and answered:
                    run(i, w.renewed(op.symbol, rev, now), "ok")
                elif op.kind == "renew":
                    w.renew_unanswered(op.symbol)

    def round(i: int, fate: str) -> None:
        if not cut[i] and now - beat[i] >= TTL // 3:  # the heartbeat, as often as a renewal
            bucket.put(f"worker.{workers[i].name}", "", now)
            beat[i] = now
        live = {k[7:] for k in list(bucket.entries) if k[:7] == "worker." and bucket.live(k, now)}
        run(i, workers[i].plan(now, live), fate)
        next_check[i] = now + TICK

    def check() -> None:
        for symbol in symbols:
            owners = [j for j in range(3) if symbol in scanning[j]]
            assert len(owners) <= 1, (symbol, owners, now)
            for j in owners:
                entry = bucket.live(lease_key(symbol), now)
                assert entry is not None and entry[0] == workers[j].name, (symbol, j, now)

    for i, dt, fate in steps:
        if fate == "crash" and up[i]:
            up[i], scanning[i], beat[i] = False, set(), -TTL  # a dead process emits nothing
            workers[i] = Leases(workers[i].name, symbols, TTL, MARGIN, unit)
        elif fate == "revive":
            up[i] = True
        if fate in ("partition", "heal"):
            cut[i] = fate == "partition"  # until healed: no request of the worker arrives
        if up[i]:
            round(i, fate)
        now += dt
        for j in range(3):
            if up[j] and now >= next_check[j]:
                run(j, workers[j].expire(now), "ok")
                next_check[j] = now + TICK
        check()
    if not any(up):
        return
    cut = [False, False, False]
    for _ in range(3 * TTL // TICK):
        for j in range(3):
            if up[j]:
                round(j, "ok")
        now += TICK
        check()
    assert sorted(s for j in range(3) for s in scanning[j]) == sorted(symbols)
