"""The declaration of a data-in sync: which Salesforce records to read and what they become.

A ``SyncSpec`` names one kind of Salesforce record (``object``) and the one
Customer.io data type it maps to (``format``: person, object, relationship
or event), with its fields, filter, interval, destinations and delete policy.
The same models drive ``sfbridge.yaml``, the API schema and the console's
forms, so every field has a description and every message names the value
and the fix::

    spec = SyncSpec.model_validate(yaml.safe_load(text))
    yaml.safe_dump(spec.model_dump(mode="json"))  # reads back as the same spec

Validation here needs no org: names, renames, the interval, the filter's
syntax. ``check_against_describe`` (``spec_check.py``) adds what only the
org's describe can tell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sfbridge.errors import ConfigError
from sfbridge.salesforce.soql import checked_object_name
from sfbridge.salesforce.soql_validate import FilterError, validate_filter
from sfbridge.store.connections import validate_connection_name

from .formats import (
    ID_FIELD,
    FieldPath,
    SpecModel,
    SyncFormat,
    checked_name,
)

# The cursor field every sync reads, whatever it maps; Id breaks its ties.
CURSOR_FIELD = "SystemModstamp"

# The sync intervals the product offers (seed "Enable sync"); any other
# duration of at least MIN_INTERVAL is a custom interval.
INTERVAL_PRESETS = ("1h", "6h", "24h")
# A shorter interval mostly re-reads the cursor overlap (plan.CursorSettings,
# 10 minutes) and spends the org's shared daily API allowance for little
# news (data-in-peers.md, pain point 3).
MIN_INTERVAL = timedelta(minutes=5)
# A REST query travels in a URL limited to 16 KB (pain point 4, wide
# objects); the filter gets this share of it, the selected fields most of
# the rest (plan.FIELD_LIST_MAX_CHARS).
FILTER_MAX_URL_CHARS = 3_000
DEFAULT_MARK_ATTRIBUTE = "salesforce_deleted"

_DURATION = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")


def parse_duration(value: object, info: ValidationInfo) -> timedelta:
    """``"1h"``, ``"6h"``, ``"2h30m"``, ``"90s"``, ``"1d"`` (or a timedelta) as a timedelta."""
    name = info.field_name or "duration"
    duration: timedelta | None = None
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().lower())
        if match is not None and any(match.groupdict().values()):
            parts = {unit: int(amount or 0) for unit, amount in match.groupdict().items()}
            duration = timedelta(
                days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
            )
    if duration is None:
        raise ValueError(
            f"{name} {value!r} is not a duration: write 1h, 6h or 24h, or a custom one "
            "such as 30m, 2h30m or 90s"
        )
    if duration < timedelta(0) or duration.microseconds:
        raise ValueError(f"{name} {value!r} must be a whole number of seconds, 0 or more")
    return duration


def format_duration(duration: timedelta) -> str:
    """A duration as ``parse_duration`` reads it back: ``"1h"``, ``"2h30m"``, ``"0s"``."""
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    text = "".join(
        f"{amount}{unit}"
        for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s"))
        if amount
    )
    return text or "0s"


# A duration in YAML and JSON is the short text form ("1h"); in Python, a timedelta.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": _DURATION.pattern, "examples": [*INTERVAL_PRESETS, "30m"]}
    ),
]


class FieldMapping(SpecModel):
    """One Salesforce field and the name it gets at the destination.

    In YAML a bare name (``- Email``) keeps the field's own name.
    """

    source: FieldPath = Field(
        description="The field's API name as Salesforce spells it (FirstName, Score__c), "
        "or a path through a lookup (Account.Name)."
    )
    target: str = Field(
        description="The attribute (or event property) name at the destination; "
        "the source name when left out."
    )

    @model_validator(mode="before")
    @classmethod
    def _target_defaults_to_source(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"source": data, "target": data}
        if isinstance(data, dict) and data.get("target") is None and "source" in data:
            return {**data, "target": data["source"]}
        return data

    @field_validator("target")
    @classmethod
    def _target_is_a_name(cls, target: str) -> str:
        return checked_name(target, "target")


class DeletePolicy(StrEnum):
    """What a sync does at its destinations when a Salesforce record is deleted."""

    IGNORE = "ignore"
    """Nothing: the destination keeps the data (the product's default)."""
    DELETE = "delete"
    """Send the semantic delete: User, Object or Relationship Deleted."""
    SUPPRESS = "suppress"
    """Person syncs only: delete and suppress, so a later identify cannot recreate the person."""
    MARK = "mark"
    """Keep the data and set ``mark_attribute`` to true on it."""


# Names a field may not be renamed to: the format sets them itself
# (customerio-salesforce-mapping.md section 6 lists the reserved object attributes).
_RESERVED_TARGETS: dict[str, frozenset[str]] = {
    "person": frozenset({"id", "email", "cio_id"}),
    "object": frozenset(
        {
            "object_id",
            "cio_object_id",
            "objectId",
            "object_type_id",
            "relationship",
            "_relationship",
        }
    ),
    "relationship": frozenset(),
    "event": frozenset(),
}


def read_fields(sync_format: SyncFormat, fields: Iterable[FieldMapping]) -> tuple[str, ...]:
    """Every field a sync reads: Id, SystemModstamp, the format's fields, the mapped sources.

    Repeats (SOQL names ignore case) are left out; the first spelling wins.
    """
    names = [ID_FIELD, CURSOR_FIELD, *sync_format.paths.values()]
    names += [mapping.source for mapping in fields]
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.lower(), name)
    return tuple(unique.values())


