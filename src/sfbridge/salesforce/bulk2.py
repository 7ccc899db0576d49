"""Bulk API 2.0: what query and ingest jobs share (job paths, job info, waiting for a job).

A job lives at ``/services/data/vNN.N/jobs/{query|ingest}/{id}`` and moves
``Open -> UploadComplete -> InProgress -> JobComplete | Failed | Aborted``
(Bulk API 2.0 Developer Guide, "Job States"). There is no push: a client
asks ``GET .../{id}`` until the state is final. ``wait_for_job`` asks at once
(small jobs are often done), then with growing pauses, and gives up after
``JobPolling.timeout`` of waiting, since jobs stuck ``InProgress`` do happen.

Every call goes through ``ApiCaller``: retries, token refresh, metering and
the budget apply to Bulk calls as to REST ones. The query and ingest flows
are in ``bulk2_query.py`` and ``bulk2_ingest.py``, the CSV in ``bulk2_csv.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import (
    SalesforceConfigError,
    SalesforceError,
    SalesforceFatalError,
    SalesforceRetriableError,
)
from .http import ApiCall, ApiCaller, Flow, Sleep
from .retry import rule_for


class JobKind(StrEnum):
    """The two kinds of Bulk API 2.0 jobs, as they appear in the path."""

    QUERY = "query"
    INGEST = "ingest"


class JobState(StrEnum):
    """The states of a Bulk API 2.0 job ("Job States")."""

    OPEN = "Open"
    UPLOAD_COMPLETE = "UploadComplete"
    IN_PROGRESS = "InProgress"
    JOB_COMPLETE = "JobComplete"
    FAILED = "Failed"
    ABORTED = "Aborted"


FINAL_STATES = frozenset({JobState.JOB_COMPLETE, JobState.FAILED, JobState.ABORTED})

# The first word of a Failed ingest job's errorMessage ("InvalidBatch : Field name
# not found : Foo__c"), for codes the REST retry table does not know (Bulk API 2.0
# Developer Guide, "Errors"; "Bulk API and Bulk API 2.0 Limits and Allocations").
_JOB_ERRORS: Mapping[str, tuple[type[SalesforceError], str]] = {
    "InvalidBatch": (SalesforceConfigError, "Fix the column names or the data and run it again."),
    "ClientInputError": (SalesforceConfigError, "Fix the data and run it again."),
    "InvalidJob": (SalesforceConfigError, "Fix the job's settings and run it again."),
    "ExceededQuota": (
        SalesforceFatalError,
        "The org's daily Bulk API batch allocation (DailyBulkApiBatches) is used up: "
        "resume the rows left unprocessed when the rolling 24-hour window frees batches.",
    ),
}
_CODE = re.compile(r"^\s*([A-Za-z][A-Za-z_]*)\s*:")


@dataclass(frozen=True)
class JobPolling:
    """How long to wait between two looks at a running job, and for how long in all.

    The first look is immediate; then ``first_delay`` seconds, doubling up to
    ``max_delay``. A job still running after ``timeout`` seconds of waiting
    raises a retriable error naming it. ``on_wait`` hears every look that
    finds the job still running, before the pause: a long job then keeps its
    caller's own liveness signal going (a sync run's heartbeat).
    """

    first_delay: float = 0.5
    max_delay: float = 15.0
    timeout: float = 6 * 60 * 60.0
    on_wait: Callable[[BulkJobInfo], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.first_delay <= 0 or self.max_delay < self.first_delay or self.timeout < 0:
            raise SalesforceConfigError(
                f"JobPolling({self.first_delay}, {self.max_delay}, {self.timeout}): delays must "
                "be positive, max_delay at least first_delay, and timeout not negative"
            )

    def delays(self) -> Iterator[float]:
        """The pauses between looks: ``first_delay``, doubling, capped at ``max_delay``."""
        delay = self.first_delay
        while True:
            yield delay
            delay = min(self.max_delay, delay * 2)


DEFAULT_POLLING = JobPolling()


@dataclass(frozen=True)
class BulkJobInfo:
    """What ``GET .../jobs/{kind}/{id}`` says about a job."""

    id: str
    kind: JobKind
    state: JobState
    object_name: str
    operation: str
    error_message: str | None = None
    records_processed: int = 0
    records_failed: int = 0

    @classmethod
    def from_json(cls, kind: JobKind, body: Mapping[str, Any]) -> BulkJobInfo:
        """From a job info answer (create, close, get)."""
        return cls(
            id=str(body["id"]),
            kind=kind,
            state=JobState(str(body["state"])),
            object_name=str(body.get("object") or ""),
            operation=str(body.get("operation") or ""),
            error_message=body.get("errorMessage") or None,
            records_processed=int(body.get("numberRecordsProcessed") or 0),
            records_failed=int(body.get("numberRecordsFailed") or 0),
        )

    def failure(self) -> SalesforceError:
        """The error a Failed or Aborted job stands for, classed by its errorMessage's code.

        A query job reports a REST errorCode (``INVALID_FIELD : ...``), which
        the retry table classes; an ingest job a Bulk one (``InvalidBatch :``).
        """
        text = self.error_message or f"the job was {self.state} before it finished"
        match = _CODE.match(text)
        code = match.group(1) if match else ""
        rule = rule_for(code, None)
        error_class, hint = _JOB_ERRORS.get(code, (rule.error, rule.hint))
        return error_class(
            f"Bulk {self.kind} job {self.id} on {self.object_name or 'the org'} ended "
            f"{self.state}: {text}",
            error_code=code,
            object_name=self.object_name or None,
            hint=hint,
        )


class JobClient:
    """The job calls both kinds make: paths, job info, waiting until a job is done."""

    def __init__(self, caller: ApiCaller) -> None:
        self.caller = caller

    def path(self, kind: JobKind, *segments: str) -> str:
        """``/services/data/vNN.N/jobs/{kind}/<segments>``."""
        return self.caller.data_path("jobs", str(kind), *segments)

    def info(self, kind: JobKind, job_id: str) -> Flow[BulkJobInfo]:
        """The job's current info."""
        body = yield from self.caller.json(ApiCall("GET", self.path(kind, job_id)))
        return BulkJobInfo.from_json(kind, body)

    def wait(self, kind: JobKind, job_id: str, polling: JobPolling) -> Flow[BulkJobInfo]:
        """Ask until the job is JobComplete, Failed or Aborted; its final info."""
        waited = 0.0
        delays = polling.delays()
        while True:
            info = yield from self.info(kind, job_id)
            if info.state in FINAL_STATES:
                return info
            if polling.on_wait is not None:
                polling.on_wait(info)
            delay = next(delays)
            if waited + delay > polling.timeout:
                raise SalesforceRetriableError(
                    f"Bulk {kind} job {job_id} is still {info.state} after {waited:.0f} s",
                    object_name=info.object_name or None,
                    hint="Look at the job in Setup > Bulk Data Load Jobs; abort it or wait longer "
                    "(JobPolling.timeout).",
                )
            waited += delay
            yield Sleep(delay)
