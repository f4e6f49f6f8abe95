"""HTX codec: the real 2021 ``depth.step0`` recording (tests/fixtures/htx.ndjson.gz, see
ATTRIBUTION.md: gzip frames, pings, whole books), the documented ``mbp`` messages (``rep``
snapshot, ``seqNum``/``prevSeqNum`` links, errors), fuzzing.

The golden tops come from :func:`reference_replay`, which decodes the frames itself (gzip +
json) and checks the recording's own rule: every book sorted, never crossed, ``version``
never going back.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from emulator import Emulator, EmulatorConfig, MarketConfig
from emulator.venues.base import Out
from emulator.venues.htx import java_double
from feeds.actions import Send
from feeds.capture import read_capture
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    ParseError,
    Reply,
    SeqRule,
    SnapshotSource,
    Subscribed,
    VenueError,
)
from feeds.session import FeedSession
from feeds.venues.htx import MAX_FRAME, Htx, HtxStep0, gunzip
from tests.fuzzing import fuzz_settings
from tests.test_emulator_wire import T0, harness, same_shape, shape, step
from tests.venue_helpers import ARBITRARY_INPUT, Recorder, Top, fuzz, mutated

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = list(read_capture(FIXTURES / "htx.ndjson.gz"))
FRAMES = [r.data for r in RECORDS if r.dir == "in"]
SYMBOLS = ("BOR/USDT", "OMG/BTC", "YFI/HUSD", "NEST/ETH")
IDS = {"borusdt": SYMBOLS[0], "omgbtc": SYMBOLS[1], "yfihusd": SYMBOLS[2], "nesteth": SYMBOLS[3]}
MS = 1_000_000
S = 1_000_000_000


def decode(frame: str | bytes) -> dict[str, Any]:
    assert isinstance(frame, bytes)
    obj: dict[str, Any] = json.loads(gzip.decompress(frame))
    return obj


def reference_replay() -> list[tuple[int, str, Top]]:
    """(frame index, venue id, best bid/size/ask/size) of every book push; asserts the
    recording's rule on each: sides sorted, not crossed, version never goes back."""
    versions: dict[str, int] = {}
    tops: list[tuple[int, str, Top]] = []
    for index, frame in enumerate(FRAMES):
        msg = decode(frame)
        if not msg.get("ch", "").endswith(".depth.step0"):
            continue
        vid, tick = msg["ch"].split(".")[1], msg["tick"]
        bids, asks = [p for p, _ in tick["bids"]], [p for p, _ in tick["asks"]]
        assert bids == sorted(set(bids), reverse=True) and asks == sorted(set(asks))
        assert bids[0] < asks[0]
        assert tick["version"] >= versions.get(vid, 0)
        versions[vid] = tick["version"]
        tops.append((index, vid, (*tick["bids"][0], *tick["asks"][0])))
    return tops


def test_reference_replay_proves_the_rule_on_every_push_and_golden_tops() -> None:
    tops = reference_replay()
    assert len(tops) == 118
    assert tops[0] == (1, "borusdt", (710.01, 2.260165, 715.3, 0.092911))
    assert tops[2] == (5, "yfihusd", (49986.85, 0.000345, 50171.6, 0.001052))
    assert tops[3] == (7, "nesteth", (2.275e-05, 5387.19, 2.291e-05, 991.7))
    assert tops[-1] == (137, "nesteth", (2.272e-05, 930.82, 2.288e-05, 441.82))


