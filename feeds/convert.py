"""Convert cryptofeed's raw text captures to capture v1 (docs/contracts.md, capture format).

cryptofeed's ``AsyncFileCallback`` writes one connection per ``<EX>.ws.<n>.0`` file:

* ``wss://host/path?query <-> 1618678132.385`` — connection opened
* ``wss://host/path <- 1618678132.825: {...}`` — frame sent
* ``1618678132.8258188: {...}`` — frame received (``b'...'`` for binary frames)

and REST answers to ``<EX>.http.0.0`` as ``https://url -> 1633998512.32: {body}``, optionally
followed by `` header: {json}``. Usage::

    python -m feeds.convert --venue binance --ws BINANCE.ws.1.0 --http BINANCE.http.0.0 \\
        --out tests/fixtures/binance.ndjson.gz --max-in 300

``--keep TEXT`` (repeatable) slices a recording by content: only the frames sent or received
that contain one of the texts are kept (a gzip frame is searched in its decompressed text).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import heapq
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from feeds.capture import CaptureWriter, Record


class ConvertError(ValueError):
    """A line of a cryptofeed capture that cannot be read (the message names it)."""


def seconds_to_ns(text: str) -> int:
    """Exact conversion of a decimal seconds string (``1618678132.8258188``) to int ns."""
    whole, _, frac = text.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ConvertError(f"not a timestamp: {text!r}")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def _frame(payload: str, where: str) -> str | bytes:
    if payload.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(payload)
        except (ValueError, SyntaxError):
            raise ConvertError(f"{where}: bad bytes literal") from None
        if not isinstance(value, bytes):
            raise ConvertError(f"{where}: bad bytes literal")
        return value
    return payload


def read_ws(path: Path, venue: str, conn: int = 0) -> Iterator[Record]:
    """Records of one cryptofeed WS capture (one connection)."""
    url = ""
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            where = f"{path.name}:{n}"
            if " <-> " in line and line.split(" <-> ", 1)[0].startswith("ws"):
                url, ts = line.split(" <-> ", 1)
                yield Record(seconds_to_ns(ts), venue, "open", url, "", conn)
            elif line.startswith("ws") and " <- " in line:
                head, payload = line.split(": ", 1)
                sent_url, ts = head.split(" <- ", 1)
                yield Record(seconds_to_ns(ts), venue, "out", sent_url, payload, conn)
            else:
                ts, sep, payload = line.partition(": ")
                if not sep:
                    raise ConvertError(f"{where}: no ': ' separator")
                yield Record(seconds_to_ns(ts), venue, "in", url, _frame(payload, where), conn)


def read_http(path: Path, venue: str) -> Iterator[Record]:
    """REST answers of a cryptofeed ``.http.`` file as ``rest`` records."""
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            head, sep, body = line.partition(": ")
            if not sep or " -> " not in head:
                raise ConvertError(f"{path.name}:{n}: not 'url -> ts: body'")
            url, ts = head.split(" -> ", 1)
            body, _, _header = body.partition(" header: ")
            yield Record(seconds_to_ns(ts), venue, "rest", url, body)


def convert(
    venue: str,
    ws_files: Sequence[Path],
    http_files: Sequence[Path] = (),
    *,
    max_in: int | None = None,
    keep: Sequence[str] = (),
) -> list[Record]:
    """Merge the files of one recording by time. With ``max_in``, keep the prefix up to the
    ``max_in``-th received frame, so every sequence in the slice stays contiguous. With
    ``keep``, only the frames that contain one of its texts (see the module docstring)."""
    streams = [read_ws(p, venue, conn=i) for i, p in enumerate(ws_files)]
    streams += [read_http(p, venue) for p in http_files]
    merged = list(heapq.merge(*streams, key=lambda r: r.t))
    if keep:
        merged = [r for r in merged if r.dir not in ("in", "out") or _has(r.data, keep)]
    if max_in is None:
        return merged
    out: list[Record] = []
    received = 0
    for r in merged:
        if r.dir == "in":
            if received == max_in:
                break
            received += 1
        out.append(r)
    return out


def _has(data: str | bytes, texts: Sequence[str]) -> bool:
    if isinstance(data, bytes):
        try:
            data = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()
        except (OSError, EOFError, UnicodeDecodeError):
            return False  # no text to search: not kept
    return any(t in data for t in texts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m feeds.convert", description=__doc__.split("\n")[0])
    ap.add_argument("--venue", required=True, help="ccxt id written into each record")
    ap.add_argument("--ws", type=Path, action="append", default=[], help="a .ws. file")
    ap.add_argument("--http", type=Path, action="append", default=[], help="a .http. file")
    ap.add_argument("--out", type=Path, required=True, help="capture v1 (.gz to compress)")
    ap.add_argument("--max-in", type=int, default=None, help="keep the first N frames received")
    ap.add_argument("--keep", action="append", default=[], help="keep frames with this text")
    args = ap.parse_args(argv)
    try:
        records = convert(args.venue, args.ws, args.http, max_in=args.max_in, keep=args.keep)
    except (ConvertError, OSError) as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 2
    with CaptureWriter(args.out) as w:
        w.write_all(records)
    print(f"wrote {len(records)} records to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
