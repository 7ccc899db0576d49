"""The Tooling API the emulator serves: create custom fields and objects, and query them.

- ``POST /tooling/sobjects/CustomField`` with ``{"FullName": "Contact.CIO_Id__c",
  "Metadata": {"label": ..., "type": "Text", ...}}`` adds the field to the org
  (kept across restarts, seen at once by describe and SOQL) and answers 201
  with a SaveResult ``{"id": "00N...", "success": true, "errors": []}``;
- ``POST /tooling/sobjects/CustomObject`` with ``{"FullName": "Subscription__c",
  "Metadata": {"label", "pluralLabel", "nameField", "deploymentStatus",
  "sharingModel"}}`` adds a custom object;
- ``GET /tooling/query?q=`` answers SELECTs on ``CustomField`` and
  ``CustomObject`` from the org's schema: plain fields, WHERE with ``= != IN
  NOT IN LIKE AND OR NOT``, ORDER BY, LIMIT, OFFSET.

Shapes from the Tooling API Developer Guide ("CustomField", "CustomObject",
"Query"). Tooling ids (``00N`` fields, ``01I`` objects) are handed out once
and kept in the org's database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.routing import Route

from sfbridge.salesforce.ids import make_id
from sfbridge.salesforce.soql_parser import (
    And,
    BoolLit,
    Comparison,
    Condition,
    FieldPath,
    LikePattern,
    Not,
    NullLit,
    Or,
    Query,
    SoqlError,
    StringLit,
    parse_soql,
)

from .api_errors import ApiError, json_parser_error, not_found
from .gate import ApiRequest, Gate, json_response
from .org import Org
from .schema import ObjectDef
from .storage import OrgStore

FIELD_PREFIX = "00N"
OBJECT_PREFIX = "01I"
# Metadata API field types the org can hold (Metadata API Developer Guide, "CustomField").
FIELD_TYPES = frozenset(
    {
        "Text",
        "TextArea",
        "LongTextArea",
        "Number",
        "Checkbox",
        "Date",
        "DateTime",
        "Email",
        "Phone",
        "Url",
        "Picklist",
        "MultiselectPicklist",
        "Currency",
        "Percent",
        "Lookup",
        "MasterDetail",
    }
)
# The fields each queryable Tooling entity has here.
ENTITY_FIELDS = {
    "CustomField": ("Id", "DeveloperName", "TableEnumOrId", "NamespacePrefix", "FullName"),
    "CustomObject": ("Id", "DeveloperName", "NamespacePrefix", "FullName"),
}
# A developer name: a letter, then letters, digits and single underscores.
_DEVELOPER_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)__c$")


class ToolingIds:
    """Stable Tooling ids for custom fields and objects, by full name."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        store.execute(
            "CREATE TABLE IF NOT EXISTS _tooling_ids "
            "(full_name TEXT PRIMARY KEY COLLATE NOCASE, id TEXT NOT NULL)"
        )

    def id_for(self, prefix: str, full_name: str) -> str:
        """The id of ``Contact.CIO_Id__c`` or ``Subscription__c``, handed out on first use."""
        with self.store.transaction():
            rows = self.store.execute(
                "SELECT id FROM _tooling_ids WHERE full_name = ?", (full_name,)
            )
            if rows:
                return str(rows[0][0])
            new_id = make_id(prefix, self.store.reserve(f"Tooling{prefix}", 1))
            self.store.execute(
                "INSERT INTO _tooling_ids(full_name, id) VALUES (?, ?)", (full_name, new_id)
            )
            return new_id


def _save_result(record_id: str) -> Any:
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def _required(metadata: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if not metadata.get(name)]
    if missing:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )


def _check_developer_name(kind: str, name: str) -> None:
    if not _DEVELOPER_NAME.match(name):
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"The {kind} name {name} can only contain underscores and alphanumeric characters. "
            "It must be unique, begin with a letter, not include spaces, not end with an "
            "underscore, not contain two consecutive underscores, and end with __c.",
        )


