"""The gate every REST API call passes: version, session, daily allowance, faults, call log.

Order matters and follows a real org: an unknown version is a 404 before
anything else; a missing or expired session is a 401 ``INVALID_SESSION_ID``
that does not count against the allowance; then the call is counted, and a
call over the daily allowance gets 403 ``REQUEST_LIMIT_EXCEEDED``. Every
answer carries ``Sforce-Limit-Info`` (REST API Developer Guide, "Limits").
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .api_errors import ApiError, json_parser_error, not_found
from .faults import INJECTABLE_ERRORS, RETRY_AFTER_SECONDS, Call
from .identity import bearer_token
from .oauth import AuthService, Session
from .org import Org

MIN_VERSION = 31
MAX_VERSION = 66


@dataclass
class ApiRequest:
    """What a REST handler gets: the request, the caller's session and the API version."""

    request: Request
    session: Session
    version: str
    body: bytes

    @property
    def user(self) -> Any:
        return self.session.user

    def json(self) -> Any:
        """The request body as JSON; a 400 ``JSON_PARSER_ERROR`` when it is not."""
        if not self.body:
            raise json_parser_error("The request body is empty; a JSON body is required.")
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise json_parser_error(
                f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]"
            ) from None


Handler = Callable[[ApiRequest], Response | Any]


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON answer with Salesforce's content type."""
    return Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json;charset=UTF-8",
    )


def error_response(error: ApiError) -> Response:
    """The REST error body of ``error`` with its status."""
    return json_response(error.body(), error.status)


def check_version(raw: str | None) -> str:
    """``vNN.N`` from the URL; unknown versions answer 404 like a real org."""
    if raw is None:
        return f"{MAX_VERSION}.0"
    try:
        number = float(raw)
    except ValueError:
        raise not_found() from None
    if not (MIN_VERSION <= number <= MAX_VERSION) or raw != f"{number:.1f}":
        raise not_found()
    return raw


class Gate:
    """Wraps REST handlers with the org's API rules."""

    def __init__(self, org: Org, auth: AuthService) -> None:
        self.org = org
        self.auth = auth

    def authenticate(self, request: Request) -> Session:
        """The session of the request's access token (``Authorization: Bearer ...``)."""
        token = bearer_token(request)
        session = self.auth.session_for_token(token) if token else None
        if session is None:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return session

    def wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that applies the gate, then runs ``handler`` in a worker thread."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            counted = False
            faults = self.org.faults
            try:
                version = check_version(request.path_params.get("version"))
                if faults.sessions_expire_now():
                    self.auth.expire_all_sessions()
                session = self.authenticate(request)
                counted = faults.spend()
                if not counted:
                    raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                if faults.settings.latency_ms:
                    await asyncio.sleep(faults.settings.latency_ms / 1000)
                injected = faults.draw(request.method, request.url.path)
                if injected is not None:
                    status, message = INJECTABLE_ERRORS[injected]
                    raise ApiError(status, injected, message)
                api_request = ApiRequest(request, session, version, await request.body())
                result = await run_in_threadpool(handler, api_request)
                response = result if isinstance(result, Response) else json_response(result)
            except ApiError as error:
                response = error_response(error)
                if error.status == 429:
                    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            response.headers["Sforce-Limit-Info"] = faults.usage_header()
            request.scope["sfbridge.logged"] = True
            faults.record(
                Call(
                    method=request.method,
                    path=request.url.path,
                    status=response.status_code,
                    at=datetime.now(UTC).isoformat(),
                    duration_ms=(time.perf_counter() - started) * 1000,
                    counted=counted,
                )
            )
            return response

        return endpoint
