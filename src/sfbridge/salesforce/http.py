"""Sending API calls: one sans-IO request loop, driven by a sync or an async httpx client.

Every operation of the client is a *flow*: a generator that yields steps
(``Send`` a request, ``Sleep``, ``Authenticate``) and receives their results.
The logic (auth header, token refresh on ``INVALID_SESSION_ID``, the retry
table, usage metering) lives once, in flows; ``SyncDriver`` and
``AsyncDriver`` only perform the steps with ``httpx.Client`` or
``httpx.AsyncClient``. Tests swap the network through the transport seam
(``HttpOptions.transport``) and the clock through the injected ``sleep``.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar, cast
from urllib.parse import quote

import httpx

from sfbridge.backoff import parse_retry_after

from .errors import ErrorContext, MultipleMatchesError, SalesforceConfigError, SalesforceError
from .limits import ApiMeter, parse_limit_info
from .retry import TRANSPORT_ERROR, Action, RetryPolicy, rule_for

T = TypeVar("T")

DEFAULT_API_VERSION = "62.0"
USER_AGENT = "sfbridge/0.1"
_OK = frozenset({200, 201, 204})
_LOCK_POLL_SECONDS = 0.005


# -- steps a flow yields ---------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send one HTTP request; the flow receives the ``httpx.Response`` or the network error."""

    method: str
    url: str
    params: Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    content: bytes | None = field(default=None, repr=False)
    """A raw body (a Bulk API 2.0 CSV upload), sent as it is."""


@dataclass(frozen=True)
class Sleep:
    """Wait before retrying."""

    seconds: float


@dataclass(frozen=True)
class Authenticate:
    """Make sure the session holds an access token other than ``stale_token``.

    The driver takes the session's lock, so when many requests fail with the
    same expired token at once, exactly one of them refreshes it.
    """

    stale_token: str | None = field(repr=False)


Step: TypeAlias = Send | Sleep | Authenticate
Outcome: TypeAlias = httpx.Response | httpx.RequestError | None
Flow: TypeAlias = Generator[Step, Outcome, T]


class Authenticator(Protocol):
    """The session a driver authenticates with (``OAuthSession`` in ``auth.py``)."""

    @property
    def lock(self) -> threading.Lock:
        """Held while a login or refresh runs."""

    @property
    def access_token(self) -> str | None:
        """The current access token, if logged in."""

    @property
    def instance_url(self) -> str | None:
        """The org's base URL from the token response, if logged in."""

    def needs_login(self, stale_token: str | None) -> bool:
        """True when there is no token, or the current one is ``stale_token``."""

    def login_flow(self, policy: RetryPolicy) -> Flow[object]:
        """Get new tokens (refresh, or the original grant) and keep them."""


def with_retries(policy: RetryPolicy, attempt: Callable[[], Flow[T]]) -> Flow[T]:
    """Run ``attempt`` until it succeeds, retrying the failures ``RETRY_TABLE`` says to retry.

    The error finally raised records its ``attempts``; an error that already
    has them (a token refresh that gave up inside an API call) is not retried
    again by the outer loop.
    """
    retries = 0
    while True:
        try:
            return (yield from attempt())
        except SalesforceError as error:
            rule = rule_for(error.error_code, error.status)
            if error.attempts is None:
                error.attempts = retries + 1
            if (
                rule.action is not Action.RETRY
                or error.attempts > retries + 1
                or retries + 1 >= policy.attempts(rule)
            ):
                raise
            retries += 1
            yield Sleep(policy.delay(retries, error.retry_after))


# -- errors from answers ---------------------------------------------------------


def request_line(request: httpx.Request) -> str:
    """``METHOD /path`` of a request, without the query string, for error messages."""
    return f"{request.method} {request.url.path}"


