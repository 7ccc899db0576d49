"""Bulk API 2.0 query jobs: create, wait, then read the results page by page, resumably.

``POST /jobs/query`` creates the job, ``GET /jobs/query/{id}`` is asked until
it is ``JobComplete``, and ``GET .../results?maxRecords=N&locator=L`` reads
one page at a time: ``Sforce-Locator`` names the next page, or is the string
``null`` after the last; ``Sforce-NumberOfRecords`` counts the page (Bulk API
2.0 Developer Guide, "Create a Query Job", "Get Results for a Query Job").

Memory stays flat: one page's bytes at a time (``maxRecords`` bounds it),
parsed row by row into records as the caller asks for them. A locator stays
valid as long as the job (7 days), so a read stopped by
``REQUEST_LIMIT_EXCEEDED`` resumes from ``(job_id, locator)`` with
``bulk_query_resume`` and reads every record exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .bulk2 import BulkJobInfo, JobClient, JobKind, JobPolling, JobState
from .bulk2_csv import RecordShape, read_rows
from .describe import DescribeApi
from .errors import (
    MalformedQueryError,
    SalesforceConfigError,
    SalesforceError,
    SalesforceFatalError,
    SalesforceRecordError,
)
from .http import ApiCall, Flow
from .rest import Record

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50_000
"""Records per results page: simple-salesforce's default, and a few MB of CSV."""


class SyncRunner(Protocol):
    """Runs a flow to its end (``SalesforceClient._run``)."""

    def __call__(self, flow: Flow[T], /) -> T:
        """The flow's result."""


class AsyncRunner(Protocol):
    """Runs a flow to its end, awaited (``AsyncSalesforceClient._run``)."""

    def __call__(self, flow: Flow[T], /) -> Awaitable[T]:
        """The flow's result."""


@dataclass(frozen=True)
class BulkQueryPage:
    """One page of a query job's results; ``records()`` parses it lazily."""

    job_id: str
    locator: str | None
    """The locator this page was read with; None for the first page."""
    next_locator: str | None
    """The locator of the following page; None after the last page."""
    size: int
    """How many records the page holds (``Sforce-NumberOfRecords``)."""
    shape: RecordShape = field(repr=False)
    content: bytes = field(repr=False)

    def records(self) -> Iterator[Record]:
        """The page's records, typed and nested (see ``RecordShape``)."""
        rows = read_rows(self.content)
        next(rows, None)  # the header row, which every page repeats
        for cells in rows:
            yield self.shape.record(cells)


