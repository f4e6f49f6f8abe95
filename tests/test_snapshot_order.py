"""REST snapshots in the order Binance documents for a local book: open the stream, buffer
its events, then get the snapshot; drop buffered events with u <= lastUpdateId; the first
applied has U <= lastUpdateId + 1 <= u; a snapshot older than the first buffered event is
fetched again (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
#how-to-manage-a-local-order-book-correctly). Driven through the real Binance codec."""

from __future__ import annotations

import orjson

from feeds.actions import FetchSnapshot, Send
from feeds.book import Book
from feeds.protocol import RestRequest
from feeds.session import FeedSession
from feeds.venues.binance import Binance

T0 = 1_795_000_000_000_000_000
MS = 1_000_000
BTC, ETH = "BTC/USDT", "ETH/USDT"
FETCH_BTC = FetchSnapshot(
    RestRequest("http://r/api/v3/depth?symbol=BTCUSDT&limit=100", BTC, weight=5)
)
FETCH_ETH = FetchSnapshot(
    RestRequest("http://r/api/v3/depth?symbol=ETHUSDT&limit=100", ETH, weight=5)
)


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[object, ...]] = []

    def listener_for(self, symbol: str) -> Calls.Leg:
        return Calls.Leg(symbol, self.log)

    class Leg:
        def __init__(self, symbol: str, log: list[tuple[object, ...]]) -> None:
            self.symbol, self.log = symbol, log

        def on_book(self, book: Book, ts_ns: int) -> None:
            self.log.append(("book", self.symbol, *book.top(), ts_ns))

        def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
            self.log.append(("usable", self.symbol, usable, ts_ns))


def diff(first: int, last: int, bid: str, size: str) -> str:
    event = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first, "u": last}
    return orjson.dumps({**event, "b": [[bid, size]], "a": []}).decode()


def snapshot(last_update_id: int) -> bytes:
    return orjson.dumps(
        {"lastUpdateId": last_update_id, "bids": [["100.0", "1.0"]], "asks": [["101.0", "1.0"]]}
    )


def session(calls: Calls) -> FeedSession:
    # the defaults: depth_levels 20 -> limit 100; a quiet symbol's snapshot after 1 s
    return FeedSession(
        Binance([BTC, ETH]), calls.listener_for, lambda *a: None, rest_base="http://r"
    )


def test_the_snapshot_is_requested_after_the_stream_buffered_an_event() -> None:
    calls = Calls()
    s = session(calls)
    sub = '{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","ethusdt@depth@100ms"],"id":1}'
    assert s.opened(T0) == [Send(sub)]  # the stream first; no snapshot yet
    assert s.frame('{"result":null,"id":1}', T0 + 1 * MS) == []
    assert s.frame(diff(100, 103, "99.0", "1.0"), T0 + 2 * MS) == [FETCH_BTC]  # buffered, then
    assert s.frame(diff(104, 106, "99.0", "2.0"), T0 + 3 * MS) == []  # buffered, asked once
    assert s.tick(T0 + 999 * MS) == []
    assert s.tick(T0 + 1000 * MS) == [FETCH_ETH]  # no ETH event within 1 s: ask anyway
    assert s.tick(T0 + 2000 * MS) == []
    assert calls.log == []
    # lastUpdateId 104: 100..103 is dropped (u <= 104); 104..106 bridges (104 <= 105 <= 106)
    assert s.snapshot(BTC, snapshot(104), T0 + 4 * MS) == []
    assert calls.log == [
        ("usable", BTC, True, T0 + 4 * MS),
        ("book", BTC, [100.0, 99.0], [1.0, 2.0], [101.0], [1.0], T0 + 4 * MS),
    ]
    assert (s.stats.older, s.stats.gaps, s.stats.book_msgs) == (1, 0, 2)


def test_a_snapshot_older_than_the_first_buffered_event_is_fetched_again() -> None:
    calls = Calls()
    s = session(calls)
    s.opened(T0)
    assert s.frame(diff(100, 103, "99.0", "1.0"), T0 + 1 * MS) == [FETCH_BTC]
    assert s.frame(diff(104, 106, "98.0", "1.0"), T0 + 2 * MS) == []
    # lastUpdateId 90 < U 100 - 1: the stream starts after it; ask again, keep the buffer
    assert s.snapshot(BTC, snapshot(90), T0 + 3 * MS) == [FETCH_BTC]
    assert (s.stats.old_snapshots, s.stats.gaps, s.stats.resyncs) == (1, 0, 0)
    assert calls.log == []
    assert s.frame(diff(107, 107, "97.0", "1.0"), T0 + 4 * MS) == []  # still buffering
    # lastUpdateId 99: every buffered event applies, the first bridging 99 + 1 = U
    assert s.snapshot(BTC, snapshot(99), T0 + 5 * MS) == []
    assert calls.log == [
        ("usable", BTC, True, T0 + 5 * MS),
        ("book", BTC, [100.0, 99.0, 98.0, 97.0], [1.0] * 4, [101.0], [1.0], T0 + 5 * MS),
    ]
    assert (s.stats.older, s.stats.gaps, s.stats.book_msgs) == (0, 0, 4)
