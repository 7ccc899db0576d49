"""Running one sync: read a window of changes, deliver it, and move the cursor.

``run_sync`` owns the loop (DESIGN.md, "How a sync runs"); ``plan`` decides
what to read, ``records`` and ``deletes`` what it becomes, the destinations
make it durable and ``SyncState`` (``store.SyncStore``) remembers it::

    summary = run_sync(spec, client=client, destinations=[warehouse], state=store,
                       now=lambda: datetime.now(UTC))

One page at a time: read it (REST keyset paging on ``(SystemModstamp, Id)``,
or one Bulk API 2.0 results page), drop what the previous window's overlap
already sent, map it, deliver it to every destination, and only when every
destination settled it commit a checkpoint. A destination that did not settle
stops the run as failed without that checkpoint; the next run sends the page
again (destinations are idempotent by message id).

Inside a window the checkpoint keeps the previous cursor and boundary keys
and adds a resume state (``_Resume``): the window, where reading stands and
the boundary keys collected so far. A run that finds one (its predecessor
died or failed mid-way) finishes that same window first, so nothing is lost
or sent twice; the next run plans a new window from its end.

A Bulk read selects address and location fields as their components (a
parent's too: ``Account.BillingAddress``); the record mapper rebuilds each
compound as REST gives it, so both APIs deliver the same messages.
Salesforce deletes finished Bulk jobs after some days: a resume whose job
is gone reads the same window again over REST from its start (destinations
drop repeated message ids, the boundary keys what the previous window
sent), and the run notes it in ``warnings``.

A REST query travels in a URL, limited to 16 KB (pain point 4, "URI Too
Long"). When a sync reads more fields than a URL holds, each keyset page is
read in parts: the same window query, ``after`` and limit once per group of
fields (``plan.split_fields``), joined by Id (``plan.stitch_page``). A record
written between the part reads is left to the next window, which reads it
whole; the run says how many in ``warnings``.

A window has up to three phases, each resumable: its changed records, its
deletes, and (when ``formula_refresh`` says it is due) a formula refresh of
the records it did not read (``formula_refresh.py``). The cursor moves, and
the refresh counts as done, only once all of them are delivered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sfbridge.destinations import DeliveryResult, Destination
from sfbridge.errors import FatalError, SfbridgeError
from sfbridge.messages import Message
from sfbridge.salesforce.bulk2 import JobPolling
from sfbridge.salesforce.bulk2_query import BulkQueryResult
from sfbridge.salesforce.client import SalesforceClient
from sfbridge.salesforce.describe import ObjectDescribe
from sfbridge.salesforce.errors import SalesforceConfigError, SalesforceError
from sfbridge.salesforce.rest import Record
from sfbridge.salesforce.soql_parser import MAX_QUERY_LENGTH
from sfbridge.salesforce.soql_validate import ValidatedFilter
from sfbridge.store.syncs import (
    AlreadyRunning,
    CursorState,
    FailedItem,
    RunCounts,
    RunRecord,
    RunStatus,
    RunTrigger,
)

from .deletes import DeletedRecord, delete_messages
from .formula_refresh import RefreshMapper, refresh_due, refresh_spec, refresh_window
from .plan import (
    BULK_PAGE_ROWS,
    BULK_THRESHOLD,
    DEFAULT_CURSOR,
    REST_PAGE_ROWS,
    CursorSettings,
    ReadApi,
    RecordKey,
    Window,
    boundary_keys,
    choose_api,
    dedupe,
    deletes_select,
    expand_compound,
    plan_window,
    record_key,
    select_for_window,
    split_fields,
    stitch_page,
)
from .records import RecordMapper, RecordMappingError, json_value
from .spec import DeletePolicy, SyncSpec
from .spec_check import check_against_describe


class SyncState(Protocol):
    """What a run needs from the sync store (``store.SyncStore`` is one)."""

    def cursor(self, name: str) -> CursorState | None:
        """Where the next run of ``name`` starts."""

    def start_run(self, name: str, trigger: RunTrigger, window: Window) -> RunRecord:
        """Start a run; ``AlreadyRunning`` while another one is alive."""

    def heartbeat(self, run_id: int) -> None:
        """Say the run is alive between checkpoints (a long Bulk job)."""

    def commit_checkpoint(
        self,
        run_id: int,
        cursor: datetime | None,
        boundary_keys: Iterable[RecordKey],
        resume_state: dict[str, Any] | None,
        counts_delta: RunCounts,
        failures: Sequence[FailedItem] = (),
        *,
        formula_refreshed_at: datetime | None = None,
    ) -> CursorState:
        """Save the cursor, counts and failed records of a settled batch, atomically.

        ``formula_refreshed_at`` replaces the saved refresh time when given.
        """

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        counts: RunCounts | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """End a run with a final status."""


@dataclass(frozen=True)
class RunSummary:
    """What one ``run_sync`` call did.

    ``status`` is ``skipped`` with no ``run_id`` when another run of the
    sync was in progress; ``resumed`` says the run finished a window a
    previous run had left unfinished. ``warnings`` say what went otherwise
    than planned without failing the run (a successful run's record keeps
    them as its ``error``). ``refresh_api`` is the API a formula refresh
    read with, ``None`` when the run did not refresh (``counts.refreshed``
    says how many records it sent again).
    """

    sync: str
    status: RunStatus
    window: Window
    counts: RunCounts = field(default_factory=RunCounts)
    run_id: int | None = None
    api: ReadApi | None = None
    refresh_api: ReadApi | None = None
    resumed: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()


class _Phase(StrEnum):
    """Which part of a window a run is reading, in this order."""

    RECORDS = "records"
    DELETES = "deletes"
    REFRESH = "refresh"
    """The formula refresh (``formula_refresh.py``), only when it is due."""
    REFRESHED = "refreshed"
    """The refresh is delivered; only the window's final checkpoint is left."""


