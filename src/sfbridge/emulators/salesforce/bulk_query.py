"""Bulk API 2.0 query jobs: ``/services/data/vXX.X/jobs/query``.

``POST /jobs/query`` checks the SOQL at once (a query Bulk API 2.0 refuses, or
one the org cannot run, answers 400 there) and creates the job
``UploadComplete``; a background worker runs it through the org's SOQL engine
(soql_engine.py), which keeps the matching rowids as a snapshot, and the job
becomes ``JobComplete``. ``GET .../results?maxRecords=&locator=`` then reads
one page of that snapshot at a time (Bulk API 2.0 Developer Guide, "Get
Results for a Query Job"):

- every value double-quoted, a null as ``""``, datetimes as
  ``2024-01-01T00:00:00.000Z``, booleans as ``true``/``false``, parent fields
  under headers such as ``Account.Name``; the header row starts every page;
- ``Sforce-NumberOfRecords`` counts the page, ``Sforce-Locator`` names the
  next page or is the string ``null`` after the last;
- gzip when the client accepts it; 409 when asked with another API version
  than the job was created with.

A page is read from the snapshot in slices, so a million-row job never sits
in memory as records.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.responses import Response
from starlette.routing import Route

from sfbridge.salesforce.soql_parser import Aggregate, FieldPath, SoqlError, parse_soql

from .api_errors import ApiError
from .bulk_csv import CsvFormat, write_csv
from .bulk_jobs import RUNNING, BulkJob, JobBoard, JobState, invalid_state, job_request
from .gate import ApiRequest, Gate
from .org import Org, UserInfo
from .rest_query import user_zone
from .schema import FieldDef
from .soql_compile import plan_query
from .soql_engine import QueryCursor, QueryEngine
from .soql_paths import PathResolver

OPERATIONS = {"query": False, "queryAll": True}  # operation -> include the recycle bin
# "Get Results for a Query Job": without maxRecords "the server uses a default
# value based on the service"; a fixed page keeps the emulator's memory flat.
DEFAULT_PAGE_RECORDS = 50_000
_READ_SLICE = 2_000
_SELECT_LIST_TOKENS = re.compile(r"'(?:[^'\\]|\\.)*'|\(|\)|\bfrom\b", re.IGNORECASE)
_SUBQUERY = re.compile(r"\(\s*select\b", re.IGNORECASE)
_TYPEOF = re.compile(r"\btypeof\b", re.IGNORECASE)


def not_in_bulk(what: str) -> ApiError:
    """400 API_ERROR for SOQL that Bulk API 2.0 refuses ("Create a Query Job")."""
    return ApiError(400, "API_ERROR", f"{what} not supported in Bulk Query")


@dataclass(frozen=True)
class ResultColumn:
    """One result column: its header, the keys that reach it in a REST record, its field."""

    header: str
    path: tuple[str, ...]
    field: FieldDef

    def value(self, record: dict[str, Any]) -> str | None:
        """The column's CSV value in one REST-shaped record (None for a null)."""
        current: Any = record
        for key in self.path:
            current = current.get(key) if isinstance(current, dict) else None
        if current is None:
            return None
        if self.field.type == "boolean":
            return "true" if current else "false"
        if self.field.type == "datetime":
            return str(current)[:-5] + "Z"  # REST "...00.000+0000" -> Bulk "...00.000Z"
        return str(current)


@dataclass
class QueryJob(BulkJob):
    """A query job: its SOQL, its result columns and, once run, its snapshot."""

    JOB_TYPE: ClassVar[str] = "V2Query"

    soql: str = ""
    columns: list[ResultColumn] = field(default_factory=list)
    cursor: QueryCursor | None = None


