"""Salesforce: ids, SOQL, and sfbridge's own thin, strict REST client.

The client's public names are exported here; the modules hold the details:
``auth`` (OAuth grants, the token session), ``auth_browser`` (web server
flow), ``http`` (request loop, drivers), ``retry`` (the error-to-action
table), ``limits`` (API usage and budgets), ``rest``, ``describe``,
``composite``, ``bulk2`` (with ``bulk2_query``, ``bulk2_ingest`` and
``bulk2_csv``: Bulk API 2.0 jobs), ``tooling`` and ``client`` (the facades).
"""

from .auth import (
    PRODUCTION_LOGIN_URL,
    SANDBOX_LOGIN_URL,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    Grant,
    JwtBearerGrant,
    OAuthSession,
    PasswordGrant,
    RefreshTokenGrant,
    Tokens,
    my_domain_login_url,
)
from .auth_browser import (
    AuthorizationRequest,
    CallbackResult,
    LoopbackListener,
    authorization_request,
    authorize_in_browser,
)
from .bulk2 import JobPolling
from .bulk2_ingest import BulkIngestResult, IngestOperation
from .bulk2_query import AsyncBulkQueryResult, BulkQueryPage, BulkQueryResult
from .client import AsyncSalesforceClient, SalesforceClient
from .composite import RecordResult, Subrequest, SubrequestResult
from .describe import FieldDescribe, ObjectDescribe, PicklistValue, SObjectSummary
from .errors import (
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
from .http import DEFAULT_API_VERSION, HttpOptions
from .limits import ApiBudget, ApiUsage, BudgetStatus, Limit
from .rest import DeletedRecord, DeletedRecords, Record, UpdatedRecords, UpsertResult
from .retry import RETRY_TABLE, Action, RetryPolicy, Rule, rule_for

__all__ = [
    "DEFAULT_API_VERSION",
    "PRODUCTION_LOGIN_URL",
    "RETRY_TABLE",
    "SANDBOX_LOGIN_URL",
    "Action",
    "ApiBudget",
    "ApiUsage",
    "AsyncBulkQueryResult",
    "AsyncSalesforceClient",
    "AuthenticationError",
    "AuthorizationCodeGrant",
    "AuthorizationRequest",
    "BudgetExhausted",
    "BudgetStatus",
    "BulkIngestResult",
    "BulkQueryPage",
    "BulkQueryResult",
    "CallbackResult",
    "ClientCredentialsGrant",
    "DeletedRecord",
    "DeletedRecords",
    "FieldDescribe",
    "Grant",
    "HttpOptions",
    "IngestOperation",
    "JobPolling",
    "JwtBearerGrant",
    "Limit",
    "LoopbackListener",
    "MalformedQueryError",
    "MultipleMatchesError",
    "OAuthSession",
    "ObjectDescribe",
    "PasswordGrant",
    "PicklistValue",
    "ReconnectRequired",
    "Record",
    "RecordResult",
    "RefreshTokenGrant",
    "RequestLimitExceeded",
    "RetryPolicy",
    "Rule",
    "SObjectSummary",
    "SalesforceClient",
    "SalesforceConfigError",
    "SalesforceError",
    "SalesforceFatalError",
    "SalesforceRecordError",
    "SalesforceRetriableError",
    "Subrequest",
    "SubrequestResult",
    "Tokens",
    "UpdatedRecords",
    "UpsertResult",
    "authorization_request",
    "authorize_in_browser",
    "my_domain_login_url",
    "rule_for",
]
