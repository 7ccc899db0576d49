"""Pipelines-spec messages: ``identify``, ``group``, ``track`` and the semantic deletes.

The message is sfbridge's common currency (DESIGN.md, "a pipeline of
messages"): sources produce them, destinations consume them. Fields are
snake_case in Python and camelCase on the wire, exactly as the Customer.io
Data Pipelines spec spells them (``messageId``, ``userId``, ``groupId``, ...;
reference ``customerio-api.md`` §3)::

    Identify(user_id="003...", traits={"email": "a@example.com"}, message_id=...)
    Group(group_id="001...", user_id="003...",
          traits={"object_type_id": "1", "relationshipAttributes": {"role": "Buyer"}}, ...)
    Track(event="User Deleted", user_id="003...", message_id=...)

A message that exists is valid: constructing or parsing one that breaks a rule
raises ``InvalidMessage`` (its text names each field and the value), and one
whose JSON is over ``MAX_MESSAGE_BYTES`` raises ``MessageTooLarge``. Both are
``SkippableError``: the record is kept with the reason, the run goes on.
Customer.io answers 200 to an oversized call and drops it; sfbridge refuses it
before anything is sent, so no record vanishes without a trace.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, Required, Self, TypedDict, Unpack

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from sfbridge.errors import SkippableError
from sfbridge.salesforce.ids import is_valid_id

MAX_MESSAGE_BYTES = 32 * 1024
"""Largest message, as compact UTF-8 JSON: the Pipelines API's 32 KB per call (its
Python client checks ``32 << 10``, reference ``customerio-api.md`` §3)."""

DEFAULT_OBJECT_TYPE_ID = "1"
"""The object type a ``group`` call gets when its traits name none (Pipelines spec)."""

# uuid5 namespace of sfbridge message ids; fixed forever, or re-delivered
# batches would get new ids and stop being recognised as duplicates.
_MESSAGE_ID_NAMESPACE = uuid.UUID("6f3c1f0e-5d0b-4c53-9a55-2d1b8f3e7a41")
_FIELD_NAMES = frozenset({"message_id", "user_id", "anonymous_id", "group_id", "system_modstamp"})
_SALESFORCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Customer.io object type ids are string-formatted integers from "1" (customerio-api.md §2).
_OBJECT_TYPE_ID = re.compile(r"^[1-9][0-9]*$")

Traits = dict[str, JsonValue]


class SemanticEvent(StrEnum):
    """Reserved ``track`` event names that change data instead of recording an event."""

    USER_DELETED = "User Deleted"
    USER_SUPPRESSED = "User Suppressed"
    OBJECT_DELETED = "Object Deleted"
    RELATIONSHIP_DELETED = "Relationship Deleted"


class InvalidMessage(SkippableError):
    """A message breaks the spec; the text names each field and the value it had."""


class MessageTooLarge(SkippableError):
    """A message's JSON is over the per-message limit; Customer.io would drop it silently."""

    def __init__(self, message_id: str, size: int, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.message_id = message_id
        self.size = size
        self.limit = limit
        super().__init__(
            f"message {message_id!r} is {size} bytes of JSON, over the {limit}-byte limit "
            f"per message; select fewer or shorter fields for this sync"
        )


class ObjectRef(NamedTuple):
    """One object: its Customer.io object type id and its own id."""

    object_type_id: str
    object_id: str


def message_id(*parts: str | int) -> str:
    """A deterministic message id: the uuid5 of ``parts``.

    Build it from what identifies one change of one record, for example
    ``message_id(sync_name, record_id, system_modstamp, "identify")``: a batch
    made again after a crash gets the same ids, so destinations drop repeats.
    """
    if not parts:
        raise ValueError("message_id needs at least one part")
    # JSON keeps the parts apart: ("a", "bc") and ("ab", "c") name different messages.
    return str(uuid.uuid5(_MESSAGE_ID_NAMESPACE, json.dumps(parts)))


def object_type_id_of(value: object, field: str) -> str:
    """``value`` as an object type id (``"1"``, ``"2"``, ...); integers are accepted."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    if isinstance(value, str) and _OBJECT_TYPE_ID.match(value):
        return value
    raise ValueError(f"{field} must be an object type id such as '1' (got {value!r})")


def _is_none(value: object) -> bool:
    return value is None


class _Model(BaseModel):
    """Frozen, strict about unknown fields, camelCase on the wire."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class SalesforceOrigin(_Model):
    """The Salesforce record a message was made from, kept in ``context["salesforce"]``."""

    object: str = Field(description="API name of the object, e.g. Contact or Invoice__c.")
    id: str = Field(description="Record Id, in the 18-character form the API returns.")
    system_modstamp: AwareDatetime = Field(
        description="The record's SystemModstamp when it was read."
    )
    record: dict[str, JsonValue] = Field(
        default_factory=dict, description="The record's raw fields as Salesforce returned them."
    )

    @field_validator("object")
    @classmethod
    def _check_object(cls, value: str) -> str:
        if not _SALESFORCE_NAME.match(value):
            raise ValueError(f"not a Salesforce object API name: {value!r}")
        return value

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not is_valid_id(value):
            raise ValueError(f"not a Salesforce record Id: {value!r}")
        return value

    @field_validator("system_modstamp")
    @classmethod
    def _to_milliseconds(cls, value: datetime) -> datetime:
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    @field_serializer("system_modstamp")
    def _milliseconds(self, value: datetime) -> str:
        # SystemModstamp has millisecond precision; write it the way the record does.
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Context(BaseModel):
    """A message's ``context``: any spec keys (ip, library, ...) plus sfbridge's ``salesforce``."""

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, JsonValue] = Field(init=False)

    salesforce: SalesforceOrigin | None = Field(
        default=None,
        exclude_if=_is_none,
        description="Where a message made by a Salesforce sync came from.",
    )


