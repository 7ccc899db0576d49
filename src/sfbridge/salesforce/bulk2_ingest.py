"""Bulk API 2.0 ingest: any number of records in, one ``RecordResult`` per record out.

Each job goes: ``POST /jobs/ingest`` (create), ``PUT .../batches`` (the CSV,
201), ``PATCH {"state": "UploadComplete"}`` (close), ``GET .../{id}`` until
final, then ``successfulResults/``, ``failedResults/`` and
``unprocessedrecords/`` (Bulk API 2.0 Developer Guide, "Bulk Ingest"). The
records are cut into jobs of at most ``job_rows`` rows and ``MAX_JOB_BYTES``
of CSV ("Upload Job Data": 150 MB once base64-encoded, about 100 MB raw), and
read from the caller's iterable one job at a time.

**Mapping results back to the input.** Result files come in any order and
carry no row number: ``sf__Id``, ``sf__Created`` or ``sf__Error``, then the
uploaded columns ("Get Job Successful Record Results"). So a result row is
matched by its uploaded cells, exactly as sent; identical input rows are
interchangeable and take their results in input order. Should Salesforce
echo a cell altered, the row is matched by its key column instead (``Id``
for update and deletes, the external id for upsert). A row no result matches
is reported unprocessed, never guessed.

Rows refused with a retriable code (``UNABLE_TO_LOCK_ROW`` in ``sf__Error``)
are sent again, alone, in a follow-up job after a backoff, as many times as
the retry policy allows. A job that ends Failed or Aborted (a spent batch
allocation, a column the object lacks) stops the ingest: its unprocessed rows,
and every row not yet sent, are reported unprocessed with the job's error,
and ``BulkIngestResult.stopped_by`` holds it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .bulk2 import BulkJobInfo, JobClient, JobKind, JobPolling, JobState
from .bulk2_csv import Row, Upload, read_rows, row_error, uploads, write_csv
from .composite import RecordResult
from .errors import SalesforceConfigError, SalesforceError, SalesforceFatalError
from .http import ApiCall, Flow, Sleep
from .ids import is_valid_id, to_18
from .rest import check_name
from .retry import Action, rule_for

MAX_JOB_BYTES = 100 * 1024 * 1024
"""CSV bytes per job: 100 MB raw stays under the 150 MB base64 limit ("Upload Job Data")."""
DEFAULT_JOB_ROWS = 100_000
"""Rows per job: ten of the 10,000-record batches an org counts per job ("Limits")."""


class IngestOperation(StrEnum):
    """What an ingest job does with each row."""

    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"
    HARD_DELETE = "hardDelete"


_DELETES = frozenset({IngestOperation.DELETE, IngestOperation.HARD_DELETE})


@dataclass(frozen=True)
class BulkIngestResult:
    """What an ingest did: ``results[i]`` is the outcome of the caller's record ``i``."""

    object_name: str
    operation: IngestOperation
    results: tuple[RecordResult, ...]
    job_ids: tuple[str, ...]
    """Every job the ingest created, follow-up jobs for retried rows included."""
    unprocessed: tuple[int, ...] = ()
    """Input indexes Salesforce never processed; each result's error says why."""
    stopped_by: SalesforceError | None = None
    """The error of the Failed or Aborted job that stopped the ingest, if one did."""

    @property
    def failures(self) -> tuple[RecordResult, ...]:
        """The results that carry an error (unprocessed rows included)."""
        return tuple(result for result in self.results if not result.success)


class _RowMatcher:
    """Finds the input index a result row belongs to (see the module's docstring)."""

    def __init__(
        self, header: Sequence[str], rows: Sequence[Row], indexes: Sequence[int], key: str | None
    ) -> None:
        self._open = set(indexes)
        self._by_cells: dict[Row, deque[int]] = {}
        self._by_key: dict[str, deque[int]] = {}
        self._key = header.index(key) if key in header else None
        for row, index in zip(rows, indexes, strict=True):
            self._by_cells.setdefault(row, deque()).append(index)
            if self._key is not None and row[self._key]:
                self._by_key.setdefault(_normal(row[self._key]), deque()).append(index)

    def take(self, row: Row) -> int | None:
        """The input index of a result row, no longer open to others; None if none matches."""
        index = self._pop(self._by_cells.get(row))
        if index is None and self._key is not None and row[self._key]:
            index = self._pop(self._by_key.get(_normal(row[self._key])))
        return index

    def _pop(self, queue: deque[int] | None) -> int | None:
        while queue:
            index = queue.popleft()
            if index in self._open:
                self._open.remove(index)
                return index
        return None

    @property
    def unmatched(self) -> list[int]:
        """Input indexes no result row matched."""
        return sorted(self._open)


def _normal(key: str) -> str:
    """A key cell compared loosely: ids in their 18-character form, external ids case-blind."""
    return to_18(key) if is_valid_id(key) else key.lower()


