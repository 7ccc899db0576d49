"""Errors of the Salesforce client: what Salesforce said, and what the caller should do.

Every error keeps Salesforce's own ``errorCode``, message, ``fields`` and HTTP
status, plus where it happened (object, the caller's row index, the request
line). Its class says what to do, following ``sfbridge.errors``::

    SalesforceError (SfbridgeError)    errorCode, message, fields, status, object_name, row
    ├── SalesforceRetriableError       (RetriableError) lock, 5xx, timeout, network: retries ran out
    ├── SalesforceFatalError           (FatalError) the job must stop
    │   ├── RequestLimitExceeded       403 REQUEST_LIMIT_EXCEEDED: the org's allowance is used up
    │   ├── BudgetExhausted            this connection's ApiBudget share is used up
    │   └── AuthenticationError        a login was refused
    │       └── ReconnectRequired      the stored refresh token no longer works
    ├── SalesforceRecordError          (SkippableError) one record: a required field, a duplicate...
    │   └── MultipleMatchesError       300: an external id matched several records
    └── SalesforceConfigError          (ConfigError) a setting, a name or a request is wrong
        └── MalformedQueryError        MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE

Unlike simple-salesforce, the class never comes from the HTTP status alone: a
403 ``REQUEST_LIMIT_EXCEEDED`` is a spent allowance, not missing permissions.
Messages never contain a token, a client secret or a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict, Unpack

from sfbridge.errors import ConfigError, FatalError, RetriableError, SfbridgeError, SkippableError


class ErrorContext(TypedDict, total=False):
    """The keyword arguments every ``SalesforceError`` accepts besides its message."""

    error_code: str
    status: int | None
    fields: Sequence[str]
    object_name: str | None
    row: int | None
    request: str | None
    hint: str
    retry_after: float | None


class SalesforceError(SfbridgeError):
    """An error Salesforce answered (or that sfbridge met talking to Salesforce).

    ``error_code`` is Salesforce's ``errorCode`` (``statusCode`` in sObject
    Collections, ``error`` at the OAuth token endpoint); it is empty when the
    error is sfbridge's own. ``row`` is the caller's index of the record in a
    batch call. ``hint`` says what to do. ``retry_after`` holds the seconds of
    a ``Retry-After`` header, when the answer had one; ``attempts`` how many
    times the request was sent before this error was raised.
    """

    def __init__(
        self,
        message: str,
        *,
        error_code: str = "",
        status: int | None = None,
        fields: Sequence[str] = (),
        object_name: str | None = None,
        row: int | None = None,
        request: str | None = None,
        hint: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status
        self.fields = tuple(fields)
        self.object_name = object_name
        self.row = row
        self.request = request
        self.hint = hint
        self.retry_after = retry_after
        self.attempts: int | None = None
        """How many times the request loop sent the request before giving up."""

    def __str__(self) -> str:
        head = self.error_code or type(self).__name__
        if self.status is not None:
            head += f" (HTTP {self.status})"
        context = []
        if self.object_name:
            context.append(self.object_name)
        if self.row is not None:
            context.append(f"row {self.row}")
        if self.fields:
            context.append("fields " + ", ".join(self.fields))
        if self.request:
            context.append(self.request)
        where = f" [{'; '.join(context)}]" if context else ""
        text = f"{head}{where}: {self.message}"
        return f"{text} {self.hint}" if self.hint else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error_code={self.error_code!r}, status={self.status!r}, "
            f"message={self.message!r}, fields={list(self.fields)!r}, "
            f"object_name={self.object_name!r}, row={self.row!r})"
        )


class SalesforceRetriableError(SalesforceError, RetriableError):
    """A transient failure (lock, 5xx, timeout, network) that outlasted the retries."""


class SalesforceFatalError(SalesforceError, FatalError):
    """The job cannot go on until a person acts: a limit, revoked access, a disabled API."""


class RequestLimitExceeded(SalesforceFatalError):
    """403 ``REQUEST_LIMIT_EXCEEDED``: the org's daily API allowance is used up.

    Resumable: stop, keep the checkpoint, and start again when the rolling
    24-hour window frees calls.
    """


class BudgetExhausted(SalesforceFatalError):
    """This connection spent its ``ApiBudget`` share of the org's daily allowance."""


class AuthenticationError(SalesforceFatalError):
    """Salesforce refused a login (token endpoint ``invalid_grant``, ``invalid_client``...)."""


class ReconnectRequired(AuthenticationError):
    """The stored refresh token was revoked or expired: a person must connect again."""

    def __init__(
        self, message: str, *, connection_name: str | None = None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.connection_name = connection_name


class SalesforceRecordError(SalesforceError, SkippableError):
    """One record was refused (a required field, a duplicate, a bad reference...)."""


class MultipleMatchesError(SalesforceRecordError):
    """300: an external id value matched several records; ``matches`` holds their ids."""

    def __init__(
        self, message: str, *, matches: Sequence[str] = (), **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.matches = tuple(matches)


class SalesforceConfigError(SalesforceError, ConfigError):
    """A setting, an object or field name, or the shape of a request is wrong."""


class MalformedQueryError(SalesforceConfigError):
    """Salesforce refused a query or a name in it: bad SOQL syntax, an unknown field or object.

    ``INVALID_FIELD`` also answers a write naming a field the object lacks.
    """
