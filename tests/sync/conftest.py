"""Fixtures for sync tests: describes of the emulator's standard objects, no server needed."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import pytest

from sfbridge.salesforce.describe import ObjectDescribe


@cache
def _standard_objects() -> dict[str, Any]:
    text = (
        resources.files("sfbridge.emulators.salesforce")
        .joinpath("data/standard-objects.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def _standard_describe(name: str) -> ObjectDescribe | None:
    raw = _standard_objects().get(name)
    return None if raw is None else ObjectDescribe.from_json(raw)


@pytest.fixture
def related() -> Callable[[str], ObjectDescribe | None]:
    """The emulator's describe of a standard object by name; None for an unknown object."""
    return _standard_describe


@pytest.fixture
def describe_of() -> Callable[[str], ObjectDescribe]:
    """The emulator's describe of a standard object (every field readable), by name."""

    def lookup(name: str) -> ObjectDescribe:
        found = _standard_describe(name)
        assert found is not None, name
        return found

    return lookup


@pytest.fixture
def describe_with() -> Callable[..., ObjectDescribe]:
    """``(name, *extra_fields, without=(...))``: a standard describe with fields added or hidden.

    Hiding a field is what field-level security does to describe.
    """

    def build(
        name: str, *extra_fields: dict[str, Any], without: tuple[str, ...] = ()
    ) -> ObjectDescribe:
        raw = dict(_standard_objects()[name])
        fields = [f for f in raw["fields"] if f["name"] not in without]
        added = [{"filterable": True, "sortable": True, **f} for f in extra_fields]
        raw["fields"] = fields + added
        return ObjectDescribe.from_json(raw)

    return build
