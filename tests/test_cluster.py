"""Workers over a real NATS server (JetStream, on a free loopback port, its store in a
temporary folder): the symbols split once and exactly, the merged stream equal to one
process's events, hand-over, failover, a server restart and a reader's restart."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.aio.msg
import nats.errors
import orjson
import pytest
from websockets.asyncio.client import connect as ws_connect

from arbscan.cli import main
from arbscan.cluster import bus
from arbscan.cluster.bus import BUCKET, STREAM, NatsSink, connect, ensure_stream, read_stream
from scanner.config import ClusterConfig
from scanner.events import venue_event
from tests.natsserver import NatsServer, free_port, running
from tests.test_sinks import T, opp

ROOT = Path(__file__).resolve().parent.parent
RUN = [sys.executable, str(ROOT / "run.py")]
SYMBOLS = [
    f"{b}/USDT"
    for b in ["BTC", "ETH", "SOL", "XRP", "BNB", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC", "TRX"]
]
VENUES = "binance,bybit,okx"  # the order a replay takes them in (sorted)
TTL_S = 2.0
OPPORTUNITY = ("opened", "updated", "closed")
Event = dict[str, Any]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    yield from running(tmp_path)


class Procs:
    """Child processes, each stopped (SIGTERM, then killed) at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *argv: str, out: bool = False) -> subprocess.Popen[bytes]:
        """``out``: stdout to the file ``<name>.out`` (else a pipe)."""
        err = (self.folder / f"{name}.err").open("wb")
        stdout = (self.folder / f"{name}.out").open("wb") if out else subprocess.PIPE
        proc = subprocess.Popen([*RUN, *argv], stdout=stdout, stderr=err)
        err.close()
        if out:
            stdout.close()  # type: ignore[union-attr]
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in self.procs:
            self.stop(name)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()


def _config(tmp_path: Path) -> str:
    """The default lease TTL (6 s): each worker replays its symbols inline, and holds them."""
    path = tmp_path / "cluster.toml"
    path.write_text("[scanner]\nopen_bps = 2.0\nclose_bps = 1.0\n")
    return str(path)


async def _leases(url: str) -> dict[str, str]:
    nc = await nats.connect(url)
    try:
        try:
            kv = await nc.jetstream().key_value(BUCKET)
            keys = await kv.keys()
        except (nats.js.errors.NoKeysError, nats.js.errors.BucketNotFoundError):
            return {}
        out = {}
        for key in keys:
            if key.startswith("lease."):
                try:
                    entry = await kv.get(key)
                except nats.js.errors.KeyNotFoundError:  # given up since the listing
                    continue
                out[key[6:].replace("-", "/")] = (entry.value or b"").decode()
        return out
    finally:
        await nc.close()


def leases(url: str) -> dict[str, str]:
    return asyncio.run(_leases(url))


async def _stream(url: str) -> list[tuple[int, Event]]:
    """Every event in the stream up to its last one now, with its stream sequence."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            last = (await js.stream_info(STREAM)).state.last_seq
            sub = await js.pull_subscribe("arbscan.>", stream=STREAM)
        except nats.js.errors.NotFoundError:
            return []
        out: list[tuple[int, Event]] = []
        while not out or out[-1][0] < last:
            msgs = await sub.fetch(1000, timeout=5)
            out += [(m.metadata.sequence.stream, orjson.loads(m.data)) for m in msgs]
        return [(seq, e) for seq, e in out if seq <= last]
    finally:
        await nc.close()


def stream(url: str) -> list[tuple[int, Event]]:
    return asyncio.run(_stream(url))


async def _acked(url: str, durable: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(STREAM, durable)
        return info.ack_floor.stream_seq if info.ack_floor else 0
    finally:
        await nc.close()


def acked(url: str, durable: str) -> int:
    """The last stream sequence the durable reader ``durable`` acknowledged."""
    return asyncio.run(_acked(url, durable))


def wait_for(what: str, predicate: Any, timeout_s: float) -> float:
    """Poll ``predicate`` until true; return the seconds it took."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)
    return time.monotonic() - t0