def test_codec_translates_every_recorded_frame_exactly() -> None:
    codec = HtxStep0(SYMBOLS)
    kinds: dict[str, int] = {}
    for frame in FRAMES:
        msg = decode(frame)
        topic = msg.get("ch") or msg.get("subbed") or ""
        vid = topic.split(".")[1] if topic else ""
        expected: list[Any]
        if "ping" in msg:
            expected = [Reply(json.dumps({"pong": msg["ping"]}, separators=(",", ":")))]
        elif not topic.endswith(".depth.step0"):
            expected = []  # trade.detail pushes and acks
        elif "subbed" in msg:
            expected = [Subscribed(IDS[vid])]
        else:
            tick = msg["tick"]
            expected = [
                BookSnapshot(
                    IDS[vid], tick["bids"], tick["asks"], tick["version"], None, msg["ts"] * MS
                )
            ]
        events = codec.parse(frame)
        assert events == expected
        for event in events:
            kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    assert kinds == {"Subscribed": 4, "BookSnapshot": 118, "Reply": 6}
    assert len(FRAMES) == 138  # + 4 trade acks and 6 trade pushes, translated to nothing


def test_first_recorded_push_golden_event() -> None:
    (snapshot,) = HtxStep0(SYMBOLS).parse(FRAMES[3])
    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.symbol, snapshot.seq, snapshot.venue_ts_ns) == (
        "OMG/BTC",
        101027220071,
        1618678069734 * MS,
    )
    assert (snapshot.bids[0], snapshot.asks[0]) == (
        [1.58e-4, 855.3964],
        [1.59e-4, 4050.342110062893],
    )
    assert (len(snapshot.bids), len(snapshot.asks)) == (69, 150)


def test_session_replays_the_recording_answering_every_ping_as_recorded() -> None:
    codec = HtxStep0(SYMBOLS)
    recorders = {s: Recorder() for s in SYMBOLS}
    states: list[str] = []
    session = FeedSession(codec, recorders.__getitem__, lambda s, r, t: states.append(s))
    reference = iter(reference_replay())
    pongs = [r.data for r in RECORDS if isinstance(r.data, str) and "pong" in r.data]
    sent: list[Any] = []
    assert session.opened(RECORDS[0].t) == [Send(codec.subscribe_frames([s])[0]) for s in SYMBOLS]
    for index, record in enumerate(r for r in RECORDS if r.dir == "in"):
        sent += session.frame(record.data, record.t)
        if b"depth.step0" in gunzip(record.data) and b'"tick"' in gunzip(record.data):
            at, vid, top = next(reference)
            assert at == index
            bid_px, bid_sz, ask_px, ask_sz = session.books[IDS[vid]].top(1)
            assert (bid_px[0], bid_sz[0], ask_px[0], ask_sz[0]) == top
    assert sent == [Send(p) for p in pongs] and len(pongs) == 6
    stats = session.stats
    assert (stats.book_msgs, stats.gaps, stats.crossed, stats.resyncs) == (118, 0, 0, 0)
    assert (stats.malformed, stats.codec_errors, stats.checksum_fail) == (0, 0, 0)
    assert states == ["syncing", "live"]
    assert recorders["BOR/USDT"].tops[-1] == (710.01, 2.260165, 716.15, 0.118518)
    assert [[u for u, _, _ in r.usable] for r in recorders.values()] == [[True]] * 4


# --- HTX's documented mbp messages --------------------------------------------------------
# https://www.htx.com/en-us/opend/newApiPages/ (spot WebSocket market data, "Market By Price
# (incremental update)"): the sub/req requests, the sub ack, sample A of the req answer (its
# first five bids and seqNum; one ask added), and pushes in the shape of the update example.

DOCS_ACK = '{"id":"id1","status":"ok","subbed":"market.btcusdt.mbp.150","ts":1489474081631}'
DOCS_BIDS = [
    [618.37, 71.594],
    [423.33, 77.726],
    [223.18, 47.997],
    [219.34, 24.82],
    [210.34, 94.463],
]
DOCS_REP = {
    "id": "id21",
    "rep": "market.btcusdt.mbp.150",
    "status": "ok",
    "data": {"seqNum": 100020142010, "bids": DOCS_BIDS, "asks": [[645.14, 26.755973959140652]]},
}
DOCS_ERROR = (
    '{"id":"btcusdt","status":"error","err-code":"bad-request",'
    '"err-msg":"invalid topic market.btcusdt.mbp.7","ts":1494301904959}'
)


