"""What to do when Salesforce answers with an error: one table, then the backoff arithmetic.

``RETRY_TABLE`` maps Salesforce's ``errorCode`` first and the HTTP status
second to a ``Rule``: the action the request loop takes (``Action``) and the
error class raised when it gives up. Codes and statuses come from the REST
API Developer Guide ("Status Codes and Error Responses") and the SOAP API
Developer Guide ("StatusCode"), which lists the per-record codes. The table
is data: change a row, not the loop.

``RetryPolicy`` turns a retry number into a delay: exponential backoff with
full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
capped, and a server's ``Retry-After`` wins over the computed delay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sfbridge.backoff import Backoff

from .errors import (
    AuthenticationError,
    MalformedQueryError,
    MultipleMatchesError,
    RequestLimitExceeded,
    SalesforceConfigError,
    SalesforceError,
    SalesforceFatalError,
    SalesforceRecordError,
    SalesforceRetriableError,
)


class Action(StrEnum):
    """What the request loop does with a failed call."""

    RETRY = "retry"
    """Send the same request again after a backoff delay."""
    REFRESH_THEN_RETRY = "refresh_then_retry"
    """Get a new access token (once per request), then send again at once."""
    FAIL = "fail"
    """Raise: retrying the same request cannot help."""
    SKIP = "skip"
    """Raise a record-level error: this record is refused, the others go on."""


@dataclass(frozen=True)
class Rule:
    """One row of the table: the action, the error raised, and optional limits."""

    action: Action
    error: type[SalesforceError]
    max_attempts: int | None = None
    """Fewer tries than the policy allows, for failures that rarely clear quickly."""
    hint: str = ""
    """What a person should do, appended to the error message."""


TRANSPORT_ERROR = "TRANSPORT_ERROR"
"""The pseudo errorCode of a network failure (connect, read, TLS): no answer arrived."""

_TRANSIENT = Rule(Action.RETRY, SalesforceRetriableError)
_RECORD = Rule(Action.SKIP, SalesforceRecordError)
_QUERY = Rule(
    Action.FAIL,
    MalformedQueryError,
    hint="Fix the query, field or object name (describe the object to see what exists).",
)
_REQUEST = Rule(Action.FAIL, SalesforceConfigError)

RETRY_TABLE: Mapping[str | int, Rule] = MappingProxyType(
    {
        # -- errorCode rows: looked up first ----------------------------------
        TRANSPORT_ERROR: _TRANSIENT,
        "UNABLE_TO_LOCK_ROW": Rule(
            Action.RETRY,
            SalesforceRetriableError,
            hint="Another transaction held a lock on the record; try again later.",
        ),
        "SERVER_UNAVAILABLE": _TRANSIENT,
        "UNKNOWN_EXCEPTION": _TRANSIENT,
        # A query that timed out once usually times out again: split its window instead.
        "QUERY_TIMEOUT": Rule(
            Action.RETRY,
            SalesforceRetriableError,
            max_attempts=2,
            hint="Narrow the query (a shorter date window, a selective filter).",
        ),
        "REQUEST_RUNNING_TOO_LONG": Rule(Action.RETRY, SalesforceRetriableError, max_attempts=2),
        # A query locator expires (15 minutes idle, or too many open): the query must start over.
        "INVALID_QUERY_LOCATOR": Rule(
            Action.FAIL, SalesforceRetriableError, hint="Run the query again from its start."
        ),
        "INVALID_SESSION_ID": Rule(
            Action.REFRESH_THEN_RETRY,
            AuthenticationError,
            hint="A new access token was refused too; check the connected app and the user.",
        ),
        "REQUEST_LIMIT_EXCEEDED": Rule(
            Action.FAIL,
            RequestLimitExceeded,
            hint="The org's daily API request limit (DailyApiRequests) is used up: stop, keep "
            "the checkpoint and resume when the rolling 24-hour window frees calls, or ask a "
            "Salesforce admin to raise the limit.",
        ),
        "API_DISABLED_FOR_ORG": Rule(
            Action.FAIL,
            SalesforceFatalError,
            hint="The org's edition or the user's profile has no API access ('API Enabled').",
        ),
        "API_CURRENTLY_DISABLED": Rule(Action.FAIL, SalesforceFatalError),
        "MALFORMED_QUERY": _QUERY,
        "INVALID_FIELD": _QUERY,
        "INVALID_TYPE": _QUERY,
        "INVALID_QUERY_FILTER_OPERATOR": _QUERY,
        "INVALID_FIELD_FOR_INSERT_UPDATE": Rule(
            Action.FAIL,
            SalesforceConfigError,
            hint="The field is read-only for this user: remove it from the mapping or grant "
            "edit access.",
        ),
        "INVALID_TYPE_FOR_OPERATION": _REQUEST,
        "INVALID_OPERATION": _REQUEST,
        "INVALID_BATCH_REQUEST": _REQUEST,
        "EXCEEDED_ID_LIMIT": _REQUEST,
        "INVALID_REPLICATION_DATE": _REQUEST,
        "METHOD_NOT_ALLOWED": _REQUEST,
        "UNSUPPORTED_API_VERSION": _REQUEST,
        "REQUIRED_FIELD_MISSING": _RECORD,
        "DUPLICATE_VALUE": _RECORD,
        "DUPLICATES_DETECTED": _RECORD,
        "DUPLICATE_EXTERNAL_ID": Rule(Action.SKIP, MultipleMatchesError),
        "INVALID_CROSS_REFERENCE_KEY": _RECORD,
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": _RECORD,
        "STRING_TOO_LONG": _RECORD,
        "NUMBER_OUTSIDE_VALID_RANGE": _RECORD,
        "INVALID_EMAIL_ADDRESS": _RECORD,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": _RECORD,
        "FIELD_CUSTOM_VALIDATION_EXCEPTION": _RECORD,
        "FIELD_INTEGRITY_EXCEPTION": _RECORD,
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": _RECORD,
        "MALFORMED_ID": _RECORD,
        "INVALID_ID_FIELD": _RECORD,
        "MISSING_ARGUMENT": _RECORD,
        "JSON_PARSER_ERROR": _RECORD,
        "ENTITY_IS_DELETED": _RECORD,
        "NOT_FOUND": _RECORD,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK": _RECORD,
        "PROCESSING_HALTED": _RECORD,
        # -- HTTP status rows: when the errorCode is unknown or absent ---------
        300: Rule(Action.SKIP, MultipleMatchesError),
        # Most 400 codes are about one record's values (SOAP API, "StatusCode").
        400: _RECORD,
        401: Rule(Action.REFRESH_THEN_RETRY, AuthenticationError),
        403: Rule(Action.FAIL, SalesforceFatalError),
        404: _RECORD,
        405: _REQUEST,
        414: Rule(
            Action.FAIL,
            SalesforceConfigError,
            hint="The URL is over 16,384 bytes: select fewer fields or shorten the filter.",
        ),
        429: _TRANSIENT,
        500: _TRANSIENT,
        502: _TRANSIENT,
        503: _TRANSIENT,
        504: _TRANSIENT,
    }
)

DEFAULT_RULE = Rule(Action.FAIL, SalesforceFatalError)
"""What an answer matching no row gets: stop, and show Salesforce's own words."""


def rule_for(error_code: str, status: int | None) -> Rule:
    """The table's rule for an answer: by errorCode first, then by HTTP status."""
    found = RETRY_TABLE.get(error_code) if error_code else None
    if found is None and status is not None:
        found = RETRY_TABLE.get(status)
    return found or DEFAULT_RULE


@dataclass(frozen=True)
class RetryPolicy(Backoff):
    """The shared backoff, plus how many tries each row of the retry table allows."""

    def attempts(self, rule: Rule) -> int:
        """Tries allowed for a rule: the policy's, or fewer when the row says so."""
        if rule.max_attempts is None:
            return self.max_attempts
        return min(rule.max_attempts, self.max_attempts)
