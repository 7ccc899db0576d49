"""The Tooling API: create custom fields and objects, and query Tooling entities.

``POST /tooling/sobjects/CustomField`` takes ``{"FullName": "Contact.CIO_Id__c",
"Metadata": {...}}`` and answers a SaveResult ``{"id": "00N...", ...}``;
``CustomObject`` works the same way; ``GET /tooling/query?q=`` answers SOQL on
Tooling entities (Tooling API Developer Guide, "CustomField", "CustomObject",
"Query"). Metadata keys are the Metadata API's ("CustomField" in the Metadata
API Developer Guide).

A real org hides a new field from the API until field-level security grants
it (a ``FieldPermissions`` record per permission set); grant it before a
sync writes the field. After a create, the client's cached describe of the
object is dropped, so the next describe sees the new field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .describe import DescribeApi
from .errors import SalesforceConfigError, SalesforceError
from .http import ApiCall, ApiCaller, Flow
from .rest import Record, check_name
from .soql import literal

# Metadata a type cannot be created without, when the caller gives none
# (Metadata API Developer Guide, "CustomField": length, precision, visibleLines...).
_TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "Text": {"length": 255},
    "TextArea": {},
    "LongTextArea": {"length": 32_768, "visibleLines": 3},
    "Number": {"precision": 18, "scale": 0},
    "Currency": {"precision": 18, "scale": 2},
    "Percent": {"precision": 5, "scale": 2},
    "Checkbox": {"defaultValue": "false"},
    "MultiselectPicklist": {"visibleLines": 4},
    "Lookup": {"deleteConstraint": "SetNull"},
}
_REFERENCES = frozenset({"Lookup", "MasterDetail"})
_PICKLISTS = frozenset({"Picklist", "MultiselectPicklist"})
_DUPLICATE = "DUPLICATE_DEVELOPER_NAME"


def _custom_name(name: str, what: str) -> str:
    check_name(name, what)
    if not name.endswith("__c"):
        raise SalesforceConfigError(f"custom {what} name {name!r} must end in __c")
    return name


class ToolingApi:
    """Flows for the Tooling API."""

    def __init__(self, caller: ApiCaller, describe: DescribeApi) -> None:
        self._caller = caller
        self._describe = describe

    def query(self, soql: str) -> Flow[list[Record]]:
        """Every record of a Tooling query, all pages read."""
        call = ApiCall("GET", self._caller.data_path("tooling", "query"), params={"q": soql})
        records: list[Record] = []
        while True:
            body = yield from self._caller.json(call)
            records.extend(dict(record) for record in body.get("records") or ())
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return records
            call = ApiCall("GET", str(body["nextRecordsUrl"]))

    def create_custom_field(
        self,
        object_name: str,
        field_name: str,
        field_type: str,
        *,
        label: str,
        length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
        external_id: bool = False,
        unique: bool = False,
        required: bool = False,
        reference_to: str | None = None,
        relationship_name: str | None = None,
        picklist_values: Sequence[str] | None = None,
        exists_ok: bool = False,
    ) -> Flow[str]:
        """Create ``object_name.field_name``; its ``00N`` id. See ``SalesforceClient``."""
        check_name(object_name)
        _custom_name(field_name, "field")
        metadata: dict[str, Any] = {"label": label, "type": field_type}
        metadata.update(_TYPE_DEFAULTS.get(field_type, {}))
        given = {"length": length, "precision": precision, "scale": scale}
        metadata.update({key: value for key, value in given.items() if value is not None})
        flags = {"externalId": external_id, "unique": unique, "required": required}
        metadata.update({key: True for key, value in flags.items() if value})
        if field_type in _REFERENCES:
            if not reference_to or not relationship_name:
                raise SalesforceConfigError(
                    f"a {field_type} field needs reference_to (the parent object) and "
                    "relationship_name (without __r)"
                )
            metadata.update(
                referenceTo=reference_to,
                relationshipName=relationship_name.removesuffix("__r"),
                relationshipLabel=label,
            )
        if field_type in _PICKLISTS:
            if not picklist_values:
                raise SalesforceConfigError(f"a {field_type} field needs picklist_values")
            values = [{"fullName": v, "label": v, "default": False} for v in picklist_values]
            metadata["valueSet"] = {
                "restricted": True,
                "valueSetDefinition": {"sorted": False, "value": values},
            }
        body = {"FullName": f"{object_name}.{field_name}", "Metadata": metadata}
        created = yield from self._create(
            "CustomField",
            body,
            object_name,
            exists_ok=exists_ok,
            find=lambda: self._field_id(object_name, field_name),
        )
        self._describe.invalidate(object_name)
        return created

    def create_custom_object(
        self, name: str, *, label: str, plural_label: str, exists_ok: bool = False
    ) -> Flow[str]:
        """Create a custom object with a text Name field; its ``01I`` id."""
        _custom_name(name, "object")
        body = {
            "FullName": name,
            "Metadata": {
                "label": label,
                "pluralLabel": plural_label,
                "nameField": {"type": "Text", "label": f"{label} Name"},
                "deploymentStatus": "Deployed",
                "sharingModel": "ReadWrite",
            },
        }
        created = yield from self._create(
            "CustomObject",
            body,
            name,
            exists_ok=exists_ok,
            find=lambda: self._object_id(name),
        )
        self._describe.invalidate()  # describeGlobal must list the new object
        return created

    def _create(
        self,
        entity: str,
        body: dict[str, Any],
        object_name: str,
        *,
        exists_ok: bool,
        find: Callable[[], Flow[str]],
    ) -> Flow[str]:
        """Create a ``CustomField`` or ``CustomObject``; its id.

        One that exists already is a ConfigError, or with ``exists_ok`` the
        id the ``find`` flow looks up.
        """
        path = self._caller.data_path("tooling", "sobjects", entity)
        try:
            answer = yield from self._caller.json(
                ApiCall("POST", path, json=body, object_name=object_name)
            )
        except SalesforceError as error:
            if error.error_code != _DUPLICATE:
                raise
            if not exists_ok:
                raise SalesforceConfigError(
                    f"the {entity} {body['FullName']} already exists ({error.message})",
                    error_code=error.error_code,
                    status=error.status,
                    object_name=error.object_name,
                    request=error.request,
                    hint="Pass exists_ok=True to use the existing one, or choose another name.",
                ) from None
            return (yield from find())
        return str(answer["id"])

    def _object_id(self, name: str) -> Flow[str]:
        developer_name = literal(name.removesuffix("__c"))
        found = yield from self.query(
            f"SELECT Id FROM CustomObject WHERE DeveloperName = {developer_name}"
        )
        if not found:
            raise SalesforceConfigError(f"the Tooling API lists no custom object {name}")
        return str(found[0]["Id"])

    def _field_id(self, object_name: str, field_name: str) -> Flow[str]:
        # TableEnumOrId is a standard object's name, or a custom object's 01I id ("CustomField").
        table = object_name
        if object_name.endswith("__c"):
            table = yield from self._object_id(object_name)
        found = yield from self.query(
            "SELECT Id FROM CustomField WHERE TableEnumOrId = "
            f"{literal(table)} AND DeveloperName = {literal(field_name.removesuffix('__c'))}"
        )
        if not found:
            raise SalesforceConfigError(
                f"the Tooling API lists no custom field {object_name}.{field_name}"
            )
        return str(found[0]["Id"])
