"""Fault specs as text, for command lines and configuration files.

One spec is ``VENUE:KIND[@DELAY][:key=value,...]``::

    okx:gap@10s                      drop one OKX book frame 10 s after start
    binance:rest_error:status=500    the first Binance REST request answers 500
    kraken:bad_checksum@5s:count=3,every=30s   three wrong checksums at 5 s, again every 30 s
    okx:silent@20s:seconds=30        a black hole for 30 s (no frame sent, not even a pong)

``DELAY`` and ``every`` are durations (``250ms``, ``10s``, ``2m``; a bare number is seconds),
counted on the emulator's market clock from its start. Without a delay the fault waits for
the venue's first connection (REST faults: its first requests); with one, it hits every
connection open at that moment (or the next to open). :func:`parse_fault` checks everything
it can (venue, kind, each parameter's name, type and range) so that a bad spec is refused
before anything starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Final

from emulator.server import FAULTS, FaultKind, FaultSpec
from emulator.venues import VENUES
from emulator.venues.base import Venue


class FaultSpecError(ValueError):
    """A fault spec that cannot be applied; the message names the spec."""


# Parameters of each fault: name -> (kind, low, high); kind "int", "float" or "str".
_COUNT = ("int", 1, 1_000_000)
PARAMS: Final[Mapping[str, Mapping[str, tuple[str, float, float]]]] = {
    FaultKind.DISCONNECT: {"code": ("int", 1000, 4999), "reason": ("str", 0, 123)},
    FaultKind.ABORT: {},
    FaultKind.GAP: {"count": _COUNT},
    FaultKind.OVERLAP: {"count": _COUNT},
    FaultKind.BAD_CHECKSUM: {"count": _COUNT},
    FaultKind.BAD_BODY: {"count": _COUNT},
    FaultKind.NOVEL: {"count": _COUNT},
    FaultKind.MALFORMED: {"count": _COUNT},
    FaultKind.STALL: {"seconds": ("float", 0.001, math.inf)},
    FaultKind.SILENT: {"seconds": ("float", 0.001, math.inf)},
    FaultKind.SLOW: {"delay_s": ("float", 0.0, 60.0), "seconds": ("float", 0.001, math.inf)},
    FaultKind.CROSSED: {"symbol": ("str", 1, 64), "steps": _COUNT},
    FaultKind.REST_ERROR: {
        "status": ("int", 400, 599),
        "count": _COUNT,
        "retry_after": ("int", 0, 86400),
    },
    FaultKind.REST_TIMEOUT: {"delay_s": ("float", 0.001, 3600.0), "count": _COUNT},
}
assert set(PARAMS) == FAULTS

_SPEC = re.compile(r"(?P<venue>[^:@]+):(?P<kind>[^:@]+)(?:@(?P<delay>[^:]+))?(?::(?P<params>.*))?")
_DURATION = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m)?")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
MAX_DELAY_S: Final = 7 * 86_400.0


def parse_duration(text: str) -> float:
    """``250ms``, ``10s``, ``1.5s``, ``2m`` or a bare number of seconds -> seconds."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration (like 500ms, 10s, 2m)")
    seconds = float(found["n"]) * _UNIT_S[found["unit"]]
    if seconds > MAX_DELAY_S:
        raise ValueError(f"{text!r} is longer than a week")
    return seconds


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _value(name: str, text: str, kind: str, lo: float, hi: float) -> object:
    if kind == "str":
        if not lo <= len(text) <= hi:
            raise ValueError(f"{name}: expected {lo:g} to {hi:g} characters, got {text!r}")
        return text
    try:
        number: float = int(text) if kind == "int" else float(text)
    except ValueError:
        kind_name = "an integer" if kind == "int" else "a number"
        raise ValueError(f"{name}: expected {kind_name}, got {text!r}") from None
    if not lo <= number <= hi:  # also refuses nan
        raise ValueError(f"{name}: must be between {_plain(lo)} and {_plain(hi)}, got {text!r}")
    return number


def _serves_rest(venue: type[Venue]) -> bool:
    return venue.rest is not Venue.rest


def parse_fault(
    text: str,
    *,
    venue: Callable[[str], str] = str.lower,
    venues: tuple[str, ...] | None = None,
    symbols: tuple[str, ...] | None = None,
) -> FaultSpec:
    """The :class:`FaultSpec` of ``text``, or :class:`FaultSpecError` naming it.

    ``venue`` maps a name to an emulated venue id (aliases; a ValueError refuses it);
    ``venues``/``symbols``: when given, the spec must name one of them."""
    try:
        return _parse(text, venue, venues, symbols)
    except ValueError as exc:
        raise FaultSpecError(f"{text!r}: {exc}") from None


def _parse(
    text: str,
    resolve: Callable[[str], str],
    venues: tuple[str, ...] | None,
    symbols: tuple[str, ...] | None,
) -> FaultSpec:
    found = _SPEC.fullmatch(text.strip())
    if found is None:
        raise ValueError("expected VENUE:KIND[@DELAY][:key=value,...]")
    name = resolve(found["venue"].strip())
    if name not in VENUES:
        raise ValueError(f"no emulated venue {name!r} (have {', '.join(VENUES)})")
    if venues is not None and name not in venues:
        raise ValueError(f"{name} is not among the venues ({', '.join(venues)})")
    kind = found["kind"].strip()
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r} (have {', '.join(sorted(FAULTS))})")
    if kind == FaultKind.BAD_CHECKSUM and not VENUES[name].has_checksum:
        raise ValueError(f"{name} sends no checksum")
    if kind == FaultKind.OVERLAP and not VENUES[name].has_ranges:
        raise ValueError(f"{name} sends no update-id ranges")
    if kind in (FaultKind.BAD_BODY, FaultKind.NOVEL) and not VENUES[name].body_faults:
        raise ValueError(f"{name} has no {kind} fault")
    if kind.startswith("rest_") and not _serves_rest(VENUES[name]):
        raise ValueError(f"{name} serves no REST snapshot")
    delay = parse_duration(found["delay"]) if found["delay"] is not None else 0.0
    params: dict[str, object] = {}
    every = 0.0
    raw = found["params"]
    if raw is not None and not raw.strip():
        raise ValueError("nothing after the last ':'")
    for item in [] if raw is None else raw.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise ValueError(f"expected key=value, got {item.strip()!r}")
        if key in params or (key == "every" and every):
            raise ValueError(f"{key} given twice")
        if key == "every":
            every = parse_duration(value)
            if every < 0.1:
                raise ValueError(f"every: at least 100ms, got {value!r}")
            continue
        known = PARAMS[kind]
        if key not in known:
            have = ", ".join([*known, "every"])
            raise ValueError(f"{kind} takes no parameter {key!r} (takes: {have})")
        params[key] = _value(key, value, *known[key])
    symbol = params.get("symbol")
    if symbols is not None and isinstance(symbol, str) and symbol not in symbols:
        raise ValueError(f"symbol {symbol!r} is not among the symbols ({', '.join(symbols)})")
    return FaultSpec(name, kind, params, delay_s=delay, every_s=every)
