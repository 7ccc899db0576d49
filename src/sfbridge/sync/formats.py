"""What a sync's records become: a person, an object, a relationship or an event.

Each format names the Salesforce fields that identify what a record
becomes (customerio-salesforce-mapping.md sections 2 and 3): people are
identify calls, objects group calls, relationships group calls with a
person, events track calls. ``SyncFormat`` is their union, told apart by
``type``::

    format:
      type: object
      object_type: {singular: Account, plural: Accounts}
      id_field: Id
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sfbridge.messages import object_type_id_of
from sfbridge.salesforce.soql import checked_field_path

ID_FIELD = "Id"

# A field's API name or a path through lookups (Account.Name), as SOQL reads it.
FieldPath = Annotated[str, AfterValidator(checked_field_path)]


def checked_name(value: str, what: str) -> str:
    """``value`` if it is a valid attribute or property name, else a ValueError naming it."""
    if not value.strip() or value != value.strip():
        raise ValueError(f"{what} {value!r} must be a name without spaces around it")
    return value


def _present(**paths: str | None) -> dict[str, str]:
    return {name: path for name, path in paths.items() if path is not None}


class SpecModel(BaseModel):
    """Base of the sync spec models: frozen, and a misspelt key is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PersonIdentifier(StrEnum):
    """Which Customer.io person identifier a Salesforce value is."""

    ID = "id"
    EMAIL = "email"


class ObjectType(SpecModel):
    """A Customer.io custom object type."""

    singular: str = Field(description="Singular name, such as Account.")
    plural: str = Field(description="Plural name, such as Accounts.")
    object_type_id: str | None = Field(
        default=None,
        description="The workspace's object type id ('1', '2', ...); when left out, the type "
        "is found by its name and created if new.",
    )

    @field_validator("singular", "plural")
    @classmethod
    def _is_a_name(cls, value: str, info: ValidationInfo) -> str:
        return checked_name(value, f"object type {info.field_name} name")

    @field_validator("object_type_id", mode="before")
    @classmethod
    def _type_id(cls, value: object) -> str | None:
        return None if value is None else object_type_id_of(value, "object_type_id")


class PersonFormat(SpecModel):
    """Each record is a person (identify): Contacts, Leads."""

    type: Literal["person"] = Field(default="person", description="Records become people.")
    id_field: FieldPath | None = Field(
        default=ID_FIELD,
        description="The field whose value is the person's Customer.io id (usually Id).",
    )
    email_field: FieldPath | None = Field(
        default=None,
        description="The field whose value is the person's Customer.io email (usually Email).",
    )

    @model_validator(mode="after")
    def _has_an_identifier(self) -> PersonFormat:
        if self.id_field is None and self.email_field is None:
            raise ValueError(
                "a person sync needs an identifier: set id_field (for example Id) or "
                "email_field (for example Email), or both"
            )
        return self

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        """The fields that identify each person."""
        return tuple(self.paths.values())

    @property
    def paths(self) -> dict[str, str]:
        """The fields this format reads, by setting name."""
        return _present(id_field=self.id_field, email_field=self.email_field)


class ObjectFormat(SpecModel):
    """Each record is a custom object (group without a person): Accounts, Opportunities."""

    type: Literal["object"] = Field(default="object", description="Records become objects.")
    object_type: ObjectType = Field(description="The Customer.io object type of the records.")
    id_field: FieldPath = Field(
        default=ID_FIELD, description="The field whose value is the object's id (usually Id)."
    )

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        """The field that identifies each object."""
        return (self.id_field,)

    @property
    def paths(self) -> dict[str, str]:
        """The fields this format reads, by setting name."""
        return {"id_field": self.id_field}


class RelationshipFormat(SpecModel):
    """Each record relates a person to an object (group with a person): AccountId on Contact.

    The sync's ``fields`` become the relationship's attributes.
    """

    type: Literal["relationship"] = Field(
        default="relationship", description="Records become person-object relationships."
    )
    person_field: FieldPath = Field(
        description="The field (or lookup path) holding the person's identifier: Id on "
        "Contact, ContactId on OpportunityContactRole."
    )
    person_identifier: PersonIdentifier = Field(
        default=PersonIdentifier.ID, description="Which person identifier person_field holds."
    )
    object_field: FieldPath = Field(
        description="The field (or lookup path) holding the object's id: AccountId on Contact."
    )
    object_type: ObjectType = Field(description="The Customer.io object type related to.")

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        """The person's and the object's identifier fields."""
        return (self.person_field, self.object_field)

    @property
    def paths(self) -> dict[str, str]:
        """The fields this format reads, by setting name."""
        return {"person_field": self.person_field, "object_field": self.object_field}


class EventFormat(SpecModel):
    """Each record is an event a person did (track): closed Tasks.

    The sync's ``fields`` become the event's properties.
    """

    type: Literal["event"] = Field(default="event", description="Records become events.")
    name: str | None = Field(
        default=None, description="The event name for every record (for example Task Completed)."
    )
    name_field: FieldPath | None = Field(
        default=None, description="A field whose value is the event name, instead of name."
    )
    person_field: FieldPath = Field(
        description="The field (or lookup path) holding the person's identifier: WhoId on Task."
    )
    person_identifier: PersonIdentifier = Field(
        default=PersonIdentifier.ID, description="Which person identifier person_field holds."
    )
    timestamp_field: FieldPath = Field(
        default="CreatedDate",
        description="The date or datetime field that says when the event happened; an empty "
        "value falls back to the record's SystemModstamp.",
    )

    @model_validator(mode="after")
    def _one_name(self) -> EventFormat:
        if (self.name is None) == (self.name_field is None):
            raise ValueError(
                "an event sync needs one event name: set name (the same for every record, "
                "for example 'Task Completed') or name_field (a field holding it), not both"
            )
        if self.name is not None:
            checked_name(self.name, "event name")
        return self

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        """The field that identifies the person who did the event."""
        return (self.person_field,)

    @property
    def paths(self) -> dict[str, str]:
        """The fields this format reads, by setting name."""
        return _present(
            person_field=self.person_field,
            name_field=self.name_field,
            timestamp_field=self.timestamp_field,
        )


SyncFormat = Annotated[
    PersonFormat | ObjectFormat | RelationshipFormat | EventFormat,
    Field(discriminator="type"),
]