class ToolingResources:
    """Handlers for ``/tooling/sobjects/{CustomField|CustomObject}`` and ``/tooling/query``."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.ids = ToolingIds(org.store)

    # -- create ---------------------------------------------------------------

    def create(self, api: ApiRequest) -> Any:
        """``POST /tooling/sobjects/{entity}``."""
        entity = api.request.path_params["entity"]
        if entity not in ENTITY_FIELDS:
            raise not_found(f"The requested resource does not exist: {entity}")
        body = api.json()
        if not isinstance(body, dict) or not isinstance(body.get("Metadata"), dict):
            raise json_parser_error("The request body needs FullName and a Metadata object.")
        full_name = str(body.get("FullName") or "")
        if entity == "CustomField":
            return self._create_field(full_name, body["Metadata"])
        return self._create_object(full_name, body["Metadata"])

    def _create_field(self, full_name: str, metadata: dict[str, Any]) -> Any:
        object_name, _, field_name = full_name.partition(".")
        obj = self.org.schema.object(object_name)
        if obj is None:
            raise ApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Entity Enumeration Or ID: bad value for restricted picklist field: {object_name}",
                ["TableEnumOrId"],
            )
        _check_developer_name("custom field", field_name)
        if obj.field(field_name) is not None:
            raise ApiError(
                400,
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already a field named {field_name.removesuffix('__c')} on {obj.name}.",
            )
        field_type = metadata.get("type")
        if field_type not in FIELD_TYPES:
            raise json_parser_error(
                f"Cannot deserialize instance of FieldType from VALUE_STRING value {field_type}"
            )
        _required(metadata, "label")
        spec: dict[str, Any] = {"name": field_name, "type": field_type}
        for key in ("label", "length", "precision", "scale", "externalId", "unique", "required"):
            if metadata.get(key) is not None:
                spec[key] = metadata[key]
        if field_type in {"Lookup", "MasterDetail"}:
            spec.update(self._reference_spec(metadata))
        if field_type in {"Picklist", "MultiselectPicklist"}:
            values = ((metadata.get("valueSet") or {}).get("valueSetDefinition") or {}).get(
                "value"
            ) or []
            spec["values"] = [str(v.get("fullName")) for v in values if v.get("fullName")]
        definition = self.org.add_custom_field(obj.name, spec)
        return _save_result(self.ids.id_for(FIELD_PREFIX, f"{obj.name}.{definition.name}"))

    def _reference_spec(self, metadata: dict[str, Any]) -> dict[str, Any]:
        _required(metadata, "referenceTo", "relationshipName")
        target = self.org.schema.object(str(metadata["referenceTo"]))
        if target is None:
            raise ApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Reference To: bad value for restricted picklist field: {metadata['referenceTo']}",
                ["referenceTo"],
            )
        # Metadata names the relationship without its suffix; describe and SOQL use X__r.
        relationship = str(metadata["relationshipName"]).removesuffix("__r") + "__r"
        return {"referenceTo": target.name, "relationshipName": relationship}

    def _create_object(self, full_name: str, metadata: dict[str, Any]) -> Any:
        _check_developer_name("custom object", full_name)
        if self.org.schema.object(full_name) is not None:
            raise ApiError(
                400,
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already an object named {full_name.removesuffix('__c')}.",
            )
        _required(metadata, "label", "pluralLabel", "nameField", "deploymentStatus", "sharingModel")
        obj = self.org.add_custom_object(full_name, label=str(metadata["label"]))
        return _save_result(self.ids.id_for(OBJECT_PREFIX, obj.name))

    def routes(self, gate: Gate) -> list[Route]:
        """``/tooling/sobjects/{entity}`` and ``/tooling/query``, with or without a final slash."""
        base = "/services/data/v{version}/tooling"
        table = [
            ("/sobjects/{entity}", self.create, ["POST"]),
            ("/query", self.query, ["GET"]),
        ]
        return [
            Route(base + path + slash, gate.wrap(handler), methods=methods)
            for path, handler, methods in table
            for slash in ("", "/")
        ]

    # -- query ----------------------------------------------------------------

    def query(self, api: ApiRequest) -> Any:
        """``GET /tooling/query?q=``."""
        soql = api.request.query_params.get("q")
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query = parse_soql(soql)
            entity = self._entity(query)
            fields = [self._field(query, entity, item) for item in query.select]
            rows = [row for row in self._rows(entity) if self._holds(query, entity, row)]
            for key in reversed(query.order_by):
                if not isinstance(key.key, FieldPath):
                    raise self._unsupported(query, key.key.row, key.key.column)
                name = self._field(query, entity, key.key)
                # Nulls first ascending, last descending (SOQL "ORDER BY"); sorting
                # by the last key first keeps the earlier keys in charge (stable sort).
                rows.sort(
                    key=lambda r: (r[name] is not None, str(r[name] or "").lower()),
                    reverse=key.descending,
                )
        except SoqlError as error:
            raise ApiError(400, error.error_code, error.message) from None
        start = query.offset or 0
        rows = rows[start : None if query.limit is None else start + query.limit]
        if "FullName" in fields and len(rows) > 1:
            # Tooling API "CustomField": FullName and Metadata come one record at a time.
            raise ApiError(
                400,
                "MALFORMED_QUERY",
                "When retrieving results with Metadata or FullName fields, the query "
                "qualifications must specify no more than one row for retrieval.",
            )
        base = f"/services/data/v{api.version}/tooling/sobjects/{entity}"
        records = [
            {
                "attributes": {"type": entity, "url": f"{base}/{row['Id']}"},
                **{name: row[name] for name in fields},
            }
            for row in rows
        ]
        return {
            "size": len(records),
            "totalSize": len(records),
            "done": True,
            "queryLocator": None,
            "entityTypeName": entity,
            "records": records,
        }

    def _entity(self, query: Query) -> str:
        for entity in ENTITY_FIELDS:
            if entity.lower() == query.sobject.name.lower():
                return entity
        raise SoqlError.at(
            query.text,
            query.sobject.row,
            query.sobject.column,
            "INVALID_TYPE",
            f"sObject type '{query.sobject.name}' is not supported.",
        )

    def _field(self, query: Query, entity: str, item: Any) -> str:
        if not isinstance(item, FieldPath):
            raise self._unsupported(query, item.row, item.column)
        for name in ENTITY_FIELDS[entity]:
            if len(item.parts) == 1 and name.lower() == item.parts[0].lower():
                return name
        raise SoqlError.at(
            query.text,
            item.row,
            item.column,
            "INVALID_FIELD",
            f"No such column '{item.text}' on entity '{entity}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )

    @staticmethod
    def _unsupported(query: Query, row: int, column: int) -> SoqlError:
        return SoqlError.at(
            query.text,
            row,
            column,
            "MALFORMED_QUERY",
            "The emulator's Tooling API answers plain field lists and filters only",
        )

    def _rows(self, entity: str) -> list[dict[str, Any]]:
        """Every record of a Tooling entity, from the org's schema."""
        custom_objects = [o for o in self.org.schema.objects() if o.name.endswith("__c")]
        if entity == "CustomObject":
            return [
                {
                    "Id": self.ids.id_for(OBJECT_PREFIX, obj.name),
                    "DeveloperName": obj.name.removesuffix("__c"),
                    "NamespacePrefix": None,
                    "FullName": obj.name,
                }
                for obj in custom_objects
            ]
        rows = []
        for obj in self.org.schema.objects():
            for definition in obj.fields.values():
                if not definition.name.endswith("__c"):
                    continue
                full_name = f"{obj.name}.{definition.name}"
                rows.append(
                    {
                        "Id": self.ids.id_for(FIELD_PREFIX, full_name),
                        "DeveloperName": definition.name.removesuffix("__c"),
                        "TableEnumOrId": self._table(obj),
                        "NamespacePrefix": None,
                        "FullName": full_name,
                    }
                )
        return rows

    def _table(self, obj: ObjectDef) -> str:
        """``TableEnumOrId``: a standard object's name, a custom object's ``01I`` id."""
        return self.ids.id_for(OBJECT_PREFIX, obj.name) if obj.name.endswith("__c") else obj.name

    def _holds(self, query: Query, entity: str, row: dict[str, Any]) -> bool:
        return query.where is None or self._condition(query, entity, query.where, row)

    def _condition(
        self, query: Query, entity: str, condition: Condition, row: dict[str, Any]
    ) -> bool:
        if isinstance(condition, And):
            return all(self._condition(query, entity, c, row) for c in condition.items)
        if isinstance(condition, Or):
            return any(self._condition(query, entity, c, row) for c in condition.items)
        if isinstance(condition, Not):
            return not self._condition(query, entity, condition.item, row)
        return self._comparison(query, entity, condition, row)

    def _comparison(
        self, query: Query, entity: str, comparison: Comparison, row: dict[str, Any]
    ) -> bool:
        value = row[self._field(query, entity, comparison.field)]
        text = None if value is None else str(value).lower()
        if comparison.operator == "LIKE":
            pattern = comparison.values[0]
            assert isinstance(pattern, LikePattern)
            return text is not None and _like(pattern.pattern).fullmatch(text) is not None
        wanted = [_literal_text(query, v) for v in comparison.values]
        if comparison.operator in {"=", "IN"}:
            return text in wanted
        if comparison.operator in {"!=", "NOT IN"}:
            return text not in wanted
        raise self._unsupported(query, comparison.row, comparison.column)


def _literal_text(query: Query, literal: Any) -> str | None:
    """A literal as the lower-case text it is compared with; null stays None."""
    if isinstance(literal, NullLit):
        return None
    if isinstance(literal, StringLit):
        return literal.value.lower()
    if isinstance(literal, BoolLit):
        return str(literal.value).lower()
    raise SoqlError.at(
        query.text,
        literal.row,
        literal.column,
        "MALFORMED_QUERY",
        "The emulator's Tooling API compares text, booleans and null only",
    )


def _like(pattern: str) -> re.Pattern[str]:
    """A LIKE pattern (``%`` and ``_`` wildcards, backslash escapes) as a case-insensitive regex."""
    parts: list[str] = []
    chars: Sequence[str] = pattern.lower()
    index = 0
    while index < len(chars):
        char = chars[index]
        if char == "\\" and index + 1 < len(chars):
            index += 1
            parts.append(re.escape(chars[index]))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)
