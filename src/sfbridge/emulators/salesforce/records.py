"""The write path of the emulated org: create, update, upsert and delete with org rules.

Every write goes through here, whether it arrives as a single-record REST call,
an sObject Collection, a composite subrequest or a Bulk job, so that all of
them enforce the same rules a real org does: field existence and field-level
security, createable/updateable, types and lengths, required fields,
referential integrity, unique and external-id fields, system fields and the
recycle bin.
"""

from __future__ import annotations

import re
from typing import Any

from sfbridge.salesforce.ids import is_valid_id, to_18

from .api_errors import ApiError, json_parser_error, not_found
from .codec import FieldValueError, to_db
from .derived import apply_defaults, derive
from .org import Org, UserInfo
from .schema import FieldDef, ObjectDef
from .storage import DELETED_DATE, quote_name

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _custom_hint(name: str) -> str:
    return (
        " If you are attempting to use a custom field, be sure to append the '__c' after the "
        "custom field name. Please reference your WSDL or the describe call for the "
        "appropriate names."
        if not name.endswith("__c")
        else ""
    )


class RecordWriter:
    """Applies writes to an ``Org`` as the given user, raising ``ApiError`` like a real org."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.store = org.store

    # -- public operations ----------------------------------------------------

    def create(self, obj: ObjectDef, values: dict[str, Any], user: UserInfo) -> str:
        """Insert one record; returns its 18-character id."""
        if not obj.describe.get("createable", False):
            raise ApiError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support insert"
            )
        with self.store.lock:
            row = self._converted(obj, values, user, creating=True)
            apply_defaults(obj, row)
            record_id = self.store.next_ids(obj, 1)[0]
            now = self.store.clock.stamp()
            row.update(
                Id=record_id,
                CreatedDate=now,
                CreatedById=user.id,
                LastModifiedDate=now,
                LastModifiedById=user.id,
                SystemModstamp=now,
            )
            if obj.field("OwnerId") and row.get("OwnerId") is None:
                row["OwnerId"] = user.id
            if obj.field("IsDeleted"):
                row["IsDeleted"] = 0
            self._autonumber(obj, row)
            derive(obj, row)
            self._check_required(obj, row)
            self._check_unique(obj, row, None)
            row = {k: v for k, v in row.items() if obj.field(k) is not None}
            self.store.insert_rows(obj, list(row), [tuple(row.values())])
        return record_id

    def update(
        self, obj: ObjectDef, record_id: str, values: dict[str, Any], user: UserInfo
    ) -> None:
        """Change fields of one live record."""
        if not obj.describe.get("updateable", False):
            raise ApiError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support update"
            )
        with self.store.lock:
            current = self._live_row(obj, record_id)
            changes = self._converted(obj, values, user, creating=False)
            row = {**current, **changes}
            now = self.store.clock.stamp()
            row.update(LastModifiedDate=now, LastModifiedById=user.id, SystemModstamp=now)
            derive(obj, row)
            self._check_required(obj, row)
            self._check_unique(obj, row, current["Id"])
            changes = {k: v for k, v in row.items() if current.get(k) != v}
            self._write_row(obj, changes, current["Id"])

    def upsert(
        self,
        obj: ObjectDef,
        external_field: str,
        external_value: str,
        values: dict[str, Any],
        user: UserInfo,
        *,
        update_only: bool = False,
    ) -> tuple[str, bool]:
        """Create or update the record whose ``external_field`` equals ``external_value``.

        Returns ``(id, created)``. Several matches raise a 300 ``ApiError`` whose
        ``fields`` hold the matching ids (REST API Developer Guide, "Insert or
        Update (Upsert) a Record Using an External ID").
        """
        definition = self.external_id_field(obj, external_field, user)
        with self.store.lock:
            matches = self.find_by_field(obj, definition, external_value)
            if len(matches) > 1:
                raise ApiError(300, "MULTIPLE_CHOICES", f"{len(matches)} records match", matches)
            body = {k: v for k, v in values.items() if k.lower() != definition.name.lower()}
            if matches:
                self.update(obj, matches[0], body, user)
                return matches[0], False
            if update_only:
                raise not_found(f"Provided external ID field value not found: {external_value}")
            if definition.type != "id":
                body[definition.name] = external_value
            return self.create(obj, body, user), True

    def delete(self, obj: ObjectDef, record_id: str, user: UserInfo) -> None:
        """Move a record (and its cascade-deleted children) to the recycle bin."""
        if not obj.describe.get("deletable", False):
            raise ApiError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support delete"
            )
        with self.store.lock:
            current = self._live_row(obj, record_id)
            self._recycle(obj, current["Id"], user)

    # -- lookups --------------------------------------------------------------

    def external_id_field(self, obj: ObjectDef, name: str, user: UserInfo) -> FieldDef:
        """The field named in an upsert URL; it must be Id, an external id or an idLookup field."""
        definition = obj.field(name)
        usable = definition is not None and (
            definition.flag("externalId") or definition.flag("idLookup")
        )
        if definition is None or not usable or not user.profile.readable(obj.name, definition.name):
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {name}"
            )
        return definition

    def find_by_field(self, obj: ObjectDef, definition: FieldDef, value: str) -> list[str]:
        """Ids of live records whose field equals ``value`` (case-insensitive for text)."""
        if definition.type == "id":
            value = to_18(value) if is_valid_id(value) else value
        clause = ' AND "IsDeleted" = 0' if obj.field("IsDeleted") else ""
        rows = self.store.execute(
            f'SELECT "Id" FROM {quote_name(obj.name)} WHERE {quote_name(definition.name)} = ?'
            f"{clause}",
            (value,),
        )
        return [r[0] for r in rows]

    # -- internals ------------------------------------------------------------

    def _live_row(self, obj: ObjectDef, record_id: str) -> dict[str, Any]:
        if not is_valid_id(record_id):
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {record_id}"
            )
        row = self.store.row_by_id(obj, to_18(record_id), include_deleted=True)
        if row is None:
            raise not_found()
        if row.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return row

    def _converted(
        self, obj: ObjectDef, values: dict[str, Any], user: UserInfo, *, creating: bool
    ) -> dict[str, Any]:
        """Check and convert a JSON body to storage values."""
        if not isinstance(values, dict):
            raise json_parser_error(
                "Cannot deserialize instance of sObject from a non-object value"
            )
        row: dict[str, Any] = {}
        not_writable: list[str] = []
        for key, value in values.items():
            if key == "attributes":
                continue
            definition = obj.field(key)
            if definition is None or not user.profile.readable(obj.name, definition.name):
                parent = obj.relationship(key)
                if parent is not None and isinstance(value, dict):
                    row[parent.name] = self._resolve_parent(parent, value, user)
                    continue
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {obj.name}",
                    [key],
                )
            if definition.type == "id" and not creating:
                continue  # Collections and composite updates carry the record's own id.
            writable = definition.flag("createable" if creating else "updateable")
            if not writable or not user.profile.editable(obj.name, definition.name):
                not_writable.append(definition.name)
                continue
            row[definition.name] = self._value(definition, value)
        if not_writable:
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(not_writable)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set.",
                not_writable,
            )
        return row

    def _value(self, definition: FieldDef, value: Any) -> Any:
        label = str(definition.describe.get("label") or definition.name)
        try:
            stored = to_db(definition, value)
        except FieldValueError:
            kind = definition.type
            raise json_parser_error(
                f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} or "
                "request may be missing a required field"
            ) from None
        if stored is None:
            return None
        if definition.type in {"id", "reference"}:
            return self._reference(definition, str(stored), label)
        if isinstance(stored, str):
            limit = int(definition.describe.get("length") or 0)
            if limit and len(stored) > limit:
                raise ApiError(
                    400,
                    "STRING_TOO_LONG",
                    f"{label}: data value too large: {stored[:40]} (max length={limit})",
                    [definition.name],
                )
            if definition.type == "email" and not _EMAIL.match(stored):
                raise ApiError(
                    400,
                    "INVALID_EMAIL_ADDRESS",
                    f"{label}: invalid email address: {stored}",
                    [definition.name],
                )
            if definition.flag("restrictedPicklist"):
                allowed = {v["value"].lower() for v in definition.describe["picklistValues"]}
                for item in stored.split(";"):
                    if item.lower() not in allowed:
                        raise ApiError(
                            400,
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{label}: bad value for restricted picklist field: {item}",
                            [definition.name],
                        )
        return stored

    def _reference(self, definition: FieldDef, value: str, label: str) -> str:
        if not is_valid_id(value):
            raise ApiError(
                400,
                "MALFORMED_ID",
                f"{label}: id value of incorrect type: {value}",
                [definition.name],
            )
        record_id = to_18(value)
        targets = [self.org.schema.object(t) for t in definition.reference_to]
        target = next((t for t in targets if t and t.key_prefix == record_id[:3]), None)
        if target is None:
            raise ApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"{label}: id value of incorrect type: {value}",
                [definition.name],
            )
        if self.store.row_by_id(target, record_id) is None:
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                [definition.name],
            )
        return record_id

    def _resolve_parent(self, reference: FieldDef, value: dict[str, Any], user: UserInfo) -> str:
        """``"Account": {"Ext__c": "A1"}``: find the parent by one external id field."""
        target = (
            self.org.schema.object(reference.reference_to[0]) if reference.reference_to else None
        )
        keys = [k for k in value if k != "attributes"]
        if target is None or len(keys) != 1:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"The relationship {reference.relationship_name} needs exactly one "
                "external ID field",
                [reference.name],
            )
        ext = self.external_id_field(target, keys[0], user)
        matches = self.find_by_field(target, ext, str(value[keys[0]]))
        if len(matches) != 1:
            what = "not found" if not matches else "matched more than one record"
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Foreign key external ID: {value[keys[0]]} {what} for field {ext.name} in "
                f"entity {target.name}",
                [reference.name],
            )
        return matches[0]

    def _check_required(self, obj: ObjectDef, row: dict[str, Any]) -> None:
        missing = [name for name in obj.required_on_create if row.get(name) in (None, "")]
        if obj.name == "CampaignMember" and not (row.get("LeadId") or row.get("ContactId")):
            missing.append("LeadId")
        if missing:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _check_unique(self, obj: ObjectDef, row: dict[str, Any], own_id: str | None) -> None:
        for definition in obj.stored_fields():
            if not definition.flag("unique") or row.get(definition.name) is None:
                continue
            for other in self.find_by_field(obj, definition, str(row[definition.name])):
                if other != own_id:
                    raise ApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {definition.name} duplicates value on record "
                        f"with id: {other}",
                        [definition.name],
                    )
        if obj.name == "CampaignMember":
            # One membership per campaign and person (Object Reference, CampaignMember).
            person = "LeadId" if row.get("LeadId") else "ContactId"
            rows = self.store.execute(
                f'SELECT "Id" FROM "CampaignMember" WHERE "CampaignId" = ? AND "{person}" = ? '
                'AND "IsDeleted" = 0',
                (row.get("CampaignId"), row.get(person)),
            )
            if any(r[0] != own_id for r in rows):
                raise ApiError(400, "DUPLICATE_VALUE", "Already a campaign member.", [])

    def _autonumber(self, obj: ObjectDef, row: dict[str, Any]) -> None:
        for definition in obj.stored_fields():
            if definition.flag("autoNumber"):
                number = self.store.reserve(f"{obj.name}.{definition.name}", 1)
                row[definition.name] = f"{number:08d}"

    def _write_row(self, obj: ObjectDef, changes: dict[str, Any], record_id: str) -> None:
        """Write only the columns that changed (the stamps always do)."""
        columns = [k for k in changes if k != "Id" and obj.field(k) is not None]
        assignments = ", ".join(f"{quote_name(c)} = ?" for c in columns)
        self.store.execute(
            f'UPDATE {quote_name(obj.name)} SET {assignments} WHERE "Id" = ?',
            [*(changes[c] for c in columns), record_id],
        )

    def _recycle(self, obj: ObjectDef, record_id: str, user: UserInfo) -> None:
        now = self.store.clock.stamp()
        if obj.field("IsDeleted"):
            self.store.execute(
                f'UPDATE {quote_name(obj.name)} SET "IsDeleted" = 1, '
                f"{quote_name(DELETED_DATE)} = ?, "
                '"SystemModstamp" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
                (now, now, user.id, record_id),
            )
        else:
            self.store.execute(f'DELETE FROM {quote_name(obj.name)} WHERE "Id" = ?', (record_id,))
        for child in obj.describe.get("childRelationships", []):
            if not child.get("cascadeDelete"):
                continue
            child_obj = self.org.schema.object(child["childSObject"])
            if child_obj is None or child_obj.field(child["field"]) is None:
                continue
            clause = ' AND "IsDeleted" = 0' if child_obj.field("IsDeleted") else ""
            rows = self.store.execute(
                f'SELECT "Id" FROM {quote_name(child_obj.name)} '
                f"WHERE {quote_name(child['field'])} = ?{clause}",
                (record_id,),
            )
            for (child_id,) in rows:
                self._recycle(child_obj, child_id, user)
