"""The emulator's admin API under ``/__admin__/``: faults, limits, sessions, clock, call log.

It mirrors the Python handle (``Org.faults``, ``Org.store.clock``) for tools
that drive the emulator from another process. It needs no session: the
emulator listens on loopback only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import FaultRule
from .gate import json_response
from .oauth import AuthService
from .org import Org


def _bad_request(message: str) -> Response:
    return json_response({"error": message}, 400)


class AdminResources:
    """Handlers of ``/__admin__/``."""

    def __init__(self, org: Org, auth: AuthService) -> None:
        self.org = org
        self.auth = auth

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        data = json.loads(raw) if raw else {}
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    async def faults(self, request: Request) -> Response:
        """GET the fault state; POST a rule; DELETE every rule and the latency."""
        faults = self.org.faults
        try:
            if request.method == "POST":
                body = await self._body(request)
                faults.add_rule(
                    FaultRule(
                        error_code=str(body.get("errorCode", "")),
                        rate=float(body.get("rate", 1.0)),
                        path_contains=str(body.get("pathContains", "")),
                        method=str(body.get("method", "")),
                        remaining=int(body["count"]) if body.get("count") is not None else None,
                    )
                )
            elif request.method == "DELETE":
                faults.clear()
        except (ValueError, TypeError) as error:
            return _bad_request(str(error))
        return json_response(faults.snapshot())

    async def settings(self, request: Request) -> Response:
        """PUT ``latencyMs``, ``dailyApiRequests``, ``apiUsed``, ``sessionLifetimeSeconds``,
        ``sessionLifetimeCalls``, ``dailyBulkBatches``, ``dailyBulkQueryJobs``."""
        faults = self.org.faults
        try:
            body = await self._body(request)
            if "latencyMs" in body:
                faults.settings.latency_ms = max(0.0, float(body["latencyMs"]))
            if "dailyApiRequests" in body:
                faults.settings.daily_api_limit = int(body["dailyApiRequests"])
            if "apiUsed" in body:
                faults.api_used = int(body["apiUsed"])
            if "dailyBulkBatches" in body:
                faults.settings.daily_bulk_batch_limit = int(body["dailyBulkBatches"])
            if "dailyBulkQueryJobs" in body:
                faults.settings.daily_bulk_query_job_limit = int(body["dailyBulkQueryJobs"])
            if "sessionLifetimeSeconds" in body:
                value = body["sessionLifetimeSeconds"]
                faults.settings.session_lifetime_seconds = None if value is None else float(value)
            if "sessionLifetimeCalls" in body:
                calls = body["sessionLifetimeCalls"]
                faults.settings.session_lifetime_calls = None if calls is None else int(calls)
        except (ValueError, TypeError) as error:
            return _bad_request(str(error))
        return json_response(faults.snapshot())

    async def expire_sessions(self, request: Request) -> Response:
        """Invalidate every access token now (refresh tokens stay valid)."""
        return json_response({"expired": self.auth.expire_all_sessions()})

    async def calls(self, request: Request) -> Response:
        """GET the call log (``?since=N`` skips the first N); DELETE clears it."""
        faults = self.org.faults
        if request.method == "DELETE":
            faults.calls.clear()
            return json_response({"calls": 0})
        since = int(request.query_params.get("since", "0") or 0)
        return json_response([asdict(call) for call in faults.calls[since:]])

    async def clock(self, request: Request) -> Response:
        """POST ``advanceSeconds`` to move the org's clock; answers the org's time."""
        try:
            body = await self._body(request)
            self.org.store.clock.advance(timedelta(seconds=float(body.get("advanceSeconds", 0))))
        except (ValueError, TypeError) as error:
            return _bad_request(str(error))
        return json_response({"now": self.org.store.clock.now().isoformat()})

    async def counts(self, request: Request) -> Response:
        """Live and recycled record counts per object (no API call spent)."""
        result = {}
        for obj in self.org.schema.objects():
            live = self.org.store.count(obj)
            total = self.org.store.count(obj, include_deleted=True)
            result[obj.name] = {"live": live, "deleted": total - live}
        return json_response(result)

    def routes(self) -> list[Route]:
        """Every admin route."""
        return [
            Route("/__admin__/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route("/__admin__/settings", self.settings, methods=["PUT"]),
            Route("/__admin__/sessions/expire", self.expire_sessions, methods=["POST"]),
            Route("/__admin__/calls", self.calls, methods=["GET", "DELETE"]),
            Route("/__admin__/clock", self.clock, methods=["POST"]),
            Route("/__admin__/counts", self.counts, methods=["GET"]),
        ]