def push(
    seq: int, prev: int, bids: list[Any] | None = None, asks: list[Any] | None = None
) -> dict[str, Any]:
    tick: dict[str, Any] = {"seqNum": seq, "prevSeqNum": prev}
    tick |= {} if bids is None else {"bids": bids}
    tick |= {} if asks is None else {"asks": asks}
    return {"ch": "market.btcusdt.mbp.150", "ts": 1573199608679, "tick": tick}


def gz(obj: object) -> bytes:
    return gzip.compress(json.dumps(obj).encode(), mtime=0)


def test_spec_and_frames_out() -> None:
    assert (Htx.venue, Htx.aliases) == ("htx", ("huobipro", "huobi"))
    assert Htx.integrity.seq is SeqRule.PREV_LINK
    assert Htx.integrity.snapshot is SnapshotSource.REQUEST
    assert Htx.endpoints.ws == "wss://api.huobi.pro/feed"
    assert HtxStep0.integrity.seq is SeqRule.SNAPSHOT_ONLY
    codec = Htx(["BTC/USDT", "ETH/BTC"])
    assert codec.subscribe_frames(["BTC/USDT", "ETH/BTC"]) == [
        '{"sub":"market.btcusdt.mbp.150","id":"btcusdt"}',
        '{"sub":"market.ethbtc.mbp.150","id":"ethbtc"}',
    ]
    assert codec.snapshot_frame("ETH/BTC") == '{"req":"market.ethbtc.mbp.150","id":"ethbtc"}'
    assert Htx(["BTC/USDT"], depth=5).subscribe_frames(["BTC/USDT"]) == [
        '{"sub":"market.btcusdt.mbp.5","id":"btcusdt"}'
    ]
    with pytest.raises(ValueError, match=r"htx book depth must be one of \[5, 20, 150, 400\]"):
        Htx(["BTC/USDT"], depth=10)


def test_documented_messages_plain_or_gzip() -> None:
    codec = Htx(["BTC/USDT"])
    for wrap in (json.dumps, gz):
        assert codec.parse(wrap(json.loads(DOCS_ACK))) == [Subscribed("BTC/USDT")]
        assert codec.parse(wrap(DOCS_REP)) == [
            BookSnapshot("BTC/USDT", DOCS_BIDS, [[645.14, 26.755973959140652]], seq=100020142010)
        ]
        assert codec.parse(wrap(push(100020146795, 100020146794, asks=[[645.14, 0]]))) == [
            BookDelta(
                "BTC/USDT", [], [[645.14, 0]], 100020146795, 100020146795, 100020146794, None,
                1573199608679 * MS,
            )
        ]  # fmt: skip
        assert codec.parse(wrap({"ping": 1492420473027})) == [Reply('{"pong":1492420473027}')]
        assert codec.parse(wrap(json.loads(DOCS_ERROR))) == [
            VenueError("bad-request: invalid topic market.btcusdt.mbp.7", "BTC/USDT")
        ]
    other = '{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{}}'
    unsubbed = '{"id":"x","status":"ok","unsubbed":"market.btcusdt.mbp.150","ts":1}'
    assert codec.parse(other) == codec.parse(unsubbed) == []


@pytest.mark.parametrize(
    "frame",
    [
        b"\x1f\x8b\x08\x00garbage",
        gz({"ping": 1})[:-6],  # cut short
        "[]",
        '{"ping":-1}',
        '{"ping":"1"}',
        '{"status":"ok"}',
        '{"status":"ok","subbed":7}',
        '{"status":"ok","subbed":"market.ethusdt.mbp.150"}',  # a book topic not subscribed
        '{"status":"ok","rep":"market.btcusdt.mbp.150","data":[]}',
        '{"status":"ok","rep":"market.btcusdt.mbp.150","data":{"bids":[],"asks":[]}}',
        '{"ch":"market.btcusdt.mbp.150","ts":1,"tick":[]}',
        '{"ch":"market.btcusdt.mbp.150","tick":{"seqNum":2,"prevSeqNum":1}}',
        '{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{"seqNum":2}}',
        '{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{"seqNum":2,"prevSeqNum":1,"bids":{}}}',
        '{"ch":null}',
    ],
)
def test_malformed_frames_raise_parse_error(frame: str | bytes) -> None:
    with pytest.raises(ParseError):
        Htx(["BTC/USDT"]).parse(frame)


