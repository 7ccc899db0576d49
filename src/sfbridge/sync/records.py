"""Turning one Salesforce record into the Pipelines messages its sync's format asks for.

A ``RecordMapper`` is built once per spec (paths split, renames and the
object type resolved) and then maps every record of a run::

    mapper = RecordMapper(spec)
    for record in records:
        try:
            messages = mapper.map(record)
        except RecordMappingError as error:
            keep_for_replay(record, error)  # the reason names the record and the field

Person -> ``identify``, object -> ``group``, relationship -> ``group`` with a
``userId``, event -> ``track`` (customerio-salesforce-mapping.md sections 2-3).

Records arrive in two shapes: REST (``attributes``, datetimes as text such as
``2024-01-01T00:00:00.000+0000``) and Bulk API 2.0 (typed by
``bulk2_csv.RecordShape``: ``datetime``, ``date``, numbers, bools). Values are
normalised so both give the same messages, byte for byte:

- a datetime, or text in Salesforce's datetime form, becomes ISO 8601 UTC with
  milliseconds and ``Z``; a date becomes ``YYYY-MM-DD``;
- a float with an integral value becomes an int: REST's JSON may write
  ``5.0E7`` where Bulk's CSV says ``50000000``;
- an address or location field missing from a Bulk record (Bulk reads only
  its components) is rebuilt from them as REST gives it, when the mapper was
  built with the object's describe (``sync.compound``); one read through a
  lookup (``Account.BillingAddress``) too, given the parents' describes;
- a dotted path (``Account.Name``) is read through the parents, and an empty
  lookup (``"Account": null``) gives null; ``attributes`` are never sent.

A field missing from the record altogether is a failure, not a null: a null
trait clears the attribute at the destination, and a query that did not select
the field says nothing about its value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import JsonValue, ValidationError

from sfbridge.errors import ConfigError, SkippableError
from sfbridge.messages import (
    Context,
    Group,
    Identify,
    InvalidMessage,
    Message,
    MessageTooLarge,
    SalesforceOrigin,
    Track,
    Traits,
    message_id,
)
from sfbridge.salesforce.describe import ObjectDescribe

from .compound import DescribeLookup, compound_components, with_compounds
from .formats import ID_FIELD, EventFormat, ObjectFormat, PersonFormat, RelationshipFormat
from .plan import record_key
from .spec import CURSOR_FIELD, SyncSpec

# Salesforce's datetime text (REST JSON, Bulk CSV): 2024-01-01T00:00:00.000+0000 or ...Z.
_SALESFORCE_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})"
)
# REST's type and URL of each record and parent: not data.
_ATTRIBUTES = "attributes"
_MISSING: Any = object()


class RecordMappingError(SkippableError):
    """One record cannot become messages; the text names the record, the field and the fix."""

    def __init__(
        self, spec: SyncSpec, record_id: str | None, reason: str, *, field: str | None = None
    ) -> None:
        self.sync = spec.name
        self.record_id = record_id
        self.field = field
        self.reason = reason
        super().__init__(f"sync {spec.name!r}: {spec.object} record {record_id!r} {reason}")


class _MissingField(Exception):
    """A path is not in the record (raised inside this module, reported as RecordMappingError)."""


def read_path(record: Mapping[str, Any], path: str) -> Any:
    """The raw value at ``path`` (``Email``, ``Account.Owner.Name``); None past an empty lookup.

    Names match without regard to case when the exact spelling is absent:
    SOQL names ignore case, and the API answers with the describe's spelling.
    """
    current: Any = record
    for key in path.split("."):
        if current is None:
            return None
        if not isinstance(current, Mapping):
            raise _MissingField(path)
        found = current.get(key, _MISSING)
        if found is _MISSING:
            lowered = key.lower()
            found = next(
                (value for name, value in current.items() if name.lower() == lowered), _MISSING
            )
        if found is _MISSING:
            raise _MissingField(path)
        current = found
    return current


def iso_datetime(moment: datetime) -> str:
    """``moment`` as ISO 8601 UTC with milliseconds and ``Z``; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Bulk's typed values are UTC, as is the API
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def json_value(value: Any) -> JsonValue:
    """A record value as the JSON both record shapes agree on (see the module docstring).

    Raises ``ValueError`` for a value JSON cannot carry (NaN, an unknown type).
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if _SALESFORCE_DATETIME.fullmatch(value):
            return iso_datetime(datetime.fromisoformat(value))
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no JSON form")
        # Whatever its size: REST may write a whole double as an integer literal.
        if value.is_integer():
            return int(value)
        return value
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        # A compound field (MailingAddress over REST) or a parent selected whole.
        return {str(k): json_value(v) for k, v in value.items() if k != _ATTRIBUTES}
    raise ValueError(f"{type(value).__name__} {value!r} has no JSON form")


def as_datetime(value: JsonValue) -> datetime | None:
    """A normalised date or datetime value (``json_value``'s text) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def resolve_object_type_id(spec: SyncSpec, given: str | None) -> str | None:
    """The object type id of an object or relationship sync: the spec's, or ``given``.

    A spec may name its type only by name (found or created in the workspace
    at run time); the run passes the id it resolved. None for people and events.
    """
    if not isinstance(spec.format, ObjectFormat | RelationshipFormat):
        return None
    declared = spec.format.object_type.object_type_id
    if declared is not None and given is not None and declared != given:
        raise ConfigError(
            f"sync {spec.name!r} declares object type id {declared!r} but {given!r} was "
            "passed; pass none, or fix object_type_id in the spec"
        )
    chosen = declared or given
    if chosen is None:
        raise ConfigError(
            f"sync {spec.name!r}: object type {spec.format.object_type.plural!r} has no "
            "object_type_id; resolve it in the workspace and pass it as object_type_id"
        )
    return chosen


@dataclass(frozen=True)
class RecordValues:
    """A record's selected fields, normalised and read once: what messages and context hold."""

    spec: SyncSpec
    record_id: str | None
    paths: tuple[str, ...]
    values: dict[str, JsonValue]
    """By lower-case path: SOQL names ignore case, so ``email`` finds ``Email``."""

    @classmethod
    def read(
        cls, spec: SyncSpec, record: Mapping[str, Any], paths: tuple[str, ...]
    ) -> RecordValues:
        """``paths`` of ``record``, normalised; a missing or unsendable one fails naming it."""
        raw_id = record.get(ID_FIELD)
        found = cls(spec, raw_id if isinstance(raw_id, str) else None, paths, {})
        for path in paths:
            try:
                found.values[path.lower()] = json_value(read_path(record, path))
            except _MissingField:
                raise found.error(
                    f"has no field {path}; the sync reads it, so the query must select it", path
                ) from None
            except ValueError as error:
                raise found.error(f"field {path}: {error}", path) from None
        return found

    def get(self, path: str) -> JsonValue:
        """The normalised value at ``path`` (one of the paths read)."""
        return self.values[path.lower()]

    def identifier(self, path: str, what: str) -> str:
        """The value at ``path`` as an identifier: text, or a number's digits."""
        value = self.get(path)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value
        raise self.error(
            f"has no {what}: field {path} is {value!r}; add '{path} != null' to the sync's "
            "filter to leave such records out",
            path,
        )

    def error(self, reason: str, field: str | None = None) -> RecordMappingError:
        """A failure of this record; ``reason`` reads on from "<object> record '<id>'"."""
        return RecordMappingError(self.spec, self.record_id, reason, field=field)

    def origin(self, modstamp: datetime) -> Context:
        """``context`` naming the record, with the selected fields only (not the raw record).

        A wide object's unselected fields would otherwise push messages past
        the 32 KB limit, and REST's ``attributes`` and Bulk's lack of them
        would make the two shapes' messages differ.
        """
        try:
            origin = SalesforceOrigin(
                object=self.spec.object,
                id=str(self.record_id),
                system_modstamp=modstamp,
                record={path: self.get(path) for path in self.paths},
            )
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise self.error(f"cannot be traced back: {problem}", ID_FIELD) from None
        return Context(salesforce=origin)

    def widest(self) -> str:
        """Which selected field takes the most room: what to leave out of a message too large."""
        sizes = {path: len(json.dumps(self.get(path))) for path in self.paths}
        path = max(sizes, key=sizes.__getitem__)
        return f"its widest field is {path}, {sizes[path]} bytes of JSON"


class RecordMapper:
    """Maps the records of one sync to messages; build it once per run, it keeps no state."""

    def __init__(
        self,
        spec: SyncSpec,
        *,
        object_type_id: str | None = None,
        describe: ObjectDescribe | None = None,
        related: DescribeLookup | None = None,
    ) -> None:
        """Prepare for ``spec``; ``object_type_id`` is needed when the spec's type has none.

        With the object's ``describe``, a Bulk record's address and location
        components become the compound value REST gives (``sync.compound``);
        without it such a record fails for lack of the compound field.
        ``related`` gives a lookup target's describe, for compounds read
        through a lookup (``Account.BillingAddress``).
        """
        self.spec = spec
        self._type_id = resolve_object_type_id(spec, object_type_id)
        self._paths = spec.read_fields
        self._compounds = (
            {} if describe is None else compound_components(describe, self._paths, related)
        )
        self._fields = tuple((mapping.source, mapping.target) for mapping in spec.fields)
        builders: dict[str, Callable[[RecordValues, str, Context], Message]] = {
            "person": self._person,
            "object": self._object,
            "relationship": self._relationship,
            "event": self._event,
        }
        self._build = builders[spec.format.type]

    def map(self, record: Mapping[str, Any]) -> list[Message]:
        """The messages for one REST or Bulk record; ``RecordMappingError`` if it has none."""
        record = with_compounds(record, self._compounds)
        values = RecordValues.read(self.spec, record, self._paths)
        if values.record_id is None:
            raise values.error(f"has no {ID_FIELD}; select it (every sync reads it)", ID_FIELD)
        try:
            modstamp = record_key(record).modstamp
        except (KeyError, ValueError):
            raise values.error(
                f"has no {CURSOR_FIELD}; select it (every sync reads it)", CURSOR_FIELD
            ) from None
        context = values.origin(modstamp)
        try:
            return [self._build(values, iso_datetime(modstamp), context)]
        except MessageTooLarge as error:
            raise values.error(f"is too large to send: {error} ({values.widest()})") from None
        except InvalidMessage as error:
            raise values.error(f"makes an invalid message: {error}") from None

    def _traits(self, values: RecordValues) -> Traits:
        return {target: values.get(source) for source, target in self._fields}

    def _id(self, values: RecordValues, *parts: str) -> str:
        return message_id(self.spec.name, str(values.record_id), *parts)

    def _person(self, values: RecordValues, stamp: str, context: Context) -> Message:
        person = self.spec.format
        assert isinstance(person, PersonFormat)
        traits = self._traits(values)
        email = None if person.email_field is None else values.get(person.email_field)
        if email is not None:
            if not isinstance(email, str):
                raise values.error(
                    f"field {person.email_field} is {email!r}, not an email address",
                    person.email_field,
                )
            traits["email"] = email
        # Without an id field the email is the person's id: Customer.io reads
        # an email-shaped userId as the email identifier.
        id_field = person.id_field or person.email_field
        assert id_field is not None  # PersonFormat requires one of the two
        return Identify(
            user_id=values.identifier(id_field, "person id"),
            traits=traits,
            message_id=self._id(values, stamp, "identify"),
            context=context,
        )

    def _object(self, values: RecordValues, stamp: str, context: Context) -> Message:
        target = self.spec.format
        assert isinstance(target, ObjectFormat) and self._type_id is not None
        return Group(
            group_id=values.identifier(target.id_field, "object id"),
            traits={**self._traits(values), "object_type_id": self._type_id},
            message_id=self._id(values, stamp, "group"),
            context=context,
        )

    def _relationship(self, values: RecordValues, stamp: str, context: Context) -> Message:
        link = self.spec.format
        assert isinstance(link, RelationshipFormat) and self._type_id is not None
        traits: Traits = {"object_type_id": self._type_id}
        attributes = self._traits(values)
        if attributes:
            traits["relationshipAttributes"] = attributes
        return Group(
            group_id=values.identifier(link.object_field, "object id"),
            user_id=values.identifier(link.person_field, "person id"),
            traits=traits,
            message_id=self._id(values, stamp, "group"),
            context=context,
        )

    def _event(self, values: RecordValues, stamp: str, context: Context) -> Message:
        event = self.spec.format
        assert isinstance(event, EventFormat)
        name = event.name
        if event.name_field is not None:
            name = values.identifier(event.name_field, "event name")
        assert name is not None  # EventFormat requires name or name_field
        salesforce = context.salesforce
        assert salesforce is not None
        # An empty timestamp field (a Task closed without CompletedDateTime)
        # falls back to SystemModstamp, as EventFormat.timestamp_field promises.
        happened = as_datetime(values.get(event.timestamp_field)) or salesforce.system_modstamp
        return Track(
            event=name,
            user_id=values.identifier(event.person_field, "person id"),
            properties=self._traits(values),
            timestamp=happened,
            # The record Id alone, not its SystemModstamp: an edit to a closed
            # Task is a new version of the record, not a second event.
            message_id=self._id(values, "track"),
            context=context,
        )
