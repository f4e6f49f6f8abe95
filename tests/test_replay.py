"""Replay (feeds/replay.py): the same sessions driven from capture records, deterministic,
with REST snapshots answered from ``rest`` records by path + symbol parameter."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
import websockets.sync.client
from hypothesis import given, settings
from hypothesis import strategies as st

from arbscan.cli import main as run_main
from feeds.book import Book
from feeds.capture import CaptureWriter, Record, read_capture
from feeds.protocol import Codec
from feeds.replay import ReplaySummary, replay, replay_file, rest_key
from feeds.runner import SessionOptions
from feeds.venues.binance import Binance
from tests.test_runner import (
    BTC,
    ETH,
    Call,
    CrcToy,
    Harness,
    Listener,
    RangeToy,
    connected,
    crc_snapshot,
    until,
)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
S = 1_000_000_000
XRP = "XRP/USDT"
WS = "ws://toy.invalid/ws"
FIXTURES = Path(__file__).parent / "fixtures"


def delta(symbol: str, first: int, last: int, bids: list[list[str]]) -> str:
    return orjson.dumps({"s": symbol, "U": first, "u": last, "b": bids, "a": []}).decode()


def body(seq: int, bid: str) -> str:
    return orjson.dumps({"id": seq, "bids": [[bid, "1"]], "asks": [["200", "1"]]}).decode()


def rec(t: int, direction: str, data: str = "", url: str = WS, venue: str = "toyrest") -> Record:
    return Record(t, venue, direction, url, data)  # type: ignore[arg-type]


REST_RECORDS = [
    rec(T0 + 1 * MS, "in", delta("BTCUSDT", 11, 12, [["100", "2"]])),  # buffered
    # host and limit differ from the request, path and symbol match: answers BTC at 2 ms
    rec(T0 + 2 * MS, "rest", body(10, "100"), "https://other.host/depth?limit=5&symbol=BTCUSDT"),
    rec(T0 + 3 * MS, "rest", body(5, "50"), "https://toy.invalid/depth?symbol=ETHUSDT"),
    rec(T0 + 4 * MS, "rest", body(20, "55"), "https://toy.invalid/depth?symbol=ETHUSDT"),
    rec(T0 + 4 * MS, "rest", body(1, "1"), "https://toy.invalid/other?symbol=XRPUSDT"),  # path
    rec(T0 + 5 * MS, "in", delta("ETHUSDT", 6, 6, [["51", "1"]])),
    rec(T0 + 6 * MS, "in", delta("ETHUSDT", 9, 9, [["52", "1"]])),  # gap: ETH resyncs
    rec(T0 + 7 * MS, "in", delta("ETHUSDT", 21, 21, [["56", "1"]])),
    rec(T0 + 8 * MS, "in", delta("BTCUSDT", 14, 14, [["99", "1"]])),  # gap, no BTC record left
    rec(T0 + 9 * MS, "close"),
]
CAPTURE = [rec(T0, "open"), rec(T0, "out", '{"sub":["BTCUSDT"]}'), *REST_RECORDS]


def codec_for(venue: str, conn: int) -> Codec:
    return RangeToy([BTC, ETH, XRP]) if venue == "toyrest" else CrcToy([BTC])


AT_EVENT = SessionOptions(snapshot_wait_s=60.0)
"""Each snapshot requested at its symbol's first event (the test's clock never reaches 60 s)."""
AT_OPEN = SessionOptions(snapshot_wait_s=0.0)
"""These captures come from a client that requested every snapshot right after subscribing."""


def run(records: list[Record] | Path) -> tuple[list[Call], list[Call], ReplaySummary]:
    log: list[Call] = []
    states: list[Call] = []

    def listener_for(venue: str, symbol: str) -> Listener:
        return Listener(f"{venue}:{symbol}", log)

    def on_state(venue: str, state: str, reason: str | None, ts: int) -> None:
        states.append((venue, state, reason, ts))

    if isinstance(records, Path):
        return log, states, replay_file(records, codec_for, listener_for, on_state, options=AT_OPEN)
    return log, states, replay(records, codec_for, listener_for, on_state, options=AT_OPEN)


def test_rest_answers_match_path_and_symbol_and_arrive_at_their_time() -> None:
    log, states, summary = run(CAPTURE)
    btc, eth = f"toyrest:{BTC}", f"toyrest:{ETH}"
    assert log == [
        # BTC requested at open, answered by the record at 2 ms, buffered 11..12 applied
        ("usable", btc, True, None, T0 + 2 * MS),
        ("book", btc, [100.0], [2.0], [200.0], [1.0], T0 + 2 * MS),
        # ETH answered at 3 ms (the first unused ETH record), 6..6 applied at 5 ms
        ("usable", eth, True, None, T0 + 3 * MS),
        ("book", eth, [50.0], [1.0], [200.0], [1.0], T0 + 3 * MS),
        ("book", eth, [51.0, 50.0], [1.0, 1.0], [200.0], [1.0], T0 + 5 * MS),
        # gap at 6 ms: re-requested, answered at once by the next ETH record (4 ms, past)
        ("usable", eth, False, "desynced", T0 + 6 * MS),
        ("usable", eth, True, None, T0 + 6 * MS),
        ("book", eth, [55.0], [1.0], [200.0], [1.0], T0 + 6 * MS),
        ("book", eth, [56.0, 55.0], [1.0, 1.0], [200.0], [1.0], T0 + 7 * MS),
        # BTC gap at 8 ms: no BTC record left, the symbol stays down
        ("usable", btc, False, "desynced", T0 + 8 * MS),
        ("usable", eth, False, "disconnected", T0 + 9 * MS),
    ]
    assert states == [
        ("toyrest", "connecting", None, T0),
        ("toyrest", "syncing", None, T0),
        ("toyrest", "down", "closed", T0 + 9 * MS),
    ]
    stats = summary.stats["toyrest"][0]
    assert (summary.records, summary.frames, summary.skipped) == (12, 5, 0)
    # served: BTC, ETH, ETH again; unanswered: XRP (path differs), BTC after its gap
    assert (summary.rest_served, summary.rest_unanswered) == (3, 2)
    assert (stats.snapshot_failures, stats.gaps, stats.frames) == (2, 2, 5)
    assert list(summary.sessions) == [("toyrest", 0)]


def test_replay_is_deterministic_and_files_replay_the_same(tmp_path: Path) -> None:
    first, second = run(CAPTURE), run(CAPTURE)
    assert first[:2] == second[:2]
    with CaptureWriter(tmp_path / "c.ndjson.gz") as w:
        w.write_all(CAPTURE)
    from_file = run(tmp_path / "c.ndjson.gz")
    assert from_file[:2] == first[:2]
    assert from_file[2].rest_served == first[2].rest_served == 3


def test_stale_connection_ends_and_the_next_open_starts_over() -> None:
    snap = crc_snapshot([("100", "1")], [("101", "1")])
    records = [
        rec(T0, "open", venue="toycrc"),
        rec(T0 + MS, "in", snap, venue="toycrc"),
        rec(T0 + 11 * S, "in", snap, venue="toycrc"),  # 11 s of silence: stale first
        rec(T0 + 11 * S + MS, "close", venue="toycrc"),
        rec(T0 + 12 * S, "open", venue="toycrc"),
        rec(T0 + 12 * S + MS, "in", snap, venue="toycrc"),
        rec(T0 + 13 * S, "in", "{not json", venue="toycrc"),
        rec(T0 + 14 * S, "in", "{}", venue="otherconn"),  # never opened
    ]
    log, states, summary = run(records)
    btc = f"toycrc:{BTC}"
    assert log == [
        ("usable", btc, True, None, T0 + MS),
        ("book", btc, [100.0], [1.0], [101.0], [1.0], T0 + MS),
        ("usable", btc, False, "stale", T0 + 11 * S),
        ("usable", btc, True, None, T0 + 12 * S + MS),
        ("book", btc, [100.0], [1.0], [101.0], [1.0], T0 + 12 * S + MS),
    ]
    assert states == [
        ("toycrc", "connecting", None, T0),
        ("toycrc", "syncing", None, T0),
        ("toycrc", "live", None, T0 + MS),
        ("toycrc", "stale", "no frame for 11.0 s", T0 + 11 * S),
        ("toycrc", "down", "stale", T0 + 11 * S),
        ("toycrc", "connecting", None, T0 + 12 * S),
        ("toycrc", "syncing", None, T0 + 12 * S),
        ("toycrc", "live", None, T0 + 12 * S + MS),
    ]
    assert (summary.frames, summary.skipped, summary.reconnects) == (3, 2, 1)
    assert [s.malformed for s in summary.stats["toycrc"]] == [0, 1]


def test_a_superseded_request_gives_its_answer_back() -> None:
    """A session that asks again before the first answer is due takes the same record."""
    records = [
        rec(T0, "open"),
        *[rec(T0 + n * MS, "in", delta("BTCUSDT", n, n, [])) for n in range(1, 5)],
        rec(T0 + 10 * MS, "rest", body(3, "100"), "https://toy.invalid/depth?symbol=BTCUSDT"),
    ]
    log: list[Call] = []
    summary = replay(
        records,
        lambda venue, conn: RangeToy([BTC]),
        lambda venue, symbol: Listener(symbol, log),
        lambda *a: None,
        options=SessionOptions(max_buffered=2),  # the 3rd buffered delta overflows
    )
    assert summary.stats["toyrest"][0].buffer_overflow == 1
    assert (summary.rest_served, summary.rest_unanswered) == (1, 0)
    assert log == [
        ("usable", BTC, True, None, T0 + 10 * MS),  # snapshot 3 + buffered 4..4
        ("book", BTC, [100.0], [1.0], [200.0], [1.0], T0 + 10 * MS),
    ]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (
            "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000",
            ("v", "/api/v3/depth", (("symbol", "NKNUSDT"),)),
        ),
        (
            "https://api.gateio.ws/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true",
            ("v", "/api/v4/spot/order_book", (("currency_pair", "BTC_USDT"),)),
        ),
        (
            "https://api.independentreserve.com/Public/GetAllOrders?"
            "secondaryCurrencyCode=aud&primaryCurrencyCode=xbt",
            (
                "v",
                "/Public/GetAllOrders",
                (("primarycurrencycode", "xbt"), ("secondarycurrencycode", "aud")),
            ),
        ),
        (
            "https://www.bitstamp.net/api/v2/order_book/btcusd/",
            ("v", "/api/v2/order_book/btcusd/", ()),
        ),
    ],
)
def test_rest_key(url: str, key: tuple[str, str, tuple[tuple[str, str], ...]]) -> None:
    assert rest_key("v", url) == key


def test_real_binance_capture_replays_to_the_model_books() -> None:
    """The cryptofeed Binance capture (REST snapshots fetched after the first diffs): every
    symbol goes live and ends equal to a plain dict model of snapshot + later diffs."""
    records = list(read_capture(FIXTURES / "binance.ndjson.gz"))
    symbols = {
        "NKNUSDT": "NKN/USDT",
        "BLZETH": "BLZ/ETH",
        "LRCBTC": "LRC/BTC",
        "RUNEEUR": "RUNE/EUR",
    }
    last: dict[str, Call] = {}

    class Last(Listener):
        def on_book(self, book: Book, ts_ns: int) -> None:
            bid_px, bid_sz, ask_px, ask_sz = book.top()
            last[self.symbol] = (bid_px, bid_sz, ask_px, ask_sz, ts_ns)

    log: list[Call] = []
    summary = replay(
        records,
        lambda venue, conn: Binance(list(symbols.values())),
        lambda venue, symbol: Last(symbol, log),
        lambda *a: None,
    )
    stats = summary.stats["binance"][0]
    assert (summary.rest_served, summary.rest_unanswered) == (4, 0)
    assert (stats.gaps, stats.malformed, stats.codec_errors, stats.resyncs) == (0, 0, 0, 0)
    assert [c[2:4] for c in log] == [(True, None)] * 4

    books: dict[str, tuple[int, dict[float, float], dict[float, float]]] = {}
    for r in records:
        if r.dir == "rest":
            snap = orjson.loads(r.data)
            symbol = symbols[parse_qs(urlsplit(r.url).query)["symbol"][0]]
            books[symbol] = (
                snap["lastUpdateId"],
                {float(p): float(q) for p, q in snap["bids"]},
                {float(p): float(q) for p, q in snap["asks"]},
            )
    for r in records:
        msg = orjson.loads(r.data) if r.dir == "in" else {}
        data = msg.get("data", {})
        if data.get("e") == "depthUpdate":
            seq, bids, asks = books[symbols[data["s"]]]
            if data["u"] > seq:
                for side, levels in ((bids, data["b"]), (asks, data["a"])):
                    for p, q in levels:
                        side[float(p)] = float(q)
                        if float(q) == 0:
                            del side[float(p)]
    for symbol, (_, bids, asks) in books.items():
        top_bids = sorted(bids, reverse=True)[:20]
        top_asks = sorted(asks)[:20]
        assert last[symbol][:4] == (
            top_bids,
            [bids[p] for p in top_bids],
            top_asks,
            [asks[p] for p in top_asks],
        )


def test_replaying_a_live_recording_reproduces_the_live_calls(tmp_path: Path) -> None:
    """Record a live run (fake transport, REST answers out of order with the frames, a gap,
    a resync; each snapshot requested at its symbol's first event), replay the capture: the
    listeners see exactly the same calls."""
    answers = {
        "BTCUSDT": [body(10, "100"), body(20, "99")],
        "ETHUSDT": [body(5, "10")],
    }
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        symbol = request.url.params["symbol"]
        if symbol == "BTCUSDT" and len(answers[symbol]) == 1:
            await release.wait()
        return httpx.Response(200, content=answers[symbol].pop(0).encode())

    async def frames_seen(h: Harness, n: int) -> None:
        await until(lambda: h.session_stat("frames") == n)

    async def live(recorder: CaptureWriter) -> Harness:
        h = Harness(RangeToy, [BTC, ETH], handler=answer, recorder=recorder, options=AT_EVENT)
        async with h.running():
            fake = await connected(h, 1)
            steps = [
                delta("BTCUSDT", 11, 12, [["100", "2"]]),
                delta("ETHUSDT", 6, 6, [["11", "2"]]),
                delta("BTCUSDT", 14, 15, [["100", "9"]]),  # gap
                delta("ETHUSDT", 7, 7, [["10", "4"]]),
                delta("BTCUSDT", 19, 21, [["98", "1"]]),
            ]
            for n, frame in enumerate(steps, 1):
                h.clock.advance(S)
                fake.feed(frame)
                await frames_seen(h, n)
            h.clock.advance(S)
            release.set()
            await until(lambda: h.runner.stats.snapshot_fetches == 3)
            h.clock.advance(S)
        return h

    path = tmp_path / "live.ndjson.gz"
    with CaptureWriter(path) as recorder:
        h = asyncio.run(live(recorder))
    log: list[Call] = []
    summary = replay_file(
        path,
        lambda venue, conn: RangeToy([BTC, ETH]),
        lambda venue, symbol: Listener(symbol, log),
        lambda *a: None,
        options=AT_EVENT,
    )
    assert log == h.log
    assert len(log) == 10  # each snapshot lands with its buffered first event: one call
    assert (summary.rest_served, summary.rest_unanswered, summary.frames) == (3, 0, 5)


@settings(max_examples=40, deadline=None)
@given(
    changes=st.lists(st.tuples(st.integers(90, 99), st.integers(0, 3)), min_size=1, max_size=30),
    data=st.data(),
)
def test_snapshot_timing_never_changes_the_final_book(
    changes: list[tuple[int, int]], data: st.DataObject
) -> None:
    """Whatever update id the snapshot was taken at and wherever its answer falls among the
    frames, the replayed book ends equal to the model: snapshot + every later delta."""
    books = [{89: 1}]  # the venue's bid side after each update id
    for price, size in changes:
        book = dict(books[-1])
        if size:
            book[price] = size
        else:
            book.pop(price, None)
        books.append(book)
    taken = data.draw(st.integers(0, len(changes)), label="snapshot update id")
    where = data.draw(st.integers(0, len(changes)), label="answer position")
    frames = [
        rec(T0 + n * MS, "in", delta("BTCUSDT", n, n, [[str(p), str(s)]]))
        for n, (p, s) in enumerate(changes, 1)
    ]
    answer = rec(
        T0 + where * MS,
        "rest",
        orjson.dumps(
            {
                "id": taken,
                "bids": [[str(p), str(s)] for p, s in books[taken].items()],
                "asks": [["200", "1"]],
            }
        ).decode(),
        "https://toy.invalid/depth?symbol=BTCUSDT",
    )
    records = [rec(T0, "open"), *frames[:where], answer, *frames[where:]]
    last: list[Call] = []
    replay(
        records,
        lambda venue, conn: RangeToy([BTC]),
        lambda venue, symbol: Listener(symbol, last),
        lambda *a: None,
    )
    final = books[-1]
    top = sorted(final, reverse=True)
    assert [c for c in last if c[0] == "book"][-1][2:6] == (
        [float(p) for p in top],
        [float(final[p]) for p in top],
        [200.0],
        [1.0],
    )


# --- run.py replay: damaged captures, recorded symbols, --venues, --serve ----------------

ROOT = FIXTURES.parent.parent
EMULATED = FIXTURES / "emulated_binance_okx.ndjson.gz"
LINES = gzip.decompress(EMULATED.read_bytes()).splitlines(keepends=True)
SYMBOLS = "BTC/USDT,ETH/USDT"


def replay_cli(
    capsysbinary: pytest.CaptureFixture[bytes], capture: Path, *argv: str
) -> tuple[int, bytes, str]:
    code = run_main(["replay", str(capture), *argv])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


@pytest.fixture(scope="module")
def clean() -> bytes:
    """The events of the intact capture."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "replay", str(EMULATED), "--symbols", SYMBOLS],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert (
        result.stderr == b"run.py: replayed 333 of 333 records of emulated_binance_okx.ndjson.gz\n"
    )
    return result.stdout


