"""The venue specs: the registry reads them, each is consistent, the README's fee table equals
them, replay picks a recording's codec from them; the codec kit's field checks; the state,
reason and fault enums against the event schema."""

from __future__ import annotations

import json
import pkgutil
import re
from pathlib import Path

import orjson
import pytest

import feeds.venues
from benchmarks import bench_venues
from emulator.server import FAULTS, FaultKind
from feeds.actions import FeedState, Unusable
from feeds.checksum import Text
from feeds.codeckit import digits, json_object, levels, micros_ns, millis_ns, rfc3339_ns, uint
from feeds.protocol import ParseError, SnapshotSource
from feeds.venues import (
    ALIASES,
    SPECS,
    VENUES,
    UnknownVenue,
    canonical_venue,
    codec_class,
    default_fees,
    every_codec,
    replay_codec_class,
)
from feeds.venues.htx import Htx, HtxStep0
from feeds.venues.kraken import Kraken
from feeds.venues.kraken_v1 import KrakenV1
from scanner import events
from scanner.events import CloseReason, VenueState

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_registry_is_every_codec_listed_by_the_venue_modules() -> None:
    # Every module's codecs, in alphabetical order (each venue's own tests name it); these
    # venues at least, so that a module the discovery missed fails here.
    assert tuple(sorted(VENUES)) == VENUES
    assert {"binance", "bitfinex", "bybit", "coinbase", "kraken", "okx"} <= set(VENUES)
    listed = [
        cls.spec.id
        for m in pkgutil.iter_modules(feeds.venues.__path__)
        for cls in getattr(__import__(f"feeds.venues.{m.name}", fromlist=["_"]), "CODECS", ())
    ]
    assert sorted(listed) == list(VENUES)  # every module's codecs, in id order
    assert {"binance", "bitstamp", "kraken", "okx"} <= set(VENUES)
    assert ALIASES == {
        "bitfinex2": "bitfinex",
        "bitstamp1": "bitstamp",
        "gateio": "gate",
        "bitmax": "ascendex",
        "hitbtc2": "hitbtc",
        "huobi": "htx",
        "huobipro": "htx",
        "okex": "okx",
        "okex3": "okx",
    }
    assert [canonical_venue(a) for a in ("OKEX", "okex3", "Binance")] == ["okx", "okx", "binance"]
    with pytest.raises(UnknownVenue, match=f"supported: {', '.join(VENUES)}\\)$"):
        canonical_venue("mtgox")
    older = [o.codec.partition(":")[2] for spec in SPECS.values() for o in spec.older_protocols]
    assert [c.__name__ for c in every_codec()] == [codec_class(v).__name__ for v in VENUES] + older
    assert {"GateBookUpdate", "HtxStep0", "KrakenV1", "KuCoin2021"} <= set(older)


@pytest.mark.parametrize("venue", VENUES)
def test_each_codec_class_takes_its_attributes_from_its_spec(venue: str) -> None:
    cls, spec = codec_class(venue), SPECS[venue]
    assert (cls.venue, cls.aliases, cls.integrity, cls.endpoints) == (
        spec.id,
        spec.aliases,
        spec.integrity,
        spec.endpoints,
    )
    assert (cls.ping_interval_s, cls.max_symbols_per_connection, cls.requests_per_hour) == (
        spec.ping_interval_s,
        spec.max_symbols_per_connection,
        spec.requests_per_hour,
    )
    assert (cls.rest_limits, cls.max_connection_s) == (spec.rest_limits, spec.max_connection_s)
    assert cls.snapshot_timeout_s == spec.snapshot_timeout_s
    assert spec.endpoints.ws.startswith("wss://") and spec.endpoints.rest.startswith("https://")
    # a REST budget exactly for the venues seeded by REST; kept text exactly for checksums
    # over the text as sent (the others are computed from the book's values)
    assert (spec.rest_limits is not None) == (spec.integrity.snapshot is SnapshotSource.REST)
    layout = spec.integrity.checksum
    assert spec.integrity.keep_text == (layout is not None and layout.text is Text.WIRE)
    assert re.fullmatch(r"https://\S+", spec.fee.source) and 0 <= spec.fee.bps < 10_000
    assert re.fullmatch(r"20\d\d-[01]\d", spec.fee.checked)
    codec = cls(["BTC/USDT"])
    assert codec.depth == spec.default_depth
    assert codec.venue_symbol("BTC/USDT") == spec.symbol("BTC", "USDT")


def test_the_benchmark_tables_cover_every_venue() -> None:
    assert bench_venues.missing() == []
    assert all(c.fixture.is_file() and c.symbols for c in bench_venues.cases())