def network_error(error: httpx.RequestError, request: str) -> SalesforceError:
    """A network failure (no answer) as the retriable ``TRANSPORT_ERROR``.

    An untrusted TLS certificate is no network hiccup: it is a ConfigError
    saying which CA bundle to trust (the emulator makes its own CA).
    """
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return SalesforceConfigError(
            f"the server's TLS certificate is not trusted ({cause})",
            request=request,
            hint="Set HttpOptions(verify=...) to the CA bundle that signed it "
            "(the emulator prints its ca_bundle).",
        )
    rule = rule_for(TRANSPORT_ERROR, None)
    return rule.error(
        f"no answer from Salesforce ({type(error).__name__}: {error})",
        error_code=TRANSPORT_ERROR,
        request=request,
        hint=rule.hint,
    )


def _error_body(response: httpx.Response) -> tuple[str, str, list[str], list[str]]:
    """``(errorCode, message, fields, matching ids)`` from any Salesforce error answer."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:300]
        return "", text or response.reason_phrase, [], []
    if response.status_code == 300 and isinstance(body, list):
        # "Multiple Choices" lists the URL of every matching record (REST API, "Upsert").
        ids = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in body]
        return "MULTIPLE_CHOICES", f"{len(ids)} records match: {', '.join(ids)}", [], ids
    entries = body if isinstance(body, list) else [body]
    first = entries[0] if entries and isinstance(entries[0], Mapping) else {}
    if "error" in first:  # the OAuth endpoints' shape
        return str(first["error"]), str(first.get("error_description", "")), [], []
    code = str(first.get("errorCode") or first.get("statusCode") or "")
    messages = [str(e.get("message", "")) for e in entries if isinstance(e, Mapping)]
    fields = [str(f) for f in first.get("fields") or []]
    return code, "; ".join(m for m in messages if m) or response.reason_phrase, fields, []


def error_from_response(
    response: httpx.Response, *, object_name: str | None = None
) -> SalesforceError:
    """The error an answer stands for, of the class ``RETRY_TABLE`` gives its errorCode/status."""
    code, message, fields, matches = _error_body(response)
    rule = rule_for(code, response.status_code)
    hint = rule.hint
    usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
    if code == "REQUEST_LIMIT_EXCEEDED" and usage is not None:
        hint = f"{hint} Org API usage: {usage.used:,}/{usage.max:,}."
    if response.status_code == 300:
        hint = "An external id must identify one record: remove the duplicates."
    context: ErrorContext = {
        "error_code": code,
        "status": response.status_code,
        "fields": fields,
        "object_name": object_name,
        "request": request_line(response.request),
        "hint": hint,
        "retry_after": parse_retry_after(response.headers.get("Retry-After")),
    }
    if issubclass(rule.error, MultipleMatchesError):
        return MultipleMatchesError(message, matches=matches, **context)
    return rule.error(message, **context)


def error_from_entry(
    entry: Mapping[str, Any],
    *,
    status: int | None = None,
    object_name: str | None = None,
    row: int | None = None,
) -> SalesforceError:
    """The error of one entry inside a 200 answer (a collection record, a subrequest).

    Collections report ``statusCode`` per record (``errorCode`` in
    ``/composite`` bodies); without an HTTP status of its own an entry is
    classified as a 400, the status of record-level errors.
    """
    code = str(entry.get("statusCode") or entry.get("errorCode") or "")
    rule = rule_for(code, status or 400)
    return rule.error(
        str(entry.get("message") or ""),
        error_code=code,
        status=status,
        fields=[str(f) for f in entry.get("fields") or []],
        object_name=object_name,
        row=row,
        hint=rule.hint,
    )


# -- API calls -------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCall:
    """One REST call on the org's instance: a path under ``/services/``, never another host."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    object_name: str | None = None
    """The sObject the call is about, for error messages."""
    content: bytes | None = None
    """A raw body instead of ``json`` (a Bulk API 2.0 CSV upload)."""

    def __post_init__(self) -> None:
        # Paths such as nextRecordsUrl come from answers: a token must never go elsewhere.
        segments = self.path.split("/")
        if not self.path.startswith("/services/") or "//" in self.path or ".." in segments:
            raise SalesforceConfigError(f"refusing to call {self.path!r}: not a Salesforce path")