class BulkQueryResources:
    """Handlers for ``/jobs/query`` and the worker that runs the queries."""

    def __init__(self, org: Org, engine: QueryEngine) -> None:
        self.org = org
        self.engine = engine
        self.board: JobBoard[QueryJob] = JobBoard(org)

    # -- resources ------------------------------------------------------------

    def jobs(self, api: ApiRequest) -> Any:
        """``GET`` lists the jobs, ``POST`` creates one."""
        if api.request.method == "GET":
            return self.board.listing()
        body = job_request(api.json(), OPERATIONS)
        operation = body["operation"]
        soql = body.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise ApiError(400, "INVALIDJOB", "A query job needs a query")
        fmt = CsvFormat.from_job_request(body)
        object_name, columns = self._checked(soql, api.user, include_deleted=OPERATIONS[operation])
        faults = self.org.faults
        if not faults.spend_bulk_query_job():
            limit = faults.settings.daily_bulk_query_job_limit
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"Max bulk v2 query jobs ({limit}) per 24 hrs has been reached "
                f"({faults.bulk_query_jobs_used + 1})",
            )
        job = self.board.add(
            QueryJob(
                id=self.board.new_id(),
                operation=operation,
                object_name=object_name,
                user=api.user,
                api_version=api.version,
                created=self.org.store.clock.stamp(),
                fmt=fmt,
                state=JobState.UPLOAD_COMPLETE,
                soql=soql,
                columns=columns,
            )
        )
        created = job.summary()  # before the worker can move it on
        self.board.run_in_background(job, self._run)
        return created

    def job(self, api: ApiRequest) -> Any:
        """``GET`` job info, ``PATCH`` abort, ``DELETE`` the job."""
        job = self.board.get(api.request.path_params["job_id"])
        method = api.request.method
        if method == "GET":
            return {**job.summary(), **job.progress()}
        if method == "DELETE":
            self.board.delete(job)
            return Response(status_code=204)
        body = api.json()
        state = body.get("state") if isinstance(body, dict) else None
        if state != JobState.ABORTED:
            raise invalid_state(f"Invalid state for a query job update: {state}")
        if not self.board.advance(job, JobState.ABORTED, RUNNING):
            raise invalid_state(f"Job {job.id} is {job.state} and can no longer be aborted")
        job.cancelled.set()
        return job.summary()

    def results(self, api: ApiRequest) -> Response:
        """One page of a finished job's results as CSV."""
        job = self.board.get(api.request.path_params["job_id"])
        if api.version != job.api_version:
            # "Get Results for a Query Job": use the API version that created the job.
            raise ApiError(
                409,
                "API_ERROR",
                f"Job {job.id} was created with API version {job.api_version}; request its "
                f"results with v{job.api_version}",
            )
        cursor = job.cursor
        if job.state != JobState.JOB_COMPLETE or cursor is None:
            raise invalid_state(f"Job {job.id} is {job.state}; results exist once JobComplete")
        params = api.request.query_params
        start = _offset(params.get("locator"))
        end = min(start + _page_size(params.get("maxRecords")), cursor.total_size)
        written = 0

        def rows() -> Iterator[list[str | None]]:
            nonlocal written
            for first in range(start, end, _READ_SLICE):
                for record in cursor.page(first, min(_READ_SLICE, end - first)):
                    written += 1
                    yield [column.value(record) for column in job.columns]

        body = write_csv([c.header for c in job.columns], rows(), job.fmt)
        headers = {
            "Sforce-Locator": _locator(end) if end < cursor.total_size else "null",
            "Sforce-NumberOfRecords": str(written),
        }
        if _accepts_gzip(api.request.headers.get("accept-encoding", "")):
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type="text/csv", headers=headers)

    # -- checking and running -------------------------------------------------

    def _checked(
        self, soql: str, user: UserInfo, *, include_deleted: bool
    ) -> tuple[str, list[ResultColumn]]:
        """The FROM object and result columns of a query Bulk API 2.0 accepts; 400 otherwise."""
        try:
            query = parse_soql(soql)
        except SoqlError as error:
            refused = _refused_select(soql)
            raise refused or ApiError(400, error.error_code, error.message) from None
        if query.group_by or any(isinstance(item, Aggregate) for item in query.select):
            raise not_in_bulk("Aggregate queries")
        if query.offset is not None:
            raise not_in_bulk("OFFSET")
        try:
            plan = plan_query(
                query,
                self.org.schema,
                include_deleted=include_deleted,
                now=self.org.store.clock.now(),
                tz=user_zone(user.time_zone),
                readable=user.profile.readable,
            )
        except SoqlError as error:
            raise ApiError(400, error.error_code, error.message) from None
        resolver = PathResolver(self.org.schema, plan.sobject, query.text, user.profile.readable)
        columns: list[ResultColumn] = []
        for item in query.select:
            assert isinstance(item, FieldPath)
            ref = resolver.resolve(item)
            if ref.field.is_compound:
                raise not_in_bulk("Selecting compound data")
            keys: list[str] = []
            relation = ref.relation
            while relation.parent is not None:
                keys.append(relation.key)
                relation = relation.parent
            path = (*reversed(keys), ref.field.name)
            columns.append(ResultColumn(".".join(path), path, ref.field))
        return plan.sobject.name, columns

    def _run(self, job: QueryJob) -> None:
        if not self.board.advance(job, JobState.IN_PROGRESS, frozenset({JobState.UPLOAD_COMPLETE})):
            return
        try:
            cursor = self.engine.execute(
                job.soql,
                include_deleted=OPERATIONS[job.operation],
                api_version=job.api_version,
                now=self.org.store.clock.now(),
                tz=user_zone(job.user.time_zone),
                readable=job.user.profile.readable,
            )
        except SoqlError as error:
            message = f"{error.error_code} : {error.message}"
            self.board.advance(job, JobState.FAILED, frozenset({JobState.IN_PROGRESS}), message)
            return
        job.cursor, job.records_processed = cursor, cursor.total_size
        self.board.advance(job, JobState.JOB_COMPLETE, frozenset({JobState.IN_PROGRESS}))

    # -- routes ---------------------------------------------------------------

    def routes(self, gate: Gate) -> list[Route]:
        """``/jobs/query``, ``/jobs/query/{id}`` and ``/jobs/query/{id}/results``."""
        base = "/services/data/v{version}/jobs/query"
        table = [
            ("", self.jobs, ["GET", "POST"]),
            ("/{job_id}", self.job, ["GET", "PATCH", "DELETE"]),
            ("/{job_id}/results", self.results, ["GET"]),
        ]
        return [
            Route(base + path + slash, gate.wrap(handler), methods=methods)
            for path, handler, methods in table
            for slash in ("", "/")
        ]


def _refused_select(soql: str) -> ApiError | None:
    """For a query the parser refused: the Bulk error when its SELECT list has a subquery or TYPEOF.

    The emulator's SOQL engine supports neither, so the parser stops first; a
    real org's Bulk API answers these with its own errors.
    """
    select_list = soql
    depth = 0
    for token in _SELECT_LIST_TOKENS.finditer(soql):
        text = token.group(0)
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif text.lower() == "from" and depth == 0:
            select_list = soql[: token.start()]
            break
    if _SUBQUERY.search(select_list):
        # The message Data Loader matches for Bulk API 2.0 query jobs.
        return not_in_bulk("Aggregate Relationships")
    if _TYPEOF.search(select_list):
        return not_in_bulk("TYPEOF")
    return None


def _locator(offset: int) -> str:
    """The opaque locator of the page at ``offset``: ``MTAwMDA`` for 10000, as in the docs."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return int(text)


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_RECORDS
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "API_ERROR", f"maxRecords must be a positive integer: {raw}")
    return int(raw)


def _accepts_gzip(header: str) -> bool:
    return any(part.split(";")[0].strip().lower() == "gzip" for part in header.split(","))