def lines_file(tmp_path: Path, lines: list[bytes], name: str = "c.ndjson") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_a_capture_cut_short_replays_every_complete_record(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], gz: bool
) -> None:
    complete = lines_file(tmp_path, LINES[:201], "complete.ndjson")
    if gz:  # the second member stored (level 0): the cut falls 57 text bytes into line 201
        second = gzip.compress(b"".join(LINES[200:]), 0)
        assert second[15 : 15 + len(LINES[200])] == LINES[200]
        cut = tmp_path / "c.ndjson.gz"
        cut.write_bytes(gzip.compress(b"".join(LINES[:200])) + second[: 15 + len(LINES[200]) + 57])
    else:
        cut = lines_file(tmp_path, [*LINES[:201], LINES[201][:57]])
    code, out, err = replay_cli(capsysbinary, cut, "--symbols", SYMBOLS)
    assert code == 0
    assert err == (
        f"run.py: replayed 201 of 201 records of {cut.name}; "
        "cut short: 57 bytes at the end unreadable\n"
    )
    assert replay_cli(capsysbinary, complete, "--symbols", SYMBOLS)[1] == out
    assert out.count(b"\n") > 10
    code, out, err = replay_cli(capsysbinary, cut, "--symbols", SYMBOLS, "--strict")
    assert (code, out) == (2, b"")
    assert err == (
        f"run.py: {cut.name}: cut short: 57 bytes after the last complete record are unreadable\n"
    )