def normalize_api_version(version: str) -> str:
    """``"62.0"`` from ``"v62.0"`` or ``"62.0"``; a ConfigError for anything else."""
    number = version[1:] if version.startswith("v") else version
    major, dot, minor = number.partition(".")
    if not (major.isdigit() and dot and minor.isdigit() and len(minor) == 1):
        raise SalesforceConfigError(f"API version {version!r} must look like 62.0 or v62.0")
    return number


class ApiCaller:
    """Builds the flow of one API call: token, retries, refresh on 401, usage metering."""

    def __init__(
        self, auth: Authenticator, *, api_version: str, policy: RetryPolicy, meter: ApiMeter
    ) -> None:
        self.auth = auth
        self.api_version = normalize_api_version(api_version)
        self.policy = policy
        self.meter = meter

    def data_path(self, *segments: str) -> str:
        """``/services/data/vNN.N/<segments>``, each segment URL-quoted."""
        tail = "/".join(quote(s, safe="") for s in segments)
        return f"/services/data/v{self.api_version}/{tail}"

    def call(self, call: ApiCall) -> Flow[httpx.Response]:
        """Send ``call`` until it succeeds or the retry table says stop.

        An ``INVALID_SESSION_ID`` answer gets one token refresh per call (not
        per retry), then the call is sent again.
        """
        refreshed = False

        def attempt() -> Flow[httpx.Response]:
            nonlocal refreshed
            while True:
                token, instance_url = self.auth.access_token, self.auth.instance_url
                if token is None or instance_url is None:
                    yield Authenticate(None)
                    continue
                self.meter.before_call()
                headers = {"Authorization": f"Bearer {token}", **(call.headers or {})}
                outcome = yield Send(
                    call.method,
                    instance_url + call.path,
                    params=call.params,
                    json=call.json,
                    headers=headers,
                    content=call.content,
                )
                if not isinstance(outcome, httpx.Response):
                    assert outcome is not None
                    raise network_error(outcome, f"{call.method} {instance_url}{call.path}")
                ok = outcome.status_code in _OK
                error = None if ok else error_from_response(outcome, object_name=call.object_name)
                counted = outcome.status_code != 401 and (
                    error is None or error.error_code != "REQUEST_LIMIT_EXCEEDED"
                )
                self.meter.after_response(outcome.headers.get("Sforce-Limit-Info"), counted=counted)
                if error is None:
                    return outcome
                rule = rule_for(error.error_code, error.status)
                if rule.action is Action.REFRESH_THEN_RETRY and not refreshed:
                    refreshed = True
                    yield Authenticate(token)
                    continue
                raise error

        return (yield from with_retries(self.policy, attempt))

    def json(self, call: ApiCall) -> Flow[Any]:
        """Send ``call``; its JSON body (None for an empty answer such as 204)."""
        response = yield from self.call(call)
        return response.json() if response.content else None


# -- HTTP clients and drivers ----------------------------------------------------


