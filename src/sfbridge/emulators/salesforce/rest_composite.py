"""sObject Collections (``/composite/sobjects``) and ``/composite`` with references.

Collections take up to 200 records and answer 200 with one result per record,
in request order; per-record errors use ``statusCode``. With ``allOrNone`` a
failure rolls back every record, and the others report
``ALL_OR_NONE_OPERATION_ROLLED_BACK`` (REST API Developer Guide, "sObject
Collections"). ``/composite`` runs up to 25 subrequests in one call; a later
subrequest refers to an earlier result with ``@{referenceId.path}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path

from .api_errors import ApiError, invalid_type, json_parser_error
from .gate import ApiRequest, Gate, Handler
from .org import Org
from .records import RecordWriter
from .rest_sobjects import record_json
from .schema import ObjectDef

MAX_COLLECTION = 200
MAX_SUBREQUESTS = 25
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)\.([^}]+)\}")


class _Rollback(Exception):
    """Raised inside a transaction to undo it."""


class CompositeResources:
    """Handlers for collections and ``/composite``."""

    def __init__(self, org: Org, writer: RecordWriter) -> None:
        self.org = org
        self.writer = writer
        self._subroutes: list[
            tuple[re.Pattern[str], dict[str, Convertor[Any]], list[str], Handler]
        ] = []

    def register_subroutes(self, table: list[tuple[str, list[str], Handler]]) -> None:
        """Resources a ``/composite`` subrequest may call: (path, methods, unwrapped handler)."""
        for path, methods, handler in table:
            pattern, _, convertors = compile_path(path)
            self._subroutes.append((pattern, convertors, methods, handler))

    # -- collections ----------------------------------------------------------

    def _records(self, api: ApiRequest) -> tuple[list[dict[str, Any]], bool]:
        body = api.json()
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise json_parser_error("The request body must be an object with a 'records' array.")
        records = body["records"]
        if len(records) > MAX_COLLECTION:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        return records, bool(body.get("allOrNone", False))

    def _typed(self, record: Any) -> ObjectDef:
        type_name = (
            (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
        )
        if not type_name:
            raise ApiError(400, "INVALID_FIELD", "No type specified for record", ["attributes"])
        obj = self.org.schema.object(str(type_name))
        if obj is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
        return obj

    def _each(
        self, items: list[Any], all_or_none: bool, action: Callable[[Any], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Run ``action`` per item in one transaction; roll back all on failure if asked."""
        results: list[dict[str, Any]] = []
        failed = False
        try:
            with self._transaction():
                for item in items:
                    try:
                        results.append({**action(item), "success": True, "errors": []})
                    except ApiError as error:
                        failed = True
                        results.append({"success": False, "errors": [error.record_error()]})
                if failed and all_or_none:
                    raise _Rollback
        except _Rollback:
            results = [
                r if not r["success"] else {"id": None, "success": False, "errors": [_ROLLED_BACK]}
                for r in results
            ]
            for r in results:
                r.pop("created", None)
        return results

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.org.store.transaction():
            yield

    def create(self, api: ApiRequest) -> Any:
        records, all_or_none = self._records(api)
        return self._each(
            records,
            all_or_none,
            lambda r: {"id": self.writer.create(self._typed(r), r, api.user)},
        )

    def update(self, api: ApiRequest) -> Any:
        records, all_or_none = self._records(api)

        def one(record: Any) -> dict[str, Any]:
            obj = self._typed(record)
            record_id = record.get("id") or record.get("Id")
            if not record_id:
                raise ApiError(
                    400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]
                )
            self.writer.update(obj, str(record_id), record, api.user)
            return {"id": self.writer.find_by_field(obj, obj.fields["id"], str(record_id))[0]}

        return self._each(records, all_or_none, one)

    def delete(self, api: ApiRequest) -> Any:
        params = api.request.query_params
        ids = [i for i in params.get("ids", "").split(",") if i]
        if len(ids) > MAX_COLLECTION:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        all_or_none = params.get("allOrNone", "false").lower() == "true"

        def one(record_id: str) -> dict[str, Any]:
            obj = self.org.schema.by_key_prefix(record_id[:3])
            if obj is None:
                raise ApiError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
            self.writer.delete(obj, record_id, api.user)
            return {"id": record_id}

        return self._each(ids, all_or_none, one)

    def upsert(self, api: ApiRequest) -> Any:
        obj = self.org.schema.object(api.request.path_params["object"])
        if obj is None:
            raise invalid_type(api.request.path_params["object"])
        field = self.writer.external_id_field(obj, api.request.path_params["field"], api.user)
        records, all_or_none = self._records(api)

        def one(record: Any) -> dict[str, Any]:
            self._typed(record)
            value = next((v for k, v in record.items() if k.lower() == field.name.lower()), None)
            if value in (None, ""):
                raise ApiError(
                    400,
                    "MISSING_ARGUMENT",
                    f"{field.name} not specified",
                    [field.name],
                )
            try:
                record_id, created = self.writer.upsert(
                    obj, field.name, str(value), record, api.user
                )
            except ApiError as error:
                if error.status == 300:
                    raise ApiError(
                        300,
                        "DUPLICATE_EXTERNAL_ID",
                        f"The record you are attempting to edit, or one of its related records, "
                        f"has an external ID {value} that matches more than one record.",
                        [field.name],
                    ) from None
                raise
            return {"id": record_id, "created": created}

        return self._each(records, all_or_none, one)

    def retrieve(self, api: ApiRequest) -> Any:
        obj = self.org.schema.object(api.request.path_params["object"])
        if obj is None:
            raise invalid_type(api.request.path_params["object"])
        if api.request.method == "POST":
            body = api.json()
            ids, fields = body.get("ids", []), body.get("fields", [])
        else:
            params = api.request.query_params
            ids = [i for i in params.get("ids", "").split(",") if i]
            fields = [f for f in params.get("fields", "").split(",") if f]
        if len(ids) > 2000:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records")
        found: list[Any] = []
        for record_id in ids:
            matches = self.writer.find_by_field(obj, obj.fields["id"], str(record_id))
            row = self.org.store.row_by_id(obj, matches[0]) if matches else None
            found.append(None if row is None else record_json(obj, row, api.version, fields, api))
        return found

    # -- /composite -----------------------------------------------------------

    def composite(self, api: ApiRequest) -> Any:
        body = api.json()
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            raise json_parser_error("The request body must have a 'compositeRequest' array.")
        if len(subrequests) > MAX_SUBREQUESTS:
            raise ApiError(
                400,
                "INVALID_BATCH_REQUEST",
                "Limit Exceeded: A composite request can have at most "
                f"{MAX_SUBREQUESTS} subrequests",
            )
        all_or_none = bool(body.get("allOrNone", False))
        results: dict[str, Any] = {}
        responses: list[dict[str, Any]] = []
        try:
            with self._transaction():
                for sub in subrequests:
                    ref = str(sub.get("referenceId", ""))
                    try:
                        status, payload, headers = self._run_subrequest(api, sub, results)
                    except ApiError as error:
                        status, payload, headers = error.status, error.body(), {}
                    results[ref] = payload
                    responses.append(
                        {
                            "body": payload,
                            "httpHeaders": headers,
                            "httpStatusCode": status,
                            "referenceId": ref,
                        }
                    )
                    if status >= 400 and all_or_none:
                        raise _Rollback
        except _Rollback:
            halted = [
                {
                    "errorCode": "PROCESSING_HALTED",
                    "message": "The transaction was rolled back since another operation in "
                    "the same transaction failed.",
                }
            ]
            for response in responses[:-1]:
                response.update(body=halted, httpHeaders={}, httpStatusCode=400)
            for sub in subrequests[len(responses) :]:
                responses.append(
                    {
                        "body": halted,
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": sub.get("referenceId"),
                    }
                )
        return {"compositeResponse": responses}

    def _run_subrequest(
        self, api: ApiRequest, sub: dict[str, Any], results: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        url = _resolve(str(sub.get("url", "")), results)
        body = _resolve_body(sub.get("body"), results)
        parts = urlsplit(url)
        method = str(sub.get("method", "GET")).upper()
        for pattern, convertors, methods, handler in self._subroutes:
            match = pattern.match(parts.path)
            if match is None or method not in methods:
                continue
            params = {k: convertors[k].convert(v) for k, v in match.groupdict().items()}
            scope = {
                "type": "http",
                "method": method,
                "path": parts.path,
                "query_string": parts.query.encode(),
                "headers": [(b"content-type", b"application/json")],
                "path_params": params,
            }
            raw = json.dumps(body).encode() if body is not None else b""
            outcome = handler(ApiRequest(Request(scope), api.session, api.version, raw))
            if isinstance(outcome, Response):
                text = bytes(outcome.body).decode() if outcome.body else ""
                payload = json.loads(text) if text else None
                status = outcome.status_code
            else:
                payload, status = outcome, 200
            headers = {}
            if status == 201 and isinstance(payload, dict) and payload.get("id"):
                headers["Location"] = f"{parts.path.rstrip('/')}/{payload['id']}"
            return status, payload, headers
        raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {parts.path}")

    def routes(self, gate: Gate) -> list[Route]:
        """The collection and composite routes."""
        base = "/services/data/v{version}/composite"
        return [
            Route(base, gate.wrap(self.composite), methods=["POST"]),
            Route(base + "/", gate.wrap(self.composite), methods=["POST"]),
            Route(
                base + "/sobjects",
                gate.wrap(self._collections),
                methods=["POST", "PATCH", "DELETE"],
            ),
            Route(
                base + "/sobjects/",
                gate.wrap(self._collections),
                methods=["POST", "PATCH", "DELETE"],
            ),
            Route(base + "/sobjects/{object}", gate.wrap(self.retrieve), methods=["GET", "POST"]),
            Route(base + "/sobjects/{object}/{field}", gate.wrap(self.upsert), methods=["PATCH"]),
        ]

    def _collections(self, api: ApiRequest) -> Any:
        method = api.request.method
        if method == "POST":
            return self.create(api)
        if method == "PATCH":
            return self.update(api)
        return self.delete(api)


def _lookup(results: dict[str, Any], ref: str, path: str) -> Any:
    """The value at ``path`` (``id``, ``records[0].Id``) of an earlier subrequest's body."""
    if ref not in results:
        raise ApiError(
            400,
            "PROCESSING_HALTED",
            f"Invalid reference specified. No value for {ref}.{path} found",
        )
    value = results[ref]
    for step in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(step[1:-1])] if step.startswith("[") else value[step]
        except (KeyError, IndexError, TypeError):
            raise ApiError(
                400,
                "PROCESSING_HALTED",
                f"Invalid reference specified. No value for {ref}.{path} found in {ref}",
            ) from None
    return value


def _resolve(text: str, results: dict[str, Any]) -> str:
    return _REFERENCE.sub(lambda m: str(_lookup(results, m.group(1), m.group(2))), text)


def _resolve_body(body: Any, results: dict[str, Any]) -> Any:
    if isinstance(body, str):
        whole = _REFERENCE.fullmatch(body)
        return (
            _lookup(results, whole.group(1), whole.group(2)) if whole else _resolve(body, results)
        )
    if isinstance(body, dict):
        return {k: _resolve_body(v, results) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve_body(v, results) for v in body]
    return body