def test_malformed_lines_are_skipped_named_and_counted_or_with_strict_an_error(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], clean: bytes
) -> None:
    bad = b'{"v":1,"t":"x"}\n'
    path = lines_file(tmp_path, [*LINES[:10], bad, *LINES[10:], bad])  # a bad last line too
    code, out, err = replay_cli(capsysbinary, path, "--symbols", SYMBOLS)
    assert (code, out) == (0, clean)
    assert err == (
        "run.py: warning: c.ndjson:11: 't' must be an integer (ns)\n"
        "run.py: warning: c.ndjson:335: 't' must be an integer (ns)\n"
        "run.py: replayed 333 of 333 records of c.ndjson; 2 malformed lines skipped\n"
    )
    code, out, err = replay_cli(capsysbinary, path, "--symbols", SYMBOLS, "--strict")
    assert (code, out, err) == (2, b"", "run.py: c.ndjson:11: 't' must be an integer (ns)\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b'{"v":1}\n[]\n', "2 malformed lines skipped"),
        (b'{"v":1', "cut short: 6 bytes at the end unreadable"),
    ],
)
def test_a_capture_without_records_is_one_message_and_exit_2(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], content: bytes, message: str
) -> None:
    path = lines_file(tmp_path, [content])
    assert replay_cli(capsysbinary, path, "--symbols", SYMBOLS) == (
        2,
        b"",
        f"run.py: c.ndjson: no valid capture records ({message})\n",
    )


