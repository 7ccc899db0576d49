"""Opening a destination from its settings: the one place that knows every kind."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from .base import Destination, RunInfo
from .jsonl import JsonlDestination, JsonlSpec
from .warehouse import WarehouseDestination, WarehouseSpec
from .webhook import WebhookDestination, WebhookSpec

DestinationSpec = Annotated[WarehouseSpec | JsonlSpec | WebhookSpec, Field(discriminator="kind")]
"""The settings of any destination, told apart by ``kind``."""

DESTINATION_SPEC: TypeAdapter[DestinationSpec] = TypeAdapter(DestinationSpec)
"""Validates a destination's settings from YAML or JSON data; also gives the JSON schema."""


def open_destination(spec: DestinationSpec, run: RunInfo) -> Destination:
    """The destination ``spec`` describes, opened for ``run``."""
    match spec:
        case WarehouseSpec():
            return WarehouseDestination.open(spec, run)
        case JsonlSpec():
            return JsonlDestination.open(spec, run)
        case WebhookSpec():
            return WebhookDestination.open(spec, run)
