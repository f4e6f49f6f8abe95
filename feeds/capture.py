"""Capture files, version 1 (DESIGN 2.5): NDJSON, optionally gzip, one record per line.

``{"v":1,"t":<ns>,"venue":"kraken","dir":"in","url":"wss://...","data":"<frame>"}``

``dir`` is ``in`` (frame received), ``out`` (frame sent), ``open``/``close`` (connection
events, ``data`` empty), ``rest`` (a REST response used as a snapshot; ``url`` is the
request) or ``ctl`` (WebSocket pings and pongs received, which are no frames but keep the
connection alive; ``data`` is their count in decimal). Binary frames carry ``"b64"`` instead
of ``"data"``. Added within version 1: the optional field ``"conn"``, an integer naming the
connection when a capture interleaves several connections of the same venue (absent means
connection 0), and the ``ctl`` records.
"""

from __future__ import annotations

import base64
import binascii
import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal, cast

import orjson

Direction = Literal["in", "out", "open", "close", "rest", "ctl"]
DIRECTIONS: Final = frozenset({"in", "out", "open", "close", "rest", "ctl"})


class CaptureError(ValueError):
    """A capture line that is not a valid version-1 record (the message names the line)."""


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

    def to_json(self) -> bytes:
        out: dict[str, object] = {"v": 1, "t": self.t, "venue": self.venue, "dir": self.dir}
        out["url"] = self.url
        if isinstance(self.data, bytes):
            out["b64"] = base64.b64encode(self.data).decode("ascii")
        else:
            out["data"] = self.data
        if self.conn:
            out["conn"] = self.conn
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
    return Record(t=t, venue=venue, dir=direction, url=url, data=data, conn=conn)


def _open(path: Path, mode: Literal["rb", "wb"]) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, mode))
    return open(path, mode)


def read_capture(path: str | Path) -> Iterator[Record]:
    """Records of a capture file in file order (blank lines skipped)."""
    p = Path(path)
    with _open(p, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield parse_record(line, f"{p.name}:{n}")


class CaptureWriter:
    """Appends records to a capture file (gzip when the name ends in ``.gz``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh = _open(self.path, "wb")
        self.records = 0

    def write(self, record: Record) -> None:
        self._fh.write(record.to_json() + b"\n")
        self.records += 1

    def write_all(self, records: Iterable[Record]) -> None:
        for r in records:
            self.write(r)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
