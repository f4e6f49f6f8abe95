"""Kraken quirks through the session: WS v1 truncated to the acked depth; WS v2 (no recording
exists) truncated to the acked depth, its checksum over the exact number text. (Samples, the
number text and whitespace included, malformed frames, fuzzing, the replay's figures, resync,
the emulator, frames out, for both: tests/conformance/kraken.py; the v1 recording read, every
checksum proven by the rule written independently and the session followed by the
independent model: tests/test_reference.py.)
"""

from __future__ import annotations

from feeds.actions import Send
from feeds.venues.kraken import Kraken
from feeds.venues.kraken_v1 import KrakenV1
from tests.conformance.kraken import V1, kraken_checksum
from tests.test_conformance import records
from tests.venue_helpers import session_for

# https://docs.kraken.com/api/docs/guides/spot-ws-book-v2 (the checksum example, 3310070434).
DOCS_BIDS = [
    ("45283.5", "0.10000000"), ("45283.4", "1.54582015"), ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"), ("45280.3", "1.54592586"), ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"), ("45277.5", "0.30000000"), ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]  # fmt: skip
DOCS_ASKS = [
    ("45285.2", "0.00100000"), ("45286.4", "1.54571953"), ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"), ("45290.2", "0.15890660"), ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"), ("45296.1", "0.35380000"), ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]  # fmt: skip


def v2_book(kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], crc: int) -> str:
    """A BTC/USD v2 book message as the wire sends it: prices and quantities as number tokens."""

    def side(levels: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":[{side(bids)}],'
        f'"asks":[{side(asks)}],"checksum":{crc}}}]}}'
    )


def test_v1_books_are_truncated_to_the_acked_depth_not_the_constructed_one() -> None:
    # constructed at the default depth (25), the acks (depth 1000) set the depth the books
    # are checksummed at: every recorded checksum matches (the session after every message
    # against the independent model: tests/test_reference.py)
    session, _, _ = session_for(KrakenV1(V1.symbols))
    frames = [r for r in records(V1) if r.dir == "in"]
    session.opened(frames[0].t)
    assert [session.frame(r.data, r.t) for r in frames] == [[]] * len(frames)
    assert (session.stats.checksum_ok, session.stats.checksum_fail) == (4269, 0)


def test_v2_session_truncates_to_the_acked_depth_and_checks_the_number_text() -> None:
    session, recorders, _ = session_for(Kraken(["BTC/USD"], depth=10))
    session.opened(0)
    ack = '{"method":"subscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},'
    assert session.frame(ack + '"success":true}', 1) == []
    assert session.frame(v2_book("snapshot", DOCS_BIDS, DOCS_ASKS, 3310070434), 2) == []
    # a new best bid pushes the 11th bid out (no delete is sent for it); the best ask goes
    bids, asks = [("45284.0", "0.50000000"), *DOCS_BIDS[:9]], DOCS_ASKS[1:]
    crc = kraken_checksum(asks, bids)
    update = v2_book("update", [("45284.0", "0.50000000")], [("45285.2", "0.00000000")], crc)
    assert session.frame(update, 3) == []
    assert (session.stats.checksum_ok, session.stats.checksum_fail) == (2, 0)
    assert session.books["BTC/USD"].bid_count == 10
    tops = [(45283.5, 0.1, 45285.2, 0.001), (45284.0, 0.5, 45286.4, 1.54571953)]
    assert recorders["BTC/USD"].tops == tops
    # a float round trip of 0.50000000 would have made this checksum wrong: it resyncs
    request = (
        '{"method":"%s","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},"req_id":%d}'
    )
    wrong = v2_book("update", [("45284.0", "0.5")], [], crc)
    assert session.frame(wrong, 4) == [
        Send(request % ("unsubscribe", 2)),
        Send(request % ("subscribe", 3)),
    ]
    assert (session.stats.checksum_fail, session.stats.resyncs) == (1, 1)
    assert recorders["BTC/USD"].usable == [(True, None, 2), (False, "desynced", 4)]
