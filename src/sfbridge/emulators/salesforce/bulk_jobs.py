"""What Bulk API 2.0 ingest and query jobs share: ids, states, job-info JSON, the job list.

A job has a ``750`` id, belongs to the user who created it and moves through
``Open -> UploadComplete -> InProgress -> JobComplete | Failed``, or to
``Aborted`` (Bulk API 2.0 Developer Guide, "Job States"). Jobs live in
memory, as long as the emulator runs; their ids come from a sequence kept in
the org's database, so they never repeat across restarts. Processing runs on
a background thread per job, so a client polls the job as it would a real
org's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sfbridge.salesforce.ids import is_valid_id, make_id, to_18

from .api_errors import ApiError, json_parser_error, not_found
from .bulk_csv import CsvFormat
from .codec import datetime_to_json
from .org import Org, UserInfo

JOB_KEY_PREFIX = "750"


class JobState(StrEnum):
    """The states of a Bulk API 2.0 job."""

    OPEN = "Open"
    UPLOAD_COMPLETE = "UploadComplete"
    IN_PROGRESS = "InProgress"
    JOB_COMPLETE = "JobComplete"
    FAILED = "Failed"
    ABORTED = "Aborted"


RUNNING = frozenset({JobState.UPLOAD_COMPLETE, JobState.IN_PROGRESS})


def invalid_state(message: str) -> ApiError:
    """400 INVALIDJOBSTATE: the request does not fit the job's state (Bulk API 2.0 "Errors")."""
    return ApiError(400, "INVALIDJOBSTATE", message)


@dataclass
class BulkJob:
    """One job: who made it, with which API version, and how far it got."""

    JOB_TYPE: ClassVar[str] = ""

    id: str
    operation: str
    object_name: str
    user: UserInfo
    api_version: str
    created: str
    fmt: CsvFormat
    state: JobState
    modstamp: str = ""
    records_processed: int = 0
    error_message: str | None = None
    processing_ms: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stopped(self) -> bool:
        """True once the job was aborted or deleted: its worker stops at the next check."""
        return self.cancelled.is_set()

    def summary(self) -> dict[str, Any]:
        """The fields every job-info answer carries (create, close, abort, list)."""
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": self.user.id,
            "createdDate": datetime_to_json(self.created),
            "systemModstamp": datetime_to_json(self.modstamp or self.created),
            "state": str(self.state),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            # A JSON number, not a string: 62.0 (Bulk API 2.0 "Create a Job" examples).
            "apiVersion": float(self.api_version),
            "jobType": self.JOB_TYPE,
            "lineEnding": self.fmt.line_ending,
            "columnDelimiter": self.fmt.column_delimiter,
        }

    def progress(self) -> dict[str, Any]:
        """The counters ``GET .../jobs/{kind}/{id}`` adds, and ``errorMessage`` once Failed."""
        details: dict[str, Any] = {
            "numberRecordsProcessed": self.records_processed,
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
        }
        if self.error_message is not None:
            details["errorMessage"] = self.error_message
        return details


JobT = TypeVar("JobT", bound=BulkJob)


class JobBoard(Generic[JobT]):
    """The org's jobs of one kind (ingest or query), by id."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._jobs: dict[str, JobT] = {}
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """A fresh ``750`` id; ingest and query jobs share the sequence."""
        return make_id(JOB_KEY_PREFIX, self.org.store.reserve("BulkJob", 1))

    def add(self, job: JobT) -> JobT:
        """Register a new job; returns it."""
        with self._lock:
            self._jobs[job.id] = job
        return job

    def get(self, raw_id: str) -> JobT:
        """The job with this 15- or 18-character id; 404 NOT_FOUND when there is none."""
        job_id = to_18(raw_id) if is_valid_id(raw_id) else raw_id
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def remove(self, job: JobT) -> None:
        """Forget a job; a worker still running it stops at its next check."""
        job.cancelled.set()
        with self._lock:
            self._jobs.pop(job.id, None)

    def delete(self, job: JobT) -> None:
        """``DELETE .../jobs/{kind}/{id}``: only a closed job (Bulk API 2.0 "Delete a Job")."""
        if job.state in {JobState.OPEN, JobState.IN_PROGRESS}:
            raise invalid_state(f"Job {job.id} is {job.state}; only a closed job can be deleted")
        self.remove(job)

    def listing(self) -> dict[str, Any]:
        """``GET .../jobs/{kind}``: every job, oldest first, in one page."""
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.id)
        return {"done": True, "records": [job.summary() for job in jobs], "nextRecordsUrl": None}

    def advance(
        self,
        job: JobT,
        state: JobState,
        allowed_from: frozenset[JobState],
        error_message: str | None = None,
    ) -> bool:
        """Move ``job`` to ``state`` if it is in one of ``allowed_from``; False otherwise.

        One lock per job makes an abort and a worker's own last step exclusive:
        whichever comes first wins, as on a real org.
        """
        with job.lock:
            if job.state not in allowed_from:
                return False
            job.state = state
            job.modstamp = self.org.store.clock.stamp()
            if error_message is not None:
                job.error_message = error_message
            return True

    def run_in_background(self, job: JobT, work: Callable[[JobT], None]) -> None:
        """Process ``job`` on its own thread; any crash ends it Failed, never stuck."""

        def run() -> None:
            started = time.perf_counter()
            try:
                work(job)
            except Exception as exc:  # a job must reach a final state, as a real one does
                message = f"Unknown : {type(exc).__name__}: {exc}"
                self.advance(job, JobState.FAILED, RUNNING, message)
            finally:
                job.processing_ms = int((time.perf_counter() - started) * 1000)

        threading.Thread(target=run, name=f"bulk-job-{job.id}", daemon=True).start()


def job_request(body: Any, operations: Collection[str]) -> dict[str, Any]:
    """The JSON body of a job-creation request, with its ``operation`` checked."""
    if not isinstance(body, dict):
        raise json_parser_error("The request body must be a JSON object describing the job.")
    operation = body.get("operation")
    if operation not in operations:
        raise json_parser_error(
            f"Cannot deserialize value {operation!r} for operation: no such enum value"
        )
    return body
