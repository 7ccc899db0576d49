"""API usage: the ``Sforce-Limit-Info`` header, ``/limits``, and a per-connection budget.

Every REST answer carries ``Sforce-Limit-Info: api-usage=N/M``, optionally
followed by ``; per-app-api-usage=n/m(appName=x)`` (REST API Developer
Guide, "Limits"; "Sforce-Limit-Info Response Header"). ``ApiMeter`` reads it
on every answer, counts the calls this client made, and asks the
``ApiBudget`` before each call, so a sync can promise "never more than 20%
of the org's daily allowance".
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import BudgetExhausted, SalesforceConfigError

_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")
_PER_APP_USAGE = re.compile(r"per-app-api-usage=(\d+)/(\d+)(?:\(appName=([^)]*)\))?")

# The allowance is a rolling 24-hour window (Salesforce Developer Limits, "API Request Limits").
DAILY_WINDOW_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class ApiUsage:
    """The org's API usage as one answer reported it."""

    used: int
    max: int
    per_app_used: int | None = None
    per_app_max: int | None = None
    app_name: str | None = None

    @property
    def remaining(self) -> int:
        """Calls left in the org's window."""
        return max(0, self.max - self.used)


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """The usage in a ``Sforce-Limit-Info`` value; None when absent or unreadable."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    per_app = _PER_APP_USAGE.search(header)
    return ApiUsage(
        used=int(match.group(1)),
        max=int(match.group(2)),
        per_app_used=int(per_app.group(1)) if per_app else None,
        per_app_max=int(per_app.group(2)) if per_app else None,
        app_name=per_app.group(3) if per_app else None,
    )


@dataclass(frozen=True)
class Limit:
    """One entry of ``GET /limits``: the maximum and what remains."""

    max: int
    remaining: int

    @property
    def used(self) -> int:
        """How much of the limit is spent."""
        return max(0, self.max - self.remaining)


def parse_limits(body: Mapping[str, Any]) -> dict[str, Limit]:
    """``GET /limits`` as ``{"DailyApiRequests": Limit(max, remaining), ...}``.

    Entries carry per-app sub-entries too; only the org-wide ``Max`` and
    ``Remaining`` are kept.
    """
    return {
        name: Limit(int(value["Max"]), int(value["Remaining"]))
        for name, value in body.items()
        if isinstance(value, Mapping) and "Max" in value and "Remaining" in value
    }


@dataclass(frozen=True)
class BudgetStatus:
    """Where a budget stands: what it allows, what was spent, and when the window ends."""

    name: str
    max_share: float
    allowance: int | None
    """Calls this connection may make in the window; None until the org's maximum is known."""
    spent: int
    org_usage: ApiUsage | None
    window_ends: datetime

    @property
    def exhausted(self) -> bool:
        """True when the next call would go over the allowance."""
        return self.allowance is not None and self.spent >= self.allowance

    def message(self) -> str:
        """A sentence naming the budget, the usage and what to do."""
        usage = self.org_usage
        org = f" (org usage {usage.used:,}/{usage.max:,})" if usage else ""
        of_max = f" of the org's daily allowance of {usage.max:,} calls" if usage else ""
        until = self.window_ends.strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"API budget {self.name!r} is used up: this connection may spend "
            f"{self.max_share:.0%}{of_max} ({self.allowance:,} calls) and has spent "
            f"{self.spent:,}{org}. Raise the budget's max_share, or wait until the 24-hour "
            f"window ends at {until}."
        )