class BulkQueryApi:
    """Flows for query jobs: start or resume one, read one page."""

    def __init__(self, jobs: JobClient, describe: DescribeApi) -> None:
        self._jobs = jobs
        self._describe = describe

    def start(
        self, soql: str, *, all_rows: bool, page_size: int, polling: JobPolling
    ) -> Flow[BulkJobInfo]:
        """Create a query job (``queryAll`` with ``all_rows``) and wait until it has run."""
        check_page_size(page_size)
        body = {
            "operation": "queryAll" if all_rows else "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        try:
            created = yield from self._jobs.caller.json(
                ApiCall("POST", self._jobs.path(JobKind.QUERY), json=body)
            )
        except SalesforceRecordError as error:
            raise _refused(error) from None
        return (yield from self.resume(str(created["id"]), page_size=page_size, polling=polling))

    def resume(self, job_id: str, *, page_size: int, polling: JobPolling) -> Flow[BulkJobInfo]:
        """Wait until the job has run; a Failed or Aborted job raises its error."""
        check_page_size(page_size)
        info = yield from self._jobs.wait(JobKind.QUERY, job_id, polling)
        if info.state is not JobState.JOB_COMPLETE:
            raise info.failure()
        return info

    def page(
        self, info: BulkJobInfo, locator: str | None, page_size: int, shape: RecordShape | None
    ) -> Flow[BulkQueryPage]:
        """The page at ``locator`` (the first when None); ``shape`` is reused if the header fits."""
        params = {"maxRecords": str(page_size)}
        if locator:
            params["locator"] = locator
        # Result pages compress about tenfold ("Get Results for a Query Job": Accept-Encoding).
        headers = {"Accept": "text/csv", "Accept-Encoding": "gzip"}
        path = self._jobs.path(JobKind.QUERY, info.id, "results")
        response = yield from self._jobs.caller.call(
            ApiCall("GET", path, params=params, headers=headers, object_name=info.object_name)
        )
        content = response.content
        header = next(read_rows(content), [])
        if shape is None or shape.header != tuple(header):
            shape = yield from self.shape(info.object_name, header)
        following = response.headers.get("Sforce-Locator")
        return BulkQueryPage(
            job_id=info.id,
            locator=locator,
            next_locator=None if following in (None, "", "null") else following,
            size=int(response.headers.get("Sforce-NumberOfRecords") or 0),
            shape=shape,
            content=content,
        )

    def shape(self, object_name: str, header: Sequence[str]) -> Flow[RecordShape]:
        """How to type and nest the columns of ``header``, from the objects' describes."""
        types = []
        for column in header:
            kind = yield from self._field_type(object_name, column.split("."))
            types.append(kind or "string")
        return RecordShape(header, types)

    def _field_type(self, object_name: str, path: Sequence[str]) -> Flow[str | None]:
        """The describe type at the end of ``path`` (``Account.Owner.Name``); None if unknown.

        A polymorphic lookup (``What``) names several objects: the first that
        has the field decides. An object the user cannot describe leaves the
        column a string.
        """
        try:
            described = yield from self._describe.describe(object_name)
        except SalesforceConfigError:
            return None
        if len(path) == 1:
            found = described.field(path[0])
            return found.type if found is not None else None
        wanted = path[0].lower()
        for candidate in described.fields:
            if (candidate.relationship_name or "").lower() != wanted:
                continue
            for target in candidate.reference_to:
                kind = yield from self._field_type(target, path[1:])
                if kind is not None:
                    return kind
        return None


def _refused(error: SalesforceRecordError) -> SalesforceError:
    """A 400 to ``POST /jobs/query`` refuses the job, not a record ("Create a Query Job")."""
    if error.error_code == "LIMIT_EXCEEDED":
        kind: type[SalesforceError] = SalesforceFatalError
        hint = (
            "The org's daily Bulk API 2.0 query jobs (DailyBulkV2QueryJobs) are used up: "
            "resume when the rolling 24-hour window frees jobs, or use the REST query."
        )
    else:
        kind = MalformedQueryError
        hint = (
            "Bulk API 2.0 refuses aggregates, OFFSET, compound fields and subqueries: "
            "select plain fields, or use the REST query."
        )
    return kind(
        error.message,
        error_code=error.error_code,
        status=error.status,
        request=error.request,
        hint=hint,
    )


def check_page_size(page_size: int) -> int:
    """``page_size`` if it is a positive number of records; a ConfigError otherwise."""
    if page_size < 1:
        raise SalesforceConfigError(f"page_size {page_size} must be at least 1 record")
    return page_size


class _QueryReader:
    """What the sync and async results share: the job, where reading stands, the shape."""

    def __init__(
        self, api: BulkQueryApi, info: BulkJobInfo, page_size: int, locator: str | None
    ) -> None:
        self._api = api
        self._info = info
        self._shape: RecordShape | None = None
        self.page_size = page_size
        self.job_id = info.id
        self.object_name = info.object_name
        self.total_size = info.records_processed
        """How many records the whole job holds."""
        self.locator = locator or None
        """Where to resume so that nothing is missed: the page being read, or the next one
        once the current page was read to its end; None before the first page."""
        self.done = False
        """True once the last page was handed out and read to its end."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(job_id={self.job_id!r}, object_name={self.object_name!r}, "
            f"locator={self.locator!r}, done={self.done})"
        )

    def _next_page(self) -> Flow[BulkQueryPage]:
        return self._api.page(self._info, self.locator, self.page_size, self._shape)

    def _finished(self, page: BulkQueryPage) -> None:
        """The caller read ``page`` to its end: move the resume point past it."""
        self._shape = page.shape
        self.locator = page.next_locator
        self.done = page.next_locator is None

    def _add_resume_note(self, error: SalesforceError) -> None:
        error.add_note(
            f"Bulk query job {self.job_id} stopped before locator {self.locator!r}; "
            f"continue with bulk_query_resume({self.job_id!r}, {self.locator!r})"
        )


class BulkQueryResult(_QueryReader):
    """A query job that has run, read lazily with ``records()`` or ``pages()``.

    ``job_id`` and ``locator`` are the checkpoint: after an error (say
    ``RequestLimitExceeded``), ``bulk_query_resume(job_id, locator)`` reads the
    rest. A page is only left behind once the caller asked for what follows
    it, so a checkpoint taken mid-page re-reads that page rather than skip it.
    """

    def __init__(
        self,
        api: BulkQueryApi,
        run: SyncRunner,
        info: BulkJobInfo,
        *,
        page_size: int,
        locator: str | None = None,
    ) -> None:
        super().__init__(api, info, page_size, locator)
        self._run = run

    def pages(self) -> Iterator[BulkQueryPage]:
        """The remaining pages, fetched one at a time as the caller asks for them."""
        while not self.done:
            try:
                page = self._run(self._next_page())
            except SalesforceError as error:
                self._add_resume_note(error)
                raise
            yield page
            self._finished(page)
            del page  # let it go before the next one arrives: one page in memory

    def records(self) -> Iterator[Record]:
        """The remaining records, typed and nested like REST records (see ``RecordShape``)."""
        for page in self.pages():
            records = page.records()
            del page  # held by ``records`` until read, then let go (see ``pages``)
            yield from records


class AsyncBulkQueryResult(_QueryReader):
    """The asyncio twin of ``BulkQueryResult``: ``async for`` over ``records()`` or ``pages()``."""

    def __init__(
        self,
        api: BulkQueryApi,
        run: AsyncRunner,
        info: BulkJobInfo,
        *,
        page_size: int,
        locator: str | None = None,
    ) -> None:
        super().__init__(api, info, page_size, locator)
        self._run = run

    async def pages(self) -> AsyncIterator[BulkQueryPage]:
        """The remaining pages, fetched one at a time."""
        while not self.done:
            try:
                page = await self._run(self._next_page())
            except SalesforceError as error:
                self._add_resume_note(error)
                raise
            yield page
            self._finished(page)
            del page  # let it go before the next one arrives: one page in memory

    async def records(self) -> AsyncIterator[Record]:
        """The remaining records."""
        async for page in self.pages():
            records = page.records()
            del page  # held by ``records`` until read, then let go (see ``pages``)
            for record in records:
                yield record
