"""sObject Collections (many records per call) and ``/composite`` (subrequests with references).

Collections take up to 200 records per call and answer 200 with one result
per record, in request order (REST API Developer Guide, "sObject
Collections"). Callers hand in any number of records; the flows cut them
into chunks and map every result back to the caller's index, so a refused
record is a ``RecordResult`` carrying its error, never an exception for the
whole call. Records refused with a retriable code (``UNABLE_TO_LOCK_ROW``)
are sent again, alone, after a backoff.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SalesforceConfigError, SalesforceError, SalesforceRecordError
from .http import ApiCall, ApiCaller, Flow, Sleep, error_from_entry
from .ids import is_valid_id
from .rest import Record, check_name
from .retry import Action, rule_for

COLLECTION_LIMIT = 200
"""Records per create/update/upsert/delete call ("sObject Collections")."""
RETRIEVE_LIMIT = 2000
"""Ids per retrieve call: the POST form of "Retrieve Multiple Records" takes 2,000."""
COMPOSITE_LIMIT = 25
"""Subrequests per ``/composite`` call ("Composite": 25, of which 5 queries or collections)."""

_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one record of a batch call; ``index`` is its position in the input."""

    index: int
    id: str | None
    errors: tuple[SalesforceError, ...] = ()
    created: bool | None = None

    @property
    def success(self) -> bool:
        """True when Salesforce accepted the record."""
        return not self.errors

    @property
    def error(self) -> SalesforceError | None:
        """The first error (Salesforce may report several), or None."""
        return self.errors[0] if self.errors else None


@dataclass(frozen=True)
class Subrequest:
    """One ``/composite`` subrequest; ``url`` may be relative to ``/services/data/vNN.N/``."""

    method: str
    url: str
    reference_id: str
    body: Any = None


@dataclass(frozen=True)
class SubrequestResult:
    """The answer to one subrequest; ``error`` is set when its status is 400 or more."""

    reference_id: str
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    error: SalesforceError | None = None


def _chunks(indexes: Sequence[int], size: int) -> list[list[int]]:
    return [list(indexes[start : start + size]) for start in range(0, len(indexes), size)]


