"""REST resources under ``/sobjects``: describe, record CRUD, external ids, deleted/updated.

Shapes and statuses follow the REST API Developer Guide ("Working with
Records", "Insert or Update (Upsert) a Record Using an External ID", "Get
Deleted Records Within a Given Timeframe").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response
from starlette.routing import Route

from sfbridge.salesforce.ids import is_valid_id, to_18

from .api_errors import ApiError, invalid_type, not_found
from .codec import compound_value, format_datetime, from_db, parse_datetime
from .describe import describe_global, describe_object, object_summary
from .gate import ApiRequest, Gate, json_response
from .org import Org
from .records import RecordWriter
from .schema import ObjectDef
from .storage import DELETED_DATE, quote_name

# Replication resources cover the last 15 days (REST API Developer Guide,
# "Get Deleted Records Within a Given Timeframe").
REPLICATION_WINDOW = timedelta(days=15)


def record_url(version: str, object_name: str, record_id: str) -> str:
    """The ``attributes.url`` of a record."""
    return f"/services/data/v{version}/sobjects/{object_name}/{record_id}"


def record_json(
    obj: ObjectDef, row: dict[str, Any], version: str, fields: list[str] | None, api: ApiRequest
) -> dict[str, Any]:
    """A stored row as the REST API returns a record, honouring field-level security."""
    profile = api.user.profile
    result: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(version, obj.name, row["Id"])}
    }
    wanted = [obj.field(f) for f in fields] if fields else list(obj.fields.values())
    for definition in wanted:
        if definition is None or not profile.readable(obj.name, definition.name):
            continue
        if definition.is_compound:
            parts = {c.name: row.get(c.name) for c in obj.components_of(definition)}
            result[definition.name] = compound_value(definition, parts)
        else:
            result[definition.name] = from_db(definition, row.get(definition.name))
    return result


class SObjectResources:
    """Handlers for ``/services/data/vXX.X/sobjects/...``."""

    def __init__(self, org: Org, writer: RecordWriter) -> None:
        self.org = org
        self.writer = writer

    def _object(self, name: str) -> ObjectDef:
        obj = self.org.schema.object(name)
        if obj is None:
            raise invalid_type(name)
        return obj

    def describe_global(self, api: ApiRequest) -> Any:
        return describe_global(self.org.schema, api.version)

    def object_info(self, api: ApiRequest) -> Any:
        obj = self._object(api.request.path_params["object"])
        if api.request.method == "POST":
            record_id = self.writer.create(obj, api.json(), api.user)
            return json_response({"id": record_id, "success": True, "errors": []}, 201)
        return {"objectDescribe": object_summary(obj, api.version), "recentItems": []}

    def describe(self, api: ApiRequest) -> Any:
        obj = self._object(api.request.path_params["object"])
        return describe_object(obj, self.org.schema, api.user.profile, api.version)

    def record(self, api: ApiRequest) -> Any:
        obj = self._object(api.request.path_params["object"])
        raw_id = api.request.path_params["id"]
        method = api.request.method
        if method == "POST" and raw_id == "Id":
            # "Id" as an external id with no value creates a record (REST API, v37.0+).
            record_id = self.writer.create(obj, api.json(), api.user)
            return json_response({"id": record_id, "success": True, "errors": []}, 201)
        if method == "PATCH":
            self.writer.update(obj, raw_id, api.json(), api.user)
            return Response(status_code=204)
        if method == "DELETE":
            self.writer.delete(obj, raw_id, api.user)
            return Response(status_code=204)
        if not is_valid_id(raw_id):
            raise not_found()
        row = self.org.store.row_by_id(obj, to_18(raw_id), include_deleted=True)
        if row is None:
            raise not_found()
        if row.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        fields = _field_list(obj, api)
        return record_json(obj, row, api.version, fields, api)

    def by_external_id(self, api: ApiRequest) -> Any:
        obj = self._object(api.request.path_params["object"])
        field_name = api.request.path_params["field"]
        value = unquote(api.request.path_params["value"])
        method = api.request.method
        if method == "PATCH":
            update_only = api.request.query_params.get("updateOnly", "").lower() == "true"
            try:
                record_id, created = self.writer.upsert(
                    obj, field_name, value, api.json(), api.user, update_only=update_only
                )
            except ApiError as error:
                if error.status == 300:
                    return _multiple_choices(api.version, obj, error.fields or [])
                raise
            body = {"id": record_id, "success": True, "errors": [], "created": created}
            return json_response(body, 201 if created else 200)
        definition = self.writer.external_id_field(obj, field_name, api.user)
        matches = self.writer.find_by_field(obj, definition, value)
        if not matches:
            raise not_found()
        if len(matches) > 1:
            return _multiple_choices(api.version, obj, matches)
        if method == "DELETE":
            self.writer.delete(obj, matches[0], api.user)
            return Response(status_code=204)
        row = self.org.store.row_by_id(obj, matches[0])
        assert row is not None
        return record_json(obj, row, api.version, _field_list(obj, api), api)

    def deleted(self, api: ApiRequest) -> Any:
        obj = self._object(api.request.path_params["object"])
        start, end = self._window(api)
        if not obj.field("IsDeleted"):
            rows: list[tuple[Any, ...]] = []
        else:
            # In the recycle bin, or purged from it since: both are deleted records.
            rows = self.org.store.execute(
                f'SELECT "Id", {quote_name(DELETED_DATE)} AS day FROM {quote_name(obj.name)} '
                f'WHERE "IsDeleted" = 1 AND {quote_name(DELETED_DATE)} >= ? '
                f"AND {quote_name(DELETED_DATE)} <= ? "
                "UNION ALL SELECT id, deleted_date FROM _purged "
                "WHERE object = ? AND deleted_date >= ? AND deleted_date <= ? ORDER BY day",
                (start, end, obj.name, start, end),
            )
        earliest = format_datetime(self.org.store.clock.now() - REPLICATION_WINDOW)
        return {
            "deletedRecords": [
                {"id": rid, "deletedDate": stamp[:-1] + "+0000"} for rid, stamp in rows
            ],
            "earliestDateAvailable": earliest[:-1] + "+0000",
            "latestDateCovered": end[:-1] + "+0000",
        }

    def updated(self, api: ApiRequest) -> Any:
        obj = self._object(api.request.path_params["object"])
        start, end = self._window(api)
        live = ' AND "IsDeleted" = 0' if obj.field("IsDeleted") else ""
        rows = self.org.store.execute(
            f'SELECT "Id" FROM {quote_name(obj.name)} WHERE "SystemModstamp" >= ? '
            f'AND "SystemModstamp" <= ?{live} ORDER BY "SystemModstamp", "Id"',
            (start, end),
        )
        return {"ids": [r[0] for r in rows], "latestDateCovered": end[:-1] + "+0000"}

    def _window(self, api: ApiRequest) -> tuple[str, str]:
        """``start``/``end`` query parameters in storage form, checked like a real org."""
        params = api.request.query_params
        values = []
        for name in ("start", "end"):
            raw = params.get(name)
            if not raw:
                raise ApiError(400, "MISSING_ARGUMENT", f"{name} was not specified")
            try:
                # A "+" that was not URL-encoded arrives as a space.
                values.append(format_datetime(parse_datetime(raw.replace(" ", "+"))))
            except ValueError:
                raise ApiError(
                    400, "INVALID_REPLICATION_DATE", f"{name}: invalid date format: {raw}"
                ) from None
        start, end = values
        now = format_datetime(self.org.store.clock.now())
        if start > end:
            raise ApiError(
                400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
            )
        earliest = format_datetime(self.org.store.clock.now() - REPLICATION_WINDOW)
        if end < earliest:
            raise ApiError(
                400,
                "INVALID_REPLICATION_DATE",
                "endDate can not be before the earliest date available: " + earliest,
            )
        return max(start, earliest), min(end, now)

    def routes(self, gate: Gate) -> list[Route]:
        """The routes of these resources under ``/services/data/v{version}``."""
        base = "/services/data/v{version}/sobjects"
        return [
            Route(base, gate.wrap(self.describe_global), methods=["GET"]),
            Route(base + "/", gate.wrap(self.describe_global), methods=["GET"]),
            Route(base + "/{object}", gate.wrap(self.object_info), methods=["GET", "POST"]),
            Route(base + "/{object}/", gate.wrap(self.object_info), methods=["GET", "POST"]),
            Route(base + "/{object}/describe", gate.wrap(self.describe), methods=["GET"]),
            Route(base + "/{object}/describe/", gate.wrap(self.describe), methods=["GET"]),
            Route(base + "/{object}/deleted", gate.wrap(self.deleted), methods=["GET"]),
            Route(base + "/{object}/deleted/", gate.wrap(self.deleted), methods=["GET"]),
            Route(base + "/{object}/updated", gate.wrap(self.updated), methods=["GET"]),
            Route(base + "/{object}/updated/", gate.wrap(self.updated), methods=["GET"]),
            Route(
                base + "/{object}/{id}",
                gate.wrap(self.record),
                methods=["GET", "PATCH", "DELETE", "POST"],
            ),
            Route(
                base + "/{object}/{field}/{value:path}",
                gate.wrap(self.by_external_id),
                methods=["GET", "PATCH", "DELETE"],
            ),
        ]


def _field_list(obj: ObjectDef, api: ApiRequest) -> list[str] | None:
    raw = api.request.query_params.get("fields")
    if not raw:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        definition = obj.field(name)
        if definition is None or not api.user.profile.readable(obj.name, definition.name):
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'.")
    return names


def _multiple_choices(version: str, obj: ObjectDef, ids: list[str]) -> Response:
    """300: the urls of every record that matched an external id."""
    return json_response([record_url(version, obj.name, rid) for rid in ids], 300)