def by_symbol(events: list[Event]) -> dict[str, list[Event]]:
    """Opportunity events per symbol, ids aside, in (ts, pair, type) order."""
    out: dict[str, list[Event]] = {}
    for e in events:
        if e["type"] in OPPORTUNITY:
            out.setdefault(e["symbol"], []).append({k: v for k, v in e.items() if k != "id"})
    for v in out.values():
        v.sort(key=lambda e: (e["ts"], e["buy_venue"], e["sell_venue"], e["type"]))
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three emulated venues x 12 symbols for 2 s."""
    path = tmp_path_factory.mktemp("cap") / "twelve.ndjson.gz"
    argv = ["record", str(path), "--venues", VENUES, "--symbols", ",".join(SYMBOLS)]
    subprocess.run(
        [*RUN, *argv, "--duration", "2", "--json"],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
    )
    return path


def test_three_workers_split_twelve_symbols_and_emit_what_one_process_does(
    server: NatsServer, procs: Procs, capture: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    one = subprocess.run(
        [*RUN, "replay", str(capture), "--json", "--config", config],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    expected = by_symbol([orjson.loads(line) for line in one.splitlines()])
    count = sum(len(v) for v in expected.values())
    assert count > 20 and len(expected) >= 3  # the market had opportunities to compare
    for name in ("w1", "w2", "w3"):
        procs.start(
            name,
            "worker",
            "--nats",
            server.url,
            "--name",
            name,
            "--min-workers",
            "3",
            "--replay",
            str(capture),
            "--venues",
            VENUES,
            "--symbols",
            ",".join(SYMBOLS),
            "--config",
            config,
        )

    def merged() -> list[Event]:
        return [e for _, e in stream(server.url) if e["type"] in OPPORTUNITY]

    wait_for("every opportunity event in the stream", lambda: len(merged()) >= count, 40)
    time.sleep(0.5)  # anything beyond would show
    owners = leases(server.url)
    events = merged()  # before the workers stop: each one leaving hands its symbols over
    assert sorted(owners) == sorted(SYMBOLS)
    assert sorted(list(owners.values()).count(w) for w in ("w1", "w2", "w3")) == [4, 4, 4]
    assert by_symbol(events) == expected
    for e in events:  # each symbol's events come from its lease's owner, ids unique per worker
        assert e["id"].split("-")[0] == owners[e["symbol"]]
    opened = [e["id"] for e in events if e["type"] == "opened"]
    assert len(set(opened)) == len(opened)


def _runs(events: list[Event], symbol: str) -> list[tuple[str, int, int]]:
    """The symbol's events in stream order as runs of one worker: (worker, first ts, last
    ts)."""
    runs: list[tuple[str, int, int]] = []
    for e in events:
        if e.get("symbol") != symbol or e["type"] not in OPPORTUNITY:
            continue
        worker = e["id"].split("-")[0]
        if runs and runs[-1][0] == worker:
            runs[-1] = (worker, runs[-1][1], e["ts"])
        else:
            runs.append((worker, e["ts"], e["ts"]))
    return runs


def test_hand_over_failover_and_a_server_restart(
    server: NatsServer, procs: Procs, tmp_path: Path
) -> None:
    emu = procs.start(
        "emu",
        "emulate",
        "--venues",
        "binance,okx",
        "--symbols",
        ",".join(SYMBOLS),
        "--dislocations-per-min",
        "40",
        "--duration",
        "120",
    )
    assert emu.stdout is not None
    config = tmp_path / "live.toml"
    lines = [f"[cluster]\nlease_ttl_s = {TTL_S}\n[scanner]\nopen_bps = 3.0\n"]
    for _ in range(2):
        venue, ws, rest = emu.stdout.readline().decode().split()
        lines.append(f'[urls.{venue}]\nws = "{ws}"\nrest = "{rest}"\n')
    config.write_text("".join(lines))
    worker = [
        "worker",
        "--nats",
        server.url,
        "--venues",
        "binance,okx",
        "--symbols",
        ",".join(SYMBOLS),
        "--config",
        str(config),
    ]
    procs.start("reader", "console", "--nats", server.url, "--json", "--durable", "r1", out=True)
    procs.start("w1", *worker, "--name", "w1", "--min-workers", "2")
    procs.start("w2", *worker, "--name", "w2", "--min-workers", "2")

    def split(*names: str) -> bool:
        owners = leases(server.url)
        counts = sorted(list(owners.values()).count(n) for n in names)
        return (
            len(owners) == 12
            and set(owners.values()) == set(names)
            and (counts[-1] - counts[0] <= 1)
        )

    wait_for("12 symbols over w1, w2", lambda: split("w1", "w2"), 30)
    time.sleep(2.0)  # opportunities open
    procs.start("w3", *worker, "--name", "w3")
    handover = wait_for("12 symbols over w1, w2, w3", lambda: split("w1", "w2", "w3"), 30)
    time.sleep(2.0)
    owned_by_w3 = {s for s, w in leases(server.url).items() if w == "w3"}
    t_kill = time.monotonic()
    procs.stop("w3", signal.SIGKILL)
    failover = wait_for("w3's symbols over w1, w2", lambda: split("w1", "w2"), 15)
    assert failover <= 10.0  # the lease's TTL (2 s) plus a tick; 10 s is the default bound
    time.sleep(1.0)

    before = stream(server.url)
    n_before = before[-1][0]
    server.stop()
    time.sleep(1.0)
    server.start()
    wait_for("new events after the restart", lambda: stream(server.url)[-1][0] > n_before + 20, 30)
    after = stream(server.url)
    assert after[: len(before)] == before  # every event published before the restart kept
    for name in ("w1", "w2"):  # their last events (closes, stats) reach the reader too
        procs.stop(name)
    every = stream(server.url)
    events = [e for _, e in every]
    wait_for("the reader caught up", lambda: acked(server.url, "r1") >= every[-1][0], 15)
    stats = [e for e in events if e["type"] == "stats"]  # one at least: each worker's last
    assert len(stats) >= 2 and all(set(e["venues"]) == {"binance", "okx"} for e in stats)
    assert all(e["venues"]["okx"]["frames"] > 0 for e in stats[-2:])  # w1's and w2's last

    for symbol in SYMBOLS:  # one worker at a time per symbol: runs never overlap in time
        runs = _runs(events, symbol)
        for (_, _, last_a), (_, first_b, _) in itertools.pairwise(runs):
            assert last_a <= first_b, (symbol, runs)
    for symbol in SYMBOLS:  # a graceful hand-over closed what the giver had open
        opened: dict[str, Event] = {}
        for e in events:
            if e.get("symbol") == symbol and e["type"] in OPPORTUNITY:
                if e["type"] == "closed":
                    opened.pop(e["id"], None)
                else:
                    opened[e["id"]] = e
        left = {i for i in opened if not i.startswith("w3-")}
        assert left == set(), (symbol, left)  # w1 and w2 stopped with SIGTERM: all closed
    moved = {e["symbol"] for e in events if e.get("id", "").startswith("w3-")}
    assert moved <= owned_by_w3 | set(SYMBOLS)
    reasons = {e["reason"] for e in events if e["type"] == "closed" and e["id"][:2] != "w3"}
    assert "shutdown" in reasons
    procs.stop("reader")
    read = [orjson.loads(line) for line in (tmp_path / "reader.out").read_bytes().splitlines()]
    assert read == events  # the reader saw every event once, across the restart
    print(
        f"hand-over {handover:.1f} s, failover {failover:.1f} s after SIGKILL "
        f"({time.monotonic() - t_kill:.1f} s)",
        file=sys.stderr,
    )


def test_a_reader_that_restarts_resumes_without_loss_or_repeat(server: NatsServer) -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        nc = await connect(server.url, "test")
        js = nc.jetstream()
        await ensure_stream(js, ClusterConfig())
        sink = NatsSink(nc, "t")
        publishing = asyncio.ensure_future(sink.run())
        for i in range(300):
            sink.emit({"schema": 1, "type": "stats", "ts": i})
        await sink.drained()
        first: list[int] = []
        stop = asyncio.Event()

        def take(event: Event) -> None:
            first.append(event["ts"])
            if len(first) >= 100:
                stop.set()

        await read_stream(js, take, stop, durable="r", batch=50)
        for i in range(300, 500):
            sink.emit({"schema": 1, "type": "stats", "ts": i})
        sink.close()
        await publishing
        second: list[int] = []
        stop2 = asyncio.Event()

        def take2(event: Event) -> None:
            second.append(event["ts"])
            if len(first) + len(second) >= 500:
                stop2.set()

        async with asyncio.timeout(20):
            await read_stream(js, take2, stop2, durable="r", batch=50)
        await nc.close()
        return first, second

    first, second = asyncio.run(scenario())
    assert first == list(range(100))
    assert second == list(range(100, 500))


def test_an_event_delivered_again_is_handed_on_once(
    server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An acknowledgement lost (as across a server restart): the server delivers the batch
    again, and the reader hands each event on once, in order."""
    monkeypatch.setattr(bus, "ACK_WAIT_S", 1.0)
    real_ack = nats.aio.msg.Msg.ack_sync
    acked: list[int] = []  # how many times the acknowledged event had been delivered

    async def ack_sync(msg: nats.aio.msg.Msg, timeout: float = 1.0) -> nats.aio.msg.Msg:
        acked.append(msg.metadata.num_delivered)
        if len(acked) == 1:  # the first acknowledgement never reaches the server
            raise nats.errors.TimeoutError
        return await real_ack(msg, timeout=timeout)

    monkeypatch.setattr(nats.aio.msg.Msg, "ack_sync", ack_sync)

    async def scenario() -> list[int]:
        nc = await connect(server.url, "test")
        js = nc.jetstream()
        await ensure_stream(js, ClusterConfig())
        for i in range(40):
            event = {"schema": 1, "type": "stats", "ts": i}
            await js.publish("arbscan.t.stats", orjson.dumps(event))
        seen: list[int] = []
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(3.5, stop.set)  # the batch comes again at 1 s
        await read_stream(js, lambda e: seen.append(e["ts"]), stop, durable="again", batch=50)
        await nc.close()
        return seen

    assert asyncio.run(scenario()) == list(range(40))
    # the first acknowledgement lost, then the batch delivered again (in one fetch or more)
    assert acked[0] == 1 and len(acked) > 1 and min(acked[1:]) >= 2


