"""How long to wait before trying again: exponential backoff with full jitter, and Retry-After.

Shared by every client sfbridge has (Salesforce, webhooks, later Customer.io),
so they all back off the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from sfbridge.errors import ConfigError


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class Backoff:
    """How many times to try, and how long to wait between tries.

    ``max_attempts`` counts every try, the first included. ``jitter`` returns
    a number in [0, 1); tests pass a constant to make delays exact.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts {self.max_attempts} must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError(
                f"base_delay {self.base_delay} and max_delay {self.max_delay} cannot be negative"
            )

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        A server's ``Retry-After`` is honoured up to ``max_delay``; otherwise a
        uniformly random delay up to ``base_delay * 2**(retry-1)`` ("full
        jitter"), capped, so many clients retrying together spread out.
        """
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling * self.jitter()
