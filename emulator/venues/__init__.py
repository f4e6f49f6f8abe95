"""The emulated venues, by ccxt id, found in the venue modules themselves.

Each module of this package that lists venue classes in ``ADAPTERS`` registers them, one
venue id each (:mod:`emulator.venues.kit` says how to write one): adding a venue is adding
its module, nothing here.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Final

from emulator.venues.base import Venue


def _discover() -> dict[str, type[Venue]]:
    found: dict[str, type[Venue]] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        for cls in getattr(importlib.import_module(f"{__name__}.{module}"), "ADAPTERS", ()):
            if not (isinstance(cls, type) and issubclass(cls, Venue) and "name" in cls.__dict__):
                raise TypeError(f"{__name__}.{module}.ADAPTERS: {cls!r} is not a named Venue")
            if cls.name in found:
                raise TypeError(f"venue {cls.name!r} emulated twice")
            found[cls.name] = cls
    return found


VENUES: Final[dict[str, type[Venue]]] = _discover()
"""Every emulated venue class by id, in alphabetical order."""

__all__ = ["VENUES", "Venue"]