def test_records_out_of_time_order_are_warned_about_and_replayed_in_file_order(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], clean: bytes
) -> None:
    lines = [*LINES]
    early = orjson.loads(lines[1])  # binance's subscribe (the replay sends nothing)
    assert early["dir"] == "out"
    lines.insert(20, orjson.dumps({**early, "t": early["t"] - 1}) + b"\n")
    code, out, err = replay_cli(capsysbinary, lines_file(tmp_path, lines), "--symbols", SYMBOLS)
    assert (code, out) == (0, clean)
    assert err == (
        "run.py: replayed 334 of 334 records of c.ndjson; "
        "1 record out of time order (replayed in file order)\n"
    )


def test_open_records_naming_their_symbols_need_no_symbols_option(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], clean: bytes
) -> None:
    lines = []
    for line in LINES:
        record = orjson.loads(line)
        if record["dir"] == "open":
            record["symbols"] = ["BTC/USDT", "ETH/USDT"]
        lines.append(orjson.dumps(record) + b"\n")
    code, out, _ = replay_cli(capsysbinary, lines_file(tmp_path, lines))
    assert (code, out) == (0, clean)
    # one connection naming none, and no --symbols: which symbols is unknown
    lines[0] = LINES[0]
    code, out, err = replay_cli(capsysbinary, lines_file(tmp_path, lines))
    assert (code, out) == (2, b"")
    assert err == (
        "run.py: --symbols: replay needs the capture's canonical symbols "
        "(its open records do not name them)\n"
    )