class ApiBudget:
    """Keep one connection under ``max_share`` of the org's daily API allowance.

    The window starts at this connection's first call and lasts 24 hours.
    The allowance is ``max_share`` of the org's maximum, and never more than
    what the org had left when the window started (the usage the first
    answer reported). Calls are reserved before they are sent, so threads
    sharing a client cannot overshoot. When the next call would exceed the
    allowance, ``on_exhausted`` (if given) is called first, e.g. to wait for
    the window or checkpoint; if the budget is still spent afterwards,
    ``BudgetExhausted`` is raised.
    """

    def __init__(
        self,
        max_share: float = 0.2,
        *,
        name: str = "api",
        on_exhausted: Callable[[BudgetStatus], None] | None = None,
        clock: Callable[[], float] = time.time,
        window_seconds: float = DAILY_WINDOW_SECONDS,
    ) -> None:
        if not 0.0 < max_share <= 1.0:
            raise SalesforceConfigError(
                f"API budget {name!r}: max_share {max_share!r} must be above 0 and at most 1"
            )
        self.max_share = max_share
        self.name = name
        self._on_exhausted = on_exhausted
        self._clock = clock
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._spent = 0
        self._baseline_used: int | None = None
        self._latest: ApiUsage | None = None

    def status(self) -> BudgetStatus:
        """The budget as it stands now."""
        with self._lock:
            self._roll_window()
            return self._status()

    def reserve(self) -> None:
        """Count one call about to be sent; raise ``BudgetExhausted`` when none is left."""
        refused = self._take_one()
        if refused is not None and self._on_exhausted is not None:
            self._on_exhausted(refused)
            refused = self._take_one()
        if refused is not None:
            raise BudgetExhausted(refused.message())

    def _take_one(self) -> BudgetStatus | None:
        """Reserve one call; the exhausted status instead when there is none left."""
        with self._lock:
            self._roll_window()
            status = self._status()
            if status.exhausted:
                return status
            self._spent += 1
            return None

    def observe(self, usage: ApiUsage) -> None:
        """Take in the org's usage from an answer (the first one sets the window's baseline)."""
        with self._lock:
            self._latest = usage
            if self._baseline_used is None:
                # The answer already counts the calls this window made.
                self._baseline_used = max(0, usage.used - self._spent)

    def _roll_window(self) -> None:
        now = self._clock()
        if self._window_start is None or now - self._window_start >= self._window_seconds:
            self._window_start = now
            self._spent = 0
            self._baseline_used = self._latest.used if self._latest else None

    def _status(self) -> BudgetStatus:
        assert self._window_start is not None
        allowance = None
        if self._latest is not None and self._baseline_used is not None:
            share = math.floor(self.max_share * self._latest.max)
            allowance = max(0, min(share, self._latest.max - self._baseline_used))
        ends = datetime.fromtimestamp(self._window_start + self._window_seconds, UTC)
        return BudgetStatus(self.name, self.max_share, allowance, self._spent, self._latest, ends)


class ApiMeter:
    """Counts this client's API calls, keeps the org's latest usage, and applies a budget."""

    def __init__(self, budget: ApiBudget | None = None) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._calls = 0
        self._usage: ApiUsage | None = None

    @property
    def api_calls(self) -> int:
        """API calls this client made that count against the org's allowance."""
        return self._calls

    @property
    def usage(self) -> ApiUsage | None:
        """The org's usage from the latest answer (or ``/limits`` read)."""
        return self._usage

    def before_call(self) -> None:
        """Called before each API request; raises ``BudgetExhausted`` when the budget is spent."""
        if self.budget is not None:
            self.budget.reserve()

    def after_response(self, limit_info: str | None, *, counted: bool) -> None:
        """Called with each answer's ``Sforce-Limit-Info``; ``counted`` when it used the allowance.

        Salesforce does not count a call refused for an invalid session or for
        the exhausted allowance itself; those pass ``counted=False``.
        """
        usage = parse_limit_info(limit_info)
        with self._lock:
            if counted:
                self._calls += 1
            if usage is not None:
                self._usage = usage
        if usage is not None and self.budget is not None:
            self.budget.observe(usage)

    def observe_limits(self, limits: Mapping[str, Limit]) -> None:
        """Take the org's usage from a ``/limits`` answer (``DailyApiRequests``)."""
        daily = limits.get("DailyApiRequests")
        if daily is None:
            return
        usage = ApiUsage(used=daily.used, max=daily.max)
        with self._lock:
            self._usage = usage
        if self.budget is not None:
            self.budget.observe(usage)
