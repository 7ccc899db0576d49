"""REST resources of one record at a time: CRUD, external ids, queries, replication, limits.

Each method returns a flow (see ``http.py``) that a sync or async client
runs. Shapes and statuses follow the REST API Developer Guide: "Working with
Records", "Insert or Update (Upsert) a Record Using an External ID", "Execute
a SOQL Query", "Get Deleted Records Within a Given Timeframe", "Limits".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import MultipleMatchesError, SalesforceConfigError, SalesforceRecordError
from .http import ApiCall, ApiCaller, Flow
from .ids import is_valid_id
from .limits import Limit, parse_limits

Record = dict[str, Any]
"""A record as JSON: field name to value, with ``attributes`` (type, url)."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# "Change the Batch Size in Queries": 200 to 2,000 records per page.
MIN_BATCH_SIZE, MAX_BATCH_SIZE = 200, 2000


def check_name(name: str, what: str = "sObject") -> str:
    """``name`` if it is a valid API name (``Contact``, ``CIO_Id__c``); a ConfigError otherwise."""
    if not _NAME.match(name):
        raise SalesforceConfigError(
            f"{what} name {name!r} is not a Salesforce API name (letters, digits, underscores)"
        )
    return name


def check_id(record_id: str, object_name: str) -> str:
    """``record_id`` if it is a 15- or 18-character id; a record error (no call spent) otherwise."""
    if not is_valid_id(record_id):
        raise SalesforceRecordError(
            f"{record_id!r} is not a Salesforce id (15 or 18 characters with a valid checksum)",
            error_code="MALFORMED_ID",
            object_name=object_name,
        )
    return record_id


