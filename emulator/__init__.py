"""The local venue emulator: real venue protocols on 127.0.0.1 over a seeded market model.

``async with Emulator(EmulatorConfig(...)) as emu:`` then give a feed ``emu.ws_url(venue)``
and ``emu.rest_url(venue)``; ``emu.inject(venue, fault, ...)`` breaks things on demand (or
``EmulatorConfig(faults=...)`` from text specs, :func:`parse_fault`) and
``emu.dislocations`` is the ground truth of every injected price dislocation.
"""

from emulator.faults import FaultSpecError, parse_fault
from emulator.market import Dislocation, MarketConfig, MarketModel, VenueProfile
from emulator.server import FAULTS, Emulator, EmulatorConfig, FaultSpec

__all__ = [
    "FAULTS",
    "Dislocation",
    "Emulator",
    "EmulatorConfig",
    "FaultSpec",
    "FaultSpecError",
    "MarketConfig",
    "MarketModel",
    "VenueProfile",
    "parse_fault",
]