class CompositeApi:
    """Flows for sObject Collections and ``/composite``."""

    def __init__(self, caller: ApiCaller) -> None:
        self._caller = caller

    # -- collections ---------------------------------------------------------------

    def create_records(
        self, object_name: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> Flow[list[RecordResult]]:
        """Create records of one object; one result per input record."""
        return self._write(
            "POST",
            self._caller.data_path("composite", "sobjects"),
            object_name,
            records,
            all_or_none,
        )

    def update_records(
        self, object_name: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> Flow[list[RecordResult]]:
        """Update records of one object; each record carries its ``Id``."""
        return self._write(
            "PATCH",
            self._caller.data_path("composite", "sobjects"),
            object_name,
            records,
            all_or_none,
        )

    def upsert_records(
        self,
        object_name: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
    ) -> Flow[list[RecordResult]]:
        """Upsert records of one object matched on ``external_id_field`` (v46.0+)."""
        path = self._caller.data_path(
            "composite", "sobjects", check_name(object_name), check_name(external_id_field, "field")
        )
        return self._write("PATCH", path, object_name, records, all_or_none)

    def delete_records(
        self, ids: Sequence[str], *, all_or_none: bool = False
    ) -> Flow[list[RecordResult]]:
        """Delete records by id (any objects); one result per id.

        A malformed id gets its ``MALFORMED_ID`` result without being sent (a
        comma in it would shift every result after it).
        """
        self._check_atomic(all_or_none, len(ids))
        malformed = {
            index: RecordResult(
                index,
                None,
                (
                    SalesforceRecordError(
                        f"{record_id!r} is not a Salesforce id",
                        error_code="MALFORMED_ID",
                        row=index,
                    ),
                ),
            )
            for index, record_id in enumerate(ids)
            if not is_valid_id(record_id)
        }
        if malformed and all_or_none:
            raise SalesforceConfigError(
                f"all_or_none delete of malformed ids at rows {sorted(malformed)}; nothing was sent"
            )
        path = self._caller.data_path("composite", "sobjects")

        def send(chunk: list[int]) -> Flow[Any]:
            params = {
                "ids": ",".join(ids[i] for i in chunk),
                "allOrNone": "true" if all_or_none else "false",
            }
            return self._caller.json(ApiCall("DELETE", path, params=params))

        return (yield from self._in_chunks(len(ids), send, None, all_or_none, malformed))

    def retrieve_records(
        self, object_name: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Flow[list[Record | None]]:
        """Records by id with ``fields``, in the order of ``ids``; None where an id matched none."""
        if not fields:
            raise SalesforceConfigError("retrieve_records needs at least one field")
        path = self._caller.data_path("composite", "sobjects", check_name(object_name))
        found: list[Record | None] = []
        for chunk in _chunks(range(len(ids)), RETRIEVE_LIMIT):
            body = {"ids": [ids[i] for i in chunk], "fields": list(fields)}
            answer = yield from self._caller.json(
                ApiCall("POST", path, json=body, object_name=object_name)
            )
            found.extend(dict(r) if r is not None else None for r in answer)
        return found

    def _write(
        self,
        method: str,
        path: str,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        all_or_none: bool,
    ) -> Flow[list[RecordResult]]:
        check_name(object_name)
        self._check_atomic(all_or_none, len(records))
        typed = [
            {**record, "attributes": {**record.get("attributes", {}), "type": object_name}}
            for record in records
        ]

        def send(chunk: list[int]) -> Flow[Any]:
            body = {"allOrNone": all_or_none, "records": [typed[i] for i in chunk]}
            return self._caller.json(ApiCall(method, path, json=body, object_name=object_name))

        return (yield from self._in_chunks(len(records), send, object_name, all_or_none))

    @staticmethod
    def _check_atomic(all_or_none: bool, count: int) -> None:
        # allOrNone holds within one call; across chunks it would be a false promise.
        if all_or_none and count > COLLECTION_LIMIT:
            raise SalesforceConfigError(
                f"all_or_none covers one call of at most {COLLECTION_LIMIT} records; got {count}"
            )

    def _in_chunks(
        self,
        count: int,
        send: Callable[[list[int]], Flow[Any]],
        object_name: str | None,
        all_or_none: bool,
        settled: Mapping[int, RecordResult] | None = None,
    ) -> Flow[list[RecordResult]]:
        """Send records in chunks (all but the ``settled`` ones); resend retriable refusals."""
        results: dict[int, RecordResult] = dict(settled or {})
        pending = [i for i in range(count) if i not in results]
        retries = 0
        while pending:
            again: list[int] = []
            for chunk in _chunks(pending, COLLECTION_LIMIT):
                answer = yield from send(chunk)
                for index, entry in zip(chunk, answer, strict=True):
                    result = self._result(index, entry, object_name)
                    results[index] = result
                    if result.error is not None and self._retriable(result.error, retries):
                        again.append(index)
            if not again or all_or_none:
                break
            retries += 1
            yield Sleep(self._caller.policy.delay(retries))
            pending = again
        return [results[i] for i in range(count)]

    def _retriable(self, error: SalesforceError, retries: int) -> bool:
        rule = rule_for(error.error_code, 400)
        return rule.action is Action.RETRY and retries + 1 < self._caller.policy.attempts(rule)

    @staticmethod
    def _result(index: int, entry: Mapping[str, Any], object_name: str | None) -> RecordResult:
        errors = tuple(
            error_from_entry(e, object_name=object_name, row=index)
            for e in entry.get("errors") or ()
        )
        if not entry.get("success") and not errors:
            errors = (
                error_from_entry(
                    {"message": "Salesforce refused the record without a reason"},
                    object_name=object_name,
                    row=index,
                ),
            )
        created = entry.get("created")
        return RecordResult(
            index=index,
            id=entry.get("id") or None,
            errors=errors,
            created=bool(created) if created is not None else None,
        )

    # -- /composite ----------------------------------------------------------------

    def composite(
        self, subrequests: Sequence[Subrequest], *, all_or_none: bool = False
    ) -> Flow[list[SubrequestResult]]:
        """Run up to 25 subrequests in one call; later ones may use ``@{referenceId.field}``.

        The call itself answers 200; each subrequest's failure is in its
        result's ``error``. With ``all_or_none`` one failure rolls back all.
        """
        if not subrequests or len(subrequests) > COMPOSITE_LIMIT:
            raise SalesforceConfigError(
                f"a composite request takes 1 to {COMPOSITE_LIMIT} subrequests; "
                f"got {len(subrequests)}"
            )
        for sub in subrequests:
            if not _REFERENCE_ID.match(sub.reference_id):
                raise SalesforceConfigError(
                    f"referenceId {sub.reference_id!r} may hold only letters, digits and _"
                )
        body = {
            "allOrNone": all_or_none,
            "compositeRequest": [self._subrequest(sub) for sub in subrequests],
        }
        path = self._caller.data_path("composite")
        answer = yield from self._caller.json(ApiCall("POST", path, json=body))
        return [self._subresult(entry) for entry in answer.get("compositeResponse") or ()]

    def _subrequest(self, sub: Subrequest) -> dict[str, Any]:
        url = (
            sub.url
            if sub.url.startswith("/services/")
            else self._caller.data_path() + sub.url.lstrip("/")
        )
        request: dict[str, Any] = {
            "method": sub.method.upper(),
            "url": url,
            "referenceId": sub.reference_id,
        }
        if sub.body is not None:
            request["body"] = sub.body
        return request

    @staticmethod
    def _subresult(entry: Mapping[str, Any]) -> SubrequestResult:
        status = int(entry.get("httpStatusCode") or 0)
        body = entry.get("body")
        error = None
        if status >= 400:
            first = body[0] if isinstance(body, list) and body else {}
            error = error_from_entry(first if isinstance(first, Mapping) else {}, status=status)
        return SubrequestResult(
            reference_id=str(entry.get("referenceId") or ""),
            status=status,
            body=body,
            headers=dict(entry.get("httpHeaders") or {}),
            error=error,
        )
