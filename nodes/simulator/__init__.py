"""A local stand-in for the AliveAI API: HTTP and websockets on one 127.0.0.1 port.

It serves every callable operation of the table (`nodes.api`) at its path, validates with the
table's rules, runs jobs through a queue with progress events, produces real PNG and MP4
results behind presigned expiring URLs, and plays failure scenarios (`Faults`) on demand.
Tests and demos use `SimulatorThread`; people use `python -m nodes.simulator`.

Importing this package is cheap: aiohttp and the media encoders load only when a server starts.
"""
from __future__ import annotations

from .faults import Faults
from .runner import SimulatorThread, make_simulator
from .state import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD, SimConfig, Simulator

__all__ = ["DEFAULT_API_KEY", "DEFAULT_EMAIL", "DEFAULT_PASSWORD", "Faults", "SimConfig", "Simulator",
           "SimulatorThread", "make_simulator"]