@dataclass(frozen=True)
class HttpOptions:
    """How to reach Salesforce: TLS trust, timeouts, pool size, proxy, transport seam.

    ``verify`` is True (system CAs), a CA bundle path (the emulator's
    ``ca.pem``) or an ``ssl.SSLContext``. ``transport`` / ``async_transport``
    replace the network (``httpx.MockTransport``, ``httpx.ASGITransport``).
    """

    verify: bool | str | Path | ssl.SSLContext = True
    timeout: float = 120.0
    max_connections: int = 20
    proxy: str | None = None
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    async_transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What httpx's ``verify`` gets (it wants a context, not a path, since 0.28)."""
        if isinstance(self.verify, str | Path):
            path = Path(self.verify)
            if not path.exists():
                raise SalesforceConfigError(f"CA bundle {str(path)!r} does not exist")
            if path.is_dir():
                return ssl.create_default_context(capath=str(path))
            return ssl.create_default_context(cafile=str(path))
        return self.verify

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments shared by ``httpx.Client`` and ``httpx.AsyncClient``."""
        return {
            "verify": self.ssl_context(),
            "timeout": httpx.Timeout(self.timeout),
            # HTTP/1.1 keep-alive: every call of a sync reuses a few warm connections.
            "limits": httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
                keepalive_expiry=30.0,
            ),
            "proxy": self.proxy,
            # Salesforce compresses answers when asked (REST API, "Compression Headers").
            "headers": {"Accept-Encoding": "gzip", "User-Agent": USER_AGENT},
        }


def build_http_client(options: HttpOptions) -> httpx.Client:
    """A pooled ``httpx.Client`` for ``options``."""
    return httpx.Client(transport=options.transport, **options.client_options())


def build_async_http_client(options: HttpOptions) -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient`` for ``options``."""
    return httpx.AsyncClient(transport=options.async_transport, **options.client_options())


def _build(client: httpx.Client | httpx.AsyncClient, step: Send) -> httpx.Request:
    return client.build_request(
        step.method,
        step.url,
        params=step.params,
        json=step.json,
        data=step.data,
        content=step.content,
        headers={"Accept": "application/json", **step.headers},
    )


class SyncDriver:
    """Performs a flow's steps with an ``httpx.Client`` (thread-safe: one per client)."""

    def __init__(
        self,
        http: httpx.Client,
        auth: Authenticator,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._auth = auth
        self._policy = policy
        self._sleep = sleep

    def run(self, flow: Flow[T]) -> T:
        """Run ``flow`` to its end; a failed step is raised inside the flow."""
        reply: Outcome = None
        failure: Exception | None = None
        while True:
            try:
                step = flow.throw(failure) if failure is not None else flow.send(reply)
            except StopIteration as done:
                return cast(T, done.value)
            reply, failure = None, None
            try:
                reply = self._perform(step)
            except Exception as error:  # delivered to the flow, which may handle it
                failure = error

    def _perform(self, step: Step) -> Outcome:
        if isinstance(step, Send):
            try:
                return self._http.send(_build(self._http, step))
            except httpx.RequestError as error:
                return error
        if isinstance(step, Sleep):
            self._sleep(step.seconds)
            return None
        with self._auth.lock:
            if self._auth.needs_login(step.stale_token):
                self.run(self._auth.login_flow(self._policy))
        return None


class AsyncDriver:
    """Performs a flow's steps with an ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._auth = auth
        self._policy = policy
        self._sleep = sleep

    async def run(self, flow: Flow[T]) -> T:
        """Run ``flow`` to its end; a failed step is raised inside the flow."""
        reply: Outcome = None
        failure: Exception | None = None
        while True:
            try:
                step = flow.throw(failure) if failure is not None else flow.send(reply)
            except StopIteration as done:
                return cast(T, done.value)
            reply, failure = None, None
            try:
                reply = await self._perform(step)
            except Exception as error:  # delivered to the flow, which may handle it
                failure = error

    async def _perform(self, step: Step) -> Outcome:
        if isinstance(step, Send):
            try:
                return await self._http.send(_build(self._http, step))
            except httpx.RequestError as error:
                return error
        if isinstance(step, Sleep):
            await self._sleep(step.seconds)
            return None
        # The session's lock is a threading lock, shared with sync clients of the
        # same session; poll it rather than block the event loop.
        lock = self._auth.lock
        while not lock.acquire(blocking=False):
            await asyncio.sleep(_LOCK_POLL_SECONDS)
        try:
            if self._auth.needs_login(step.stale_token):
                await self.run(self._auth.login_flow(self._policy))
        finally:
            lock.release()
        return None
