"""Salesforce errors keep Salesforce's words, say where and what to do, sit in the tree."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sfbridge.errors import ConfigError, FatalError, RetriableError, SkippableError
from sfbridge.salesforce import (
    AuthenticationError,
    BudgetExhausted,
    MalformedQueryError,
    MultipleMatchesError,
    ReconnectRequired,
    RequestLimitExceeded,
    SalesforceConfigError,
    SalesforceError,
    SalesforceFatalError,
    SalesforceRecordError,
    SalesforceRetriableError,
)
from sfbridge.salesforce.http import error_from_entry, error_from_response


def _response(status: int, **kw: Any) -> httpx.Response:
    request = httpx.Request("PATCH", "https://x.my.salesforce.com/services/data/v62.0/sobjects/X")
    return httpx.Response(status, request=request, **kw)


@pytest.mark.parametrize(
    ("error", "branch"),
    [
        (SalesforceRetriableError, RetriableError),
        (SalesforceFatalError, FatalError),
        (RequestLimitExceeded, FatalError),
        (BudgetExhausted, FatalError),
        (AuthenticationError, FatalError),
        (ReconnectRequired, FatalError),
        (SalesforceRecordError, SkippableError),
        (MultipleMatchesError, SkippableError),
        (SalesforceConfigError, ConfigError),
        (MalformedQueryError, ConfigError),
    ],
)
def test_each_error_is_in_the_branch_that_says_what_to_do(
    error: type[SalesforceError], branch: type[Exception]
) -> None:
    assert issubclass(error, SalesforceError) and issubclass(error, branch)


def test_the_message_names_the_code_the_place_and_the_fix() -> None:
    error = SalesforceRecordError(
        "Required fields are missing: [LastName]",
        error_code="REQUIRED_FIELD_MISSING",
        status=400,
        fields=["LastName"],
        object_name="Contact",
        row=3,
        request="POST /services/data/v62.0/composite/sobjects",
        hint="Map a value to LastName.",
    )
    assert str(error) == (
        "REQUIRED_FIELD_MISSING (HTTP 400) [Contact; row 3; fields LastName; "
        "POST /services/data/v62.0/composite/sobjects]: Required fields are missing: [LastName] "
        "Map a value to LastName."
    )
    assert repr(error) == (
        "SalesforceRecordError(error_code='REQUIRED_FIELD_MISSING', status=400, "
        "message='Required fields are missing: [LastName]', fields=['LastName'], "
        "object_name='Contact', row=3)"
    )
    assert str(SalesforceConfigError("bad")) == "SalesforceConfigError: bad"


def test_a_403_request_limit_is_a_spent_allowance_not_a_permission_problem() -> None:
    body = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    error = error_from_response(
        _response(403, json=body, headers={"Sforce-Limit-Info": "api-usage=15000/15000"})
    )
    assert isinstance(error, RequestLimitExceeded) and isinstance(error, FatalError)
    assert error.error_code == "REQUEST_LIMIT_EXCEEDED" and error.status == 403
    assert "DailyApiRequests" in str(error) and "15,000/15,000" in str(error)
    assert "TotalRequests Limit exceeded." in str(error)


def test_error_bodies_of_every_shape() -> None:
    listed = error_from_response(
        _response(
            400,
            json=[
                {"errorCode": "INVALID_FIELD", "message": "No such column 'Naem'", "fields": []},
                {"errorCode": "INVALID_FIELD", "message": "second"},
            ],
        )
    )
    assert isinstance(listed, MalformedQueryError)
    assert listed.message == "No such column 'Naem'; second"
    refused = {"error": "invalid_grant", "error_description": "authentication failure"}
    oauth = error_from_response(_response(400, json=refused))
    assert (oauth.error_code, oauth.message) == ("invalid_grant", "authentication failure")
    html = error_from_response(_response(503, text="<html>Service Unavailable</html>"))
    assert isinstance(html, SalesforceRetriableError) and "Service Unavailable" in html.message
    urls = [f"/services/data/v62.0/sobjects/Contact/{i}" for i in ("003A", "003B")]
    multiple = error_from_response(_response(300, json=urls))
    assert isinstance(multiple, MultipleMatchesError)
    assert multiple.matches == ("003A", "003B")


def test_record_entries_use_status_code_and_keep_the_row() -> None:
    entry = {"statusCode": "DUPLICATE_VALUE", "message": "duplicate value found", "fields": ["E"]}
    error = error_from_entry(entry, object_name="Contact", row=7)
    assert isinstance(error, SalesforceRecordError)
    assert (error.error_code, error.row, error.fields) == ("DUPLICATE_VALUE", 7, ("E",))
    locked = error_from_entry({"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"})
    assert isinstance(locked, SalesforceRetriableError)
    unknown = error_from_entry({"statusCode": "SOMETHING_NEW", "message": "?"})
    assert isinstance(unknown, SalesforceRecordError)
