"""The codec base: canonical symbols are split strictly and mapped by an explicit table."""

from __future__ import annotations

import pytest

from feeds import checksum
from feeds.protocol import Integrity, SeqRule, split_symbol
from feeds.venues.binance import Binance
from feeds.venues.kraken_v1 import KrakenV1


@pytest.mark.parametrize("bad", ["BTCUSDT", "btc/usdt", "BTC/", "/USDT", "BTC-USDT", "BT C/USDT"])
def test_split_symbol_refuses_anything_not_canonical(bad: str) -> None:
    with pytest.raises(ValueError, match="not a canonical BASE/QUOTE symbol"):
        split_symbol(bad)


def test_split_symbol() -> None:
    assert split_symbol("BTC/USDT") == ("BTC", "USDT")


def test_two_symbols_with_one_venue_id_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match=r"^'ABC/D' and 'AB/CD' are both 'ABCD'$"):
        Binance(["AB/CD", "ABC/D"])


def test_the_table_maps_venue_ids_back_explicitly() -> None:
    assert KrakenV1(["BTC/USD", "DOGE/EUR"])._canonical == {
        "XBT/USD": "BTC/USD",
        "XDG/EUR": "DOGE/EUR",
    }


@pytest.mark.parametrize(
    ("integrity", "shows"),
    [
        (Integrity(SeqRule.TIME), False),  # Bitstamp: only a crossed book reveals a loss
        (Integrity(SeqRule.NONE), False),
        (Integrity(SeqRule.NONE, checksum=checksum.KRAKEN), True),
        (Integrity(SeqRule.NONE, connection_counter=True), True),
        (Integrity(SeqRule.RANGE), True),
        (Integrity(SeqRule.COUNTER), True),
        (Integrity(SeqRule.PREV_LINK), True),
        (Integrity(SeqRule.SNAPSHOT_ONLY), True),  # nothing to lose: every push is a book
    ],
)
def test_whether_a_lost_message_shows(integrity: Integrity, shows: bool) -> None:
    assert integrity.detects_loss is shows
