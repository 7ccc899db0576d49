"""``SalesforceClient`` and ``AsyncSalesforceClient``: one org, every REST resource sfbridge uses.

Both facades run the same flows (``rest.py``, ``describe.py``,
``composite.py``, ``bulk2_query.py``, ``bulk2_ingest.py``, ``tooling.py``)
with their driver (``http.py``); they differ only in ``await``. A client
belongs to one connection: its ``OAuthSession`` (which clients of the same
connection may share), its describe cache, its API call count and optional
``ApiBudget``.

::

    session = OAuthSession(login_url, RefreshTokenGrant(client_id, refresh_token),
                           on_tokens=store_tokens, connection_name="prod")
    with SalesforceClient(session, http=HttpOptions(verify="ca.pem")) as sf:
        for contact in sf.query("SELECT Id, Email FROM Contact"):
            ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from .auth import OAuthSession, Tokens
from .bulk2 import DEFAULT_POLLING, JobClient, JobPolling
from .bulk2_ingest import DEFAULT_JOB_ROWS, BulkIngestApi, BulkIngestResult, IngestOperation
from .bulk2_query import (
    DEFAULT_PAGE_SIZE,
    AsyncBulkQueryResult,
    BulkQueryApi,
    BulkQueryResult,
)
from .composite import CompositeApi, RecordResult, Subrequest, SubrequestResult
from .describe import DescribeApi, ObjectDescribe, SObjectSummary
from .http import (
    DEFAULT_API_VERSION,
    ApiCaller,
    AsyncDriver,
    Authenticate,
    Flow,
    HttpOptions,
    SyncDriver,
    build_async_http_client,
    build_http_client,
)
from .limits import ApiBudget, ApiMeter, ApiUsage, Limit
from .rest import DeletedRecords, QueryPage, Record, RestApi, UpdatedRecords, UpsertResult
from .retry import RetryPolicy
from .tooling import ToolingApi

T = TypeVar("T")
Fields = Mapping[str, Any]


class _ClientBase:
    """What both facades share: the session, the flows, the meter."""

    def __init__(
        self,
        session: OAuthSession,
        *,
        api_version: str,
        retry: RetryPolicy,
        budget: ApiBudget | None,
    ) -> None:
        self.session = session
        self._meter = ApiMeter(budget)
        caller = ApiCaller(session, api_version=api_version, policy=retry, meter=self._meter)
        self.api_version = caller.api_version
        self._rest = RestApi(caller)
        self._describe = DescribeApi(caller)
        self._composite = CompositeApi(caller)
        jobs = JobClient(caller)
        self._bulk_query = BulkQueryApi(jobs, self._describe)
        self._bulk_ingest = BulkIngestApi(jobs)
        self._tooling = ToolingApi(caller, self._describe)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(instance_url={self.instance_url!r}, "
            f"api_version={self.api_version!r}, api_calls={self.api_calls})"
        )

    @property
    def instance_url(self) -> str | None:
        """The org's URL (known after the first login)."""
        return self.session.instance_url

    @property
    def api_calls(self) -> int:
        """API calls this client made that count against the org's daily allowance."""
        return self._meter.api_calls

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's API usage as the latest answer reported it."""
        return self._meter.usage

    @property
    def budget(self) -> ApiBudget | None:
        """The budget this client's calls are held to, if any."""
        return self._meter.budget

    def invalidate(self, object_name: str | None = None) -> None:
        """Forget a cached describe (all of them when ``object_name`` is None)."""
        self._describe.invalidate(object_name)

    def _connect(self) -> Flow[Tokens]:
        if self.session.tokens is None:
            yield Authenticate(None)
        tokens = self.session.tokens
        assert tokens is not None  # a login either sets tokens or raises
        return tokens


