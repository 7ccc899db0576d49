"""Destination settings as a sync's YAML holds them, and opening each kind from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sfbridge.destinations import (
    DESTINATION_SPEC,
    JsonlDestination,
    JsonlSpec,
    RunInfo,
    WarehouseDestination,
    WebhookDestination,
    WebhookSpec,
    open_destination,
)


@pytest.mark.parametrize(
    ("settings", "opened"),
    [
        ({"kind": "warehouse"}, WarehouseDestination),
        ({"kind": "jsonl"}, JsonlDestination),
        (
            {"kind": "webhook", "url": "https://hooks.example.com/in", "secret": "x" * 16},
            WebhookDestination,
        ),
    ],
)
def test_each_kind_opens_from_its_settings(
    settings: dict[str, Any], opened: type, run: RunInfo
) -> None:
    spec = DESTINATION_SPEC.validate_python(settings)

    with open_destination(spec, run) as destination:
        assert isinstance(destination, opened)
        assert destination.name == settings["kind"]


def test_settings_parse_by_kind() -> None:
    spec = DESTINATION_SPEC.validate_python({"kind": "jsonl", "directory": "out", "name": "raw"})

    assert spec == JsonlSpec(directory=Path("out"), name="raw")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"kind": "s3"}, "does not match any of the expected tags"),
        ({"kind": "jsonl", "dir": "out"}, "dir\n  Extra inputs are not permitted"),
        ({"kind": "webhook", "url": "https://h.example.com", "secret": "short"}, "secret"),
    ],
)
def test_wrong_settings_name_the_field(settings: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        DESTINATION_SPEC.validate_python(settings)


def test_every_setting_is_described_for_forms_and_docs() -> None:
    schema = DESTINATION_SPEC.json_schema()

    undescribed = [
        f"{kind}.{name}"
        for kind, definition in schema["$defs"].items()
        for name, field in definition["properties"].items()
        if not field.get("description")
    ]
    assert undescribed == []
    assert WebhookSpec.model_json_schema()["properties"]["secret"]["format"] == "password"