class SyncSpec(SpecModel):
    """One data-in sync: a Salesforce object read on an interval and sent to destinations."""

    name: str = Field(description="Unique sync name: 1-63 lowercase letters, digits, '-' or '_'.")
    connection: str = Field(description="The name of the Salesforce connection to read from.")
    object: Annotated[str, AfterValidator(checked_object_name)] = Field(
        description="The Salesforce object's API name: Contact, Lead, Invoice__c."
    )
    format: SyncFormat = Field(
        description="What each record becomes: a person, object, relationship or event."
    )
    fields: tuple[FieldMapping, ...] = Field(
        default=(),
        description="The fields to send, each with an optional new name (target). For a "
        "relationship they are its attributes; for an event, its properties.",
    )
    filter: str | None = Field(
        default=None,
        description="SOQL criteria for the WHERE clause, without SELECT, FROM or WHERE: "
        "Email != null. Field names as Salesforce spells them, before any rename.",
    )
    interval: Duration = Field(
        default=timedelta(hours=1),
        description="How often the sync runs: 1h, 6h, 24h, or a custom duration of at least 5m.",
    )
    destinations: tuple[str, ...] = Field(
        default=(), description="The names of the destinations that receive the records."
    )
    delete_policy: DeletePolicy = Field(
        default=DeletePolicy.IGNORE,
        description="What to do when a record is deleted in Salesforce: ignore, delete, "
        "suppress (people only) or mark.",
    )
    mark_attribute: str | None = Field(
        default=None,
        description="With delete_policy mark: the attribute set to true on deleted records "
        f"({DEFAULT_MARK_ATTRIBUTE} when left out).",
    )
    enabled: bool = Field(
        default=True, description="False pauses the sync; its settings and cursor are kept."
    )
    formula_refresh: Duration | None = Field(
        default=None,
        description="How often to re-read formula fields and fields read through lookups, "
        "whose changes do not change the record's SystemModstamp; none when left out.",
    )

    @model_validator(mode="before")
    @classmethod
    def _mark_attribute_default(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("delete_policy") == DeletePolicy.MARK
            and data.get("mark_attribute") is None
        ):
            return {**data, "mark_attribute": DEFAULT_MARK_ATTRIBUTE}
        return data

    @field_validator("name")
    @classmethod
    def _sync_name(cls, name: str) -> str:
        try:
            return validate_connection_name(name)
        except ConfigError:
            raise ValueError(
                f"sync name {name!r} is not valid: use 1-63 lowercase letters, digits, '-' or "
                "'_', starting with a letter or digit (for example 'contacts')"
            ) from None

    @field_validator("connection")
    @classmethod
    def _connection_name(cls, name: str) -> str:
        try:
            return validate_connection_name(name)
        except ConfigError as error:
            raise ValueError(str(error)) from None

    @field_validator("filter")
    @classmethod
    def _filter_syntax(cls, text: str | None, info: ValidationInfo) -> str | None:
        if text is None or not text.strip():
            return None
        text = text.strip()
        size = len(quote(text, safe=""))
        if size > FILTER_MAX_URL_CHARS:
            raise ValueError(
                f"the filter is {size} characters once URL-encoded, over the "
                f"{FILTER_MAX_URL_CHARS} allowed; shorten it (REST queries travel in a URL "
                "limited to 16 KB, and the selected fields need the rest)"
            )
        object_name = info.data.get("object")
        if object_name is None:
            return text  # the object's own error says what is wrong
        try:
            # No fields given: this checks syntax and clauses only; the first
            # field it meets is "unknown", which check_against_describe settles.
            validate_filter(object_name, text, {})
        except FilterError as error:
            if error.field is None:
                raise ValueError(str(error)) from None
        return text

    @field_validator("interval")
    @classmethod
    def _interval_long_enough(cls, interval: timedelta) -> timedelta:
        if interval < MIN_INTERVAL:
            raise ValueError(
                f"interval {format_duration(interval)} is shorter than "
                f"{format_duration(MIN_INTERVAL)}, the shortest sync interval; choose 1h, 6h, "
                "24h or a custom interval of at least 5m"
            )
        return interval

    @field_validator("destinations")
    @classmethod
    def _destinations(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            checked_name(name, "destination")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"destination {repeated[0]!r} is listed twice; list each destination once"
            )
        return names

    @model_validator(mode="after")
    def _consistent(self) -> SyncSpec:
        self._check_targets()
        self._check_delete_policy()
        if self.formula_refresh is not None and self.formula_refresh < self.interval:
            raise ValueError(
                f"formula_refresh {format_duration(self.formula_refresh)} is shorter than the "
                f"interval {format_duration(self.interval)}; a refresh re-reads every record, "
                "so make it at least the interval (24h is typical)"
            )
        if self.enabled and not self.destinations:
            raise ValueError(
                f"sync {self.name!r} is enabled but has no destinations; add one to "
                "destinations or set enabled: false"
            )
        return self

    def _check_targets(self) -> None:
        reserved = _RESERVED_TARGETS[self.format.type]
        first: dict[str, int] = {}
        for index, mapping in enumerate(self.fields):
            if mapping.target in reserved:
                raise ValueError(
                    f"fields[{index}] ({mapping.source}) is renamed to {mapping.target!r}, which "
                    f"{self._kind} sets itself from its identifiers; choose another "
                    f"target, such as 'salesforce_{mapping.target}'"
                )
            if mapping.target in first:
                other = self.fields[first[mapping.target]]
                raise ValueError(
                    f"fields[{first[mapping.target]}] ({other.source}) and fields[{index}] "
                    f"({mapping.source}) both become {mapping.target!r}; give one of them "
                    "another target"
                )
            first[mapping.target] = index
        if self.mark_attribute in first:
            raise ValueError(
                f"mark_attribute {self.mark_attribute!r} is also the target of "
                f"fields[{first[self.mark_attribute]}]; choose another mark_attribute"
            )

    def _check_delete_policy(self) -> None:
        policy = self.delete_policy
        if self.format.type == "event" and policy != DeletePolicy.IGNORE:
            raise ValueError(
                f"delete_policy {policy.value} does not apply to an event sync: a sent event "
                "cannot be taken back; use delete_policy: ignore"
            )
        if policy == DeletePolicy.SUPPRESS and self.format.type != "person":
            raise ValueError(
                f"delete_policy suppress applies to people, not to {self._kind}; use delete or mark"
            )
        if policy == DeletePolicy.MARK:
            checked_name(str(self.mark_attribute), "mark_attribute")
        elif self.mark_attribute is not None:
            raise ValueError(
                f"mark_attribute {self.mark_attribute!r} is used only with delete_policy: mark "
                f"(this sync's is {policy.value}); remove it or set delete_policy: mark"
            )

    @property
    def _kind(self) -> str:
        """The sync's kind with its article, as messages say it: "an object sync"."""
        article = "an" if self.format.type[0] in "aeiou" else "a"
        return f"{article} {self.format.type} sync"

    @property
    def read_fields(self) -> tuple[str, ...]:
        """Every field the sync reads, Id and SystemModstamp first."""
        return read_fields(self.format, self.fields)

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        """The fields that identify what a record became (what a delete message needs)."""
        return self.format.identifier_fields
