"""Capture v1 (feeds/capture.py) and the cryptofeed converter (feeds/convert.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.capture import CaptureError, CaptureWriter, Record, parse_record, read_capture
from feeds.convert import ConvertError, convert, main, read_http, read_ws, seconds_to_ns

WS_URL = "wss://stream.example.com:9443/stream?streams=abcusdt@depth"
REST_URL = "https://api.example.com/api/v3/depth?symbol=ABCUSDT&limit=1000"

WS_TEXT = (
    f"{WS_URL} <-> 1633998511.159679\n"
    "wss://stream.example.com:9443/stream <- 1633998511.2: "
    '{"method": "SUBSCRIBE", "id": 1}\n'
    '1633998512.0633569: {"stream":"abcusdt@depth","data":{"U":7,"u":9,"b":[["1.5","2"]]}}\n'
    "\n"
    "1633998512.3: b'\\x1f\\x8b\\x00: raw'\n"
    '1633998513: {"result":null,"id":1}\n'
)
HTTP_TEXT = (
    "https://api.example.com/api/v3/depth?symbol=XYZUSDT&limit=1000 -> 1633998512.0633569: "
    '{"lastUpdateId":1}\n'
    f'{REST_URL} -> 1633998512.320639: {{"lastUpdateId":8,"bids":[["1.5","3"]],"asks":[]}}'
    ' header: {"Content-Type": "application/json"}\n'
)


# --- capture v1 -------------------------------------------------------------------------


def test_record_json_is_exact() -> None:
    text = Record(1_633_998_512_063_356_900, "binance", "in", WS_URL, '{"a":1}')
    assert text.to_json() == (
        b'{"v":1,"t":1633998512063356900,"venue":"binance","dir":"in",'
        b'"url":"' + WS_URL.encode() + b'","data":"{\\"a\\":1}"}'
    )
    binary = Record(5, "htx", "in", "wss://h/ws", b"\x1f\x8b\x00", conn=2)
    assert binary.to_json() == (
        b'{"v":1,"t":5,"venue":"htx","dir":"in","url":"wss://h/ws","b64":"H4sA","conn":2}'
    )
    assert parse_record(binary.to_json()) == binary
    assert parse_record(text.to_json()) == text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{nope", "x:3: not JSON"),
        (b"[1]", "x:3: a record must be a JSON object"),
        (b'{"v":2,"t":1,"venue":"a","dir":"in","url":"","data":""}', "version 2"),
        (b'{"v":1,"t":true,"venue":"a","dir":"in","url":"","data":""}', "'t' must be an integer"),
        (b'{"v":1,"t":1.5,"venue":"a","dir":"in","url":"","data":""}', "'t' must be an integer"),
        (b'{"v":1,"t":1,"venue":"","dir":"in","url":"","data":""}', "'venue' must be"),
        (b'{"v":1,"t":1,"venue":"a","dir":"up","url":"","data":""}', "'dir' must be one of"),
        (b'{"v":1,"t":1,"venue":"a","dir":"in","url":3,"data":""}', "'url' must be a string"),
        (b'{"v":1,"t":1,"venue":"a","dir":"in","url":"","data":""', "not JSON"),
        (b'{"v":1,"t":1,"venue":"a","dir":"in","url":"","conn":"1","data":""}', "'conn' must"),
        (b'{"v":1,"t":1,"venue":"a","dir":"in","url":"","b64":"!!"}', "not valid base64"),
        (b'{"v":1,"t":1,"venue":"a","dir":"in","url":""}', "needs 'data' (string) or 'b64'"),
    ],
)
def test_parse_record_rejects(line: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_record(line, "x:3")


def test_writer_and_reader_plain_and_gzip(tmp_path: Path) -> None:
    records = [
        Record(1, "kraken", "open", "wss://k/v2", ""),
        Record(2, "kraken", "out", "wss://k/v2", '{"method":"subscribe"}'),
        Record(3, "kraken", "in", "wss://k/v2", b"\x00\xff", conn=1),
        Record(4, "kraken", "rest", "https://k/0/public/Depth?pair=XBTUSD", "{}"),
        Record(5, "kraken", "close", "wss://k/v2", ""),
    ]
    for name in ("c.ndjson", "c.ndjson.gz"):
        with CaptureWriter(tmp_path / name) as w:
            w.write_all(records)
            assert w.records == 5
        assert list(read_capture(tmp_path / name)) == records
    raw = (tmp_path / "c.ndjson").read_bytes()
    assert gzip.decompress((tmp_path / "c.ndjson.gz").read_bytes()) == raw
    assert (
        raw.splitlines()[0]
        == b'{"v":1,"t":1,"venue":"kraken","dir":"open","url":"wss://k/v2","data":""}'
    )


def test_reader_skips_blank_lines_and_names_bad_line(tmp_path: Path) -> None:
    good = Record(1, "okx", "in", "wss://o", "x").to_json()
    (tmp_path / "c.ndjson").write_bytes(good + b"\n\n  \n" + good + b"\n{bad\n")
    reader = read_capture(tmp_path / "c.ndjson")
    assert [next(reader), next(reader)] == [parse_record(good)] * 2
    with pytest.raises(CaptureError, match=r"^c\.ndjson:5: not JSON"):
        next(reader)


@settings(max_examples=60, deadline=None)
@given(
    t=st.integers(min_value=0, max_value=2**63 - 1),
    direction=st.sampled_from(["in", "out", "open", "close", "rest"]),
    data=st.one_of(st.text(), st.binary()),
    conn=st.integers(min_value=0, max_value=1000),
    venue=st.text(min_size=1),
    url=st.text(),
)
def test_record_round_trip(
    t: int, direction: str, data: str | bytes, conn: int, venue: str, url: str
) -> None:
    record = Record(t, venue, direction, url, data, conn)  # type: ignore[arg-type]
    assert parse_record(record.to_json()) == record


# --- cryptofeed -> capture v1 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1633998512.0633569", 1_633_998_512_063_356_900),
        ("1633998511.159679", 1_633_998_511_159_679_000),
        ("1618678132.385", 1_618_678_132_385_000_000),
        ("1618678132", 1_618_678_132_000_000_000),
        ("1.123456789123", 1_123_456_789),  # beyond ns: truncated, never rounded through a float
        (" 7.000000001 ", 7_000_000_001),
    ],
)
def test_seconds_to_ns_is_exact(text: str, ns: int) -> None:
    assert seconds_to_ns(text) == ns


@pytest.mark.parametrize("text", ["", "1e9", "-1.5", "1.2.3", "12:30", "1.5x"])
def test_seconds_to_ns_rejects(text: str) -> None:
    with pytest.raises(ConvertError, match="not a timestamp"):
        seconds_to_ns(text)


def test_read_ws_open_out_text_binary(tmp_path: Path) -> None:
    path = tmp_path / "EX.ws.1.0"
    path.write_text(WS_TEXT)
    assert list(read_ws(path, "binance", conn=3)) == [
        Record(1_633_998_511_159_679_000, "binance", "open", WS_URL, "", 3),
        Record(
            1_633_998_511_200_000_000,
            "binance",
            "out",
            "wss://stream.example.com:9443/stream",
            '{"method": "SUBSCRIBE", "id": 1}',
            3,
        ),
        Record(
            1_633_998_512_063_356_900,
            "binance",
            "in",
            WS_URL,
            '{"stream":"abcusdt@depth","data":{"U":7,"u":9,"b":[["1.5","2"]]}}',
            3,
        ),
        Record(1_633_998_512_300_000_000, "binance", "in", WS_URL, b"\x1f\x8b\x00: raw", 3),
        Record(1_633_998_513_000_000_000, "binance", "in", WS_URL, '{"result":null,"id":1}', 3),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1633998512.1 no separator", "EX.ws.1.0:1: no ': ' separator"),
        ("1633998512.1: b'\\x1", "EX.ws.1.0:1: bad bytes literal"),
        ("1633998512.1: b'a' + b'b'", "EX.ws.1.0:1: bad bytes literal"),
        ("yesterday: {}", "not a timestamp"),
    ],
)
def test_read_ws_rejects(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "EX.ws.1.0"
    path.write_text(line + "\n")
    with pytest.raises(ConvertError, match=message):
        list(read_ws(path, "binance"))


def test_read_http_strips_header_suffix(tmp_path: Path) -> None:
    path = tmp_path / "EX.http.0.0"
    path.write_text(HTTP_TEXT + "\n")
    assert list(read_http(path, "binance")) == [
        Record(
            1_633_998_512_063_356_900,
            "binance",
            "rest",
            "https://api.example.com/api/v3/depth?symbol=XYZUSDT&limit=1000",
            '{"lastUpdateId":1}',
        ),
        Record(
            1_633_998_512_320_639_000,
            "binance",
            "rest",
            REST_URL,
            '{"lastUpdateId":8,"bids":[["1.5","3"]],"asks":[]}',
        ),
    ]
    path.write_text("https://api.example.com/x 1633998512.3: {}\n")
    with pytest.raises(ConvertError, match=r"EX\.http\.0\.0:1: not 'url -> ts: body'"):
        list(read_http(path, "binance"))


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    ws1, ws2, http = tmp_path / "EX.ws.1.0", tmp_path / "EX.ws.2.0", tmp_path / "EX.http.0.0"
    ws1.write_text(WS_TEXT)
    ws2.write_text("wss://b/ws <-> 1633998512.0633569\n1633998512.5: {}\n")
    http.write_text(HTTP_TEXT)
    return ws1, ws2, http


def test_convert_merges_by_time_stably(tmp_path: Path) -> None:
    ws1, ws2, http = _files(tmp_path)
    merged = convert("binance", [ws1, ws2], [http])
    assert [(r.t, r.dir, r.conn) for r in merged] == [
        (1_633_998_511_159_679_000, "open", 0),
        (1_633_998_511_200_000_000, "out", 0),
        # three records at the same ns: file order of the inputs (ws 1, ws 2, http)
        (1_633_998_512_063_356_900, "in", 0),
        (1_633_998_512_063_356_900, "open", 1),
        (1_633_998_512_063_356_900, "rest", 0),
        (1_633_998_512_300_000_000, "in", 0),
        (1_633_998_512_320_639_000, "rest", 0),
        (1_633_998_512_500_000_000, "in", 1),
        (1_633_998_513_000_000_000, "in", 0),
    ]


def test_convert_max_in_keeps_the_prefix(tmp_path: Path) -> None:
    ws1, ws2, http = _files(tmp_path)
    full = convert("binance", [ws1, ws2], [http])
    assert convert("binance", [ws1, ws2], [http], max_in=0) == full[:2]
    # the 2nd received frame is at index 5; what follows it up to the 3rd stays (a REST
    # answer the kept frames may need), the 3rd frame and everything after it are cut
    assert convert("binance", [ws1, ws2], [http], max_in=2) == full[:7]
    assert convert("binance", [ws1, ws2], [http], max_in=4) == full
    assert convert("binance", [ws1, ws2], [http], max_in=99) == full


def test_main_writes_gzip_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws1, _, http = _files(tmp_path)
    out = tmp_path / "out.ndjson.gz"
    args = ["--venue", "binance", "--ws", str(ws1), "--http", str(http), "--out", str(out)]
    assert main([*args, "--max-in", "2"]) == 0
    assert capsys.readouterr().out == f"wrote 6 records to {out}\n"
    assert list(read_capture(out)) == convert("binance", [ws1], [http], max_in=2)


def test_main_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.ndjson"
    assert main(["--venue", "x", "--ws", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("convert: [Errno 2] No such file or directory")
    assert not out.exists()


def test_convert_keep_slices_by_content_searching_gzip_frames_unzipped(tmp_path: Path) -> None:
    path = tmp_path / "EX.ws.1.0"
    zipped = gzip.compress(b'{"ch":"market.abcusdt.depth.step0"}', mtime=0)
    path.write_text(
        "wss://h/ws <-> 1.0\n"
        'wss://h/ws <- 1.1: {"sub":"market.abcusdt.depth.step0"}\n'
        'wss://h/ws <- 1.2: {"sub":"market.xyzusdt.depth.step0"}\n'
        f"1.3: {zipped!r}\n"
        f"1.4: {gzip.compress(b'{}', mtime=0)!r}\n"
        "1.5: b'\\x1f\\x8b not gzip'\n"
        '1.6: {"ping":1}\n'
    )
    kept = convert("htx", [path], keep=["abcusdt", '"ping"'])
    assert [(r.dir, r.data) for r in kept] == [
        ("open", ""),
        ("out", '{"sub":"market.abcusdt.depth.step0"}'),
        ("in", zipped),
        ("in", '{"ping":1}'),
    ]
    out = tmp_path / "x.ndjson"
    assert main(["--venue", "htx", "--ws", str(path), "--out", str(out), "--keep", "xyz"]) == 0
    assert [r.dir for r in read_capture(out)] == ["open", "out"]
