"""A Salesforce org emulator: OAuth, REST, SOQL over SQLite, faults; served over HTTPS.

The public surface: ``Org`` (the org as a Python object), ``create_app`` (its
ASGI app), ``AuthService`` (its OAuth server), ``start_emulator`` (serve it
over HTTPS in a thread), ``seed_org`` (fill it) and ``FaultRule`` (make it fail).
"""

from .app import EmulatorApp, create_app
from .faults import FaultRule
from .oauth import AuthService, DefaultCredentials, Session
from .org import Org
from .seed import SeedReport, seed_org
from .server import RunningEmulator, start_emulator

__all__ = [
    "AuthService",
    "DefaultCredentials",
    "EmulatorApp",
    "FaultRule",
    "Org",
    "RunningEmulator",
    "SeedReport",
    "Session",
    "create_app",
    "seed_org",
    "start_emulator",
]