def test_an_unreachable_server_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    assert main(["console", "--nats", url, "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"run.py: --nats: cannot connect to {url}")
    assert main(["worker", "--nats", url, "--name", "a b"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "run.py: --name: letters, digits, - and _ only, got 'a b'"
    )


def test_the_cluster_modules_stay_out_of_a_scan() -> None:
    code = (
        "import arbscan.cli, arbscan.scan, sys; "
        "print(any(m.startswith('nats') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "False"


def test_the_dashboards_server_shows_the_cluster_to_a_late_joiner(
    server: NatsServer, procs: Procs, tmp_path: Path
) -> None:
    """``--web --nats``: the event server fed by the cluster's stream, with protocol 1's
    snapshot for a client that joins after the events were published."""
    port = free_port()
    procs.start("web", "--web", f"127.0.0.1:{port}", "--nats", server.url, "--duration", "30")
    wait_for("the dashboard", lambda: b"dashboard:" in (tmp_path / "web.err").read_bytes(), 15)
    opened = opp("opened", "w1-5-1", "BTC/USDT", "binance", "okx", 12.0)
    live = venue_event("okx", "live", None, T + 1)

    async def publish() -> None:
        nc = await connect(server.url, "test")
        sink = NatsSink(nc, "w1")
        publishing = asyncio.ensure_future(sink.run())
        sink.emit(opened)
        sink.emit(live)
        sink.close()
        await publishing
        await nc.close()

    async def join() -> list[Event]:
        async with ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
            got = [orjson.loads(await ws.recv())]
            while got[-1]["type"] != "snapshot_end":
                got.append(orjson.loads(await ws.recv()))
        return got

    asyncio.run(publish())
    snapshots: list[list[Event]] = []

    def joined() -> bool:  # a client that joins once the reader has the events
        snapshots.append(asyncio.run(join()))
        return len(snapshots[-1]) == 4

    wait_for("the snapshot", joined, 15)
    hello, first, state, end = snapshots[-1]
    assert (hello["type"], hello["protocol"]) == ("hello", 1)
    assert first == {**opened, "snapshot": True, "opened_ts": T}
    assert (state, end) == (live, {"schema": 1, "type": "snapshot_end"})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
        assert page.status == 200 and b"<html" in page.read().lower()


def test_events_emitted_while_the_server_restarts_are_all_stored_once_in_order(
    server: NatsServer,
) -> None:
    """Each event waits for the stream's acknowledgement and is sent again until stored:
    none is lost while the server is away or JetStream is recovering, none is stored
    twice, and the stream keeps the emission order."""

    async def scenario() -> NatsSink:
        nc = await connect(server.url, "test")
        await ensure_stream(nc.jetstream(), ClusterConfig())
        sink = NatsSink(nc, "t")
        publishing = asyncio.ensure_future(sink.run())
        for i in range(40):
            sink.emit({"schema": 1, "type": "stats", "ts": i})
        await sink.drained()
        await asyncio.to_thread(server.stop)
        for i in range(40, 80):  # while the server is away
            sink.emit({"schema": 1, "type": "stats", "ts": i})
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)
        for i in range(80, 120):  # while it reconnects and recovers its stream
            sink.emit({"schema": 1, "type": "stats", "ts": i})
        sink.close()
        async with asyncio.timeout(30):
            await publishing
        await nc.close()
        return sink

    sink = asyncio.run(scenario())
    assert (sink.published, sink.failed, sink.dropped) == (120, 0, 0)
    assert [e["ts"] for _, e in stream(server.url)] == list(range(120))