def test_venues_option_replays_only_those_venues(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    okx = [line for line in LINES if b'"venue":"okx"' in line]
    code, out, err = replay_cli(capsysbinary, EMULATED, "--symbols", SYMBOLS, "--venues", "okx")
    assert code == 0
    assert err == f"run.py: replayed {len(okx)} of 333 records of {EMULATED.name}\n"
    assert len(okx) == 167
    assert out == replay_cli(capsysbinary, lines_file(tmp_path, okx), "--symbols", SYMBOLS)[1]
    states = [(e["venue"], e["state"]) for e in map(orjson.loads, out.splitlines())]
    assert states[:3] == [("okx", "connecting"), ("okx", "syncing"), ("okx", "live")]
    assert {venue for venue, _ in states} == {"okx"}
    assert replay_cli(capsysbinary, EMULATED, "--symbols", SYMBOLS, "--venues", "okx,kraken") == (
        2,
        b"",
        "run.py: --venues: 'kraken' is not in the capture (binance, okx)\n",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--speed", "-1"], "run.py: --speed: must be >= 0, got -1.0\n"),
        (["--speed", "nan"], "run.py: --speed: must be >= 0, got nan\n"),
        (["--wait-clients", "1"], "run.py: --wait-clients: needs --serve\n"),
    ],
)
def test_bad_replay_options_exit_2(
    capsysbinary: pytest.CaptureFixture[bytes], argv: list[str], message: str
) -> None:
    assert replay_cli(capsysbinary, EMULATED, "--symbols", SYMBOLS, *argv) == (2, b"", message)


