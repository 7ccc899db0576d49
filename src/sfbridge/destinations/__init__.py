"""Destinations: where messages go. One module per kind, all with one interface.

``base`` holds the interface (``Destination``, ``DeliveryResult``) and its
contract; ``registry`` opens a destination from its settings; ``warehouse``
(with its tables in ``warehouse_schema``), ``jsonl`` and ``webhook`` are the
kinds.
"""

from .base import (
    Delivery,
    DeliveryResult,
    Destination,
    DestinationSettings,
    MessageOutcome,
    RunInfo,
)
from .jsonl import JsonlDestination, JsonlSpec
from .registry import DESTINATION_SPEC, DestinationSpec, open_destination
from .warehouse import WarehouseDestination, WarehouseSpec
from .webhook import WebhookDestination, WebhookSpec, sign, verify_signature

__all__ = [
    "DESTINATION_SPEC",
    "Delivery",
    "DeliveryResult",
    "Destination",
    "DestinationSettings",
    "DestinationSpec",
    "JsonlDestination",
    "JsonlSpec",
    "MessageOutcome",
    "RunInfo",
    "WarehouseDestination",
    "WarehouseSpec",
    "WebhookDestination",
    "WebhookSpec",
    "open_destination",
    "sign",
    "verify_signature",
]