class SalesforceClient(_ClientBase):
    """A synchronous Salesforce REST client; safe to share between threads.

    ``http`` sets TLS trust (the emulator's CA bundle), timeouts, the pool and
    the transport seam; ``retry`` the retry policy; ``budget`` an optional
    share of the org's daily allowance; ``sleep`` how retries wait (tests
    pass a recorder).
    """

    def __init__(
        self,
        session: OAuthSession,
        *,
        api_version: str = DEFAULT_API_VERSION,
        http: HttpOptions | None = None,
        retry: RetryPolicy | None = None,
        budget: ApiBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        policy = retry or RetryPolicy()
        super().__init__(session, api_version=api_version, retry=policy, budget=budget)
        self._http = build_http_client(http or HttpOptions())
        self._driver = SyncDriver(self._http, session, policy, sleep)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _run(self, flow: Flow[T]) -> T:
        return self._driver.run(flow)

    def connect(self) -> Tokens:
        """Log in now, if not yet logged in (otherwise the first call does)."""
        return self._run(self._connect())

    # -- describe ------------------------------------------------------------------

    def describe_global(self) -> tuple[SObjectSummary, ...]:
        """Every object the user can see (cached)."""
        return self._run(self._describe.describe_global())

    def describe(self, object_name: str) -> ObjectDescribe:
        """One object's fields and flags (cached until ``invalidate``)."""
        return self._run(self._describe.describe(object_name))

    # -- records -------------------------------------------------------------------

    def create(self, object_name: str, fields: Fields) -> str:
        """Create a record; its id."""
        return self._run(self._rest.create(object_name, fields))

    def get(self, object_name: str, record_id: str, fields: Sequence[str] | None = None) -> Record:
        """One record by id."""
        return self._run(self._rest.get(object_name, record_id, fields))

    def update(self, object_name: str, record_id: str, fields: Fields) -> None:
        """Update one record."""
        self._run(self._rest.update(object_name, record_id, fields))

    def delete(self, object_name: str, record_id: str) -> None:
        """Delete one record."""
        self._run(self._rest.delete(object_name, record_id))

    def get_by_external_id(
        self, object_name: str, field: str, value: str, fields: Sequence[str] | None = None
    ) -> Record:
        """The one record whose external id ``field`` is ``value``."""
        return self._run(self._rest.get_by_external_id(object_name, field, value, fields))

    def upsert(
        self, object_name: str, field: str, value: str, fields: Fields, *, update_only: bool = False
    ) -> UpsertResult:
        """Create or update the record whose external id ``field`` is ``value``."""
        return self._run(
            self._rest.upsert(object_name, field, value, fields, update_only=update_only)
        )

    # -- collections and composite -------------------------------------------------

    def create_records(
        self, object_name: str, records: Sequence[Fields], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Create many records, 200 per call; one result per input record."""
        return self._run(
            self._composite.create_records(object_name, records, all_or_none=all_or_none)
        )

    def update_records(
        self, object_name: str, records: Sequence[Fields], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Update many records (each with its ``Id``), 200 per call."""
        return self._run(
            self._composite.update_records(object_name, records, all_or_none=all_or_none)
        )

    def upsert_records(
        self,
        object_name: str,
        external_id_field: str,
        records: Sequence[Fields],
        *,
        all_or_none: bool = False,
    ) -> list[RecordResult]:
        """Upsert many records on an external id field, 200 per call."""
        flow = self._composite.upsert_records(
            object_name, external_id_field, records, all_or_none=all_or_none
        )
        return self._run(flow)

    def delete_records(
        self, ids: Sequence[str], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Delete many records by id, 200 per call."""
        return self._run(self._composite.delete_records(ids, all_or_none=all_or_none))

    def retrieve_records(
        self, object_name: str, ids: Sequence[str], fields: Sequence[str]
    ) -> list[Record | None]:
        """Many records by id, in the order of ``ids`` (None where not found)."""
        return self._run(self._composite.retrieve_records(object_name, ids, fields))

    def composite(
        self, subrequests: Sequence[Subrequest], *, all_or_none: bool = False
    ) -> list[SubrequestResult]:
        """Up to 25 subrequests in one call, with ``@{referenceId...}`` references."""
        return self._run(self._composite.composite(subrequests, all_or_none=all_or_none))

    # -- queries -------------------------------------------------------------------

    def query(self, soql: str, *, batch_size: int | None = None) -> Iterator[Record]:
        """The records of ``soql``, read lazily page by page."""
        return self._pages(self._rest.query_page(soql, batch_size=batch_size), batch_size)

    def query_all(self, soql: str, *, batch_size: int | None = None) -> Iterator[Record]:
        """Like ``query``, plus deleted and archived rows (``queryAll``)."""
        first = self._rest.query_page(soql, include_deleted=True, batch_size=batch_size)
        return self._pages(first, batch_size)

    def _pages(self, first: Flow[QueryPage], batch_size: int | None) -> Iterator[Record]:
        page = self._run(first)
        while True:
            yield from page.records
            if page.next_url is None:
                return
            page = self._run(self._rest.query_more(page.next_url, batch_size))

    def count(self, object_name: str, where: str | None = None) -> int:
        """How many live records of ``object_name`` match ``where`` (a SOQL condition)."""
        return self._run(self._rest.count(object_name, where))

    # -- replication and limits ----------------------------------------------------

    def deleted(self, object_name: str, start: datetime, end: datetime) -> DeletedRecords:
        """Records deleted between ``start`` and ``end``."""
        return self._run(self._rest.deleted(object_name, start, end))

    def updated(self, object_name: str, start: datetime, end: datetime) -> UpdatedRecords:
        """Ids of records changed between ``start`` and ``end``."""
        return self._run(self._rest.updated(object_name, start, end))

    def limits(self) -> dict[str, Limit]:
        """The org's limits (``DailyApiRequests``, ``DailyBulkV2QueryJobs``...)."""
        return self._run(self._rest.limits())

    # -- Bulk API 2.0 --------------------------------------------------------------

    def bulk_query(
        self,
        soql: str,
        *,
        all_rows: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        polling: JobPolling = DEFAULT_POLLING,
    ) -> BulkQueryResult:
        """Run ``soql`` as a Bulk API 2.0 query job; its records are read lazily, page by page.

        Returns once the job has run (a Failed job raises its error).
        ``all_rows`` adds deleted and archived rows (``queryAll``);
        ``page_size`` is the most records one results page holds.
        """
        info = self._run(
            self._bulk_query.start(soql, all_rows=all_rows, page_size=page_size, polling=polling)
        )
        return BulkQueryResult(self._bulk_query, self._run, info, page_size=page_size)

    def bulk_query_resume(
        self,
        job_id: str,
        locator: str | None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        polling: JobPolling = DEFAULT_POLLING,
    ) -> BulkQueryResult:
        """Go on reading a query job from a saved ``locator`` (None: from its first page)."""
        info = self._run(self._bulk_query.resume(job_id, page_size=page_size, polling=polling))
        return BulkQueryResult(
            self._bulk_query, self._run, info, page_size=page_size, locator=locator
        )

    def bulk_ingest(
        self,
        object_name: str,
        operation: IngestOperation | str,
        records: Iterable[Fields],
        *,
        external_id_field: str | None = None,
        job_rows: int = DEFAULT_JOB_ROWS,
        polling: JobPolling = DEFAULT_POLLING,
    ) -> BulkIngestResult:
        """Insert, update, upsert, delete or hardDelete records with Bulk API 2.0 jobs.

        One ``RecordResult`` per input record, in input order (see
        ``bulk2_ingest``). ``None`` sets a field to null, a missing key leaves
        it unchanged; ``Account.Ext__c`` keys set lookups by external id.
        ``job_rows`` caps the rows of one job.
        """
        flow = self._bulk_ingest.ingest(
            object_name,
            operation,
            records,
            external_id_field=external_id_field,
            job_rows=job_rows,
            polling=polling,
        )
        return self._run(flow)

    # -- Tooling API ---------------------------------------------------------------

    def tooling_query(self, soql: str) -> list[Record]:
        """Every record of a Tooling API query (``CustomField``, ``CustomObject``...)."""
        return self._run(self._tooling.query(soql))

    def create_custom_field(
        self,
        object_name: str,
        field_name: str,
        type: str,
        *,
        label: str,
        length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
        external_id: bool = False,
        unique: bool = False,
        required: bool = False,
        reference_to: str | None = None,
        relationship_name: str | None = None,
        picklist_values: Sequence[str] | None = None,
        exists_ok: bool = False,
    ) -> str:
        """Create a custom field (``type`` as in Metadata: Text, Number, Lookup...); its id.

        An existing field raises a ConfigError, unless ``exists_ok`` returns
        its id (its definition is not compared). The object's cached
        describe is dropped, so the next describe shows the field.
        """
        return self._run(
            self._tooling.create_custom_field(
                object_name,
                field_name,
                type,
                label=label,
                length=length,
                precision=precision,
                scale=scale,
                external_id=external_id,
                unique=unique,
                required=required,
                reference_to=reference_to,
                relationship_name=relationship_name,
                picklist_values=picklist_values,
                exists_ok=exists_ok,
            )
        )

    def create_custom_object(
        self, name: str, *, label: str, plural_label: str, exists_ok: bool = False
    ) -> str:
        """Create a custom object (``Subscription__c``) with a text Name field; its id."""
        flow = self._tooling.create_custom_object(
            name, label=label, plural_label=plural_label, exists_ok=exists_ok
        )
        return self._run(flow)


class AsyncSalesforceClient(_ClientBase):
    """The asyncio twin of ``SalesforceClient``: same arguments, same methods, awaited."""

    def __init__(
        self,
        session: OAuthSession,
        *,
        api_version: str = DEFAULT_API_VERSION,
        http: HttpOptions | None = None,
        retry: RetryPolicy | None = None,
        budget: ApiBudget | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        policy = retry or RetryPolicy()
        super().__init__(session, api_version=api_version, retry=policy, budget=budget)
        self._http = build_async_http_client(http or HttpOptions())
        self._driver = AsyncDriver(self._http, session, policy, sleep)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _run(self, flow: Flow[T]) -> T:
        return await self._driver.run(flow)

    async def connect(self) -> Tokens:
        """Log in now, if not yet logged in."""
        return await self._run(self._connect())

    async def describe_global(self) -> tuple[SObjectSummary, ...]:
        """Every object the user can see (cached)."""
        return await self._run(self._describe.describe_global())

    async def describe(self, object_name: str) -> ObjectDescribe:
        """One object's fields and flags (cached until ``invalidate``)."""
        return await self._run(self._describe.describe(object_name))

    async def create(self, object_name: str, fields: Fields) -> str:
        """Create a record; its id."""
        return await self._run(self._rest.create(object_name, fields))

    async def get(
        self, object_name: str, record_id: str, fields: Sequence[str] | None = None
    ) -> Record:
        """One record by id."""
        return await self._run(self._rest.get(object_name, record_id, fields))

    async def update(self, object_name: str, record_id: str, fields: Fields) -> None:
        """Update one record."""
        await self._run(self._rest.update(object_name, record_id, fields))

    async def delete(self, object_name: str, record_id: str) -> None:
        """Delete one record."""
        await self._run(self._rest.delete(object_name, record_id))

    async def get_by_external_id(
        self, object_name: str, field: str, value: str, fields: Sequence[str] | None = None
    ) -> Record:
        """The one record whose external id ``field`` is ``value``."""
        return await self._run(self._rest.get_by_external_id(object_name, field, value, fields))

    async def upsert(
        self, object_name: str, field: str, value: str, fields: Fields, *, update_only: bool = False
    ) -> UpsertResult:
        """Create or update the record whose external id ``field`` is ``value``."""
        return await self._run(
            self._rest.upsert(object_name, field, value, fields, update_only=update_only)
        )

    async def create_records(
        self, object_name: str, records: Sequence[Fields], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Create many records, 200 per call; one result per input record."""
        flow = self._composite.create_records(object_name, records, all_or_none=all_or_none)
        return await self._run(flow)

    async def update_records(
        self, object_name: str, records: Sequence[Fields], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Update many records (each with its ``Id``), 200 per call."""
        flow = self._composite.update_records(object_name, records, all_or_none=all_or_none)
        return await self._run(flow)

    async def upsert_records(
        self,
        object_name: str,
        external_id_field: str,
        records: Sequence[Fields],
        *,
        all_or_none: bool = False,
    ) -> list[RecordResult]:
        """Upsert many records on an external id field, 200 per call."""
        flow = self._composite.upsert_records(
            object_name, external_id_field, records, all_or_none=all_or_none
        )
        return await self._run(flow)

    async def delete_records(
        self, ids: Sequence[str], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Delete many records by id, 200 per call."""
        return await self._run(self._composite.delete_records(ids, all_or_none=all_or_none))

    async def retrieve_records(
        self, object_name: str, ids: Sequence[str], fields: Sequence[str]
    ) -> list[Record | None]:
        """Many records by id, in the order of ``ids`` (None where not found)."""
        return await self._run(self._composite.retrieve_records(object_name, ids, fields))

    async def composite(
        self, subrequests: Sequence[Subrequest], *, all_or_none: bool = False
    ) -> list[SubrequestResult]:
        """Up to 25 subrequests in one call, with ``@{referenceId...}`` references."""
        return await self._run(self._composite.composite(subrequests, all_or_none=all_or_none))

    def query(self, soql: str, *, batch_size: int | None = None) -> AsyncIterator[Record]:
        """The records of ``soql``, read lazily page by page (``async for``)."""
        return self._pages(self._rest.query_page(soql, batch_size=batch_size), batch_size)

    def query_all(self, soql: str, *, batch_size: int | None = None) -> AsyncIterator[Record]:
        """Like ``query``, plus deleted and archived rows (``queryAll``)."""
        first = self._rest.query_page(soql, include_deleted=True, batch_size=batch_size)
        return self._pages(first, batch_size)

    async def _pages(self, first: Flow[QueryPage], batch_size: int | None) -> AsyncIterator[Record]:
        page = await self._run(first)
        while True:
            for record in page.records:
                yield record
            if page.next_url is None:
                return
            page = await self._run(self._rest.query_more(page.next_url, batch_size))

    async def count(self, object_name: str, where: str | None = None) -> int:
        """How many live records of ``object_name`` match ``where``."""
        return await self._run(self._rest.count(object_name, where))

    async def deleted(self, object_name: str, start: datetime, end: datetime) -> DeletedRecords:
        """Records deleted between ``start`` and ``end``."""
        return await self._run(self._rest.deleted(object_name, start, end))

    async def updated(self, object_name: str, start: datetime, end: datetime) -> UpdatedRecords:
        """Ids of records changed between ``start`` and ``end``."""
        return await self._run(self._rest.updated(object_name, start, end))

    async def limits(self) -> dict[str, Limit]:
        """The org's limits."""
        return await self._run(self._rest.limits())

    async def bulk_query(
        self,
        soql: str,
        *,
        all_rows: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        polling: JobPolling = DEFAULT_POLLING,
    ) -> AsyncBulkQueryResult:
        """Run ``soql`` as a Bulk API 2.0 query job; ``async for`` over its records."""
        info = await self._run(
            self._bulk_query.start(soql, all_rows=all_rows, page_size=page_size, polling=polling)
        )
        return AsyncBulkQueryResult(self._bulk_query, self._run, info, page_size=page_size)

    async def bulk_query_resume(
        self,
        job_id: str,
        locator: str | None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        polling: JobPolling = DEFAULT_POLLING,
    ) -> AsyncBulkQueryResult:
        """Go on reading a query job from a saved ``locator``."""
        info = await self._run(
            self._bulk_query.resume(job_id, page_size=page_size, polling=polling)
        )
        return AsyncBulkQueryResult(
            self._bulk_query, self._run, info, page_size=page_size, locator=locator
        )

    async def bulk_ingest(
        self,
        object_name: str,
        operation: IngestOperation | str,
        records: Iterable[Fields],
        *,
        external_id_field: str | None = None,
        job_rows: int = DEFAULT_JOB_ROWS,
        polling: JobPolling = DEFAULT_POLLING,
    ) -> BulkIngestResult:
        """Write records with Bulk API 2.0 jobs; one result per input record."""
        flow = self._bulk_ingest.ingest(
            object_name,
            operation,
            records,
            external_id_field=external_id_field,
            job_rows=job_rows,
            polling=polling,
        )
        return await self._run(flow)

    async def tooling_query(self, soql: str) -> list[Record]:
        """Every record of a Tooling API query."""
        return await self._run(self._tooling.query(soql))

    async def create_custom_field(
        self,
        object_name: str,
        field_name: str,
        type: str,
        *,
        label: str,
        length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
        external_id: bool = False,
        unique: bool = False,
        required: bool = False,
        reference_to: str | None = None,
        relationship_name: str | None = None,
        picklist_values: Sequence[str] | None = None,
        exists_ok: bool = False,
    ) -> str:
        """Create a custom field; its id."""
        return await self._run(
            self._tooling.create_custom_field(
                object_name,
                field_name,
                type,
                label=label,
                length=length,
                precision=precision,
                scale=scale,
                external_id=external_id,
                unique=unique,
                required=required,
                reference_to=reference_to,
                relationship_name=relationship_name,
                picklist_values=picklist_values,
                exists_ok=exists_ok,
            )
        )

    async def create_custom_object(
        self, name: str, *, label: str, plural_label: str, exists_ok: bool = False
    ) -> str:
        """Create a custom object with a text Name field; its id."""
        flow = self._tooling.create_custom_object(
            name, label=label, plural_label=plural_label, exists_ok=exists_ok
        )
        return await self._run(flow)
