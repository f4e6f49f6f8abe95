"""The emulator's frames against the real venues, beyond what tests/test_conformance.py checks
for every venue (book frames of the recording's shape, rebuilt exactly through the feed):
REST bodies, acks, pongs, heartbeats and number text compared with the recordings in
tests/fixtures (see ATTRIBUTION.md) or the venues' documented examples; checksums verified
with :mod:`feeds.checksum`. Driven sans-I/O (no sockets); the helpers here serve the other
emulator tests and the conformance suite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from emulator.market import MarketConfig, MarketModel
from emulator.venues import VENUES, Venue
from emulator.venues.base import HttpAnswer, Out, Session
from feeds.capture import read_capture
from feeds.checksum import KRAKEN, crc32
from feeds.venues import VENUES as FEED_VENUES
from tests.conformance import coinbase, kraken

FIXTURES = Path(__file__).parent / "fixtures"
PATHS = {name: VENUES[name].ws_path for name in FEED_VENUES}
"""Every venue of the feeds' registry: each must be emulated."""

T0 = 1_795_000_000_000_000_000
Shape = object


def harness(
    name: str,
    path: str,
    symbols: tuple[str, ...] = ("BTC/USDT",),
    seed: int = 1,
    depth: int = 25,
    **opts: object,
) -> tuple[MarketModel, Venue, Session]:
    """A market with one venue and one session on ``path`` (no sockets)."""
    market = MarketConfig(
        venues=(name,), symbols=symbols, seed=seed, depth=depth, dislocations_per_min=0
    )
    model = MarketModel(market, T0)
    venue = VENUES[name](model, opts)
    session = venue.session(path, 1, T0)
    assert session is not None
    return model, venue, session


def step(model: MarketModel, venue: Venue, session: Session, corrupt: bool = False) -> list[str]:
    """One market step published to ``session``: its frames."""
    changes = model.step()
    mine = {s: c for (v, s), c in changes.items() if v == venue.name}
    venue.advance(mine, model.now_ns)
    return [o.frame for o in session.publish(mine, model.now_ns, corrupt)]


def shape(value: object, exact_decimals: bool = False) -> Shape:
    """Keys in order, value types and number-text classes, recursively; a list is the shape
    of its first element (None when empty, matching any list)."""
    if isinstance(value, dict):
        return tuple((k, shape(v, exact_decimals)) for k, v in value.items())
    if isinstance(value, list):
        return ("list", shape(value[0], exact_decimals) if value else None)
    if isinstance(value, NumberText):
        return ("number", number_class(value, exact_decimals))
    if isinstance(value, str):
        return ("str", number_class(value, exact_decimals))
    return type(value).__name__


def number_class(text: str, exact_decimals: bool) -> str:
    """``decimal/8`` (exact: the number of decimals counts), ``decimal`` (any plain decimal
    text, ``30316`` or ``0.5``), ``integer`` (exact mode only) or ``text``."""
    if exact_decimals and re.fullmatch(r"-?[0-9]+", text):
        return "integer"
    match = re.fullmatch(r"-?[0-9]+(?:\.([0-9]+))?", text)
    if match:
        return f"decimal/{len(match[1] or '')}" if exact_decimals else "decimal"
    return "text"


