"""Capture files (feeds/capture.py): a killed recorder leaves a file readable to about its
last second, and the reader gets every complete record out of a damaged file, counting the
damage (malformed lines, an end cut short, gzip data corrupt, records out of time order)."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import run
from feeds.capture import (
    CaptureCutShort,
    CaptureError,
    CaptureReader,
    CaptureWriter,
    Record,
    read_capture,
)
from tests.fuzzing import fuzz_settings
from tests.test_runner import BTC, CrcToy, Harness, connected, until

ROOT = Path(__file__).resolve().parent.parent
S = 1_000_000_000


def rec(t: int, data: str = "x", direction: str = "in") -> Record:
    return Record(t, "okx", direction, "wss://o", data)  # type: ignore[arg-type]


RECORDS = [rec(1, direction="open"), *(rec(t, f"frame {t}") for t in range(2, 8))]
LINES = [r.to_json() + b"\n" for r in RECORDS]


def read(path: Path) -> tuple[list[Record], CaptureReader, list[CaptureError]]:
    errors: list[CaptureError] = []
    reader = CaptureReader(path, errors.append)
    return list(reader), reader, errors


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("name", ["c.ndjson", "c.ndjson.gz"])
def test_writer_flushes_what_is_older_than_its_interval_without_more_traffic(
    tmp_path: Path, name: str
) -> None:
    clock = Ticks()
    writer = CaptureWriter(tmp_path / name, flush_interval_s=0.5, clock=clock)
    writer.write(RECORDS[0])
    clock.now += 0.2
    writer.write(RECORDS[1])
    clock.now += 0.29
    writer.tick()  # the first record is 0.49 s old: nothing is flushed yet
    assert read(tmp_path / name)[0] == []
    clock.now += 0.01
    writer.tick()  # 0.5 s: both records reach the file although nothing more is written
    records, reader, errors = read(tmp_path / name)
    assert records == RECORDS[:2]
    # a gzip stream without its end (the writer could be killed now) is cut short after
    # its last complete record; a plain file is complete
    assert (reader.cut_short, reader.unreadable_bytes) == (name.endswith(".gz"), 0)
    assert [type(e) for e in errors] == [CaptureCutShort] * reader.cut_short
    writer.write(RECORDS[2])
    writer.close()
    assert read(tmp_path / name)[:1] == (RECORDS[:3],)


def test_runner_ticks_flush_the_recorder(tmp_path: Path) -> None:
    """A quiet connection still gets its records into the file: the runner's tick loop
    flushes the recorder."""
    path = tmp_path / "rec.ndjson.gz"

    async def scenario() -> list[Record]:
        with CaptureWriter(path, flush_interval_s=0.0) as recorder:
            h = Harness(CrcToy, [BTC], recorder=recorder)
            async with h.running():
                await connected(h, 1)
                await until(lambda: len(read(path)[0]) == 2)
                return read(path)[0]

    records = asyncio.run(scenario())
    assert [(r.dir, r.symbols) for r in records] == [("open", (BTC,)), ("out", None)]


def test_a_killed_recorder_leaves_a_capture_readable_to_its_last_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "killed.ndjson.gz"
    proc = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "run.py"), "record", str(capture), "--json"),
            *("--venues", "binance,okx", "--symbols", "BTC/USDT", "--duration", "30"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (capture.exists() and capture.stat().st_size):
            time.sleep(0.05)
        time.sleep(2.5)  # recording for ~3 s
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        killed_ns = time.time_ns()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        if proc.stderr:
            proc.stderr.close()
    records, reader, errors = read(capture)
    assert reader.last_t is not None and killed_ns - reader.last_t < 1.5 * S
    assert reader.malformed == 0 and len(errors) == reader.cut_short
    assert {r.venue for r in records if r.dir == "in"} == {"binance", "okx"}
    assert [r.symbols for r in records if r.dir == "open"] == [("BTC/USDT",)] * 2
    # the open records name the symbols: replay needs no --symbols
    assert run.main(["replay", str(capture)]) == 0
    out, err = capsys.readouterr()
    events = [orjson.loads(line) for line in out.splitlines()]
    live = {e["venue"] for e in events if e["type"] == "venue" and e["state"] == "live"}
    assert live == {"binance", "okx"}
    assert err.startswith(f"run.py: replayed {len(records)} of {len(records)} records of ")


def test_a_plain_capture_cut_short_gives_every_complete_record(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson"
    text = b"".join(LINES)
    cut = len(b"".join(LINES[:4])) + 9  # 9 bytes into the fifth line
    path.write_bytes(text[:cut])
    records, reader, errors = read(path)
    assert records == RECORDS[:4]
    assert (reader.records, reader.unreadable_bytes, reader.cut_short) == (4, 9, True)
    assert [str(e) for e in errors] == [
        "c.ndjson: cut short: 9 bytes after the last complete record are unreadable"
    ]
    with pytest.raises(CaptureCutShort):
        list(read_capture(path))
    path.write_bytes(text[:-1])  # only the final newline missing: nothing is lost
    assert read(path)[:1] == (RECORDS,) and read(path)[1].cut_short is False


def test_a_gzip_capture_cut_short_gives_every_complete_record(tmp_path: Path) -> None:
    """Two members, the second stored (level 0) so that the cut falls at a known text byte:
    5 bytes into its second line."""
    first, second = gzip.compress(b"".join(LINES[:3])), gzip.compress(b"".join(LINES[3:]), 0)
    assert second[15 : 15 + len(LINES[3])] == LINES[3]  # 10-byte header, 5-byte block header
    path = tmp_path / "c.ndjson.gz"
    path.write_bytes(first + second[: 15 + len(LINES[3]) + 5])
    records, reader, errors = read(path)
    assert records == RECORDS[:4]
    assert (reader.unreadable_bytes, reader.cut_short, reader.malformed) == (5, True, 0)
    assert [type(e) for e in errors] == [CaptureCutShort]
    path.write_bytes(first + second[:-8])  # the last member's trailer is missing
    assert read(path)[0] == RECORDS and read(path)[1].unreadable_bytes == 0
    path.write_bytes(first + second + b"\0" * 10)  # zero padding after the last member
    assert read(path)[0] == RECORDS and read(path)[2] == []


def test_corrupt_gzip_data_ends_the_records_there(tmp_path: Path) -> None:
    first, second = gzip.compress(b"".join(LINES[:3])), gzip.compress(b"".join(LINES[3:]))
    path = tmp_path / "c.ndjson.gz"
    path.write_bytes(first + b"\x1f\x8b\x09" + second[3:])  # compression method 9: invalid
    records, reader, errors = read(path)
    assert records == RECORDS[:3]
    # from where zlib finds the data corrupt (it reads method and flags together) to the end
    assert (reader.unreadable_bytes, reader.cut_short) == (len(second) - 3, True)
    assert [type(e) for e in errors] == [CaptureCutShort]


def test_malformed_lines_are_skipped_and_counted_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson"
    path.write_bytes(b"".join(LINES[:2]) + b'{"v":1}\n\n' + b"".join(LINES[2:]) + b'{"v":2}\n')
    records, reader, errors = read(path)
    assert records == RECORDS
    assert (reader.records, reader.malformed, reader.cut_short) == (7, 2, False)
    assert [str(e) for e in errors] == [
        "c.ndjson:3: 't' must be an integer (ns)",
        "c.ndjson:10: unsupported capture version 2",
    ]


def test_records_out_of_time_order_are_counted_and_kept_in_file_order(tmp_path: Path) -> None:
    order = [RECORDS[0], RECORDS[3], RECORDS[1], RECORDS[2], RECORDS[4]]
    with CaptureWriter(tmp_path / "c.ndjson") as writer:
        writer.write_all(order)
    records, reader, errors = read(tmp_path / "c.ndjson")
    assert records == order and errors == []
    assert (reader.out_of_order, reader.first_t, reader.last_t) == (2, 1, 5)


# --- fuzz -------------------------------------------------------------------------------


def check_reader(path: Path) -> list[Record]:
    """The reader's invariants on any file: no exception with ``on_error``, counts that
    match, and without it only CaptureError."""
    records, reader, errors = read(path)
    assert len(records) == reader.records
    assert len(errors) == reader.malformed + reader.cut_short
    assert all(isinstance(e, CaptureCutShort) for e in errors[reader.malformed :])
    assert reader.unreadable_bytes == 0 or reader.cut_short
    try:
        assert list(read_capture(path)) == records
    except CaptureError:
        assert errors
    return records


@fuzz_settings(150)
@given(data=st.binary(max_size=2000), gz=st.booleans())
def test_fuzz_reader_on_arbitrary_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, gz: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / ("c.ndjson.gz" if gz else "c.ndjson")
    path.write_bytes(data)
    check_reader(path)


@fuzz_settings(150)
@given(
    at=st.integers(min_value=0, max_value=len(LINES) - 1),
    offset=st.integers(min_value=0, max_value=200),
    junk=st.binary(max_size=12).filter(lambda b: b"\n" not in b),
    gz=st.booleans(),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
)
def test_fuzz_reader_on_mutated_lines(
    tmp_path_factory: pytest.TempPathFactory,
    at: int,
    offset: int,
    junk: bytes,
    gz: bool,
    cut: int | None,
) -> None:
    """One line overwritten in part, the file perhaps compressed and cut anywhere: the other
    lines' records come back in order, up to the cut."""
    line = LINES[at][:-1]
    i = min(offset, len(line))
    lines = [*LINES]
    lines[at] = line[:i] + junk + line[i + len(junk) :] + b"\n"
    text = b"".join(lines)
    data = zlib.compress(text, wbits=31) if gz else text
    path = tmp_path_factory.mktemp("fuzz") / ("c.ndjson.gz" if gz else "c.ndjson")
    path.write_bytes(data if cut is None else data[:cut])
    records = check_reader(path)
    expected = [r for j, r in enumerate(RECORDS) if j != at]
    others = [r for r in records if r not in expected] if records else []
    assert len(others) <= 1  # the mutated line, when it is still a valid record
    kept = [r for r in records if r in expected]
    assert kept == expected[: len(kept)]
    if cut is None:
        assert kept == expected
