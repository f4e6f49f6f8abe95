"""Conversion books shared across workers: published once by their owner, read by every other
worker with its own staleness gate. Hand-fed engines over a real NATS server, and the
coalescing and the reader's rules without one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from arbscan.cluster.bus import connect
from arbscan.cluster.fx import FxPublisher, FxReader, PublishingLeg, fx_bucket, fx_key
from scanner.board import Levels
from scanner.config import ClusterConfig, ScannerConfig
from scanner.engine import Engine
from tests.natsserver import NatsServer, running
from tests.test_cluster import leases, stream, wait_for

T = 1_700_000_000_000_000_000
MS = 1_000_000
VENUES = ["kraken", "binance"]
FEES = {"kraken": 0.0, "binance": 10.0}
SYMBOLS = ["BTC/USD", "BTC/USDT", "USDT/USD"]
STALE_MS = 400
CLUSTER = ClusterConfig(fx_stale_ms=STALE_MS, fx_rate_hz=20.0)
Events = list[dict[str, Any]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    yield from running(tmp_path)


def make(events: Events) -> Engine:
    config = ScannerConfig(open_bps=5.0, close_bps=2.0, update_interval_ms=0)
    return Engine(config, VENUES, SYMBOLS, FEES, events.append)


def btc_books(engine: Engine) -> None:
    engine.leg("kraken", "BTC/USD").on_book(Levels([99.0], [1.0], [100.0], [1.0]), T)
    engine.leg("binance", "BTC/USDT").on_book(Levels([102.0], [1.0], [103.0], [1.0]), T + MS)


USDT_USD = Levels([0.999, 0.998], [1000.0, 500.0], [1.001, 1.002], [1000.0, 700.0])


async def until(what: str, predicate: Callable[[], bool], timeout_s: float = 5.0) -> float:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


class Worker:
    """A hand-fed engine with the cluster's publisher (of ``owned`` conversion books) and
    reader, over a real NATS server."""

    def __init__(self, name: str, owned: set[str]) -> None:
        self.name, self.owned = name, owned
        self.events: Events = []
        self.engine = make(self.events)
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, url: str) -> None:
        self.nc = await connect(url, self.name)
        kv = await fx_bucket(self.nc.jetstream(), CLUSTER)
        self.publisher = FxPublisher(
            kv, self.name, rate_hz=CLUSTER.fx_rate_hz, keepalive_s=STALE_MS / 1e3, depth=5
        )
        self.reader = FxReader(
            self.engine, self.name, self.owned.__contains__, stale_ms=STALE_MS, warmup_ms=0
        )
        self.tasks = [
            asyncio.create_task(self.publisher.run()),
            asyncio.create_task(self.reader.run(kv, self.stop)),
        ]

    def feed(self, venue: str, symbol: str, book: Levels, ts: int) -> None:
        PublishingLeg(self.engine.leg(venue, symbol), self.publisher).on_book(book, ts)

    async def die(self) -> None:
        """Stops at once: nothing more written, nothing retracted."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.nc.close()

    async def close(self) -> None:
        self.stop.set()
        self.publisher.close()
        await asyncio.gather(*self.tasks)
        await self.nc.close()


def cross(events: Events) -> Events:
    return [e for e in events if e["type"] in ("opened", "updated", "closed")]


