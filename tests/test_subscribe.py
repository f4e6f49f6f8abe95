"""The event server's subscribe message: parsing (exact errors) and the filter (exact events)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.subscribe import EVENT_TYPES, BadSubscribe, Filter, parse_subscribe
from tests.fuzzing import fuzz_settings


def test_a_full_subscribe_message_parses_to_its_filter() -> None:
    f = parse_subscribe(
        '{"type":"subscribe","symbols":["BTC/USDT"],"venues":["okx","binance"],'
        '"types":["opened","closed"],"min_net_bps":7}'
    )
    assert (f.symbols, f.venues, f.types, f.min_net_bps) == (
        frozenset({"BTC/USDT"}),
        frozenset({"okx", "binance"}),
        frozenset({"opened", "closed"}),
        7.0,
    )
    assert parse_subscribe(b'{"type":"subscribe"}').symbols is None


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("[1]", 'expected {"type": "subscribe", ...}'),
        ('{"symbols":[]}', 'expected {"type": "subscribe", ...}'),
        ("{", "not JSON"),
        ('{"type":"subscribe","min_net_bps":null}', "min_net_bps: expected a number"),
        ('{"type":"subscribe","min_net_bps":true}', "min_net_bps: expected a number"),
        ('{"type":"subscribe","venues":[1]}', "venues: expected a list of at most 256 strings"),
        ('{"type":"subscribe","types":["trade"]}', "types: unknown event type 'trade'"),
        ('{"type":"subscribe","limit":1}', "unknown field 'limit'"),
    ],
)
def test_anything_else_is_a_bad_subscribe_naming_why(message: str, error: str) -> None:
    with pytest.raises(BadSubscribe) as exc:
        parse_subscribe(message)
    assert str(exc.value) == error


def test_filters_without_the_named_field_pass_and_types_drop_closed_ids() -> None:
    f = Filter(symbols=frozenset({"ETH/USDT"}), venues=frozenset({"okx"}))
    stats = {"schema": 1, "type": "stats"}
    assert f.wants(stats)  # no symbol, no venue
    assert f.wants({"type": "venue", "venue": "okx"})
    assert not f.wants({"type": "venue", "venue": "bybit"})
    assert not f.wants({"type": "book", "venue": "okx", "symbol": "BTC/USDT"})
    g = Filter(types=frozenset({"updated"}), min_net_bps=3.0)
    opp = {"type": "updated", "id": "9", "symbol": "X/Y", "buy_venue": "a", "sell_venue": "b"}
    assert g.wants({**opp, "net_bps": 3.0}) and g.sent_ids == {"9"}
    assert not g.wants({**opp, "type": "closed"}) and g.sent_ids == set()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@fuzz_settings(200)
@given(
    st.dictionaries(
        st.sampled_from(["type", "symbols", "venues", "types", "min_net_bps", "x"]),
        json_values | st.just("subscribe") | st.lists(st.sampled_from(sorted(EVENT_TYPES))),
    )
)
def test_fuzz_subscribe_parses_or_raises_bad_subscribe(msg: dict[str, Any]) -> None:
    text = json.dumps(msg)  # big integers and NaN too: orjson refuses them, as it should
    try:
        f = parse_subscribe(text)
    except BadSubscribe:
        return
    assert msg.get("type") == "subscribe" and set(msg) <= {
        "type", "symbols", "venues", "types", "min_net_bps"
    }  # fmt: skip
    event = {"type": "opened", "id": "1", "symbol": "A/B", "buy_venue": "a", "sell_venue": "b",
             "net_bps": 1.0}  # fmt: skip
    assert f.wants(event) in (True, False)


@fuzz_settings(200)
@given(st.binary(max_size=64) | st.text(max_size=64))
def test_fuzz_subscribe_any_text_parses_or_raises_bad_subscribe(message: bytes | str) -> None:
    with contextlib.suppress(BadSubscribe):  # anything else fails the test
        parse_subscribe(message)