def _datetime_param(value: datetime, name: str) -> str:
    if value.tzinfo is None:
        raise SalesforceConfigError(f"{name} {value.isoformat()!r} needs a time zone (use UTC)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _parse_datetime(text: str) -> datetime:
    """Salesforce's ``2013-05-07T22:07:19.000+0000`` (or ``Z``) as an aware datetime."""
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class UpsertResult:
    """The record an upsert wrote, and whether it created it."""

    id: str
    created: bool


@dataclass(frozen=True)
class QueryPage:
    """One page of a query answer."""

    records: list[Record]
    total_size: int
    next_url: str | None


@dataclass(frozen=True)
class DeletedRecord:
    """One entry of the ``deleted`` resource."""

    id: str
    deleted_date: datetime


@dataclass(frozen=True)
class DeletedRecords:
    """Records deleted in a window (the recycle bin keeps them about 15 days)."""

    records: tuple[DeletedRecord, ...]
    earliest_date_available: datetime
    latest_date_covered: datetime


@dataclass(frozen=True)
class UpdatedRecords:
    """Ids of records changed in a window."""

    ids: tuple[str, ...]
    latest_date_covered: datetime


class RestApi:
    """Flows for the single-record, query, replication and limits resources."""

    def __init__(self, caller: ApiCaller) -> None:
        self._caller = caller

    # -- records -------------------------------------------------------------------

    def create(self, object_name: str, fields: Mapping[str, Any]) -> Flow[str]:
        """Create a record; its id."""
        path = self._caller.data_path("sobjects", check_name(object_name))
        body = yield from self._caller.json(
            ApiCall("POST", path, json=dict(fields), object_name=object_name)
        )
        return str(body["id"])

    def get(
        self, object_name: str, record_id: str, fields: Sequence[str] | None = None
    ) -> Flow[Record]:
        """One record by id, with all readable fields or only ``fields``."""
        path = self._caller.data_path(
            "sobjects", check_name(object_name), check_id(record_id, object_name)
        )
        params = {"fields": ",".join(fields)} if fields else None
        body = yield from self._caller.json(
            ApiCall("GET", path, params=params, object_name=object_name)
        )
        return dict(body)

    def update(self, object_name: str, record_id: str, fields: Mapping[str, Any]) -> Flow[None]:
        """Update fields of one record."""
        path = self._caller.data_path(
            "sobjects", check_name(object_name), check_id(record_id, object_name)
        )
        yield from self._caller.call(
            ApiCall("PATCH", path, json=dict(fields), object_name=object_name)
        )

    def delete(self, object_name: str, record_id: str) -> Flow[None]:
        """Delete one record (to the recycle bin)."""
        path = self._caller.data_path(
            "sobjects", check_name(object_name), check_id(record_id, object_name)
        )
        yield from self._caller.call(ApiCall("DELETE", path, object_name=object_name))

    def get_by_external_id(
        self, object_name: str, field: str, value: str, fields: Sequence[str] | None = None
    ) -> Flow[Record]:
        """The one record whose external id ``field`` equals ``value``.

        Several matches raise ``MultipleMatchesError`` listing them; none, a
        ``NOT_FOUND`` record error.
        """
        path = self._external_path(object_name, field, value)
        params = {"fields": ",".join(fields)} if fields else None
        call = ApiCall("GET", path, params=params, object_name=object_name)
        body = yield from self._matching_one(self._caller.json(call), object_name, field, value)
        return dict(body)

    def upsert(
        self,
        object_name: str,
        field: str,
        value: str,
        fields: Mapping[str, Any],
        *,
        update_only: bool = False,
    ) -> Flow[UpsertResult]:
        """Create or update the record whose external id ``field`` is ``value``.

        ``update_only`` never creates (a missing record is a ``NOT_FOUND``
        record error). 201 means created; 200 (v46.0+) or 204 means updated.
        """
        path = self._external_path(object_name, field, value)
        params = {"updateOnly": "true"} if update_only else None
        call = ApiCall("PATCH", path, params=params, json=dict(fields), object_name=object_name)
        response = yield from self._matching_one(self._caller.call(call), object_name, field, value)
        body = response.json() if response.content else {}
        return UpsertResult(id=str(body.get("id", "")), created=response.status_code == 201)

    def _external_path(self, object_name: str, field: str, value: str) -> str:
        if not value:
            raise SalesforceConfigError(f"the {object_name}.{field} value to match is empty")
        return self._caller.data_path(
            "sobjects", check_name(object_name), check_name(field, "field"), value
        )

    @staticmethod
    def _matching_one(flow: Flow[Any], object_name: str, field: str, value: str) -> Flow[Any]:
        """Run ``flow``; a 300 becomes an error that names the field, the value and the ids."""
        try:
            return (yield from flow)
        except MultipleMatchesError as error:
            raise MultipleMatchesError(
                f"{len(error.matches)} {object_name} records have {field} = {value!r}: "
                f"{', '.join(error.matches)}",
                matches=error.matches,
                error_code=error.error_code,
                status=error.status,
                fields=[field],
                object_name=object_name,
                request=error.request,
                hint=error.hint,
            ) from None

    # -- queries -------------------------------------------------------------------

    def query_page(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> Flow[QueryPage]:
        """The first page of ``soql`` (``queryAll`` adds deleted and archived rows)."""
        path = self._caller.data_path("queryAll" if include_deleted else "query")
        call = ApiCall("GET", path, params={"q": soql}, headers=self._batch_header(batch_size))
        return (yield from self._page(call))

    def query_more(self, next_url: str, batch_size: int | None = None) -> Flow[QueryPage]:
        """The page at a ``nextRecordsUrl``."""
        return (
            yield from self._page(ApiCall("GET", next_url, headers=self._batch_header(batch_size)))
        )

    def count(self, object_name: str, where: str | None = None) -> Flow[int]:
        """``SELECT COUNT() FROM object [WHERE where]``: how many live rows match."""
        soql = f"SELECT COUNT() FROM {check_name(object_name)}"
        if where and where.strip():
            soql += f" WHERE {where.strip()}"
        page = yield from self.query_page(soql)
        return page.total_size

    def _page(self, call: ApiCall) -> Flow[QueryPage]:
        body = yield from self._caller.json(call)
        return QueryPage(
            records=list(body.get("records") or []),
            total_size=int(body.get("totalSize", 0)),
            next_url=None if body.get("done", True) else str(body["nextRecordsUrl"]),
        )

    @staticmethod
    def _batch_header(batch_size: int | None) -> dict[str, str] | None:
        if batch_size is None:
            return None
        if not MIN_BATCH_SIZE <= batch_size <= MAX_BATCH_SIZE:
            raise SalesforceConfigError(
                f"query batch_size {batch_size} must be between {MIN_BATCH_SIZE} and "
                f"{MAX_BATCH_SIZE}"
            )
        return {"Sforce-Query-Options": f"batchSize={batch_size}"}

    # -- replication and limits ----------------------------------------------------

    def deleted(self, object_name: str, start: datetime, end: datetime) -> Flow[DeletedRecords]:
        """Records of ``object_name`` deleted between ``start`` and ``end`` (last 15 days)."""
        body = yield from self._replication("deleted", object_name, start, end)
        return DeletedRecords(
            records=tuple(
                DeletedRecord(str(r["id"]), _parse_datetime(str(r["deletedDate"])))
                for r in body.get("deletedRecords") or []
            ),
            earliest_date_available=_parse_datetime(str(body["earliestDateAvailable"])),
            latest_date_covered=_parse_datetime(str(body["latestDateCovered"])),
        )

    def updated(self, object_name: str, start: datetime, end: datetime) -> Flow[UpdatedRecords]:
        """Ids of ``object_name`` records changed between ``start`` and ``end``."""
        body = yield from self._replication("updated", object_name, start, end)
        return UpdatedRecords(
            ids=tuple(str(i) for i in body.get("ids") or []),
            latest_date_covered=_parse_datetime(str(body["latestDateCovered"])),
        )

    def _replication(
        self, resource: str, object_name: str, start: datetime, end: datetime
    ) -> Flow[Any]:
        path = self._caller.data_path("sobjects", check_name(object_name), resource) + "/"
        params = {"start": _datetime_param(start, "start"), "end": _datetime_param(end, "end")}
        return (yield from self._caller.json(ApiCall("GET", path, params=params)))

    def limits(self) -> Flow[dict[str, Limit]]:
        """``GET /limits``; also updates the client's view of the org's API usage."""
        body = yield from self._caller.json(ApiCall("GET", self._caller.data_path("limits")))
        limits = parse_limits(body)
        self._caller.meter.observe_limits(limits)
        return limits
