"""The emulated org as an ASGI application.

``create_app`` assembles the resources; ``EmulatorApp`` keeps the pieces a test
or the server needs (the org, the auth service, the query resources). The app
runs in-process under ``httpx.ASGITransport`` or behind uvicorn over HTTPS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admin import AdminResources
from .bulk_ingest import IngestResources
from .bulk_query import BulkQueryResources
from .faults import Call
from .gate import MAX_VERSION, MIN_VERSION, ApiRequest, Gate, json_response
from .oauth import AuthService
from .org import Org
from .records import RecordWriter
from .rest_composite import CompositeResources
from .rest_query import QueryResources
from .rest_sobjects import SObjectResources
from .tooling import ToolingResources

_SEASONS = ("Summer", "Winter", "Spring")


def release_label(major: int) -> str:
    """The release name of an API version: v31.0 is Summer '14, three releases a year."""
    index = major - 31
    year = 14 + (index + 2) // 3
    return f"{_SEASONS[index % 3]} '{year:02d}"


def versions() -> list[dict[str, str]]:
    """``GET /services/data/``: every API version the org serves."""
    return [
        {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(MIN_VERSION, MAX_VERSION + 1)
    ]


class CallLogMiddleware:
    """Logs the calls that are not REST API calls (OAuth, identity), uncounted."""

    def __init__(self, app: ASGIApp, org: Org) -> None:
        self.app = app
        self.org = org

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin__"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def log_then_send(message: Message) -> None:
            # Logged before the answer leaves, so a client that counts calls right
            # after its request returns never misses this one.
            if message["type"] == "http.response.start" and not scope.get("sfbridge.logged"):
                self.org.faults.record(
                    Call(
                        method=scope["method"],
                        path=scope["path"],
                        status=message["status"],
                        at=datetime.now(UTC).isoformat(),
                        duration_ms=(time.perf_counter() - started) * 1000,
                        counted=False,
                    )
                )
            await send(message)

        await self.app(scope, receive, log_then_send)


# "URI plus headers may be at most 16,384 bytes" (soql-semantics.md, from the
# REST API Developer Guide's request limits): past it a too-long URI answers
# 414 and too-long headers 431, before any authentication or counting.
MAX_REQUEST_HEAD_BYTES = 16_384


class RequestHeadLimitMiddleware:
    """Refuses requests whose URI plus headers exceed ``MAX_REQUEST_HEAD_BYTES``, as an org does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            uri = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
            headers = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if uri + headers > MAX_REQUEST_HEAD_BYTES:
                status, code = (
                    (414, "URI Too Long")
                    if uri > headers
                    else (431, "Request Header Fields Too Large")
                )
                size = uri + headers
                message = (
                    f"{code}: the URI and headers are {size} bytes, over {MAX_REQUEST_HEAD_BYTES}"
                )
                body = [{"errorCode": code.upper().replace(" ", "_"), "message": message}]
                await json_response(body, status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass
class EmulatorApp:
    """The ASGI app of one org plus the services behind it."""

    asgi: Starlette
    org: Org
    auth: AuthService
    queries: QueryResources


def create_app(org: Org, auth: AuthService, instance_url: Callable[[], str]) -> EmulatorApp:
    """Build the ASGI app that serves ``org``; ``instance_url()`` is its public https URL."""
    gate = Gate(org, auth)
    writer = RecordWriter(org)
    sobjects = SObjectResources(org, writer)
    queries = QueryResources(org)
    composite = CompositeResources(org, writer)
    admin = AdminResources(org, auth)
    ingest = IngestResources(org, writer)
    bulk_queries = BulkQueryResources(org, queries.engine)
    tooling = ToolingResources(org)
    base = "/services/data/v{version}"

    def resources(api: ApiRequest) -> Any:
        prefix = f"/services/data/v{api.version}"
        names = ("sobjects", "query", "queryAll", "composite", "limits", "jobs", "tooling")
        return {name: f"{prefix}/{name}" for name in names}

    def limits(api: ApiRequest) -> Any:
        faults = org.faults
        settings = faults.settings

        def allocation(limit: int, used: int) -> dict[str, int]:
            return {"Max": limit, "Remaining": max(0, limit - used)}

        return {
            "DailyApiRequests": allocation(settings.daily_api_limit, faults.api_used),
            "DailyBulkApiBatches": allocation(
                settings.daily_bulk_batch_limit, faults.bulk_batches_used
            ),
            "DailyBulkV2QueryJobs": allocation(
                settings.daily_bulk_query_job_limit, faults.bulk_query_jobs_used
            ),
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 5120, "Remaining": 5120},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }

    async def version_list(request: Request) -> Response:
        return json_response(versions())

    routes: list[BaseRoute] = [
        Route("/services/data", version_list, methods=["GET"]),
        Route("/services/data/", version_list, methods=["GET"]),
        Route(base, gate.wrap(resources), methods=["GET"]),
        Route(base + "/", gate.wrap(resources), methods=["GET"]),
        Route(base + "/limits", gate.wrap(limits), methods=["GET"]),
        Route(base + "/limits/", gate.wrap(limits), methods=["GET"]),
    ]
    api_routes = sobjects.routes(gate) + queries.routes(gate) + composite.routes(gate)
    api_routes += ingest.routes(gate) + bulk_queries.routes(gate) + tooling.routes(gate)
    routes += api_routes
    routes += auth.routes(instance_url)
    routes += admin.routes()
    composite.register_subroutes(_subrequest_table(sobjects, queries))

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            body = [
                {
                    "errorCode": "METHOD_NOT_ALLOWED",
                    "message": f"HTTP Method '{request.method}' not allowed.",
                }
            ]
            return json_response(body, 405)
        body = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        return json_response(body, exc.status_code)

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.add_middleware(CallLogMiddleware, org=org)
    app.add_middleware(RequestHeadLimitMiddleware)
    return EmulatorApp(asgi=app, org=org, auth=auth, queries=queries)


def _subrequest_table(
    sobjects: SObjectResources, queries: QueryResources
) -> list[tuple[str, list[str], Callable[[ApiRequest], Any]]]:
    """The resources a ``/composite`` subrequest may call, with their raw handlers."""
    base = "/services/data/v{version}"
    return [
        (base + "/sobjects/{object}", ["GET", "POST"], sobjects.object_info),
        (base + "/sobjects/{object}/describe", ["GET"], sobjects.describe),
        (base + "/sobjects/{object}/{id}", ["GET", "PATCH", "DELETE", "POST"], sobjects.record),
        (
            base + "/sobjects/{object}/{field}/{value:path}",
            ["GET", "PATCH", "DELETE"],
            sobjects.by_external_id,
        ),
        (base + "/query", ["GET"], lambda api: queries.query(api, include_deleted=False)),
        (base + "/queryAll", ["GET"], lambda api: queries.query(api, include_deleted=True)),
    ]
