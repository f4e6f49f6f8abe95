"""The emulator's venue kit: the registry covers the feeds', ids, options, the generic session."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import orjson
import pytest

from emulator.market import MarketConfig, MarketModel
from emulator.server import Emulator, EmulatorConfig
from emulator.venues import VENUES
from emulator.venues.base import Out, minimal
from emulator.venues.kit import (
    Adapter,
    ConnectionCounter,
    Counter,
    KitSession,
    Levels,
    PrevLinks,
    Request,
    Sub,
    UpdateRanges,
    checksum,
    dumps,
    json_object,
)
from feeds.checksum import OKX, crc32
from feeds.venues import SPECS

T0 = 1_795_000_000_000_000_000


def test_every_feed_venue_is_emulated_at_its_spec_path() -> None:
    missing = sorted(set(SPECS) - set(VENUES))
    assert missing == [], f"venues with a feed but no emulator adapter: {missing}"
    paths = {v: cls.ws_path for v, cls in VENUES.items()}
    assert paths == {
        "ascendex": "/1/api/pro/v1/stream",
        "bequant": "/api/3/ws/public",
        "binance": "/ws",  # the codec appends /ws to the spec's bare host
        "binanceus": "/ws",
        "bitfinex": "/ws/2",
        "bitflyer": "/json-rpc",
        "bitstamp": "/",
        "bybit": "/v5/public/spot",
        "coinbase": "/",
        "deribit": "/ws/api/v2",
        "gate": "/ws/v4/",
        "hitbtc": "/api/3/ws/public",
        "independentreserve": "/orderbook",
        "gemini": "/v2/marketdata",
        "htx": "/feed",
        "kraken": "/v2",
        "kucoin": "/",  # the path of the endpoint its bullet answer names
        "okx": "/ws/v5/public",
        "poloniex": "/ws/public",
        "upbit": "/websocket/v1",
        "bithumb": "/websocket/v1",
    }
    for venue in ("bitfinex", "bybit", "coinbase", "kraken", "kucoin", "okx", "poloniex"):
        assert paths[venue] == (urlsplit(SPECS[venue].endpoints.ws).path or "/")
    checksums = sorted(v for v, cls in VENUES.items() if cls.has_checksum)
    ranges = sorted(v for v, cls in VENUES.items() if cls.has_ranges)
    assert checksums == sorted(v for v, spec in SPECS.items() if spec.integrity.checksum)
    assert {"bitfinex", "kraken", "okx"} <= set(checksums)
    assert ranges == ["binance", "binanceus", "kucoin"]


def test_id_schemes_advance_once_per_step_from_a_seeded_start() -> None:
    ranges = UpdateRanges(["A", "B"], random.Random(3), (100, 200), 6)
    links = PrevLinks(["A"], random.Random(3), (100, 200), 6)
    counter = Counter(["A"], random.Random(3), (100, 200))
    assert (ranges.last, links.last, counter.last) == ({"A": 130, "B": 175}, {"A": 130}, {"A": 130})
    assert links.prev == {"A": -1}
    ranges.advance("A")
    links.advance("A")
    counter.advance("A")
    assert (ranges.first("A"), ranges.last["A"]) == (131, 135)
    assert (links.prev["A"], links.last["A"]) == (130, 135)
    assert (counter.prev["A"], counter.last["A"]) == (130, 131)
    conn = ConnectionCounter()
    assert [conn.next(), conn.next(), conn.next()] == [0, 1, 2]


def test_checksum_reads_the_layout_over_the_venue_text() -> None:
    bids, asks = [(30_3160, 5), (30_3150, 0)], [(30_3170, 12_345)]
    text_b = [("30316", "0.00000005"), ("30315", "0")]
    text_a = [("30317", "0.00012345")]
    expected = crc32(OKX, text_b, text_a)
    assert checksum(OKX, (bids, asks), minimal, (1, 8)) == expected
    assert checksum(OKX, (bids, asks), minimal, (1, 8), corrupt=True) == expected ^ 1


@pytest.mark.parametrize(
    ("venue", "options", "message"),
    [
        (
            "okx",
            {"ts_text": True},
            "okx has no option 'ts_text' (has ['checksum_zero', 'requests_per_hour'])",
        ),
        (
            "okx",
            {"requests_per_hour": 0},
            "okx option 'requests_per_hour' must be an integer >= 1, not 0",
        ),
        ("bybit", {"ts_text": 1}, "bybit option 'ts_text' must be true or false, not 1"),
        ("binance", {"checksum_zero": True}, "binance has no option 'checksum_zero' (has [])"),
    ],
)
def test_a_bad_venue_option_is_one_error_naming_it(
    venue: str, options: dict[str, object], message: str
) -> None:
    market = MarketConfig(venues=(venue,), symbols=("BTC/USDT",), dislocations_per_min=0)
    with pytest.raises(ValueError) as info:
        Emulator(EmulatorConfig(market=market, venue_options={venue: options}))
    assert str(info.value) == message


class Acme(Adapter):
    """The kit docstring's example, on Bybit's spec (any feed venue's spec will do)."""

    name = "bybit"

    def parse(self, session: KitSession, text: str, now_ns: int) -> Request | list[Out]:
        req = json_object(text) or {}
        subs = [Sub(self.symbols[s]) for s in req.get("symbols", []) if s in self.symbols]
        return Request(req.get("op") == "subscribe", list[Sub | Out](subs))

    def answer(self, session: KitSession, req: Request, now_ns: int) -> list[Out]:
        return [Out('{"ok":true}')]

    def snapshot(self, sub: Sub, now_ns: int) -> Out | None:
        return Out(dumps({"snapshot": self.book(sub.symbol).top(1)}), book=True)

    def delta(self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool) -> Out:
        return Out(dumps({"update": [bids, asks]}), book=True)


def test_an_adapter_of_a_few_methods_gets_subscriptions_snapshots_and_deltas() -> None:
    symbols = ("BTC/USDT", "ETH/USDT")
    market = MarketConfig(venues=("bybit",), symbols=symbols, seed=4, dislocations_per_min=0)
    model = MarketModel(market, T0)
    venue = Acme(model, {})
    session = venue.session("/v5/public/spot", 1, T0)
    assert session is not None and venue.session("/other", 2, T0) is None
    out = session.received('{"op":"subscribe","symbols":["BTCUSDT","XYZ"]}', T0)
    book = model.books[("bybit", "BTC/USDT")]
    assert [o.frame for o in out] == ['{"ok":true}', dumps({"snapshot": book.top(1)})]
    changes = model.step()
    mine = {s: c for (v, s), c in changes.items() if v == "bybit"}
    venue.advance(mine, model.now_ns)
    frames = session.publish(mine, model.now_ns, False)
    change = mine["BTC/USDT"]
    assert [orjson.loads(o.frame) for o in frames] == [
        {"update": [[list(x) for x in change.bids], [list(x) for x in change.asks]]}
    ]
    assert [
        o.frame for o in session.received('{"op":"unsubscribe","symbols":["BTCUSDT"]}', T0)
    ] == ['{"ok":true}']
    assert session.publish(mine, model.now_ns, False) == []


class LevelByLevel(Acme):
    """A venue that sends each changed level as its own frame."""

    def delta(  # type: ignore[override]
        self, sub: Sub, bids: Levels, asks: Levels, now_ns: int, corrupt: bool
    ) -> list[Out]:
        return [Out(dumps({"level": list(level)}), book=True) for level in (*bids, *asks)]


def test_a_delta_may_be_several_frames() -> None:
    market = MarketConfig(venues=("bybit",), symbols=("BTC/USDT",), seed=4, dislocations_per_min=0)
    model = MarketModel(market, T0)
    venue = LevelByLevel(model, {})
    session = venue.session("/v5/public/spot", 1, T0)
    assert session is not None
    session.received('{"op":"subscribe","symbols":["BTCUSDT"]}', T0)
    change = model.step()[("bybit", "BTC/USDT")]
    frames = session.publish({"BTC/USDT": change}, model.now_ns, False)
    levels = [*change.bids, *change.asks]
    assert len(levels) > 1
    assert [o.frame for o in frames] == [dumps({"level": list(level)}) for level in levels]


def test_an_adapter_needs_the_feed_spec_of_its_venue() -> None:
    with pytest.raises(TypeError, match="Nowhere: no feed spec for venue 'nowhere'"):
        type("Nowhere", (Adapter,), {"name": "nowhere"})
