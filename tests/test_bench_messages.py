"""The benchmark's message generator: deterministic, well-formed, Kraken checksums valid."""

from __future__ import annotations

import zlib

import orjson

from benchmarks.messages import binance_stream, kraken_checksum, kraken_stream


def test_streams_are_deterministic() -> None:
    assert binance_stream(50) == binance_stream(50)
    assert kraken_stream(50) == kraken_stream(50)
    assert binance_stream(50, seed=3).messages != binance_stream(50).messages


def test_binance_ids_chain_from_the_snapshot() -> None:
    stream = binance_stream(200)
    snap = orjson.loads(stream.snapshot)
    assert len(snap["bids"]) == len(snap["asks"]) == 1000
    assert snap["bids"][0] == ["29999.99000000", snap["bids"][0][1]]
    expected = snap["lastUpdateId"] + 1
    for raw in stream.messages:
        data = orjson.loads(raw)["data"]
        assert data["U"] == expected and data["u"] >= data["U"]
        assert len(data["b"]) + len(data["a"]) == 21
        expected = data["u"] + 1
    bids, asks = stream.top10
    assert len(bids) == len(asks) == 10 and bids[0][0] < asks[0][0]


def _replay_kraken(n: int) -> tuple[dict[str, str], dict[str, str]]:
    """Independent reference: a plain replay of the frames, checking each ``c`` on the way."""
    stream = kraken_stream(n)
    snap = orjson.loads(stream.snapshot)[1]
    asks = {p: q for p, q, _ in snap["as"]}
    bids = {p: q for p, q, _ in snap["bs"]}
    for raw in stream.messages:
        msg = orjson.loads(raw)
        for part in msg[1:-2]:
            for key, book in (("a", asks), ("b", bids)):
                for p, q, _ in part.get(key, []):
                    if float(q) == 0:
                        book.pop(p, None)
                    else:
                        book[p] = q
        for book, desc in ((asks, False), (bids, True)):
            for p in sorted(book, key=float, reverse=desc)[1000:]:
                del book[p]
        text = "".join(
            _f(p) + _f(book[p])
            for book, desc in ((asks, False), (bids, True))
            for p in sorted(book, key=float, reverse=desc)[:10]
        )
        assert int(msg[-3]["c"]) == zlib.crc32(text.encode())
    return bids, asks


def _f(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def test_kraken_checksums_and_top10() -> None:
    bids, asks = _replay_kraken(300)
    top_b, top_a = kraken_stream(300).top10
    assert top_b == [(float(p), float(bids[p])) for p in sorted(bids, key=float, reverse=True)[:10]]
    assert top_a == [(float(p), float(asks[p])) for p in sorted(asks, key=float)[:10]]


def test_kraken_checksum_known_value() -> None:
    # Kraken's documented example shape: price "0.05005" -> "5005", volume "0.00000500" -> "500".
    px = {5005: "0.05005", 5004: "0.05004"}
    value = kraken_checksum({5004: "0.00000500"}, {5005: "1.00000000"}, px)
    assert value == zlib.crc32(b"5005100000000" + b"5004500")
