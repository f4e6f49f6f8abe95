"""The venue registry, read from the venue modules themselves.

Each module of this package that lists codec classes in ``CODECS`` registers them, one
venue each, by their :class:`feeds.spec.VenueSpec` (id, older ccxt ids as aliases): adding a
venue is adding its module, nothing here. Every venue here has a working feed, proven on
real recordings or the venue's documented examples (tests/test_venue_*.py) and end to end
against the emulator.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Final

from feeds.protocol import Codec
from feeds.spec import VenueSpec


class UnknownVenue(ValueError):
    """A venue id that no codec serves."""


def _discover() -> dict[str, type[Codec]]:
    found: dict[str, type[Codec]] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        for cls in getattr(importlib.import_module(f"{__name__}.{module}"), "CODECS", ()):
            if not (isinstance(cls, type) and issubclass(cls, Codec) and "spec" in cls.__dict__):
                raise TypeError(f"{__name__}.{module}.CODECS: {cls!r} is not a Codec with a spec")
            if cls.spec.id in found:
                raise TypeError(f"venue {cls.spec.id!r} registered twice")
            found[cls.spec.id] = cls
    return dict(sorted(found.items()))  # a module may list several venues


_CODECS: Final = _discover()

VENUES: Final[tuple[str, ...]] = tuple(_CODECS)
"""Every venue id, in alphabetical order."""

SPECS: Final[Mapping[str, VenueSpec]] = {venue: cls.spec for venue, cls in _CODECS.items()}

# Old ccxt ids (ccxt "Exchanges By Country") accepted for current ones (docs/contracts.md).
ALIASES: Final[dict[str, str]] = {
    alias: spec.id for spec in SPECS.values() for alias in spec.aliases
}


def canonical_venue(name: str) -> str:
    """The current ccxt id for ``name`` (an id or an accepted alias)."""
    venue = ALIASES.get(name.lower(), name.lower())
    if venue not in _CODECS:
        raise UnknownVenue(f"unknown venue {name!r} (supported: {', '.join(VENUES)})")
    return venue


def codec_class(name: str) -> type[Codec]:
    """The codec class of a venue id or alias."""
    return _CODECS[canonical_venue(name)]


def replay_codec_class(name: str, recorded: str) -> type[Codec]:
    """The codec that decodes a recorded connection of a venue: the venue's codec, or the
    codec of an older protocol (:attr:`VenueSpec.older_protocols`) when ``recorded`` (the
    connection's URLs and requests, lower case) lacks the current protocol's marker."""
    cls = codec_class(name)
    for older in cls.spec.older_protocols:
        if older.unless not in recorded:
            return _load(older.codec)
    return cls


def every_codec() -> tuple[type[Codec], ...]:
    """Every codec class: each venue's, then those of the venues' older protocols."""
    older = [_load(o.codec) for spec in SPECS.values() for o in spec.older_protocols]
    return (*_CODECS.values(), *older)


def _load(ref: str) -> type[Codec]:
    module, _, attr = ref.partition(":")
    found = getattr(importlib.import_module(module), attr)
    if not (isinstance(found, type) and issubclass(found, Codec)):
        raise TypeError(f"{ref} is not a Codec")
    return found


def default_fees() -> dict[str, float]:
    """Every venue's default taker fee in bps (:attr:`VenueSpec.fee`), for the config."""
    return {venue: spec.fee.bps for venue, spec in SPECS.items()}
