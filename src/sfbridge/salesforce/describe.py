"""describeGlobal and per-object describe, typed and cached per client.

The attributes kept are the ones sfbridge's syncs, actions and migration
read (REST API Developer Guide, "sObject Describe"; the ``Field`` type of
the SOAP API Developer Guide, "DescribeSObjectResult"). Describe only lists
what the connected user may see, so the cache belongs to one client; call
``invalidate`` after a schema change (a new custom field, say).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SalesforceConfigError, SalesforceRecordError
from .http import ApiCall, ApiCaller, Flow
from .rest import check_name


@dataclass(frozen=True)
class PicklistValue:
    """One value of a picklist field."""

    value: str
    label: str
    active: bool
    default_value: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PicklistValue:
        """From a ``picklistValues`` entry."""
        return cls(
            value=str(data.get("value") or ""),
            label=str(data.get("label") or data.get("value") or ""),
            active=bool(data.get("active", True)),
            default_value=bool(data.get("defaultValue", False)),
        )


@dataclass(frozen=True)
class FieldDescribe:
    """What describe says about one field (Salesforce's camelCase names in snake_case)."""

    name: str
    label: str
    type: str
    soap_type: str
    length: int
    precision: int
    scale: int
    filterable: bool
    sortable: bool
    createable: bool
    updateable: bool
    nillable: bool
    external_id: bool
    id_lookup: bool
    unique: bool
    calculated: bool
    custom: bool
    defaulted_on_create: bool
    restricted_picklist: bool
    reference_to: tuple[str, ...]
    relationship_name: str | None
    compound_field_name: str | None
    picklist_values: tuple[PicklistValue, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldDescribe:
        """From one entry of a describe's ``fields``."""
        return cls(
            name=str(data["name"]),
            label=str(data.get("label") or data["name"]),
            type=str(data.get("type") or ""),
            soap_type=str(data.get("soapType") or ""),
            length=int(data.get("length") or 0),
            precision=int(data.get("precision") or 0),
            scale=int(data.get("scale") or 0),
            filterable=bool(data.get("filterable")),
            sortable=bool(data.get("sortable")),
            createable=bool(data.get("createable")),
            updateable=bool(data.get("updateable")),
            nillable=bool(data.get("nillable")),
            external_id=bool(data.get("externalId")),
            id_lookup=bool(data.get("idLookup")),
            unique=bool(data.get("unique")),
            calculated=bool(data.get("calculated")),
            custom=bool(data.get("custom")),
            defaulted_on_create=bool(data.get("defaultedOnCreate")),
            restricted_picklist=bool(data.get("restrictedPicklist")),
            reference_to=tuple(str(r) for r in data.get("referenceTo") or ()),
            relationship_name=data.get("relationshipName") or None,
            compound_field_name=data.get("compoundFieldName") or None,
            picklist_values=tuple(
                PicklistValue.from_json(v) for v in data.get("picklistValues") or ()
            ),
        )


@dataclass(frozen=True)
class SObjectSummary:
    """One object of describeGlobal."""

    name: str
    label: str
    key_prefix: str | None
    custom: bool
    queryable: bool
    createable: bool
    updateable: bool
    deletable: bool
    replicateable: bool
    retrieveable: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SObjectSummary:
        """From a describeGlobal ``sobjects`` entry (or the top of an object describe)."""
        return cls(
            name=str(data["name"]),
            label=str(data.get("label") or data["name"]),
            key_prefix=data.get("keyPrefix") or None,
            custom=bool(data.get("custom")),
            queryable=bool(data.get("queryable")),
            createable=bool(data.get("createable")),
            updateable=bool(data.get("updateable")),
            deletable=bool(data.get("deletable")),
            replicateable=bool(data.get("replicateable")),
            retrieveable=bool(data.get("retrieveable")),
        )


@dataclass(frozen=True)
class ObjectDescribe:
    """An object's describe: its flags and its fields, in Salesforce's order."""

    summary: SObjectSummary
    fields: tuple[FieldDescribe, ...]

    @property
    def name(self) -> str:
        """The object's API name, as Salesforce spells it."""
        return self.summary.name

    def field(self, name: str) -> FieldDescribe | None:
        """The field called ``name`` (API names are case-insensitive), or None."""
        wanted = name.lower()
        return next((f for f in self.fields if f.name.lower() == wanted), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every field's name."""
        return tuple(f.name for f in self.fields)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectDescribe:
        """From ``GET /sobjects/{Object}/describe``."""
        return cls(
            summary=SObjectSummary.from_json(data),
            fields=tuple(FieldDescribe.from_json(f) for f in data.get("fields") or ()),
        )


class DescribeApi:
    """Describe flows with a per-client cache: the second describe of an object costs no call."""

    def __init__(self, caller: ApiCaller) -> None:
        self._caller = caller
        self._lock = threading.Lock()
        self._objects: dict[str, ObjectDescribe] = {}
        self._global: tuple[SObjectSummary, ...] | None = None

    def describe_global(self) -> Flow[tuple[SObjectSummary, ...]]:
        """Every object the user can see (``GET /sobjects``)."""
        with self._lock:
            cached = self._global
        if cached is not None:
            return cached
        body = yield from self._caller.json(ApiCall("GET", self._caller.data_path("sobjects")))
        summaries = tuple(SObjectSummary.from_json(o) for o in body.get("sobjects") or ())
        with self._lock:
            self._global = summaries
        return summaries

    def describe(self, object_name: str) -> Flow[ObjectDescribe]:
        """One object's describe; an unknown object is a ConfigError naming it."""
        key = check_name(object_name).lower()
        with self._lock:
            cached = self._objects.get(key)
        if cached is not None:
            return cached
        path = self._caller.data_path("sobjects", object_name, "describe")
        try:
            body = yield from self._caller.json(ApiCall("GET", path, object_name=object_name))
        except SalesforceRecordError as error:
            if error.error_code != "NOT_FOUND":
                raise
            raise SalesforceConfigError(
                f"the org has no object {object_name!r} visible to this user",
                error_code=error.error_code,
                status=error.status,
                object_name=object_name,
                request=error.request,
                hint="Check the API name (custom objects end in __c) and the user's access.",
            ) from None
        described = ObjectDescribe.from_json(body)
        with self._lock:
            self._objects[key] = described
        return described

    def invalidate(self, object_name: str | None = None) -> None:
        """Forget one object's describe, or every describe (and describeGlobal) when None."""
        with self._lock:
            if object_name is None:
                self._objects.clear()
                self._global = None
            else:
                self._objects.pop(object_name.lower(), None)
