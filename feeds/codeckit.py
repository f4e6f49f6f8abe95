"""What every codec's ``parse`` needs, written once: JSON decode, level lists, integer and
decimal-string fields, venue timestamps to ns. Each raises :class:`ParseError` naming the
field, so a codec keeps only its own frames.

The checks test ``type(x) is int`` / ``is list`` (refusing bools and subclasses, and
faster than ``isinstance`` on the hot path); levels are only checked to be lists: the book
converts and validates every level (:class:`feeds.book.BadLevel`).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Final

import orjson

from feeds.protocol import Level, ParseError

MS_NS: Final = 1_000_000
US_NS: Final = 1_000
_MAX_DIGITS: Final = 20
"""Longest decimal string taken as an integer (``int`` of a long string is slow)."""


def loads(frame: str | bytes) -> Any:
    """The JSON value of a frame (orjson)."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None


def json_object(frame: str | bytes) -> dict[str, Any]:
    """A frame that must be one JSON object (on every message's path: orjson is called
    here directly, not through :func:`loads`, one Python call fewer)."""
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if type(obj) is not dict:
        raise ParseError("expected a JSON object")
    return obj


def levels(raw: object, what: str) -> list[Level]:
    """``[[price, size, ...], ...]`` as sent: only the list is checked here."""
    if type(raw) is not list:
        raise ParseError(f"{what}: expected a list of levels")
    return raw


def uint(value: object, what: str, *, signed: bool = False) -> int:
    """A JSON integer, non-negative unless ``signed`` (never a bool)."""
    if type(value) is not int or (value < 0 and not signed):
        raise ParseError(f"bad {what} {str(value)[:40]!r}")
    return value


def digits(value: object, what: str) -> int:
    """A decimal string of at most 20 ASCII digits (``"974942666"``)."""
    if not (
        type(value) is str and len(value) <= _MAX_DIGITS and value.isascii() and value.isdigit()
    ):
        raise ParseError(f"bad {what} {str(value)[:40]!r}")
    return int(value)


def millis_ns(value: object, what: str) -> int:
    """A timestamp in ms, a non-negative JSON integer or a decimal string, to ns."""
    if type(value) is int and value >= 0:
        return value * MS_NS
    return digits(value, what) * MS_NS


def micros_ns(value: object, what: str) -> int:
    """A timestamp in µs, a non-negative JSON integer or a decimal string, to ns."""
    if type(value) is int and value >= 0:
        return value * US_NS
    return digits(value, what) * US_NS


def rfc3339_ns(text: object) -> int | None:
    """RFC 3339 in UTC with up to nanoseconds (``2023-02-09T20:32:50.714964855Z``) to ns
    since the epoch, exact; another offset (``+01:00``) to the µs; None if it is not one."""
    if type(text) is not str:
        return None
    if not text.endswith("Z"):
        return _offset_ns(text)
    whole, _, frac = text[:-1].partition(".")
    if frac and not (frac.isascii() and frac.isdigit()):
        return None
    seconds = _epoch_seconds(whole)
    if seconds is None:
        return None
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9])


@functools.lru_cache(maxsize=16)
def _epoch_seconds(whole: str) -> int | None:
    """``2023-02-09T20:32:50`` (UTC) -> seconds since the epoch. Cached: every message of the
    same second shares it, and the datetime parse was ~1 µs of the ~1.5 µs per message."""
    try:
        return int(datetime.fromisoformat(whole + "+00:00").timestamp())
    except ValueError:
        return None


def _offset_ns(text: str) -> int | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    whole = when.replace(microsecond=0).timestamp()
    return int(whole) * 1_000_000_000 + when.microsecond * US_NS