class JobOutcome:
    """The results of one job's rows, read from its result files; pure, no calls.

    ``results`` maps input indexes to their ``RecordResult``; ``unprocessed``
    lists the rows Salesforce never processed, or whose result no row matched.
    """

    def __init__(
        self,
        info: BulkJobInfo,
        header: Sequence[str],
        rows: Sequence[Row],
        indexes: Sequence[int],
        key_column: str | None,
    ) -> None:
        self.info = info
        self.header = list(header)
        self.results: dict[int, RecordResult] = {}
        self.unprocessed: list[int] = []
        self._matcher = _RowMatcher(header, rows, indexes, key_column)
        self._failure = info.failure() if info.state is not JobState.JOB_COMPLETE else None

    def add(self, kind: str, content: bytes) -> None:
        """Take in one result file: ``successfulResults``, ``failedResults`` or unprocessed."""
        rows = read_rows(content)
        names = next(rows, [])
        try:
            positions = [names.index(name) for name in self.header]
        except ValueError:
            raise SalesforceFatalError(
                f"the {kind} of Bulk ingest job {self.info.id} lack uploaded columns: "
                f"got {names}, sent {self.header}",
                object_name=self.info.object_name,
            ) from None
        created = names.index("sf__Created") if "sf__Created" in names else None
        error = names.index("sf__Error") if "sf__Error" in names else None
        for cells in rows:
            index = self._matcher.take(tuple(cells[p] for p in positions))
            if index is None:
                continue
            record_id = (cells[0] or None) if names[0] == "sf__Id" else None
            if created is not None:
                made = cells[created].lower() == "true"
                self.results[index] = RecordResult(index, record_id, created=made)
            elif error is not None:
                refusal = row_error(cells[error], object_name=self.info.object_name, row=index)
                self.results[index] = RecordResult(index, record_id, (refusal,))
            else:
                self._left(index, "left the row unprocessed")

    def finish(self) -> None:
        """Rows no result file mentioned are unprocessed; never guess their outcome."""
        for index in self._matcher.unmatched:
            self._left(index, "returned no result that matches the row; look the record up")

    def _left(self, index: int, what: str) -> None:
        cause = self._failure or SalesforceFatalError(
            f"Bulk ingest job {self.info.id} {what}", object_name=self.info.object_name
        )
        self.results[index] = unprocessed_result(index, cause)
        self.unprocessed.append(index)


def unprocessed_result(index: int, cause: SalesforceError) -> RecordResult:
    """The result of a row Salesforce never processed, with ``cause`` as its error."""
    error = type(cause)(
        f"not processed: {cause.message}",
        error_code=cause.error_code,
        object_name=cause.object_name,
        row=index,
        hint=cause.hint,
    )
    return RecordResult(index, None, (error,))


