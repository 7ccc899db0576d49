"""The rows of a Bulk API 2.0 ingest job, applied through the org's one write path.

Each row becomes a call to ``RecordWriter`` (records.py), exactly what the REST
API would make, as the user who created the job. CSV semantics (Bulk API 2.0
Developer Guide, "Prepare CSV Files" and "Relationship Fields in a Header Row"):

- a header cell is a field API name, or ``Relationship.ExtIdField``
  (``Account.Ext__c``) to find the parent by one of its external ids;
- an empty cell leaves the field as it is (on insert: not set);
- ``#N/A`` sets the field to null;
- delete and hardDelete take only an ``Id`` column; hardDelete skips the
  recycle bin.

A header naming a field the user cannot see fails the whole job, before any
row is written. A row that the org refuses fails alone, with the error in the
form result files use: ``CODE:message:Field1,Field2 --`` or ``CODE:message:--``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sfbridge.salesforce.ids import is_valid_id, to_18

from .api_errors import ApiError
from .org import Org, UserInfo
from .records import RecordWriter
from .schema import FieldDef, ObjectDef
from .storage import DELETED_DATE, quote_name

NULL_MARKER = "#N/A"
# SQLite's smallest default limit on parameters per statement is 999.
_IDS_PER_STATEMENT = 900
DELETES = frozenset({"delete", "hardDelete"})


class HeaderError(ValueError):
    """A header the job cannot be run with; the message is the job's ``errorMessage``."""


@dataclass(frozen=True)
class Column:
    """One header cell: the field it writes, and for ``Rel.ExtField`` the parent's external id."""

    header: str
    field: FieldDef
    external: str | None = None


def error_text(error: ApiError) -> str:
    """``sf__Error`` of a failed row: ``CODE:message:fields --``, or ``CODE:message:--``."""
    fields = ",".join(error.fields or [])
    return f"{error.error_code}:{error.message}:{fields + ' ' if fields else ''}--"


def plan_columns(
    org: Org, obj: ObjectDef, header: Sequence[str], operation: str, user: UserInfo
) -> list[Column]:
    """Resolve every header cell, or raise ``HeaderError`` as the job's failure."""
    if operation in DELETES and [name.lower() for name in header] != ["id"]:
        raise HeaderError(f"InvalidBatch : The '{operation}' batch must contain only ids")
    columns: list[Column] = []
    for name in header:
        relationship, _, external = name.partition(".")
        definition = obj.relationship(relationship) if external else obj.field(name)
        if definition is None or not user.profile.readable(obj.name, definition.name):
            raise HeaderError(f"InvalidBatch : Field name not found : {name}")
        if external and not _parent_has_field(org, definition, external):
            raise HeaderError(f"InvalidBatch : Field name not found : {name}")
        columns.append(Column(name, definition, external or None))
    return columns


def _parent_has_field(org: Org, reference: FieldDef, name: str) -> bool:
    """True when the object a lookup points to (the one ``RecordWriter`` searches) has ``name``."""
    target = org.schema.object(reference.reference_to[0]) if reference.reference_to else None
    return target is not None and target.field(name) is not None


def row_values(columns: Sequence[Column], cells: Sequence[str]) -> dict[str, Any]:
    """A REST-style body for one row: empty cells left out, ``#N/A`` as null."""
    values: dict[str, Any] = {}
    for column, cell in zip(columns, cells, strict=False):
        if cell == "":
            continue
        if column.external is None:
            values[column.field.name] = None if cell == NULL_MARKER else cell
        elif cell == NULL_MARKER:
            values[column.field.name] = None
        else:
            relationship = column.field.relationship_name or column.field.name
            values[relationship] = {column.external: cell}
    return values


