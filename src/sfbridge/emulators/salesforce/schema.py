"""The org's schema: standard objects from describe data, plus custom objects and fields.

Standard objects come from ``data/standard-objects.json`` (real describe
responses, see shared/reference/standard-objects.md). Custom objects and fields
(``__c``) come from a schema file (YAML or JSON) or from the Tooling API at run
time. Names are case-insensitive everywhere, as in Salesforce.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

# Field types whose value is stored in a column. Compound "address" and
# "location" fields are views over their component fields.
COMPOUND_TYPES = frozenset({"address", "location"})
TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "combobox",
        "email",
        "phone",
        "url",
        "encryptedstring",
        "base64",
    }
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "base64": "xsd:base64Binary",
    "address": "urn:address",
    "location": "urn:location",
}

# Metadata API type names (Tooling CustomField "type") -> describe types.
METADATA_TYPES = {
    "text": "string",
    "textarea": "textarea",
    "longtextarea": "textarea",
    "number": "double",
    "checkbox": "boolean",
    "date": "date",
    "datetime": "datetime",
    "email": "email",
    "phone": "phone",
    "url": "url",
    "picklist": "picklist",
    "multiselectpicklist": "multipicklist",
    "currency": "currency",
    "percent": "percent",
    "lookup": "reference",
    "masterdetail": "reference",
}


@dataclass(frozen=True)
class FieldDef:
    """One field of an object, with its full describe attributes."""

    describe: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.describe["name"])

    @property
    def type(self) -> str:
        return str(self.describe["type"])

    @property
    def is_compound(self) -> bool:
        return self.type in COMPOUND_TYPES

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_long_text(self) -> bool:
        """Long text areas cannot be filtered or sorted (describe says filterable=false)."""
        return self.type == "textarea" and not self.describe.get("filterable", True)

    @property
    def reference_to(self) -> list[str]:
        return list(self.describe.get("referenceTo") or [])

    @property
    def relationship_name(self) -> str | None:
        value = self.describe.get("relationshipName")
        return str(value) if value else None

    def flag(self, name: str) -> bool:
        """A boolean describe attribute such as ``filterable`` or ``createable``."""
        return bool(self.describe.get(name))


@dataclass
class ObjectDef:
    """One sObject: its describe flags, key prefix and fields."""

    name: str
    key_prefix: str
    describe: dict[str, Any]
    fields: dict[str, FieldDef] = field(default_factory=dict)
    required_on_create: list[str] = field(default_factory=list)
    # Every write walks the stored fields; they change only when a field is added.
    _stored: list[FieldDef] | None = field(default=None, repr=False, compare=False)

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (case-insensitive), or None."""
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (case-insensitive)."""
        wanted = name.lower()
        for candidate in self.fields.values():
            rel = candidate.relationship_name
            if rel and rel.lower() == wanted:
                return candidate
        return None

    def stored_fields(self) -> list[FieldDef]:
        """Fields that have a column: everything except compound fields."""
        if self._stored is None:
            self._stored = [f for f in self.fields.values() if not f.is_compound]
        return self._stored

    def components_of(self, compound: FieldDef) -> list[FieldDef]:
        """The component fields of a compound (address/location) field."""
        return [
            f for f in self.fields.values() if f.describe.get("compoundFieldName") == compound.name
        ]

    def add_field(self, definition: FieldDef) -> None:
        """Add (or replace) a field."""
        self.fields[definition.name.lower()] = definition
        self._stored = None


def field_describe(
    name: str,
    field_type: str,
    *,
    label: str | None = None,
    length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
    external_id: bool = False,
    unique: bool = False,
    required: bool = False,
    reference_to: list[str] | None = None,
    relationship_name: str | None = None,
    picklist_values: list[str] | None = None,
    filterable: bool | None = None,
    custom: bool = True,
    calculated: bool = False,
) -> dict[str, Any]:
    """Build the full describe dict of a field from the few facts a schema file gives."""
    is_long = field_type == "textarea" and (length or 0) > 255
    if length is None:
        length = {"string": 255, "textarea": 255, "email": 80, "phone": 40, "url": 255}.get(
            field_type, 18 if field_type in ID_TYPES else 0
        )
    text_like = field_type in TEXT_TYPES or field_type in ID_TYPES
    can_filter = not is_long if filterable is None else filterable
    soap = _SOAP_TYPES.get(field_type, "xsd:string")
    return {
        "name": name,
        "label": label or name.removesuffix("__c").replace("_", " "),
        "type": field_type,
        "soapType": soap,
        "length": length if text_like else 0,
        "precision": precision or 0,
        "scale": scale or 0,
        "digits": 9 if field_type == "int" else 0,
        "byteLength": length * 3 if text_like else 0,
        "nillable": field_type != "boolean" and not required,
        "createable": not calculated,
        "updateable": not calculated,
        "filterable": can_filter,
        "sortable": can_filter and field_type != "multipicklist",
        "groupable": can_filter and field_type not in {"datetime", "double", "currency", "percent"},
        "aggregatable": can_filter,
        "unique": unique,
        "externalId": external_id,
        "idLookup": external_id or field_type == "id",
        "nameField": False,
        "calculated": calculated,
        "calculatedFormula": None,
        "autoNumber": False,
        "defaultedOnCreate": field_type == "boolean",
        "defaultValue": False if field_type == "boolean" else None,
        "caseSensitive": False,
        "referenceTo": list(reference_to or []),
        "relationshipName": relationship_name,
        "compoundFieldName": None,
        "extraTypeInfo": "plaintextarea" if field_type == "textarea" else None,
        "htmlFormatted": False,
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": False}
            for v in picklist_values or []
        ],
        "restrictedPicklist": False,
        "dependentPicklist": False,
        "controllerName": None,
        "polymorphicForeignKey": False,
        "cascadeDelete": False,
        "custom": custom,
    }


def _system_field(name: str, field_type: str, label: str, **kw: Any) -> dict[str, Any]:
    d = field_describe(name, field_type, label=label, custom=False, **kw)
    d.update(createable=False, updateable=False, nillable=False, defaultedOnCreate=True)
    return d


# Organization is not in the reference describe data; clients such as
# simple-salesforce's is_sandbox() query it, so the emulator serves a small version.
_ORGANIZATION = {
    "name": "Organization",
    "label": "Organization",
    "labelPlural": "Organizations",
    "keyPrefix": "00D",
    "createable": False,
    "updateable": False,
    "deletable": False,
    "queryable": True,
    "replicateable": False,
    "retrieveable": True,
    "searchable": False,
    "triggerable": False,
    "undeletable": False,
    "mergeable": False,
    "layoutable": False,
    "custom": False,
    "requiredOnCreate": [],
    "fields": [
        _system_field("Id", "id", "Organization ID"),
        _system_field("Name", "string", "Name", length=80),
        _system_field("IsSandbox", "boolean", "Is Sandbox"),
        _system_field("OrganizationType", "string", "Edition", length=40),
        _system_field("InstanceName", "string", "Instance Name", length=5),
        _system_field("CreatedDate", "datetime", "Created Date"),
        _system_field("LastModifiedDate", "datetime", "Last Modified Date"),
        _system_field("SystemModstamp", "datetime", "System Modstamp"),
    ],
}

OBJECT_FLAGS = (
    "createable",
    "updateable",
    "deletable",
    "queryable",
    "replicateable",
    "retrieveable",
    "searchable",
    "triggerable",
    "undeletable",
    "mergeable",
    "layoutable",
)


def _object_from_describe(data: dict[str, Any]) -> ObjectDef:
    describe = {k: v for k, v in data.items() if k not in {"fields", "requiredOnCreate"}}
    obj = ObjectDef(
        name=data["name"],
        key_prefix=data["keyPrefix"],
        describe=describe,
        required_on_create=[
            r for r in data.get("requiredOnCreate", []) if " " not in r and "+" not in r
        ],
    )
    for raw in data["fields"]:
        obj.add_field(FieldDef(raw))
    return obj


class OrgSchema:
    """Every object the org knows, looked up case-insensitively."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self._objects: dict[str, ObjectDef] = {o.name.lower(): o for o in objects}
        self._custom_prefix_counter = 0

    @classmethod
    def standard(cls) -> OrgSchema:
        """The standard objects of a fresh Enterprise-edition org."""
        raw = json.loads(
            resources.files("sfbridge.emulators.salesforce")
            .joinpath("data/standard-objects.json")
            .read_text(encoding="utf-8")
        )
        objects = [_object_from_describe(v) for v in raw.values()]
        objects.append(_object_from_describe(copy.deepcopy(_ORGANIZATION)))
        return cls(objects)

    @classmethod
    def load(cls, schema_file: Path | None = None) -> OrgSchema:
        """Standard objects plus the custom objects and fields of ``schema_file``."""
        schema = cls.standard()
        if schema_file is not None:
            schema.apply_file(schema_file)
        return schema

    def object(self, name: str) -> ObjectDef | None:
        """The object called ``name`` (case-insensitive), or None."""
        return self._objects.get(name.lower())

    def objects(self) -> list[ObjectDef]:
        """Every object, in name order."""
        return sorted(self._objects.values(), key=lambda o: o.name)

    def by_key_prefix(self, prefix: str) -> ObjectDef | None:
        """The object whose ids start with ``prefix``."""
        for obj in self._objects.values():
            if obj.key_prefix == prefix:
                return obj
        return None

    def apply_file(self, path: Path) -> None:
        """Add the custom objects and fields declared in a YAML or JSON schema file.

        The format::

            objects:
              Contact:                 # an existing object: add fields
                fields:
                  - {name: CIO_Id__c, type: string, externalId: true, unique: true}
              Subscription__c:         # a new custom object
                label: Subscription
                fields:
                  - {name: Plan__c, type: picklist, values: [Free, Pro]}
                  - {name: Contact__c, type: reference, referenceTo: Contact}
        """
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        for object_name, spec in (data or {}).get("objects", {}).items():
            spec = spec or {}
            obj = self.object(object_name)
            if obj is None:
                obj = self.add_custom_object(
                    object_name, label=spec.get("label"), plural=spec.get("labelPlural")
                )
            for field_spec in spec.get("fields", []):
                self.add_custom_field(obj.name, field_spec)

    def add_custom_object(
        self, name: str, *, label: str | None = None, plural: str | None = None
    ) -> ObjectDef:
        """Create a custom object with its standard system fields and a Name field."""
        if not name.endswith("__c"):
            raise ValueError(f"custom object name {name!r} must end with '__c'")
        if self.object(name) is not None:
            raise ValueError(f"object {name!r} already exists")
        prefix = self._next_custom_prefix()
        label = label or name.removesuffix("__c").replace("_", " ")
        describe: dict[str, Any] = {
            "name": name,
            "label": label,
            "labelPlural": plural or label + "s",
            "keyPrefix": prefix,
            "custom": True,
            "customSetting": False,
            "feedEnabled": False,
            "recordTypeInfos": [],
        }
        describe.update(dict.fromkeys(OBJECT_FLAGS, True))
        obj = ObjectDef(name=name, key_prefix=prefix, describe=describe)
        system = [
            _system_field("Id", "id", "Record ID"),
            _system_field("IsDeleted", "boolean", "Deleted"),
            field_describe("Name", "string", label=label + " Name", length=80, custom=False),
            field_describe(
                "OwnerId",
                "reference",
                label="Owner ID",
                reference_to=["User"],
                relationship_name="Owner",
                custom=False,
            ),
            _system_field("CreatedDate", "datetime", "Created Date"),
            _system_field(
                "CreatedById",
                "reference",
                "Created By ID",
                reference_to=["User"],
                relationship_name="CreatedBy",
            ),
            _system_field("LastModifiedDate", "datetime", "Last Modified Date"),
            _system_field(
                "LastModifiedById",
                "reference",
                "Last Modified By ID",
                reference_to=["User"],
                relationship_name="LastModifiedBy",
            ),
            _system_field("SystemModstamp", "datetime", "System Modstamp"),
        ]
        for raw in system:
            obj.add_field(FieldDef(raw))
        obj.fields["name"].describe.update(nameField=True, defaultedOnCreate=False, idLookup=True)
        obj.fields["ownerid"].describe.update(defaultedOnCreate=True, nillable=False)
        self._objects[name.lower()] = obj
        return obj

    def add_custom_field(self, object_name: str, spec: dict[str, Any]) -> FieldDef:
        """Add one custom field from a schema-file entry; returns its definition."""
        obj = self.object(object_name)
        if obj is None:
            raise ValueError(f"object {object_name!r} does not exist")
        name = str(spec["name"])
        if not name.endswith("__c"):
            raise ValueError(f"custom field name {name!r} must end with '__c'")
        if obj.field(name) is not None:
            raise ValueError(f"field {obj.name}.{name} already exists")
        field_type = str(spec.get("type", "string"))
        field_type = METADATA_TYPES.get(field_type.lower(), field_type)
        reference_to = spec.get("referenceTo")
        if isinstance(reference_to, str):
            reference_to = [reference_to]
        relationship = spec.get("relationshipName")
        if field_type == "reference" and not relationship:
            relationship = name.removesuffix("__c") + "__r"
        definition = FieldDef(
            field_describe(
                name,
                field_type,
                label=spec.get("label"),
                length=spec.get("length"),
                precision=spec.get("precision"),
                scale=spec.get("scale"),
                external_id=bool(spec.get("externalId", False)),
                unique=bool(spec.get("unique", False)),
                required=bool(spec.get("required", False)),
                reference_to=reference_to,
                relationship_name=relationship,
                picklist_values=spec.get("values"),
            )
        )
        obj.add_field(definition)
        return definition

    def _next_custom_prefix(self) -> str:
        while True:
            prefix = f"a{self._custom_prefix_counter:02d}"
            self._custom_prefix_counter += 1
            if self.by_key_prefix(prefix) is None:
                return prefix
