"""OKX v5 quirks: derivatives named by ccxt's unified symbols. (Samples, malformed frames,
fuzzing, the replay's figures, resync, the emulator, frames out, and OKX's documented seqId
links, keep-alives, resets and checksum 0 through the session (``okx-links``):
tests/conformance/okx.py; the 2022 recording read, every checksum proven by the rule written
independently and the session followed by the independent model: tests/test_reference.py.)"""

from __future__ import annotations

import pytest

from feeds.venues.okx import Okx


def test_swaps_and_futures_by_their_unified_symbols() -> None:
    codec = Okx([])
    assert codec.venue_symbol("BTC/USDT:USDT") == "BTC-USDT-SWAP"  # a future: the case's symbols
    for bad in ("BTC/USDT:ETH", "BTC/USD:BTC-2205", "BTC/USD:BTC-22O527"):
        with pytest.raises(ValueError, match="not an OKX swap or future"):
            codec.venue_symbol(bad)
