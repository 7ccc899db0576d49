"""Fault injection, API budget and the call log of the emulated org.

Tests and benchmarks use these to make the org misbehave the way real orgs do
(lock contention, 503s, an exhausted daily allowance, expiring sessions) and to
count the API calls a piece of sfbridge spends.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

# errorCode -> (HTTP status, message) as a real org answers (REST API Developer
# Guide, "Status Codes and Error Responses"; messages from public client code).
INJECTABLE_ERRORS: dict[str, tuple[int, str]] = {
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "UNABLE_TO_LOCK_ROW": (
        400,
        "unable to obtain exclusive access to this record or 1 records: 001000000000000AAA",
    ),
    "SERVER_UNAVAILABLE": (503, "Server temporarily unavailable; please retry later"),
    "UNKNOWN_EXCEPTION": (
        500,
        "An unexpected error occurred. Please include this ErrorId if you contact support",
    ),
    "QUERY_TIMEOUT": (400, "Your query request was running for too long."),
    "INVALID_SESSION_ID": (401, "Session expired or invalid"),
    # What a gateway in front of an org answers under load; clients must honour Retry-After.
    "TOO_MANY_REQUESTS": (429, "Too many requests: slow down and retry after Retry-After seconds"),
}
RETRY_AFTER_SECONDS = 1


@dataclass
class FaultRule:
    """Answer a share ``rate`` of matching calls with ``error_code`` instead of serving them."""

    error_code: str
    rate: float = 1.0
    path_contains: str = ""
    method: str = ""
    remaining: int | None = None

    def matches(self, method: str, path: str) -> bool:
        """True when this rule applies to a call (before the random draw)."""
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path_contains in path


@dataclass
class Call:
    """One API call the org served."""

    method: str
    path: str
    status: int
    at: str
    duration_ms: float
    counted: bool


@dataclass
class FaultSettings:
    """Everything an operator can make the org do wrong, plus its limits."""

    rules: list[FaultRule] = field(default_factory=list)
    latency_ms: float = 0.0
    daily_api_limit: int = 15000
    session_lifetime_seconds: float | None = None
    # Every Nth API call finds all access tokens expired: a long job meets
    # expiries at a known pace whatever its speed.
    session_lifetime_calls: int | None = None
    # Bulk API allocations per 24 hours ("Bulk API and Bulk API 2.0 Limits and Allocations").
    daily_bulk_batch_limit: int = 15000
    daily_bulk_query_job_limit: int = 10000


class Faults:
    """Thread-safe fault state, API usage counter and call log."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.settings = FaultSettings()
        self.api_used = 0
        self.bulk_batches_used = 0
        self.bulk_query_jobs_used = 0
        self.calls: list[Call] = []
        self._calls_this_session = 0

    def add_rule(self, rule: FaultRule) -> None:
        """Start injecting ``rule``; unknown error codes are refused."""
        if rule.error_code not in INJECTABLE_ERRORS:
            known = ", ".join(sorted(INJECTABLE_ERRORS))
            raise ValueError(f"unknown errorCode {rule.error_code!r}; injectable: {known}")
        if not 0.0 <= rule.rate <= 1.0:
            raise ValueError(f"rate {rule.rate!r} must be between 0 and 1")
        with self._lock:
            self.settings.rules.append(rule)

    def clear(self) -> None:
        """Remove every rule and the added latency; keep usage and the log."""
        with self._lock:
            self.settings.rules.clear()
            self.settings.latency_ms = 0.0

    def draw(self, method: str, path: str) -> str | None:
        """The error code to inject for this call, if any."""
        with self._lock:
            for rule in self.settings.rules:
                if not rule.matches(method, path):
                    continue
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if self._random.random() < rule.rate:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.error_code
        return None

    def sessions_expire_now(self) -> bool:
        """Count one call against ``session_lifetime_calls``; True on every Nth call."""
        with self._lock:
            lifetime = self.settings.session_lifetime_calls
            if lifetime is None:
                return False
            self._calls_this_session += 1
            if self._calls_this_session < lifetime:
                return False
            self._calls_this_session = 0
            return True

    def spend(self) -> bool:
        """Count one API request; False when the daily allowance is already used up."""
        with self._lock:
            if self.api_used >= self.settings.daily_api_limit:
                return False
            self.api_used += 1
            return True

    def spend_bulk_batch(self) -> bool:
        """Count one Bulk API batch (10,000 ingested records); False once the allocation is used."""
        with self._lock:
            if self.bulk_batches_used >= self.settings.daily_bulk_batch_limit:
                return False
            self.bulk_batches_used += 1
            return True

    def spend_bulk_query_job(self) -> bool:
        """Count one Bulk API 2.0 query job; False once the daily allocation is used."""
        with self._lock:
            if self.bulk_query_jobs_used >= self.settings.daily_bulk_query_job_limit:
                return False
            self.bulk_query_jobs_used += 1
            return True

    def usage_header(self) -> str:
        """The ``Sforce-Limit-Info`` value: ``api-usage=N/M`` (the form tap-salesforce parses)."""
        return f"api-usage={self.api_used}/{self.settings.daily_api_limit}"

    def record(self, call: Call) -> None:
        """Append a call to the log."""
        with self._lock:
            self.calls.append(call)

    def call_count(
        self, *, path_contains: str = "", method: str = "", counted_only: bool = True
    ) -> int:
        """How many logged calls match (API calls only unless ``counted_only`` is False)."""
        with self._lock:
            return sum(
                1
                for c in self.calls
                if path_contains in c.path
                and (not method or c.method == method.upper())
                and (c.counted or not counted_only)
            )

    def snapshot(self) -> dict[str, Any]:
        """The settings and usage as JSON-ready data (for the admin API)."""
        with self._lock:
            return {
                "rules": [asdict(r) for r in self.settings.rules],
                "latency_ms": self.settings.latency_ms,
                "daily_api_limit": self.settings.daily_api_limit,
                "api_used": self.api_used,
                "session_lifetime_seconds": self.settings.session_lifetime_seconds,
                "session_lifetime_calls": self.settings.session_lifetime_calls,
                "daily_bulk_batch_limit": self.settings.daily_bulk_batch_limit,
                "bulk_batches_used": self.bulk_batches_used,
                "daily_bulk_query_job_limit": self.settings.daily_bulk_query_job_limit,
                "bulk_query_jobs_used": self.bulk_query_jobs_used,
                "calls": len(self.calls),
            }