def test_serve_sends_the_replayed_events_paced_by_the_capture(clean: bytes) -> None:
    """The 8 s capture at speed 20: a client connected before the replay starts receives
    exactly the events printed, spread over about 0.4 s, and the process then ends."""
    proc = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "run.py"), "replay", str(EMULATED)),
            *("--symbols", SYMBOLS, "--serve", "127.0.0.1:0"),
            *("--wait-clients", "1", "--speed", "20"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        announced = proc.stderr.readline().decode()
        assert announced.startswith("run.py: serving events on ws://127.0.0.1:"), announced
        url = announced.split()[-1]
        received: list[tuple[float, str | bytes]] = []
        with websockets.sync.client.connect(url, open_timeout=10) as ws:
            received.extend((time.monotonic(), message) for message in ws)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == clean
    hello, end = orjson.loads(received[0][1]), received[1][1]
    assert (hello["type"], hello["venues"]) == ("hello", ["binance", "okx"])
    assert hello["symbols"] == SYMBOLS.split(",")
    assert end == '{"schema":1,"type":"snapshot_end"}'  # joined before the replay: nothing yet
    received = received[2:]
    assert [m for _, m in received] == [line.decode() for line in clean.splitlines()]
    assert received[-1][0] - received[0][0] >= 0.3  # paced: 8 s of capture / 20
    assert err == b"run.py: replayed 333 of 333 records of emulated_binance_okx.ndjson.gz\n"