def single_process() -> Events:
    events: Events = []
    engine = make(events)
    btc_books(engine)
    engine.leg("kraken", "USDT/USD").on_book(USDT_USD, T + 2 * MS)
    return events


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_published_conversion_book_opens_elsewhere_what_one_process_opens_then_goes_stale(
    server: NatsServer,
) -> None:
    expected = single_process()
    (opened,) = cross(expected)
    assert (opened["type"], opened["symbol"], opened["fx_symbol"]) == (
        "opened",
        "BTC/USD",
        "USDT/USD",
    )
    assert opened["profit"] == pytest.approx(102.0 * 0.999 * 0.999 - 100.0, rel=1e-12)

    async def main() -> None:
        owner, other = Worker("a", {"USDT/USD"}), Worker("b", {"BTC/USD", "BTC/USDT"})
        await owner.start(server.url)
        await other.start(server.url)
        btc_books(other.engine)
        assert other.events == []  # no conversion book yet
        owner.feed("kraken", "USDT/USD", USDT_USD, T + 2 * MS)
        await until("the remote rate opens", lambda: len(other.events) == 1)
        assert other.events == expected  # the same event, byte for byte
        assert owner.events == []  # the owner has no BTC books
        # the owner is quiet but alive: rewritten every STALE_MS / 3, never stale here
        await asyncio.sleep(3 * STALE_MS / 1e3)
        assert other.events == expected and other.reader.entries >= 5
        died = time.monotonic()
        await owner.die()
        await until("stale", lambda: len(other.events) == 2)
        waited = time.monotonic() - died
        closed = other.events[1]
        assert (closed["type"], closed["id"], closed["reason"]) == ("closed", "1", "stale")
        assert closed["ts"] >= T + 2 * MS + STALE_MS * MS
        # stale STALE_MS after the last write (made up to STALE_MS / 3 before it died),
        # checked every STALE_MS / 4
        assert 2 * STALE_MS / 3e3 <= waited < STALE_MS / 1e3 + 1.5
        assert not other.engine.leg("kraken", "USDT/USD").usable
        await other.close()

    run(main)


def test_a_late_worker_gets_the_latest_rate_at_once_and_a_dead_owners_rate_expires(
    server: NatsServer,
) -> None:
    async def main() -> None:
        owner = Worker("a", {"USDT/USD"})
        await owner.start(server.url)
        owner.feed("kraken", "USDT/USD", Levels([0.99], [1.0], [1.01], [1.0]), T)
        owner.feed("kraken", "USDT/USD", USDT_USD, T + 2 * MS)  # coalesced: the latest wins
        await asyncio.sleep(0.3)
        late = Worker("c", {"BTC/USD", "BTC/USDT"})
        await late.start(server.url)
        took = await until(
            "the late worker has the rate",
            lambda: late.engine.leg("kraken", "USDT/USD").usable,
            timeout_s=2.0,
        )
        assert took < 1.0
        lv = late.engine.board.levels[SYMBOLS.index("USDT/USD"), 0]
        assert lv[:, :2].tolist() == [
            [0.999, 0.998],
            [1000.0, 500.0],
            [1.001, 1.002],
            [1000.0, 700.0],
        ]
        btc_books(late.engine)  # the BTC books after the rate: the pair opens on them
        (opened,) = cross(late.events)
        assert (opened["type"], opened["fx_age_ms"]) == ("opened", 0.0)
        assert opened["fx_rate"] == pytest.approx(0.999, rel=1e-12)
        await owner.die()
        await late.close()
        # the bucket's entry expires STALE_MS after its last write: a worker starting after
        # that gets nothing
        await asyncio.sleep(2 * STALE_MS / 1e3 + 0.5)
        later = Worker("d", {"BTC/USD", "BTC/USDT"})
        await later.start(server.url)
        await asyncio.sleep(0.5)
        assert later.reader.entries == 0
        assert not later.engine.leg("kraken", "USDT/USD").usable
        await later.close()

    run(main)