def test_a_gzip_bomb_is_refused_not_inflated() -> None:
    bomb = zlib.compressobj(wbits=31)
    data = bomb.compress(b"{" + b" " * (MAX_FRAME + 10) + b"}") + bomb.flush()
    assert len(data) < MAX_FRAME // 100
    with pytest.raises(ParseError, match="too large"):
        gunzip(data)


def test_session_follows_the_documented_procedure_and_resyncs_by_asking_again() -> None:
    codec = Htx(["BTC/USDT"])
    rec = Recorder()
    session = FeedSession(codec, lambda _: rec, lambda *_: None)
    req = Send(codec.snapshot_frame("BTC/USDT"))
    assert session.opened(0) == [Send(codec.subscribe_frames(["BTC/USDT"])[0])]
    # 1) pushes are buffered, the first one asks for the snapshot on the connection
    assert session.frame(gz(push(100020142008, 100020142001, bids=[[618.37, 1.0]])), 1) == [req]
    assert session.frame(gz(push(100020142012, 100020142008, asks=[[645.14, 2.0]])), 2) == []
    # 2) the answer's seqNum lies inside the buffered second push: it bridges, the first drops
    assert session.frame(gz(DOCS_REP), 3) == []
    assert rec.tops == [(618.37, 71.594, 645.14, 2.0)]
    # 3) then every push names the one before
    assert session.frame(gz(push(100020142020, 100020142012, bids=[[618.37, 0]])), 4) == []
    assert rec.tops[-1] == (423.33, 77.726, 645.14, 2.0)
    assert (session.stats.older, session.stats.gaps, session.stats.book_msgs) == (1, 0, 3)
    # a lost push breaks the link: a new snapshot is asked for on the same connection
    assert session.frame(gz(push(100020142040, 100020142030, bids=[[1.0, 1.0]])), 5) == [req]
    assert (session.stats.gaps, rec.usable[-1]) == (1, (False, "desynced", 5))


SMALL_FRAMES = [
    DOCS_REP,
    push(3, 2, [[1.5, 2.0]], []),
    push(4, 3, asks=[[1.6, 0]]),
    json.loads(DOCS_ACK),
]
RECORDED_SMALL = [decode(FRAMES[5]), {"ping": 1618678073643}]


@fuzz_settings(200)
@given(
    ARBITRARY_INPUT
    | ARBITRARY_INPUT.map(lambda d: gzip.compress(d if isinstance(d, bytes) else d.encode()))
)
def test_fuzz_arbitrary_input(data: str | bytes) -> None:
    fuzz(Htx(["BTC/USDT"]).parse, data, ("BTC/USDT",))


@fuzz_settings(300)
@given(mutated([*SMALL_FRAMES, *RECORDED_SMALL]), st.booleans())
def test_fuzz_mutated_frames(frame: str, zipped: bool) -> None:
    data = gzip.compress(frame.encode()) if zipped else frame
    fuzz(Htx(["BTC/USDT"]).parse, data, ("BTC/USDT",))
    fuzz(HtxStep0(["YFI/HUSD"]).parse, data, ("YFI/HUSD",))


# --- the emulated venue: today's protocol, in the recording's shape -------------------------

JAVA_NUMBER = re.compile(r"[0-9]+\.[0-9]+(?:E-?[0-9]+)?")
"""A non-zero number as the venue writes a double (``710.01``, ``5.0``, ``1.58E-4``)."""


