"""The error tree of sfbridge.

Every error sfbridge raises on purpose is an ``SfbridgeError``. The branches say
what the caller should do, not where the error came from::

    SfbridgeError
    ├── ConfigError      bad settings or input: a person must change a value
    ├── RetriableError   transient (network, lock, 503): the same call may succeed later
    ├── FatalError       the job cannot go on (limit reached, access revoked)
    └── SkippableError   one record cannot be processed: keep it with its reason, go on

Messages name the value involved and what to do about it. They never contain a
secret (token, key, password).
"""

from __future__ import annotations


class SfbridgeError(Exception):
    """Root of every error sfbridge raises on purpose."""


class ConfigError(SfbridgeError):
    """A setting or an input value is wrong; the message names it and the fix."""


class RetriableError(SfbridgeError):
    """A transient failure: the same request may succeed if tried again."""


class FatalError(SfbridgeError):
    """The job cannot continue without a person acting (a limit, revoked access)."""


class SkippableError(SfbridgeError):
    """One record cannot be processed; it is kept with this reason for replay."""