@dataclass(frozen=True)
class _Resume:
    """Where an unfinished window goes on: saved as ``resume_state`` with each checkpoint.

    ``api`` is the phase's API; ``after`` is the last REST key delivered;
    ``job_id`` and ``locator`` the Bulk job and its next results page.
    ``boundary`` holds the keys the next window must not send again,
    collected from the pages already read.
    """

    window: Window
    phase: _Phase
    api: ReadApi
    boundary: frozenset[RecordKey]
    after: RecordKey | None = None
    job_id: str | None = None
    locator: str | None = None

    def dump(self) -> dict[str, Any]:
        """As JSON values for the store."""
        return {
            "window_start": _iso(self.window.start),
            "window_end": self.window.end.isoformat(),
            "phase": self.phase.value,
            "api": self.api.value,
            "after": None if self.after is None else _dump_key(self.after),
            "job_id": self.job_id,
            "locator": self.locator,
            "boundary": [_dump_key(key) for key in sorted(self.boundary)],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> _Resume:
        """From ``dump``'s values."""
        start = data["window_start"]
        return cls(
            window=Window(
                None if start is None else datetime.fromisoformat(start),
                datetime.fromisoformat(data["window_end"]),
            ),
            phase=_Phase(data["phase"]),
            api=ReadApi(data["api"]),
            boundary=frozenset(_load_key(key) for key in data["boundary"]),
            after=None if data["after"] is None else _load_key(data["after"]),
            job_id=data["job_id"],
            locator=data["locator"],
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _dump_key(key: RecordKey) -> list[str]:
    return [key.id, key.modstamp.isoformat()]


def _load_key(data: list[str]) -> RecordKey:
    return RecordKey(data[0], datetime.fromisoformat(data[1]))


class _BulkJobGone(Exception):
    """The Bulk job a resume would go on with no longer exists (Salesforce deleted it)."""

    def __init__(self, job_id: str, error: SalesforceError, phase: _Phase) -> None:
        self.job_id = job_id
        what = "formula refresh" if phase is _Phase.REFRESH else "window"
        super().__init__(
            f"Bulk job {job_id} no longer exists ({error}); the {what} was read again "
            "over REST from its start"
        )


def _job_gone(error: SalesforceError) -> bool:
    """True when ``error`` says the job asked for does not exist (deleted after some days)."""
    return error.error_code == "NOT_FOUND" or error.status == 404


class _Unsettled(Exception):
    """A destination left messages waiting for another try: the page is not checkpointed."""

    def __init__(self, result: DeliveryResult) -> None:
        waiting = [o for o in result.failed if o.retriable]
        super().__init__(
            f"destination {result.destination!r} did not take {len(waiting)} message(s) "
            f"({waiting[0].reason}); the next run sends them again"
        )


def run_sync(
    spec: SyncSpec,
    *,
    client: SalesforceClient,
    destinations: Sequence[Destination],
    state: SyncState,
    now: Callable[[], datetime],
    settings: CursorSettings = DEFAULT_CURSOR,
    page_size: int = REST_PAGE_ROWS,
    bulk_page_size: int = BULK_PAGE_ROWS,
    resync: bool = False,
    trigger: RunTrigger = RunTrigger.SCHEDULE,
    bulk_threshold: int = BULK_THRESHOLD,
    object_type_id: str | None = None,
) -> RunSummary:
    """Run ``spec`` once: deliver its changed and deleted records since the last run.

    ``now`` is the clock that cuts the window (best Salesforce's, see
    ``plan_window``). ``resync`` reads every record again, ignoring the
    cursor and any unfinished window. A window holding more than
    ``bulk_threshold`` records is read with Bulk API 2.0, ``bulk_page_size``
    rows per results page and checkpoint (REST pages hold ``page_size``). ``object_type_id``
    is the resolved type of an object or relationship sync whose spec names none.
    A sync with ``formula_refresh`` whose last refresh is that old, as of
    ``now``, ends the window with one (``formula_refresh.py``).
    Errors Salesforce or a destination report end the run as failed (in the
    summary); anything else also ends it, then propagates.
    """
    moment = now()
    # Read before start_run, which needs the window. A run that finishes in
    # between leaves this one a stale cursor: it reads again what that run
    # sent (destinations drop repeated message ids) and loses nothing.
    saved = None if resync else state.cursor(spec.name)
    resume = None
    if saved is not None and saved.resume_state is not None:
        resume = _Resume.load(saved.resume_state)
    if resume is not None:
        window = resume.window
    else:
        window = plan_window(None if saved is None else saved.cursor, moment, settings)
    try:
        run = state.start_run(spec.name, RunTrigger.RESYNC if resync else trigger, window)
    except AlreadyRunning as error:
        # Overlapping intervals never run in parallel: the one in progress reads these changes.
        return RunSummary(spec.name, RunStatus.SKIPPED, window, error=str(error))
    engine = _Run(
        spec,
        client=client,
        destinations=destinations,
        state=state,
        settings=settings,
        page_size=page_size,
        bulk_page_size=bulk_page_size,
        bulk_threshold=bulk_threshold,
        run_id=run.id,
        window=window,
        saved=saved,
        object_type_id=object_type_id,
        refresh=refresh_due(spec, None if saved is None else saved.formula_refreshed_at, moment),
    )
    return engine.execute(resume)


class _Run:
    """One started run: reads pages, delivers them and checkpoints, until the window is done."""

    def __init__(
        self,
        spec: SyncSpec,
        *,
        client: SalesforceClient,
        destinations: Sequence[Destination],
        state: SyncState,
        settings: CursorSettings,
        page_size: int,
        bulk_page_size: int,
        bulk_threshold: int,
        run_id: int,
        window: Window,
        saved: CursorState | None,
        object_type_id: str | None,
        refresh: bool,
    ) -> None:
        self.spec = spec
        self.client = client
        self.destinations = destinations
        self.state = state
        self.settings = settings
        self.page_size = page_size
        self.bulk_page_size = bulk_page_size
        self.bulk_threshold = bulk_threshold
        self.run_id = run_id
        self.window = window
        self.previous_cursor = None if saved is None else saved.cursor
        # The previous window's boundary: what its overlap with this one already sent.
        self.seen = frozenset[RecordKey]() if saved is None else saved.boundary_keys
        self.mapper = RecordMapper(spec, object_type_id=object_type_id)
        self.object_type_id = object_type_id
        # Due as of the run's start; a first run or a resync reads every field anyway.
        self.refresh = refresh and window.start is not None
        self.refresher: RefreshMapper | None = None
        self.calls_mark = client.api_calls
        self.counts = RunCounts()
        self.api: ReadApi | None = None
        self.refresh_api: ReadApi | None = None
        self.warnings: list[str] = []

    def execute(self, resume: _Resume | None) -> RunSummary:
        """Read and deliver the whole window, then finish the run; never leaves it running."""
        try:
            status = self._read_window(resume)
            self._finish(status, "; ".join(self.warnings) or None)
            return self._summary(status, resume)
        except (_Unsettled, SfbridgeError) as error:
            self._finish(RunStatus.FAILED, str(error))
            return self._summary(RunStatus.FAILED, resume, str(error))
        except Exception as error:
            self._finish(RunStatus.FAILED, f"{type(error).__name__}: {error}")
            raise

    def _summary(
        self, status: RunStatus, resume: _Resume | None, error: str | None = None
    ) -> RunSummary:
        return RunSummary(
            self.spec.name,
            status,
            self.window,
            self.counts,
            self.run_id,
            self.api,
            self.refresh_api,
            resumed=resume is not None,
            error=error,
            warnings=tuple(self.warnings),
        )

    def _finish(self, status: RunStatus, error: str | None = None) -> None:
        rest = self._take_calls(RunCounts())
        self.counts += rest
        # A run the store already ended (taken over after a long pause) cannot
        # be finished again; the run that took over owns the sync now.
        with contextlib.suppress(FatalError):
            self.state.finish_run(self.run_id, status, rest, error)

    def _take_calls(self, counts: RunCounts) -> RunCounts:
        """``counts`` with the API calls made since the last time they were taken."""
        calls = self.client.api_calls
        taken = replace(counts, api_calls=calls - self.calls_mark)
        self.calls_mark = calls
        return taken

    # -- the window ------------------------------------------------------------

    def _read_window(self, resume: _Resume | None) -> RunStatus:
        if self.window.is_empty:
            return RunStatus.SKIPPED
        describe = self.client.describe(self.spec.object)
        check = check_against_describe(self.spec, describe, self._related)
        check.raise_if_invalid()
        # With the describes, a Bulk record's address components become the compound.
        self.mapper = RecordMapper(
            self.spec,
            object_type_id=self.object_type_id,
            describe=describe,
            related=self._related,
        )
        self.refresher = self._refresher(check.refresh_fields, describe)
        if resume is None:
            resume = _Resume(
                self.window,
                _Phase.RECORDS,
                self._choose_api(_Phase.RECORDS, describe, check.filter),
                frozenset(),
            )
        if resume.phase in (_Phase.RECORDS, _Phase.DELETES):
            self.api = resume.api
        if resume.phase is _Phase.RECORDS:
            resume = _next(self._read_phase(resume, describe, check.filter), _Phase.DELETES)
        if resume.phase is _Phase.DELETES:
            if self.spec.delete_policy != DeletePolicy.IGNORE and self.window.start is not None:
                resume = self._read_rest(resume, check.filter)
            if self.refresh:
                resume = self._start_refresh(resume, describe, check.filter)
        if resume.phase is _Phase.REFRESH:
            # None if the spec changed since the refresh began and sends no such field now.
            if self.refresher is not None:
                self.refresh_api = resume.api
                resume = self._read_phase(resume, describe, check.filter)
            resume = _next(resume, _Phase.REFRESHED)
        # A first run or a resync read every field of every record: a refresh in itself.
        refreshed = self.window.start is None or resume.phase is _Phase.REFRESHED
        boundary = {key for key in resume.boundary if key.modstamp >= self._boundary_since}
        final = self._take_calls(RunCounts())
        self.counts += final
        self.state.commit_checkpoint(
            self.run_id,
            self.window.end,
            boundary,
            None,
            final,
            formula_refreshed_at=self.window.end if refreshed else None,
        )
        return RunStatus.PARTIAL if self.counts.failed else RunStatus.SUCCEEDED

    @property
    def _polling(self) -> JobPolling:
        """Bulk job polling that heartbeats: a job Salesforce takes long over is no dead run."""
        return JobPolling(on_wait=lambda _info: self.state.heartbeat(self.run_id))

    @property
    def _boundary_since(self) -> datetime:
        return self.window.end - self.settings.overlap

    def _related(self, name: str) -> ObjectDescribe | None:
        """A lookup target's describe for the spec check; None for an object the user cannot see."""
        try:
            return self.client.describe(name)
        except SalesforceConfigError:
            return None

    def _choose_api(
        self, phase: _Phase, describe: ObjectDescribe, where: ValidatedFilter | None
    ) -> ReadApi:
        """Bulk for more than ``bulk_threshold`` records in the phase's window, REST otherwise.

        Bulk reads address and location fields as their components, which
        the record mapper (built with the describes) puts back together.
        A Bulk query longer than Salesforce's 100,000-character SOQL limit
        (hundreds of long field names) is read over REST, in parts.
        """
        window, _ = self._scope(phase)
        query = select_for_window(self.spec, window, (), where=where)
        # Select.count() is the whole COUNT() query; the client's count takes its condition.
        prefix = f"SELECT COUNT() FROM {query.sobject}"
        condition = query.count().removeprefix(prefix).removeprefix(" WHERE ")
        api = choose_api(
            self.client.count(self.spec.object, condition), threshold=self.bulk_threshold
        )
        if api is ReadApi.REST:
            return api
        too_long = len(self._bulk_select(phase, describe, where)) > MAX_QUERY_LENGTH
        return ReadApi.REST if too_long else api

    # -- the formula refresh ---------------------------------------------------

    def _refresher(
        self, refresh_fields: Sequence[str], describe: ObjectDescribe
    ) -> RefreshMapper | None:
        """The refresh's mapper; None when the sync sends none of ``refresh_fields``."""
        spec = refresh_spec(self.spec, refresh_fields)
        if spec is None:
            return None
        return RefreshMapper(
            spec,
            as_of=self.window.end,
            object_type_id=self.object_type_id,
            describe=describe,
            related=self._related,
        )

    def _start_refresh(
        self, resume: _Resume, describe: ObjectDescribe, where: ValidatedFilter | None
    ) -> _Resume:
        """The resume state that reads the refresh; past it when there is nothing to send."""
        if self.refresher is None:
            return _next(resume, _Phase.REFRESHED)
        api = self._choose_api(_Phase.REFRESH, describe, where)
        return _next(resume, _Phase.REFRESH, api)

    # -- reading a phase -------------------------------------------------------

    def _read_phase(
        self, resume: _Resume, describe: ObjectDescribe, where: ValidatedFilter | None
    ) -> _Resume:
        """Read the rest of the records or refresh phase with its API; the resume state after it."""
        if resume.api is ReadApi.REST:
            return self._read_rest(resume, where)
        try:
            return self._read_bulk(resume, describe, where)
        except _BulkJobGone as gone:
            self.warnings.append(str(gone))
            # From the phase's start: the pages read before are sent again,
            # and destinations drop the repeated message ids.
            if resume.phase is _Phase.REFRESH:
                self.refresh_api = ReadApi.REST
            else:
                self.api = ReadApi.REST
            return self._read_rest(
                replace(resume, api=ReadApi.REST, after=None, job_id=None, locator=None), where
            )

    def _scope(self, phase: _Phase) -> tuple[Window, list[str]]:
        """What the records or refresh phase reads: its window and the fields it selects."""
        if phase is _Phase.REFRESH:
            assert self.refresher is not None
            return refresh_window(self.window), list(self.refresher.read_fields)
        return self.window, list(self.spec.read_fields)

    def _read_rest(self, resume: _Resume, where: ValidatedFilter | None) -> _Resume:
        """Read the rest of ``resume``'s phase a keyset page at a time; the resume state after it.

        Each page continues after the last ``(SystemModstamp, Id)`` delivered,
        so records sharing a stamp across a page edge are neither lost nor
        repeated. A page of more fields than one query URL holds is read in
        parts, one query per group of fields, and stitched (``stitch_page``).
        """
        deferred = 0
        while True:
            parts = self._read_parts(resume, where)
            page = stitch_page(parts, self.page_size)
            deferred += len(page.deferred_ids)
            if page.after is None:
                break
            resume = self._page(page.records, resume.phase, replace(resume, after=page.after))
            if page.done:
                break
        if deferred:
            self.warnings.append(
                f"{deferred} record(s) changed between the {len(parts)} queries that read "
                f"each page of the {_PHASE_NAMES[resume.phase]}; left for the next run, "
                "which reads them whole"
            )
        return resume

    def _read_parts(self, resume: _Resume, where: ValidatedFilter | None) -> list[list[Record]]:
        """The next REST page of ``resume``'s phase, as one query per group of fields."""
        if resume.phase is _Phase.DELETES:
            # Id, SystemModstamp and the identifiers: always one query.
            query = deletes_select(
                self.spec, self.window, where=where, after=resume.after, limit=self.page_size
            )
            return [list(self.client.query_all(query.soql()))]
        window, fields = self._scope(resume.phase)
        queries = [
            select_for_window(
                self.spec, window, group, where=where, after=resume.after, limit=self.page_size
            )
            for group in split_fields(fields)
        ]
        return [list(self.client.query(query.soql())) for query in queries]

    def _read_bulk(
        self, resume: _Resume, describe: ObjectDescribe, where: ValidatedFilter | None
    ) -> _Resume:
        """Read the records or refresh phase with one Bulk API 2.0 job, a results page at a time.

        A Bulk job has no order, so the resume point is the job and its next
        locator. Salesforce deletes finished jobs after some days; a resume
        of one already gone raises ``_BulkJobGone`` (the phase is then read over REST).
        """
        phase = resume.phase
        result: BulkQueryResult
        if resume.job_id is None:
            query = self._bulk_select(phase, describe, where)
            result = self.client.bulk_query(
                query, page_size=self.bulk_page_size, polling=self._polling
            )
        else:
            try:
                result = self.client.bulk_query_resume(
                    resume.job_id,
                    resume.locator,
                    page_size=self.bulk_page_size,
                    polling=self._polling,
                )
            except SalesforceError as error:
                if _job_gone(error):
                    raise _BulkJobGone(resume.job_id, error, phase) from error
                raise
        for page in result.pages():
            rows = list(page.records())
            if page.next_locator is None:
                # The last page: a resume from here goes on to the next phase.
                after = _next(resume, _PHASE_AFTER[phase])
            else:
                after = replace(resume, job_id=result.job_id, locator=page.next_locator)
            resume = self._page(rows, phase, after)
        return resume

    def _bulk_select(
        self, phase: _Phase, describe: ObjectDescribe, where: ValidatedFilter | None
    ) -> str:
        """The SOQL of the phase's Bulk job: compounds as their components, a parent's too."""
        window, fields = self._scope(phase)
        query = select_for_window(
            self.spec,
            window,
            expand_compound(fields, describe, self._related),
            where=where,
            api=ReadApi.BULK,
        )
        return query.soql()

    # -- one page --------------------------------------------------------------

    def _page(self, rows: list[Record], phase: _Phase, resume: _Resume) -> _Resume:
        """Deliver one page of ``phase`` everywhere, then checkpoint; the resume state after it.

        ``resume`` is where reading goes on once this page is delivered (for
        a Bulk job's last page, already the next phase).
        """
        refreshing = phase is _Phase.REFRESH
        if refreshing:
            # Stamped before the window, every row is news to the refresh and
            # none lies in the next window's overlap.
            fresh = rows
        else:
            # Every version read counts for the next boundary, sent now or before.
            resume = replace(
                resume, boundary=resume.boundary | boundary_keys(rows, self.window, self.settings)
            )
            fresh = dedupe(rows, self.seen)
        messages: list[Message] = []
        source: dict[str, str] = {}  # message id -> record id
        failures: list[FailedItem] = []
        for record in fresh:
            key = record_key(record)
            try:
                made = self._messages(record, key, phase)
            except RecordMappingError as error:
                failures.append(FailedItem(key.id, _payload(record), error.reason, False))
                continue
            source.update((message.message_id, key.id) for message in made)
            messages += made
        if messages:
            for destination in self.destinations:
                failures += self._deliver(destination, messages, source)
        failed = len({failure.record_id for failure in failures})
        done = len(fresh) - failed
        counts = RunCounts(
            records_read=len(rows) if phase is _Phase.RECORDS else 0,
            delivered=done if phase is _Phase.RECORDS else 0,
            deleted=done if phase is _Phase.DELETES else 0,
            refreshed=done if refreshing else 0,
            failed=failed,
        )
        delta = self._take_calls(counts)
        self.state.commit_checkpoint(
            self.run_id, self.previous_cursor, self.seen, resume.dump(), delta, failures
        )
        self.counts += delta
        return resume

    def _messages(self, record: Record, key: RecordKey, phase: _Phase) -> list[Message]:
        if phase is _Phase.REFRESH:
            assert self.refresher is not None
            return self.refresher.map(record)
        if phase is _Phase.RECORDS:
            return self.mapper.map(record)
        deleted = DeletedRecord(key.id, key.modstamp, record)
        return delete_messages(self.spec, deleted, object_type_id=self.object_type_id)

    def _deliver(
        self, destination: Destination, messages: list[Message], source: dict[str, str]
    ) -> list[FailedItem]:
        """Deliver to one destination; its messages failed for good, kept for replay.

        ``_Unsettled`` when it asks for another try: the page must not be checkpointed.
        """
        result = destination.deliver(messages)
        if not result.settled:
            raise _Unsettled(result)
        by_id = {message.message_id: message for message in messages}
        return [
            FailedItem(
                source[outcome.message_id],
                by_id[outcome.message_id].model_dump(mode="json"),
                outcome.reason,
                False,
                destination.name,
            )
            for outcome in result.failed
        ]


# How warnings name a phase read over REST in parts.
_PHASE_NAMES = {_Phase.RECORDS: "window", _Phase.REFRESH: "formula refresh"}
# Where a Bulk-read phase goes on after its last results page.
_PHASE_AFTER = {_Phase.RECORDS: _Phase.DELETES, _Phase.REFRESH: _Phase.REFRESHED}


def _next(resume: _Resume, phase: _Phase, api: ReadApi = ReadApi.REST) -> _Resume:
    """``resume`` at the start of ``phase`` (deletes are read over REST)."""
    return replace(resume, phase=phase, api=api, after=None, job_id=None, locator=None)


def _payload(record: Record) -> dict[str, Any]:
    """A record as JSON values for the failed-records table (Bulk's records hold datetimes)."""
    payload: dict[str, Any] = {}
    for name, value in record.items():
        try:
            payload[name] = json_value(value)
        except ValueError:
            payload[name] = repr(value)
    return payload