def level_texts(text: str) -> list[str]:
    """Every number of the ``bids``/``asks`` levels of a frame, as written."""
    sides = re.findall(r'"(?:bids|asks)":\[((?:\[[^\]]*\],?)*)\]', text)
    return [n for side in sides for n in re.findall(r"[^\[\],]+", side)]


def test_emulated_frames_have_the_recorded_shape_and_number_text() -> None:
    model, venue, session = harness("htx", "/feed", depth=150)
    (ack,) = session.received(Htx(["BTC/USDT"]).subscribe_frames(["BTC/USDT"])[0], T0)
    (rep,) = session.received(Htx(["BTC/USDT"]).snapshot_frame("BTC/USDT"), T0)
    pushes = [f for _ in range(5) for f in step(model, venue, session)]
    texts = [gunzip(f).decode() for f in FRAMES]  # type: ignore[union-attr]
    recorded_ack = json.loads(next(t for t in texts if '"subbed"' in t))
    recorded_book = json.loads(next(t for t in texts if '"tick"' in t and "depth" in t))
    assert list(json.loads(ack.frame)) == list(recorded_ack) == ["id", "status", "subbed", "ts"]
    assert shape(json.loads(ack.frame)["ts"]) == shape(recorded_ack["ts"])
    for frame in [rep.frame, *pushes]:
        obj = json.loads(frame)
        book = obj.get("tick") or obj["data"]
        for side in ("bids", "asks"):
            assert same_shape(shape(book[side]), shape(recorded_book["tick"][side]))
    assert list(json.loads(pushes[0])) == list(recorded_book) == ["ch", "ts", "tick"]
    ours = [n for f in [rep.frame, *pushes] for n in level_texts(f)]
    theirs = [n for t in texts for n in level_texts(t)]
    assert len(theirs) == 40202  # both numbers of the 20101 levels of the 118 recorded books
    assert all(JAVA_NUMBER.fullmatch(n) for n in theirs)
    assert all(JAVA_NUMBER.fullmatch(n) or n == "0" for n in ours) and "0" in ours
    assert [java_double(u, d) for u, d in [(158, 6), (5, 0), (71001, 2), (1, 3), (10**8, 1)]] == [
        "1.58E-4",
        "5.0",
        "710.01",
        "0.001",
        "1.0E7",
    ]
    assert [session.heartbeat(T0 + i * S) for i in range(1, 6)] == [[]] * 4 + [
        [Out('{"ping":1795000005000}')]
    ]
    assert session.received('{"pong":1795000005000}', T0) == []


def test_emulated_venue_serves_gzip_frames_req_snapshots_and_refusals() -> None:
    async def run() -> list[Any]:
        market = MarketConfig(venues=("htx",), symbols=("BTC/USDT",), seed=4)
        config = EmulatorConfig(market=market, autorun=False)
        codec = Htx(["BTC/USDT"])
        async with asyncio.timeout(10), Emulator(config, clock=lambda: T0) as emu:
            ws = await websockets.connect(emu.ws_url("htx"))
            await ws.send(codec.subscribe_frames(["BTC/USDT"])[0])
            await ws.send(codec.snapshot_frame("BTC/USDT"))
            await ws.send('{"sub":"market.btcusdt.mbp.7","id":"x"}')
            frames = [await ws.recv() for _ in range(3)]
            emu.step(1)
            frames.append(await ws.recv())
            await ws.close()
        assert all(isinstance(f, bytes) and f[:2] == b"\x1f\x8b" for f in frames)
        return [e for f in frames for e in codec.parse(f)]

    ack, snapshot, refused, push = asyncio.run(run())
    assert ack == Subscribed("BTC/USDT")
    assert refused == VenueError("bad-request: invalid topic market.btcusdt.mbp.7")
    assert isinstance(snapshot, BookSnapshot) and isinstance(push, BookDelta)
    assert snapshot.seq is not None and push.prev == snapshot.seq
    assert push.last is not None and push.last > snapshot.seq