def _is_empty_context(context: Context) -> bool:
    return context.salesforce is None and not context.model_extra


class _Message(_Model):
    """Fields every call has, the size check, and the wire encoding."""

    message_id: str = Field(
        min_length=1,
        description="Unique id; destinations ignore a message whose id they already have.",
    )
    timestamp: AwareDatetime | None = Field(
        default=None, exclude_if=_is_none, description="When it happened (ISO 8601)."
    )
    context: Context = Field(
        default_factory=Context,
        exclude_if=_is_empty_context,
        description="Where the call came from (ip, library, ...; ``salesforce`` for syncs).",
    )
    _json: str = PrivateAttr(default="")

    def __init__(self, **data: Any) -> None:
        """Validate the fields; ``InvalidMessage`` names each wrong field and value."""
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise _invalid(error, data) from None

    @model_validator(mode="after")
    def _check_size(self) -> Self:
        self._json = self.model_dump_json(by_alias=True)
        size = len(self._json.encode())
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(self.message_id, size)
        return self

    @property
    def salesforce(self) -> SalesforceOrigin | None:
        """The Salesforce record this message was made from, when a sync made it."""
        return self.context.salesforce

    def to_json(self) -> str:
        """Compact JSON in the spec's camelCase, at most ``MAX_MESSAGE_BYTES`` encoded."""
        return self._json

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON-ready Python data (what ``to_json`` encodes)."""
        return self.model_dump(mode="json", by_alias=True)


def _require_someone(user_id: str | None, anonymous_id: str | None, call: str) -> None:
    if not user_id and not anonymous_id:
        raise ValueError(f"{call} needs a userId or an anonymousId (both are empty)")


class Identify(_Message):
    """Create or update a person; traits merge into the ones they have."""

    type: Literal["identify"] = "identify"
    user_id: str | None = Field(default=None, exclude_if=_is_none)
    anonymous_id: str | None = Field(default=None, exclude_if=_is_none)
    traits: Traits = Field(default_factory=dict, description="Person attributes.")

    @model_validator(mode="after")
    def _check_person(self) -> Self:
        _require_someone(self.user_id, self.anonymous_id, "identify")
        return self


class Group(_Message):
    """Create or update an object; with ``userId``, also relate that person to it.

    ``traits.object_type_id`` picks the object type (default ``"1"``),
    ``traits.relationshipAttributes`` are the relationship's attributes, and
    every other trait is an attribute of the object (Pipelines spec, ``group``).
    """

    type: Literal["group"] = "group"
    group_id: str = Field(min_length=1, description="The object's id.")
    user_id: str | None = Field(default=None, exclude_if=_is_none)
    anonymous_id: str | None = Field(default=None, exclude_if=_is_none)
    traits: Traits = Field(default_factory=dict, description="Object and relationship data.")

    @field_validator("traits")
    @classmethod
    def _check_traits(cls, traits: Traits) -> Traits:
        if "object_type_id" in traits:
            object_type_id_of(traits["object_type_id"], "object_type_id")
        attributes = traits.get("relationshipAttributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ValueError(f"relationshipAttributes must be an object (got {attributes!r})")
        return traits

    @property
    def object(self) -> ObjectRef:
        """The object this call creates or updates."""
        value = self.traits.get("object_type_id", DEFAULT_OBJECT_TYPE_ID)
        return ObjectRef(object_type_id_of(value, "object_type_id"), self.group_id)

    @property
    def object_traits(self) -> Traits:
        """The object's attributes: the traits without the type id and relationship data."""
        reserved = ("object_type_id", "relationshipAttributes")
        return {key: value for key, value in self.traits.items() if key not in reserved}

    @property
    def relationship_attributes(self) -> Traits:
        """Attributes of the person-object relationship (empty without ``userId``)."""
        attributes = self.traits.get("relationshipAttributes")
        return dict(attributes) if isinstance(attributes, dict) else {}


