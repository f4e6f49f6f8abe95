"""Capture files, version 1: NDJSON, optionally gzip, one record per line (docs/contracts.md).

``{"v":1,"t":<ns>,"venue":"kraken","dir":"in","url":"wss://...","data":"<frame>"}``

``dir`` is ``in`` (frame received), ``out`` (frame sent), ``open``/``close`` (connection
events, ``data`` empty), ``rest`` (a REST response used as a snapshot; ``url`` is the
request) or ``ctl`` (WebSocket pings and pongs received, which are no frames but keep the
connection alive; ``data`` is their count in decimal). Binary frames carry ``"b64"`` instead
of ``"data"``. Added within version 1: the optional field ``"conn"``, an integer naming the
connection when a capture interleaves several connections of the same venue (absent means
connection 0); the optional field ``"symbols"`` on ``open`` records, the canonical symbols
(``BASE/QUOTE``) the connection subscribed; the ``ctl`` records.

A capture survives a crash of its writer: :meth:`CaptureWriter.tick` flushes (for gzip, a
zlib sync flush) whatever was written more than ``flush_interval_s`` ago, so a killed
recorder leaves a file readable up to about its last second. :class:`CaptureReader` reads a
damaged file: a malformed line is skipped and counted, a file cut short (or gzip data that
is corrupt) ends the records there, and both are reported through ``on_error``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal, cast

import orjson

Direction = Literal["in", "out", "open", "close", "rest", "ctl"]
DIRECTIONS: Final = frozenset({"in", "out", "open", "close", "rest", "ctl"})
CHUNK: Final = 1 << 16
MAX_LINE_BYTES: Final = 64 << 20
"""A longer line is malformed (and never held whole in memory)."""


class CaptureError(ValueError):
    """A capture line that is not a valid version-1 record, or a damaged end of a capture
    file (the message names the file, and the line when there is one)."""


class CaptureCutShort(CaptureError):
    """A capture file that ends inside a record (or gzip data that is corrupt)."""


@dataclass(frozen=True, slots=True)
class Record:
    t: int
    """Receive time, int nanoseconds since the epoch."""
    venue: str
    dir: Direction
    url: str
    data: str | bytes
    """Text frames as ``str``; binary frames as ``bytes`` (written as ``b64``)."""
    conn: int = 0
    symbols: tuple[str, ...] | None = None
    """On ``open`` records: the canonical symbols the connection subscribed, when known."""

    def to_json(self) -> bytes:
        out: dict[str, object] = {"v": 1, "t": self.t, "venue": self.venue, "dir": self.dir}
        out["url"] = self.url
        if isinstance(self.data, bytes):
            out["b64"] = base64.b64encode(self.data).decode("ascii")
        else:
            out["data"] = self.data
        if self.conn:
            out["conn"] = self.conn
        if self.symbols is not None:
            out["symbols"] = self.symbols
        return orjson.dumps(out)


def parse_record(line: bytes | str, where: str = "") -> Record:
    """One capture line to a :class:`Record`; :class:`CaptureError` names what is wrong."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise CaptureError(f"{where}: not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CaptureError(f"{where}: a record must be a JSON object")
    if obj.get("v") != 1:
        raise CaptureError(f"{where}: unsupported capture version {obj.get('v')!r}")
    t, venue, direction, url = obj.get("t"), obj.get("venue"), obj.get("dir"), obj.get("url")
    if not isinstance(t, int) or isinstance(t, bool):
        raise CaptureError(f"{where}: 't' must be an integer (ns)")
    if not isinstance(venue, str) or not venue:
        raise CaptureError(f"{where}: 'venue' must be a non-empty string")
    if direction not in DIRECTIONS:
        raise CaptureError(f"{where}: 'dir' must be one of {sorted(DIRECTIONS)}")
    if not isinstance(url, str):
        raise CaptureError(f"{where}: 'url' must be a string")
    conn = obj.get("conn", 0)
    if not isinstance(conn, int) or isinstance(conn, bool):
        raise CaptureError(f"{where}: 'conn' must be an integer")
    symbols = obj.get("symbols")
    if symbols is not None and not (
        isinstance(symbols, list) and all(isinstance(s, str) and s for s in symbols)
    ):
        raise CaptureError(f"{where}: 'symbols' must be a list of non-empty strings")
    data: str | bytes
    if "b64" in obj:
        try:
            data = base64.b64decode(obj["b64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise CaptureError(f"{where}: 'b64' is not valid base64") from None
    elif isinstance(obj.get("data"), str):
        data = obj["data"]
    else:
        raise CaptureError(f"{where}: a record needs 'data' (string) or 'b64'")
    if direction == "ctl" and not (
        isinstance(data, str) and 0 < len(data) <= 9 and data.isascii() and data.isdigit()
    ):
        raise CaptureError(f"{where}: a 'ctl' record's 'data' must be a count (decimal text)")
    return Record(
        t=t,
        venue=venue,
        dir=direction,
        url=url,
        data=data,
        conn=conn,
        symbols=None if symbols is None else tuple(symbols),
    )


class CaptureReader:
    """The records of a capture file in file order (blank lines skipped), reading through
    damage: iterate it, then read its counts.

    A malformed line is skipped and counted (:attr:`malformed`). The end of the file may be
    cut short (a killed recorder, a partial copy): the bytes after the last complete record
    are counted in :attr:`unreadable_bytes` (for gzip, the decompressed bytes of the
    incomplete record; when the compressed data is corrupt, also the compressed bytes from
    the corrupt byte on) and :attr:`cut_short` is set. Each of these is passed to
    ``on_error`` as a :class:`CaptureError` (its message names ``file:line``; the end cut
    short is a :class:`CaptureCutShort` naming the file);
    without ``on_error`` the first one is raised. Records earlier than one before them are
    counted in :attr:`out_of_order` and still given in file order.
    """

    def __init__(
        self, path: str | Path, on_error: Callable[[CaptureError], None] | None = None
    ) -> None:
        self.path = Path(path)
        self.on_error = on_error
        self.records = 0
        self.malformed = 0
        self.out_of_order = 0
        self.unreadable_bytes = 0
        self.cut_short = False
        self.first_t: int | None = None
        self.last_t: int | None = None
        """The latest ``t`` of any record."""

    def _damage(self, message: str, kind: type[CaptureError] = CaptureError) -> None:
        error = kind(message)
        if self.on_error is None:
            raise error
        self.on_error(error)

    def __iter__(self) -> Iterator[Record]:
        name = self.path.name
        n = 0
        parts: list[bytes] = []  # the line read so far
        size = 0
        overlong = False  # the line read so far is too long: skip it to its end
        with open(self.path, "rb") as fh:
            chunks = self._gunzip(fh) if self.path.suffix == ".gz" else _plain(fh)
            for chunk in chunks:
                if b"\n" in chunk:
                    lines = b"".join((*parts, chunk)).split(b"\n")
                    parts, size = [lines[-1]], len(lines[-1])
                    for line in lines[:-1]:
                        n += 1
                        if overlong:
                            overlong = False
                        elif record := self._record(line, f"{name}:{n}"):
                            yield record
                else:
                    parts.append(chunk)
                    size += len(chunk)
                if size > MAX_LINE_BYTES:
                    parts, size = [], 0
                    if not overlong:
                        overlong = True
                        self.malformed += 1
                        self._damage(f"{name}:{n + 1}: longer than {MAX_LINE_BYTES} bytes")
        pending = b"".join(parts)
        if pending and not overlong:
            try:
                record = parse_record(pending, f"{name}:{n + 1}")
            except CaptureError:
                self.unreadable_bytes += len(pending)
                self.cut_short = True
            else:
                yield self._counted(record)
        if self.cut_short:
            self._damage(
                f"{name}: cut short: {self.unreadable_bytes} bytes after the last complete "
                "record are unreadable",
                CaptureCutShort,
            )

    def _record(self, line: bytes, where: str) -> Record | None:
        if not line.strip():
            return None
        try:
            record = parse_record(line, where)
        except CaptureError as exc:
            self.malformed += 1
            self._damage(str(exc))
            return None
        return self._counted(record)

    def _counted(self, record: Record) -> Record:
        self.records += 1
        if self.last_t is None:
            self.first_t = self.last_t = record.t
        elif record.t < self.last_t:
            self.out_of_order += 1
        else:
            self.last_t = record.t
        return record

    def _gunzip(self, fh: IO[bytes]) -> Iterator[bytes]:
        """The decompressed bytes of every gzip member; a stream that ends inside a member
        or has a corrupt byte sets :attr:`cut_short` (and counts the corrupt tail)."""
        size = self.path.stat().st_size
        offset = 0  # compressed bytes handed to the decompressor
        inflate = zlib.decompressobj(wbits=31)
        started = False  # inside a member
        while data := fh.read(CHUNK):
            while data:
                if not started and not data.strip(b"\x00"):
                    offset += len(data)  # zero padding after the last member
                    break
                before = inflate.copy()
                try:
                    out = inflate.decompress(data)
                except zlib.error:
                    good, bad_at = _locate(before, data)
                    self.unreadable_bytes += size - (offset + bad_at)
                    self.cut_short = True
                    yield good
                    return
                started = True
                if inflate.eof:  # the member ended: the rest starts the next one
                    rest = inflate.unused_data
                    offset += len(data) - len(rest)
                    data, started = rest, False
                    inflate = zlib.decompressobj(wbits=31)
                else:
                    offset += len(data)
                    data = b""
                yield out
        if started:
            self.cut_short = True


def _plain(fh: IO[bytes]) -> Iterator[bytes]:
    while data := fh.read(CHUNK):
        yield data


def _locate(inflate: zlib._Decompress, data: bytes) -> tuple[bytes, int]:
    """Feed ``data`` byte by byte: the bytes decompressed before the first corrupt byte,
    and its index in ``data``."""
    out = []
    for i in range(len(data)):
        try:
            out.append(inflate.decompress(data[i : i + 1]))
        except zlib.error:
            return b"".join(out), i
        if inflate.eof:  # a member ends inside the bad chunk: the next header is the fault
            return b"".join(out), i + 1
    return b"".join(out), len(data)


def read_capture(
    path: str | Path, on_error: Callable[[CaptureError], None] | None = None
) -> Iterator[Record]:
    """Records of a capture file in file order (blank lines skipped); damage raises
    :class:`CaptureError`, or goes to ``on_error`` (see :class:`CaptureReader`)."""
    return iter(CaptureReader(path, on_error))


class CaptureWriter:
    """Appends records to a capture file (gzip when the name ends in ``.gz``).

    :meth:`tick` (called a few times a second by whoever owns the writer) flushes to the
    file what was written more than ``flush_interval_s`` ago by ``clock``: a gzip stream
    gets a zlib sync flush, so a reader decompresses everything up to it even when the
    writer is killed before :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._fh: IO[bytes]
        if self.path.suffix == ".gz":
            self._fh = cast(IO[bytes], gzip.GzipFile(self.path, "wb", mtime=0))
        else:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self.records = 0
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._dirty_since: float | None = None

    def write(self, record: Record) -> None:
        self._fh.write(record.to_json() + b"\n")
        self.records += 1
        if self._dirty_since is None:
            self._dirty_since = self._clock()

    def write_all(self, records: Iterable[Record]) -> None:
        for r in records:
            self.write(r)

    def tick(self) -> None:
        """Flush when something written is older than ``flush_interval_s``."""
        since = self._dirty_since
        if since is not None and self._clock() - since >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        self._fh.flush()
        self._dirty_since = None

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
