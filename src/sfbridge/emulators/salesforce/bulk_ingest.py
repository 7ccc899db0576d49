"""Bulk API 2.0 ingest jobs: ``/services/data/vXX.X/jobs/ingest``.

The life of a job (Bulk API 2.0 Developer Guide, "Create a Job", "Upload Job
Data", "Close or Abort a Job", "Get Job Info", "Get Job Successful Record
Results", "Get Job Failed Record Results", "Get Job Unprocessed Record
Results", "Delete a Job", "Get All Jobs"):

1. ``POST /jobs/ingest`` creates it ``Open``;
2. ``PUT /jobs/ingest/{id}/batches`` uploads its CSV, once, and answers 201;
3. ``PATCH {"state": "UploadComplete"}`` closes it, and a background worker
   takes it ``InProgress`` and then ``JobComplete`` (or ``Failed``);
   ``PATCH {"state": "Aborted"}`` stops it, leaving the rest unprocessed;
4. ``GET .../successfulResults/``, ``failedResults/`` and
   ``unprocessedrecords/`` (any letter case) return result CSVs.

The worker writes in transactions of ``CHUNK_RECORDS`` rows, so progress
shows while a large job runs, and spends one Bulk API batch of the daily
allocation for each 10,000 records ("How Requests Are Processed"); when the
allocation runs out the rest of the job is left unprocessed and the job fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.responses import Response
from starlette.routing import Route

from .api_errors import ApiError
from .bulk_csv import CsvDataError, CsvFormat, read_csv, write_csv
from .bulk_ingest_rows import HeaderError, RowWriter, error_text, plan_columns
from .bulk_jobs import RUNNING, BulkJob, JobBoard, JobState, invalid_state, job_request
from .gate import ApiRequest, Gate
from .org import Org
from .records import RecordWriter

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
# "Upload Job Data": at most 150 MB of data once base64-encoded (about 100 MB raw).
MAX_UPLOAD_BASE64_BYTES = 150 * 1024 * 1024
BATCH_RECORDS = 10_000
CHUNK_RECORDS = 500
EXCEEDED_QUOTA = "ExceededQuota : ApiBatchItems Limit exceeded."
_RESULT_KINDS = ("successfulresults", "failedresults", "unprocessedrecords")


@dataclass
class IngestJob(BulkJob):
    """An ingest job: its upload and, once processed, its three result sets."""

    JOB_TYPE: ClassVar[str] = "V2Ingest"

    external_id_field: str | None = None
    data: bytes | None = None
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    records_failed: int = 0
    api_active_ms: int = 0

    def summary(self) -> dict[str, Any]:
        """The common job info, plus ``externalIdFieldName`` for an upsert."""
        info = super().summary()
        if self.external_id_field is not None:
            info["externalIdFieldName"] = self.external_id_field
        return info

    def progress(self) -> dict[str, Any]:
        """The common counters, plus the failed count and the ingest processing times."""
        return {
            **super().progress(),
            "numberRecordsFailed": self.records_failed,
            "apiActiveProcessingTime": self.api_active_ms,
            "apexProcessingTime": 0,
        }

    def results(self, kind: str) -> tuple[list[str], list[list[str]]]:
        """Header and rows of one result set (``kind`` lower case)."""
        if kind == "successfulresults":
            return ["sf__Id", "sf__Created", *self.header], self.successful
        if kind == "failedresults":
            return ["sf__Id", "sf__Error", *self.header], self.failed
        return self.header, self.unprocessed


class IngestResources:
    """Handlers for ``/jobs/ingest`` and the worker that processes the jobs."""

    def __init__(self, org: Org, writer: RecordWriter) -> None:
        self.org = org
        self.writer = writer
        self.board: JobBoard[IngestJob] = JobBoard(org)

    # -- resources ------------------------------------------------------------

    def jobs(self, api: ApiRequest) -> Any:
        """``GET`` lists the jobs, ``POST`` creates one."""
        if api.request.method == "GET":
            return self.board.listing()
        body = job_request(api.json(), OPERATIONS)
        operation = body["operation"]
        name = str(body.get("object") or "")
        obj = self.org.schema.object(name)
        if obj is None:
            raise ApiError(400, "INVALIDENTITY", f"sObject type '{name}' is not supported.")
        fmt = CsvFormat.from_job_request(body)
        external = None
        if operation == "upsert":
            external = self._external_id_field(api, obj.name, body.get("externalIdFieldName"))
        now = self.org.store.clock.stamp()
        job = self.board.add(
            IngestJob(
                id=self.board.new_id(),
                operation=operation,
                object_name=obj.name,
                user=api.user,
                api_version=api.version,
                created=now,
                fmt=fmt,
                state=JobState.OPEN,
                external_id_field=external,
            )
        )
        # No leading slash: clients append it to the instance URL themselves.
        content_url = f"services/data/v{api.version}/jobs/ingest/{job.id}/batches"
        return {**job.summary(), "contentUrl": content_url}

    def job(self, api: ApiRequest) -> Any:
        """``GET`` job info, ``PATCH`` close or abort, ``DELETE`` the job."""
        job = self.board.get(api.request.path_params["job_id"])
        method = api.request.method
        if method == "GET":
            return {**job.summary(), **job.progress()}
        if method == "DELETE":
            self.board.delete(job)
            return Response(status_code=204)
        body = api.json()
        state = body.get("state") if isinstance(body, dict) else None
        if state == JobState.UPLOAD_COMPLETE:
            if not self.board.advance(job, JobState.UPLOAD_COMPLETE, frozenset({JobState.OPEN})):
                raise invalid_state(f"Job {job.id} is {job.state}; only an Open job can be closed")
            self.board.run_in_background(job, self._process)
        elif state == JobState.ABORTED:
            was_open = job.state == JobState.OPEN
            if not self.board.advance(job, JobState.ABORTED, RUNNING | {JobState.OPEN}):
                raise invalid_state(f"Job {job.id} is {job.state} and can no longer be aborted")
            job.cancelled.set()
            if was_open:
                self._leave_unprocessed(job)
        else:
            raise invalid_state(f"Invalid state for a job update: {state}")
        return job.summary()

    def job_data(self, api: ApiRequest) -> Any:
        """``PUT .../batches`` uploads the CSV; ``GET`` a result set."""
        job = self.board.get(api.request.path_params["job_id"])
        resource = api.request.path_params["resource"].lower()
        method = api.request.method
        if resource == "batches":
            if method != "PUT":
                raise _method_not_allowed(method, "PUT")
            return self._upload(job, api.body)
        if resource not in _RESULT_KINDS:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if method != "GET":
            raise _method_not_allowed(method, "GET")
        header, rows = job.results(resource)
        return Response(write_csv(header, list(rows), job.fmt), media_type="text/csv")

    def _upload(self, job: IngestJob, data: bytes) -> Response:
        if job.state != JobState.OPEN:
            raise invalid_state(
                f"Job {job.id} is {job.state}; data can be uploaded only while Open"
            )
        if job.data is not None:
            # "Upload Job Data": one upload per job; a real org refuses a second PUT.
            raise invalid_state(
                f"Found multiple contents for job: {job.id}, please 'Close' / 'Abort' / 'Delete' "
                "the current Job then create a new Job and make sure you only do 'PUT' once on "
                "a given Job."
            )
        encoded_size = (len(data) + 2) // 3 * 4
        if encoded_size > MAX_UPLOAD_BASE64_BYTES:
            raise ApiError(
                400,
                "INVALIDBATCH",
                "Failed to read request. Exceeded max size limit of "
                f"{MAX_UPLOAD_BASE64_BYTES} (base64-encoded: {encoded_size})",
            )
        job.data = data
        return Response(status_code=201)

    def _external_id_field(self, api: ApiRequest, object_name: str, name: Any) -> str:
        if not name:
            raise ApiError(400, "INVALIDJOB", "externalIdFieldName is required for upsert jobs")
        try:
            definition = self.writer.external_id_field(
                self.org.object(object_name), str(name), api.user
            )
        except ApiError as error:
            raise ApiError(400, "INVALIDJOB", error.message) from None
        return definition.name

    # -- processing -----------------------------------------------------------

    def _process(self, job: IngestJob) -> None:
        if not self.board.advance(job, JobState.IN_PROGRESS, frozenset({JobState.UPLOAD_COMPLETE})):
            self._leave_unprocessed(job)  # aborted before it started
            return
        try:
            job.header, rows = read_csv(job.data or b"", job.fmt)
        except CsvDataError as problem:
            self._fail(job, str(problem))
            return
        try:
            obj = self.org.object(job.object_name)
            columns = plan_columns(self.org, obj, job.header, job.operation, job.user)
            writer = RowWriter(
                self.org, self.writer, obj, job.operation, job.external_id_field, job.user, columns
            )
        except HeaderError as problem:
            job.unprocessed = rows
            self._fail(job, str(problem))
            return
        started = time.perf_counter()
        position = 0
        while position < len(rows):
            if job.stopped:
                job.unprocessed = rows[position:]
                return
            if position % BATCH_RECORDS == 0 and not self.org.faults.spend_bulk_batch():
                job.unprocessed = rows[position:]
                self._fail(job, EXCEEDED_QUOTA)
                return
            chunk = rows[position : position + CHUNK_RECORDS]
            writing = time.perf_counter()
            with self.org.store.transaction():
                for cells in chunk:
                    self._write(job, writer, cells)
            job.api_active_ms += int((time.perf_counter() - writing) * 1000)
            position += len(chunk)
            job.records_processed, job.records_failed = position, len(job.failed)
            job.processing_ms = int((time.perf_counter() - started) * 1000)
        self.board.advance(job, JobState.JOB_COMPLETE, frozenset({JobState.IN_PROGRESS}))

    @staticmethod
    def _write(job: IngestJob, writer: RowWriter, cells: list[str]) -> None:
        try:
            record_id, created = writer.apply(cells)
        except ApiError as error:
            job.failed.append([writer.record_id(cells), error_text(error), *cells])
        else:
            job.successful.append([record_id, "true" if created else "false", *cells])

    def _fail(self, job: IngestJob, message: str) -> None:
        self.board.advance(job, JobState.FAILED, frozenset({JobState.IN_PROGRESS}), message)

    def _leave_unprocessed(self, job: IngestJob) -> None:
        """An aborted job that never ran: whatever was uploaded is unprocessed."""
        try:
            job.header, job.unprocessed = read_csv(job.data or b"", job.fmt)
        except CsvDataError:
            job.header, job.unprocessed = [], []

    # -- routes ---------------------------------------------------------------

    def routes(self, gate: Gate) -> list[Route]:
        """``/jobs/ingest``, ``/jobs/ingest/{id}`` and ``/jobs/ingest/{id}/{resource}``."""
        base = "/services/data/v{version}/jobs/ingest"
        table = [
            ("", self.jobs, ["GET", "POST"]),
            ("/{job_id}", self.job, ["GET", "PATCH", "DELETE"]),
            ("/{job_id}/{resource}", self.job_data, ["GET", "PUT"]),
        ]
        return [
            Route(base + path + slash, gate.wrap(handler), methods=methods)
            for path, handler, methods in table
            for slash in ("", "/")
        ]


def _method_not_allowed(method: str, allowed: str) -> ApiError:
    return ApiError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}"
    )