@dataclass(frozen=True)
class _Job:
    """What each ingest job of one call is asked to do."""

    object_name: str
    operation: IngestOperation
    external_id_field: str | None
    polling: JobPolling

    @property
    def key_column(self) -> str | None:
        """The column that names a row's record, for matching results: Id or the external id."""
        if self.operation is IngestOperation.UPSERT:
            return self.external_id_field
        return None if self.operation is IngestOperation.INSERT else "Id"

    def create_body(self) -> dict[str, str]:
        """The ``POST /jobs/ingest`` body."""
        body = {
            "object": self.object_name,
            "operation": str(self.operation),
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if self.external_id_field is not None:
            body["externalIdFieldName"] = self.external_id_field
        return body


class BulkIngestApi:
    """Flows for ingest jobs."""

    def __init__(self, jobs: JobClient, max_job_bytes: int = MAX_JOB_BYTES) -> None:
        self._jobs = jobs
        self._max_job_bytes = max_job_bytes

    def ingest(
        self,
        object_name: str,
        operation: IngestOperation | str,
        records: Iterable[Mapping[str, Any]],
        *,
        external_id_field: str | None,
        job_rows: int,
        polling: JobPolling,
    ) -> Flow[BulkIngestResult]:
        """Write ``records`` in as many jobs as needed; one result per record, in input order."""
        job = _job(object_name, operation, external_id_field, polling)
        if job_rows < 1:
            raise SalesforceConfigError(f"job_rows {job_rows} must be at least 1")
        results: dict[int, RecordResult] = {}
        unprocessed: list[int] = []
        job_ids: list[str] = []
        stopped_by: SalesforceError | None = None
        batches = uploads(
            records,
            first_columns=[job.key_column] if job.key_column else [],
            only_id=job.operation in _DELETES,
            max_rows=job_rows,
            max_bytes=self._max_job_bytes,
        )
        for batch in batches:
            for index, error in batch.refused.items():
                results[index] = RecordResult(index, None, (error,))
            if stopped_by is not None:
                results.update((i, unprocessed_result(i, stopped_by)) for i in batch.indexes)
                unprocessed.extend(batch.indexes)
                continue
            try:
                outcomes = yield from self._batch(job, batch)
            except SalesforceError as error:
                error.add_note(
                    f"Bulk ingest of {object_name}: jobs {job_ids} finished, "
                    f"{len(results)} rows have results; the rest are unknown"
                )
                raise
            for outcome in outcomes:
                job_ids.append(outcome.info.id)
                results.update(outcome.results)
                unprocessed.extend(outcome.unprocessed)
                if outcome.info.state is not JobState.JOB_COMPLETE:
                    stopped_by = outcome.info.failure()
        return BulkIngestResult(
            object_name=job.object_name,
            operation=job.operation,
            results=tuple(results[i] for i in range(len(results))),
            job_ids=tuple(job_ids),
            unprocessed=tuple(sorted(unprocessed)),
            stopped_by=stopped_by,
        )

    def _batch(self, job: _Job, batch: Upload) -> Flow[list[JobOutcome]]:
        """Run a batch's job, then follow-up jobs for rows refused with a retriable code."""
        outcomes: list[JobOutcome] = []
        rows, indexes, content = batch.rows, batch.indexes, batch.content
        retries = 0
        while rows:
            outcome = yield from self._run_job(job, batch.header, rows, indexes, content)
            outcomes.append(outcome)
            if outcome.info.state is not JobState.JOB_COMPLETE:
                break
            again = [
                p for p, i in enumerate(indexes) if self._retriable(outcome.results[i], retries)
            ]
            if not again:
                break
            retries += 1
            yield Sleep(self._jobs.caller.policy.delay(retries))
            rows, indexes = [rows[p] for p in again], [indexes[p] for p in again]
            content = write_csv(batch.header, rows)
        return outcomes

    def _retriable(self, result: RecordResult, retries: int) -> bool:
        if result.error is None:
            return False
        rule = rule_for(result.error.error_code, 400)
        policy = self._jobs.caller.policy
        return rule.action is Action.RETRY and retries + 1 < policy.attempts(rule)

    def _run_job(
        self, job: _Job, header: list[str], rows: list[Row], indexes: list[int], content: bytes
    ) -> Flow[JobOutcome]:
        """One job: create, upload, close, wait, then read its result files."""
        caller, jobs = self._jobs.caller, self._jobs
        created = yield from caller.json(
            ApiCall(
                "POST",
                jobs.path(JobKind.INGEST),
                json=job.create_body(),
                object_name=job.object_name,
            )
        )
        job_id = str(created["id"])
        upload = ApiCall(
            "PUT",
            jobs.path(JobKind.INGEST, job_id, "batches"),
            content=content,
            headers={"Content-Type": "text/csv"},
            object_name=job.object_name,
        )
        yield from self._sent_once(upload)
        close = ApiCall(
            "PATCH",
            jobs.path(JobKind.INGEST, job_id),
            json={"state": str(JobState.UPLOAD_COMPLETE)},
            object_name=job.object_name,
        )
        yield from self._sent_once(close)
        info = yield from jobs.wait(JobKind.INGEST, job_id, job.polling)
        outcome = JobOutcome(info, header, rows, indexes, job.key_column)
        for kind in _result_kinds(info, len(rows)):
            path = jobs.path(JobKind.INGEST, job_id, kind) + "/"
            response = yield from caller.call(
                ApiCall("GET", path, headers={"Accept": "text/csv"}, object_name=job.object_name)
            )
            outcome.add(kind, response.content)
        outcome.finish()
        return outcome

    def _sent_once(self, call: ApiCall) -> Flow[None]:
        """Send an upload or a close; a repeat refused because the first try arrived is fine.

        When an answer is lost after Salesforce took the request, the retry
        meets ``INVALIDJOBSTATE`` (one upload per job; only an Open job
        closes). The job's state, read next, tells what really happened.
        """
        try:
            yield from self._jobs.caller.call(call)
        except SalesforceError as error:
            if error.error_code != "INVALIDJOBSTATE" or (error.attempts or 1) < 2:
                raise


def _job(
    object_name: str,
    operation: IngestOperation | str,
    external_id_field: str | None,
    polling: JobPolling,
) -> _Job:
    try:
        chosen = IngestOperation(operation)
    except ValueError:
        names = ", ".join(op.value for op in IngestOperation)
        raise SalesforceConfigError(
            f"Bulk ingest operation {operation!r} is not one of {names}"
        ) from None
    if (chosen is IngestOperation.UPSERT) != (external_id_field is not None):
        raise SalesforceConfigError(
            "external_id_field is required for an upsert, and only for an upsert "
            f"(operation {chosen}, external_id_field {external_id_field!r})"
        )
    if external_id_field is not None:
        check_name(external_id_field, "field")
    return _Job(check_name(object_name), chosen, external_id_field, polling)


def _result_kinds(info: BulkJobInfo, rows: int) -> list[str]:
    """The result files worth asking for: a completed job's counts tell which are empty."""
    if info.state is not JobState.JOB_COMPLETE:
        return ["successfulResults", "failedResults", "unprocessedrecords"]
    kinds = []
    if info.records_processed > info.records_failed:
        kinds.append("successfulResults")
    if info.records_failed:
        kinds.append("failedResults")
    if info.records_processed < rows:
        kinds.append("unprocessedrecords")
    return kinds