def test_depths_default_and_refusal_come_from_the_spec() -> None:
    assert Kraken(["BTC/USD"]).depth == 25 and KrakenV1(["BTC/USD"], depth=1000).depth == 1000
    assert codec_class("bybit")(["BTC/USDT"]).depth == 50
    with pytest.raises(ValueError, match=r"^bybit book depth must be one of \[1, 50, 200, 1000\]$"):
        codec_class("bybit")(["BTC/USDT"], depth=25)
    assert codec_class("binance")(["BTC/USDT"], depth=7).depth == 7  # no depths: as given


def test_the_readme_fee_table_is_the_specs() -> None:
    rows = {
        line.split(" | ")[0].removeprefix("| "): line
        for line in README.read_text(encoding="utf-8").splitlines()
        if re.match(r"\| [a-z0-9]+ \| \d+(?:\.\d+)? bps \|", line)
    }
    expected = {
        spec.id: f"| {spec.id} | {spec.fee.bps:g} bps | {spec.fee.source} ({spec.fee.tier}) |"
        for spec in SPECS.values()
    }
    assert rows == expected
    assert default_fees() == {spec.id: spec.fee.bps for spec in SPECS.values()}
    assert (default_fees()["binance"], default_fees()["coinbase"]) == (10.0, 120.0)


def test_replay_picks_the_codec_of_the_recorded_protocol() -> None:
    assert replay_codec_class("kraken", "wss://ws.kraken.com\n{...xbt/usd...}") is KrakenV1
    assert replay_codec_class("kraken", "ws://127.0.0.1:9/v2\n") is Kraken
    assert replay_codec_class("htx", "wss://api.huobi.pro/ws\n") is HtxStep0
    assert replay_codec_class("htx", "ws://127.0.0.1:9/feed\n") is Htx
    for venue in VENUES:
        if not SPECS[venue].older_protocols:
            assert replay_codec_class(venue, "") is codec_class(venue)
    assert KrakenV1(["BTC/USD"]).venue_symbol("DOGE/BTC") == "XDG/XBT"


def test_codec_kit_field_checks() -> None:
    assert json_object(b'{"a":1}') == {"a": 1}
    for bad, message in ((b"[1]", "expected a JSON object"), (b"{", "not JSON")):
        with pytest.raises(ParseError, match=message):
            json_object(bad)
    assert levels([["1", "2"]], "bids") == [["1", "2"]]
    with pytest.raises(ParseError, match=r"^bids: expected a list of levels$"):
        levels({"1": "2"}, "bids")
    assert (uint(5, "u"), uint(-1, "prev", signed=True)) == (5, -1)
    for value in (-1, True, 1.0, "1"):
        with pytest.raises(ParseError, match=r"^bad u "):
            uint(value, "u")
    assert digits("974942666", "c") == 974942666
    for value in ("", "-1", "1.5", "١٢", "1" * 21, 12):
        with pytest.raises(ParseError, match=r"^bad c "):
            digits(value, "c")
    assert (
        millis_ns(1700000000123, "ts") == millis_ns("1700000000123", "ts") == 1700000000123 * 10**6
    )
    assert micros_ns("1700000000123456", "ts") == 1700000000123456000
    with pytest.raises(ParseError, match=r"^bad ts "):
        millis_ns(-5, "ts")


def test_rfc3339_to_ns_exact() -> None:
    assert rfc3339_ns("2023-02-09T20:32:50.714964855Z") == 1675974770714964855
    assert rfc3339_ns("2023-02-09T20:32:50Z") == 1675974770000000000
    assert rfc3339_ns("2023-10-06T17:35:55.440295Z") == 1696613755440295000
    assert rfc3339_ns("2023-10-06T19:35:55.440295+02:00") == 1696613755440295000
    for bad in (None, 5, "2023-02-09T20:32:50", "2023-02-09T20:32:50.x1Z", "yesterdayZ"):
        assert rfc3339_ns(bad) is None


def test_states_and_reasons_are_the_schemas_on_both_sides() -> None:
    schema = json.loads((Path(events.__file__).parent / "events.schema.json").read_text())
    defs = schema["$defs"]
    states = defs["venue"]["properties"]["state"]["enum"]
    reasons = defs["closed"]["properties"]["reason"]["enum"]
    assert [str(s) for s in VenueState] == [str(s) for s in FeedState] == states
    assert [str(r) for r in CloseReason] == reasons
    assert {str(u) for u in Unusable} == set(reasons) - {"spread_closed", "shutdown"}
    # the JSON text of a member is its value
    assert orjson.dumps([FeedState.LIVE, CloseReason.CROSSED_BOOK]) == b'["live","crossed_book"]'
    assert FaultKind("bad_checksum") is FaultKind.BAD_CHECKSUM and set(FaultKind) == FAULTS