class Track(_Message):
    """An event a person did, or a semantic event (``SemanticEvent``) that deletes data."""

    type: Literal["track"] = "track"
    event: str = Field(min_length=1, description="Event name.")
    user_id: str | None = Field(default=None, exclude_if=_is_none)
    anonymous_id: str | None = Field(default=None, exclude_if=_is_none)
    properties: Traits = Field(default_factory=dict, description="Event data.")

    @model_validator(mode="after")
    def _check_event(self) -> Self:
        _require_someone(self.user_id, self.anonymous_id, "track")
        needs_user = (
            SemanticEvent.USER_DELETED,
            SemanticEvent.USER_SUPPRESSED,
            SemanticEvent.RELATIONSHIP_DELETED,
        )
        if self.event in needs_user and not self.user_id:
            raise ValueError(f"a {self.event!r} event needs the person's userId")
        if self.event in (SemanticEvent.OBJECT_DELETED, SemanticEvent.RELATIONSHIP_DELETED):
            self.deleted_object()  # raises when objectId or its type is wrong
        return self

    @property
    def semantic(self) -> SemanticEvent | None:
        """The semantic event this is, or ``None`` for an ordinary event."""
        try:
            return SemanticEvent(self.event)
        except ValueError:
            return None

    def deleted_object(self) -> ObjectRef:
        """The object an ``Object Deleted`` or ``Relationship Deleted`` event names.

        The type is read from ``object_type_id`` or the spec's ``objectTypeId``
        (an integer there), default ``"1"``: both spellings are in use. Other
        events have no ``objectId`` and raise ``ValueError``.
        """
        object_id = self.properties.get("objectId")
        if not isinstance(object_id, str) or not object_id:
            raise ValueError(f"properties.objectId must be a non-empty string (got {object_id!r})")
        for key in ("object_type_id", "objectTypeId"):
            if key in self.properties:
                return ObjectRef(
                    object_type_id_of(self.properties[key], f"properties.{key}"), object_id
                )
        return ObjectRef(DEFAULT_OBJECT_TYPE_ID, object_id)


Message = Identify | Group | Track
"""Any Pipelines message sfbridge carries."""

_MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(
    Annotated[Message, Field(discriminator="type")]
)


def parse_message(data: str | bytes | dict[str, Any]) -> Message:
    """A message from its JSON text or decoded JSON, picked by its ``type``."""
    try:
        if isinstance(data, dict):
            return _MESSAGE_ADAPTER.validate_python(data)
        return _MESSAGE_ADAPTER.validate_json(data)
    except ValidationError as error:
        raw = data if isinstance(data, dict) else _loads_or_empty(data)
        raise _invalid(error, raw) from None


class CommonFields(TypedDict, total=False):
    """Keyword arguments every call takes; ``message_id`` is required."""

    message_id: Required[str]
    timestamp: datetime | None
    context: Context


def user_deleted(user_id: str, **common: Unpack[CommonFields]) -> Track:
    """``User Deleted``: remove the person and everything about them."""
    return Track(event=SemanticEvent.USER_DELETED, user_id=user_id, **common)


def user_suppressed(user_id: str, **common: Unpack[CommonFields]) -> Track:
    """``User Suppressed``: keep the person from being messaged (and re-created)."""
    return Track(event=SemanticEvent.USER_SUPPRESSED, user_id=user_id, **common)


def object_deleted(target: ObjectRef, **common: Unpack[CommonFields]) -> Track:
    """``Object Deleted``: remove the object and its relationships.

    The spec sends it with an ``anonymousId`` since no person is involved;
    sfbridge uses the object's id there, so the message stays deterministic.
    """
    properties = _object_properties(target)
    return Track(
        event=SemanticEvent.OBJECT_DELETED,
        anonymous_id=target.object_id,
        properties=properties,
        **common,
    )


def relationship_deleted(user_id: str, target: ObjectRef, **common: Unpack[CommonFields]) -> Track:
    """``Relationship Deleted``: unlink the person from the object; both stay."""
    properties = _object_properties(target)
    return Track(
        event=SemanticEvent.RELATIONSHIP_DELETED, user_id=user_id, properties=properties, **common
    )


def _object_properties(target: ObjectRef) -> Traits:
    return {"objectId": target.object_id, "object_type_id": target.object_type_id}


def _loads_or_empty(text: str | bytes) -> dict[str, Any]:
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _invalid(error: ValidationError, data: dict[str, Any]) -> InvalidMessage:
    """One readable error: which message, then each field, its problem and its value."""
    name = data.get("messageId", data.get("message_id"))
    label = f"message {name!r}" if isinstance(name, str) and name else "message"
    problems = []
    for item in error.errors(include_url=False):
        # Name fields as the wire does, whether the caller used userId or user_id.
        field = ".".join(
            to_camel(part) if part in _FIELD_NAMES else str(part) for part in item["loc"]
        )
        shown = repr(item.get("input"))
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        # Our own checks (value_error) already quote the value in their words.
        if item["type"] == "value_error":
            detail = item["msg"].removeprefix("Value error, ")
        else:
            detail = f"{item['msg']} (got {shown})"
        problems.append(f"{field}: {detail}" if field else detail)
    return InvalidMessage(f"invalid {label}: " + "; ".join(problems))