def test_an_owner_handing_over_writes_the_book_unusable_and_the_others_close_shutdown(
    server: NatsServer,
) -> None:
    async def main() -> None:
        owner, other = Worker("a", {"USDT/USD"}), Worker("b", {"BTC/USD", "BTC/USDT"})
        await owner.start(server.url)
        await other.start(server.url)
        btc_books(other.engine)
        owner.feed("kraken", "USDT/USD", USDT_USD, T + 2 * MS)
        await until("opened", lambda: len(other.events) == 1)
        owner.engine.stop_symbol("USDT/USD", T + 5 * MS)
        owner.publisher.retract("USDT/USD", T + 5 * MS)
        await owner.publisher.flush()
        await until("closed", lambda: len(other.events) == 2, timeout_s=STALE_MS / 2e3)
        closed = other.events[1]
        assert (closed["type"], closed["reason"], closed["ts"]) == (
            "closed",
            "shutdown",
            T + 5 * MS,
        )
        await asyncio.sleep(2 * STALE_MS / 1e3)  # no longer rewritten, but nothing else closes
        assert len(other.events) == 2 and owner.publisher.latest == {}
        await owner.close()
        await other.close()

    run(main)


class FakeKv:
    def __init__(self) -> None:
        self.puts: list[tuple[str, dict[str, Any]]] = []

    async def put(self, key: str, value: bytes) -> int:
        self.puts.append((key, orjson.loads(value)))
        return len(self.puts)


def test_updates_are_coalesced_to_the_rate_and_a_quiet_book_is_rewritten() -> None:
    now = [0.0]
    kv = FakeKv()
    pub = FxPublisher(kv, "a", rate_hz=10.0, keepalive_s=0.3, depth=1, clock=lambda: now[0])  # type: ignore[arg-type]
    engine = make([])
    leg = PublishingLeg(engine.leg("kraken", "USDT/USD"), pub)

    async def main() -> None:
        for k in range(5):  # five updates within 50 ms: one write, the first at once
            leg.on_book(Levels([0.999], [10.0 + k], [1.001], [5.0]), T + k * MS)
            await pub.flush()
            now[0] = (k + 1) / 100
        now[0] = 0.1
        await pub.flush()  # the rest, coalesced: the latest
        now[0] = 0.15
        await pub.flush()  # nothing changed, not quiet long enough
        now[0] = 0.2
        await pub.flush()  # quiet for keepalive / 3: rewritten
        leg.on_usable(False, "desynced", T + 9 * MS)
        now[0] = 0.35
        await pub.flush()

    asyncio.run(main())
    key = fx_key("kraken", "USDT/USD")
    assert key == "kraken.USDT-USD"
    assert [(k, p["ts"], p["usable"], p["reason"], p["bids"]) for k, p in kv.puts] == [
        (key, T, True, None, [[0.999, 10.0]]),
        (key, T + 4 * MS, True, None, [[0.999, 14.0]]),
        (key, T + 4 * MS, True, None, [[0.999, 14.0]]),
        (key, T + 9 * MS, False, "desynced", [[0.999, 14.0]]),
    ]
    assert kv.puts[0][1] == {
        "worker": "a",
        "venue": "kraken",
        "symbol": "USDT/USD",
        "ts": T,
        "usable": True,
        "reason": None,
        "bids": [[0.999, 10.0]],
        "asks": [[1.001, 5.0]],
    }


def test_the_reader_drops_bad_entries_and_ignores_its_own_and_local_books() -> None:
    events: Events = []
    engine = make(events)
    reader = FxReader(engine, "b", {"BTC/USDT"}.__contains__, stale_ms=100, warmup_ms=0)

    def entry(**over: Any) -> bytes:
        base = {"worker": "a", "venue": "kraken", "symbol": "USDT/USD", "ts": T, "usable": True,
                "reason": None, "bids": [[0.999, 1.0]], "asks": [[1.001, 1.0]]}  # fmt: skip
        return orjson.dumps(base | over)

    for bad in [b"{", b"[]", entry(venue="nowhere"), entry(symbol="X/Y"), entry(bids=[[1.0]])]:
        reader.on_entry(bad)
    assert (reader.bad, reader.entries) == (5, 0)
    reader.on_entry(entry(worker="b"))  # its own
    reader.on_entry(entry(symbol="BTC/USDT"))  # it scans that one itself
    assert (reader.bad, reader.entries, engine.stats.updates) == (5, 0, 0)
    reader.on_entry(entry())
    assert engine.leg("kraken", "USDT/USD").usable and engine.stats.updates == 1
    reader.on_entry(entry())  # the same ts again: a rewrite, the gate only
    assert (reader.entries, engine.stats.updates) == (2, 1)
    reader.on_entry(entry(usable=False, reason="crossed_book", ts=T + MS))
    assert not engine.leg("kraken", "USDT/USD").usable


