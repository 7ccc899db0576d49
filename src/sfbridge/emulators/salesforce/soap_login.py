"""``POST /services/Soap/u/{version}``: the partner SOAP API ``login()`` call.

simple-salesforce logs in this way when given a username, password and
security token (or an organization id instead of the token). The answers
copy a real org's envelopes (SOAP API Developer Guide, "login()" and
"LoginResult"): simple-salesforce reads ``sessionId`` and ``serverUrl``,
and on failure ``sf:exceptionCode`` and ``sf:exceptionMessage``. On a
failed login a real org puts the code only in ``faultstring``
("INVALID_LOGIN: Invalid username, ..."), not in ``exceptionMessage``; the
fault fixtures of simple-salesforce's own test suite show the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .credentials import CredentialStore, Grant
from .login_hosts import LoginContext, login_context, login_username
from .org import ORG_NAME, Org

DEFAULT_SESSION_SECONDS = 7200
"""A real org's default session timeout (two hours), reported when no lifetime is set."""

_VERSION = re.compile(r"\d{1,3}\.\d")
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
)


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/xml;charset=UTF-8")


def fault(faultcode: str, faultstring: str, detail: tuple[str, str, str] | None = None) -> Response:
    """An HTTP 500 SOAP fault; ``detail`` is ``(fault type, exceptionCode, exceptionMessage)``."""
    detail_xml = ""
    if detail is not None:
        kind, code, message = detail
        detail_xml = (
            f'<detail><sf:{kind} xsi:type="sf:{kind}">'
            f"<sf:exceptionCode>{escape(code)}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
            f"</sf:{kind}></detail>"
        )
    return _xml(
        _ENVELOPE_OPEN + 'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body><soapenv:Fault><faultcode>{escape(faultcode)}</faultcode>"
        f"<faultstring>{escape(faultstring)}</faultstring>{detail_xml}"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>",
        status=500,
    )


def _invalid_login() -> Response:
    return fault(
        "sf:INVALID_LOGIN",
        f"INVALID_LOGIN: {_INVALID_LOGIN}",
        ("LoginFault", "INVALID_LOGIN", _INVALID_LOGIN),
    )


def _unexpected(code: str, message: str) -> Response:
    return fault(f"sf:{code}", f"{code}: {message}", ("UnexpectedErrorFault", code, message))


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(root: ElementTree.Element, name: str) -> str | None:
    for element in root.iter():
        if _local_name(element.tag) == name:
            return element.text or ""
    return None


class SoapLogin:
    """Answers the partner API ``login`` call with a session, or an ``INVALID_LOGIN`` fault."""

    def __init__(self, org: Org, credentials: CredentialStore, instance_url: Callable[[], str]):
        self._org = org
        self._credentials = credentials
        self._instance_url = instance_url

    async def login(self, request: Request) -> Response:
        """Handle ``POST /services/Soap/u/{version}``."""
        body = await request.body()
        context = login_context(request, self._instance_url)
        version = str(request.path_params["version"])
        return await run_in_threadpool(self._answer, version, body, context)

    def _answer(self, version: str, body: bytes, context: LoginContext) -> Response:
        if not _VERSION.fullmatch(version):
            return _unexpected("UNSUPPORTED_API_VERSION", "Invalid Api version specified on URL")
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return fault("soapenv:Client", "The SOAP request is not well-formed XML")
        if not any(_local_name(e.tag) == "login" for e in root.iter()):
            return _unexpected(
                "INVALID_OPERATION", "the emulator's partner SOAP API implements only login()"
            )
        username = _child_text(root, "username") or ""
        password = _child_text(root, "password") or ""
        scoped_org = (_child_text(root, "organizationId") or "").strip()
        # LoginScopeHeader names the org to log in to; a 15- or 18-character id.
        if scoped_org and scoped_org[:15] != self._org.org_id[:15]:
            return _invalid_login()
        user = self._credentials.authenticate(context.org_username(username), password)
        if user is None:
            return _invalid_login()
        session = self._credentials.new_access_token(
            Grant(client_id="", user_id=user.id, scope="api", sandbox=context.sandbox)
        )
        lifetime = self._org.faults.settings.session_lifetime_seconds
        instance = self._instance_url()
        org15 = self._org.org_id[:15]
        values = {
            "metadataServerUrl": f"{instance}/services/Soap/m/{version}/{org15}",
            "passwordExpired": "false",
            "sandbox": "true" if context.sandbox else "false",
            "serverUrl": f"{instance}/services/Soap/u/{version}/{org15}",
            "sessionId": session.access_token,
            "userId": user.id,
        }
        info = {
            "accessibilityMode": "false",
            "chatterExternal": "false",
            "currencySymbol": "$",
            "orgAttachmentFileSizeLimit": "5242880",
            "orgDefaultCurrencyIsoCode": "USD",
            "orgDefaultCurrencyLocale": "en_US",
            "orgDisallowHtmlAttachments": "false",
            "orgHasPersonAccounts": "false",
            "organizationId": self._org.org_id,
            "organizationMultiCurrency": "false",
            "organizationName": ORG_NAME,
            "profileId": user.profile.id,
            "roleId": None,
            "sessionSecondsValid": str(int(lifetime or DEFAULT_SESSION_SECONDS)),
            "userDefaultCurrencyIsoCode": None,
            "userEmail": user.email,
            "userFullName": user.name,
            "userId": user.id,
            "userLanguage": "en_US",
            "userLocale": "en_US",
            "userName": login_username(user.username, sandbox=context.sandbox),
            "userTimeZone": user.time_zone,
            "userType": "Standard",
            "userUiSkin": "Theme3",
        }
        return _xml(
            _ENVELOPE_OPEN + 'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<soapenv:Body><loginResponse><result>{_elements(values)}"
            f"<userInfo>{_elements(info)}</userInfo></result></loginResponse>"
            "</soapenv:Body></soapenv:Envelope>"
        )


def _elements(values: Mapping[str, str | None]) -> str:
    return "".join(
        f'<{name} xsi:nil="true"/>' if value is None else f"<{name}>{escape(value)}</{name}>"
        for name, value in values.items()
    )