def same_shape(a: Shape, b: Shape) -> bool:
    if a is None or b is None:
        return True
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(same_shape(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def recorded(name: str) -> Iterator[tuple[str, str]]:
    for record in read_capture(FIXTURES / f"{name}.ndjson.gz"):
        if isinstance(record.data, str):
            yield record.dir, record.data


def drop_keys(obj: object, keys: set[str]) -> object:
    if isinstance(obj, dict):
        return {k: drop_keys(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [drop_keys(v, keys) for v in obj]
    return obj


# -- Binance ---------------------------------------------------------------------------------


def test_binance_rest_has_the_recorded_shape() -> None:
    # (the stream's frames: tests/test_conformance.py)
    model, venue, session = harness("binance", "/stream?streams=btcusdt@depth@100ms")
    frames = [orjson.loads(f) for _ in range(5) for f in step(model, venue, session)]
    rec_rest = [orjson.loads(d) for k, d in recorded("binance") if k == "rest"]
    answer = venue.rest("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "1000"}, model.now_ns)
    assert answer is not None and answer.status == 200
    body = orjson.loads(answer.body)
    assert shape(body, True) == shape(rec_rest[0], True)
    assert body["lastUpdateId"] == frames[-1]["data"]["u"]
    assert len(body["bids"]) == len(body["asks"]) == 25
    refused = venue.rest("/api/v3/depth", {"symbol": "NOPE"}, model.now_ns)
    assert refused == HttpAnswer(400, '{"code":-1121,"msg":"Invalid symbol."}')


def test_binance_update_ids_are_contiguous_and_continue_the_rest_snapshot() -> None:
    model, venue, session = harness("binance", "/ws")
    assert session.received(
        '{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":7}', T0
    ) == [Out('{"result":null,"id":7}')]
    answer = venue.rest("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5"}, model.now_ns)
    assert answer is not None
    last = orjson.loads(answer.body)["lastUpdateId"]
    for _ in range(30):
        (frame,) = step(model, venue, session)
        event = orjson.loads(frame)
        assert event["U"] == last + 1 and event["u"] >= event["U"]
        last = event["u"]


# -- Bybit -----------------------------------------------------------------------------------


def test_bybit_ack_and_number_text() -> None:
    # (shapes and the u counter: tests/test_conformance.py)
    model, venue, session = harness("bybit", "/v5/public/spot")
    ack, _ = session.received('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}', T0)
    assert orjson.loads(ack.frame) == {
        "success": True,
        "ret_msg": "subscribe",
        "conn_id": "emu-1-1",
        "req_id": "",
        "op": "subscribe",
    }
    for _ in range(20):
        (frame,) = step(model, venue, session)
        delta = orjson.loads(frame)
        for px, sz in delta["data"]["b"] + delta["data"]["a"]:
            assert re.fullmatch(r"[0-9]+\.[0-9]{2}", px)  # the tick's decimals (0.01)
            assert sz == "0" or re.fullmatch(r"[0-9]+\.[0-9]{6}", sz)  # the lot's (0.000001)


# -- OKX -------------------------------------------------------------------------------------

OKX_DOCS_SNAPSHOT = (  # https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{'
    '"asks":[["8476.98","415","0","13"],["8477","7","0","2"]],'
    '"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],'
    '"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
)


class TextBook:
    """An independent book over the venue's own text (price text -> size text)."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def apply(self, bids: list[list[str]], asks: list[list[str]], depth: int = 10**6) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for px, sz, *_ in levels:
                if Decimal(sz) == 0:
                    side.pop(px, None)
                else:
                    side[px] = sz
        for side, best_first in ((self.bids, True), (self.asks, False)):
            for px in sorted(side, key=Decimal, reverse=best_first)[depth:]:
                del side[px]

    def top(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids = sorted(self.bids.items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda kv: Decimal(kv[0]))
        return bids[:n], asks[:n]


def test_okx_ack_docs_shape_and_number_text() -> None:
    # (the recording's shapes, seqId links, checksums: tests/test_conformance.py)
    model, venue, session = harness("okx", "/ws/v5/public")
    ack, snap = session.received(
        '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}', T0
    )
    assert ack.frame == (
        '{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"00000001"}'
    )
    # the emulator's seqId/prevSeqId in full, as the docs example has them
    assert shape(orjson.loads(snap.frame)) == shape(orjson.loads(OKX_DOCS_SNAPSHOT))
    for _ in range(40):
        (frame,) = step(model, venue, session)
        data = orjson.loads(frame)["data"][0]
        for px, sz, _, orders in data["bids"] + data["asks"]:
            assert not re.search(r"\.[0-9]*0$|\.$", px + " " + sz)  # minimal decimal text
            assert (sz == "0") == (orders == "0")


def test_okx_checksum_zero_option_and_ping() -> None:
    model, venue, session = harness("okx", "/ws/v5/public", checksum_zero=True)
    assert [o.frame for o in session.received("ping", T0)] == ["pong"]
    session.received('{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}', T0)
    (frame,) = step(model, venue, session)
    assert orjson.loads(frame)["data"][0]["checksum"] == 0


# -- Kraken (v2: no recording; the documented examples) --------------------------------------


class NumberText(str):
    """A JSON number kept as its exact text (Kraken v2 numbers carry the pair's precision)."""


def kraken_json(text: str) -> object:
    return json.loads(text, parse_float=NumberText, parse_int=NumberText)


def test_kraken_status_pong_and_depth_10_checksums_verify() -> None:
    # (the book frames' and ack's shapes: tests/test_conformance.py)
    model, venue, session = harness("kraken", "/v2", symbols=("BTC/USD",))
    (status,) = session.opened(T0)
    assert shape(kraken_json(status.frame)) == shape(kraken_json(kraken.DOCS_STATUS))
    request = '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10}}'
    _, snap = session.received(request, T0)
    snapshot = kraken_json(snap.frame)
    (pong,) = session.received('{"method":"ping","req_id":101}', T0)
    assert shape(kraken_json(pong.frame)) == shape(kraken_json(kraken.DOCS_PONG))
    book = TextBook()
    data = snap_data(snapshot)
    book.apply(data["bids"], data["asks"], depth=10)
    assert crc32(KRAKEN, *book.top(10)) == data["checksum"]
    assert len(book.bids) == len(book.asks) == 10
    for _ in range(40):
        frames = step(model, venue, session)
        for frame in frames:
            data = snap_data(kraken_json(frame))
            book.apply(data["bids"], data["asks"], depth=10)
            assert crc32(KRAKEN, *book.top(10)) == data["checksum"]
    assert len(book.bids) == len(book.asks) == 10


def snap_data(message: object) -> dict[str, Any]:
    assert isinstance(message, dict)
    item: dict[str, Any] = message["data"][0]
    # price/qty as exact text, the way the checksum is defined
    item["checksum"] = int(item["checksum"])
    item["bids"] = [[str(lv["price"]), str(lv["qty"])] for lv in item["bids"]]
    item["asks"] = [[str(lv["price"]), str(lv["qty"])] for lv in item["asks"]]
    return item


# -- Coinbase (Advanced Trade: no recording; the documented examples) -------------------------


def test_coinbase_heartbeats_and_one_connection_counter() -> None:
    # (the l2_data and subscriptions shapes: tests/test_conformance.py)
    model, venue, session = harness("coinbase", "/", symbols=("BTC/USD", "ETH/USD"))
    request = '{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}'
    subs, snap_btc, snap_eth = (orjson.loads(o.frame) for o in session.received(request, T0))
    (beat_subs,) = session.received('{"type":"subscribe","channel":"heartbeats"}', T0)
    assert orjson.loads(beat_subs.frame)["events"] == [
        {"subscriptions": {"level2": ["BTC-USD", "ETH-USD"], "heartbeats": ["heartbeats"]}}
    ]
    frames = [orjson.loads(f) for _ in range(10) for f in step(model, venue, session)]
    frames += [orjson.loads(o.frame) for o in session.heartbeat(model.now_ns)]
    # heartbeat_counter: an integer, as the AsyncAPI spec says (tests/conformance/coinbase.py)
    heartbeats = orjson.loads(coinbase.DOC_HEARTBEATS.replace('"3049"', "3049"))
    assert shape(frames[-1]) == shape(heartbeats)
    assert frames[-1]["events"][0]["heartbeat_counter"] == 1
    numbers = [subs, snap_btc, snap_eth, orjson.loads(beat_subs.frame), *frames]
    assert [m["sequence_num"] for m in numbers] == list(range(len(numbers)))
    sides = {u["side"] for f in frames[:-1] for u in f["events"][0]["updates"]}
    assert sides == {"bid", "offer"}