def test_two_workers_on_the_emulator_pair_across_quotes_through_the_others_rate(
    server: NatsServer, tmp_path: Path
) -> None:
    """``run.py worker`` end to end: the families stay whole, and the worker without
    USDT/USD opens cross-quote opportunities converting through the other's book."""
    symbols = "BTC/USD,BTC/USDT,ETH/USD,ETH/USDT,USDT/USD,SOL/USD,SOL/USDT"
    run_py = [sys.executable, str(Path(__file__).resolve().parent.parent / "run.py")]
    emulator = subprocess.Popen(
        [*run_py, "emulate", "--venues", "kraken,binance", "--symbols", symbols,
         "--port-base", "0", "--dislocations-per-min", "60", "--duration", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    workers: list[subprocess.Popen[bytes]] = []
    try:
        assert emulator.stdout is not None
        urls = [emulator.stdout.readline().split() for _ in range(2)]
        config = tmp_path / "cluster.toml"
        config.write_text(
            "[cluster]\nlease_ttl_s = 2.0\n"
            + "".join(f'[urls.{v}]\nws = "{ws}"\nrest = "{rest}"\n' for v, ws, rest in urls)
        )
        for name in ("w1", "w2"):
            argv = ["worker", "--nats", server.url, "--name", name, "--min-workers", "2"]
            argv += ["--venues", "kraken,binance", "--symbols", symbols]
            argv += ["--config", str(config), "--duration", "8"]
            err = (tmp_path / f"{name}.err").open("wb")
            workers.append(subprocess.Popen([*run_py, *argv], stderr=err))
            err.close()
        wait_for("every lease taken", lambda: len(leases(server.url)) == 7, 10.0)
        owners = leases(server.url)
        for base in ("BTC", "ETH", "SOL"):
            assert owners[f"{base}/USD"] == owners[f"{base}/USDT"]
        assert owners == {
            "USDT/USD": "w1", "SOL/USD": "w1", "SOL/USDT": "w1",
            "BTC/USD": "w2", "BTC/USDT": "w2", "ETH/USD": "w2", "ETH/USDT": "w2",
        }  # fmt: skip
        for proc in workers:
            assert proc.wait(timeout=30) == 0
        events = [e for _, e in stream(server.url)]
    finally:
        children: list[subprocess.Popen[Any]] = [*workers, emulator]
        for child in children:
            if child.poll() is None:
                child.kill()  # our own children, by their handles
                child.wait()
    remote = [
        e
        for e in events
        if e["type"] == "opened" and e.get("kind") == "cross_quote" and e["id"].startswith("w2-")
    ]
    assert remote, [e for e in events if e["type"] != "venue"]
    assert {(e["fx_symbol"], e["fx_venue"]) for e in remote} <= {
        ("USDT/USD", "kraken"),
        ("USDT/USD", "binance"),
    }
    assert {"BTC", "ETH"} & {e["symbol"].partition("/")[0] for e in remote}
    # SOL is w1's: w2 emits for it only once w1, stopping first at the end, has handed it over
    sol = [
        (i, e["id"][:3])
        for i, e in enumerate(events)
        if e["type"] in ("opened", "updated", "closed") and e["symbol"][:4] == "SOL/"
    ]
    first_w2 = min((i for i, w in sol if w == "w2-"), default=len(events))
    assert all(i < first_w2 for i, w in sol if w == "w1-")