class RowWriter:
    """Applies the rows of one job: its object, operation and user."""

    def __init__(
        self,
        org: Org,
        writer: RecordWriter,
        obj: ObjectDef,
        operation: str,
        external_field: str | None,
        user: UserInfo,
        columns: Sequence[Column],
    ) -> None:
        self.org = org
        self.writer = writer
        self.obj = obj
        self.operation = operation
        self.user = user
        self.columns = list(columns)
        headers = [c.header.lower() for c in self.columns]
        self._id_index = headers.index("id") if "id" in headers else None
        self._external = external_field
        self._external_index: int | None = None
        if operation == "upsert":
            assert external_field is not None
            if external_field.lower() not in headers:
                raise HeaderError(
                    "InvalidBatch : The upsert data has no column for the external ID field "
                    f"{external_field}"
                )
            self._external_index = headers.index(external_field.lower())

    def record_id(self, cells: Sequence[str]) -> str:
        """The id a row names (update, upsert on Id, deletes), for ``sf__Id`` of a failure."""
        index = self._id_index if self.operation != "upsert" else self._external_index
        if index is None or index >= len(cells) or not is_valid_id(cells[index]):
            return ""
        return to_18(cells[index])

    def apply(self, cells: Sequence[str]) -> tuple[str, bool]:
        """Write one row; returns ``(id, created)`` or raises ``ApiError``.

        ``RecordWriter`` checks a row completely before it writes anything, so a
        refused row leaves nothing behind and needs no savepoint of its own.
        """
        values = row_values(self.columns, cells)
        if self.operation == "insert":
            return self.writer.create(self.obj, values, self.user), True
        if self.operation == "upsert":
            return self._upsert(cells, values)
        record_id = self._cell(cells, self._id_index)
        if not record_id:
            verb = "an update" if self.operation == "update" else "a delete"
            raise ApiError(400, "MISSING_ARGUMENT", f"Id not specified in {verb} call", ["Id"])
        if self.operation == "update":
            self.writer.update(self.obj, record_id, values, self.user)
        else:
            self.writer.delete(self.obj, record_id, self.user)
            if self.operation == "hardDelete":
                self._purge(self.obj, [to_18(record_id)])
        return to_18(record_id), False

    def _upsert(self, cells: Sequence[str], values: dict[str, Any]) -> tuple[str, bool]:
        assert self._external is not None
        key = self._cell(cells, self._external_index)
        definition = self.obj.field(self._external)
        if not key and (definition is None or definition.type != "id"):
            raise ApiError(
                400, "MISSING_ARGUMENT", f"{self._external} not specified", [self._external]
            )
        try:
            return self.writer.upsert(self.obj, self._external, key, values, self.user)
        except ApiError as error:
            if error.status != 300:
                raise
            # Several records share the value (SOAP API "StatusCode": DUPLICATE_EXTERNAL_ID).
            raise ApiError(
                400,
                "DUPLICATE_EXTERNAL_ID",
                f"The record you are attempting to edit, or one of its related records, has an "
                f"external ID {key} that matches more than one record.",
                [self._external],
            ) from None

    @staticmethod
    def _cell(cells: Sequence[str], index: int | None) -> str:
        return cells[index] if index is not None and index < len(cells) else ""

    def _purge(self, obj: ObjectDef, ids: list[str]) -> None:
        """Remove recycled rows for good, with the children their delete cascaded to."""
        for first in range(0, len(ids), _IDS_PER_STATEMENT):
            batch = ids[first : first + _IDS_PER_STATEMENT]
            marks = ", ".join("?" for _ in batch)
            self.org.store.execute(
                f"INSERT OR REPLACE INTO _purged (object, id, deleted_date) "
                f'SELECT ?, "Id", {quote_name(DELETED_DATE)} FROM {quote_name(obj.name)} '
                f'WHERE "Id" IN ({marks}) AND {quote_name(DELETED_DATE)} IS NOT NULL',
                [obj.name, *batch],
            )
            self.org.store.execute(
                f'DELETE FROM {quote_name(obj.name)} WHERE "Id" IN ({marks})', batch
            )
            for child_obj, column in self._cascades(obj):
                rows = self.org.store.execute(
                    f'SELECT "Id" FROM {quote_name(child_obj.name)} '
                    f'WHERE {quote_name(column)} IN ({marks}) AND "IsDeleted" = 1',
                    batch,
                )
                if rows:
                    self._purge(child_obj, [r[0] for r in rows])

    def _cascades(self, obj: ObjectDef) -> list[tuple[ObjectDef, str]]:
        """The child objects (and their lookup column) a delete of ``obj`` cascades to."""
        found = []
        for child in obj.describe.get("childRelationships", []):
            child_obj = self.org.schema.object(str(child.get("childSObject")))
            if (
                child.get("cascadeDelete")
                and child_obj is not None
                and child_obj.field(child["field"]) is not None
                and child_obj.field("IsDeleted") is not None
            ):
                found.append((child_obj, str(child["field"])))
        return found
