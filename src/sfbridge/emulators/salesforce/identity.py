"""The identity service: ``GET /id/{orgId}/{userId}`` and ``/services/oauth2/userinfo``.

Shapes follow Salesforce Help, "Identity URLs" and "UserInfo Endpoint".
API URLs carry the literal ``{version}`` placeholder, as a real org returns
them when the request gives no ``version`` parameter. Failures answer with
the identity service's plain-text codes: 403 ``Bad_OAuth_Token``, 403
``Wrong_Org``, 404 ``Bad_Id``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from sfbridge.salesforce.ids import is_valid_id, to_18

from .access import RESTRICTED_INTEGRATION
from .credentials import ActiveToken, CredentialStore
from .login_hosts import LoginContext, login_context, login_username
from .org import Org


def bearer_token(request: Request) -> str:
    """The access token of a request: ``Authorization: Bearer``/``OAuth``, or ``oauth_token``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and token.strip():
        return token.strip()
    return request.query_params.get("oauth_token", "")


class IdentityService:
    """Answers who a token belongs to, in the identity URL and OpenID Connect forms."""

    def __init__(
        self, org: Org, credentials: CredentialStore, instance_url: Callable[[], str]
    ) -> None:
        self._org = org
        self._credentials = credentials
        self._instance_url = instance_url

    async def identity(self, request: Request) -> Response:
        """Handle ``GET /id/{orgId}/{userId}``."""
        active = self._credentials.active(bearer_token(request))
        if active is None:
            return PlainTextResponse("Bad_OAuth_Token", status_code=403)
        org_id = _as_18(request.path_params["org_id"])
        user_id = _as_18(request.path_params["user_id"])
        if org_id is None or user_id is None:
            return PlainTextResponse("Bad_Id", status_code=404)
        if org_id != self._org.org_id:
            return PlainTextResponse("Wrong_Org", status_code=403)
        context = login_context(request, self._instance_url)
        facts = await run_in_threadpool(self._facts, active, user_id, context)
        if facts is None:
            return PlainTextResponse("Bad_Id", status_code=404)
        return JSONResponse(facts)

    async def userinfo(self, request: Request) -> Response:
        """Handle ``/services/oauth2/userinfo`` (OpenID Connect claims of the token's user)."""
        active = self._credentials.active(bearer_token(request))
        if active is None:
            return PlainTextResponse("Bad_OAuth_Token", status_code=403)
        context = login_context(request, self._instance_url)
        facts = await run_in_threadpool(self._facts, active, active.session.user.id, context)
        if facts is None:
            return PlainTextResponse("Bad_Id", status_code=404)
        return JSONResponse(
            {
                "sub": facts["id"],
                "user_id": facts["user_id"],
                "organization_id": facts["organization_id"],
                "preferred_username": facts["username"],
                "nickname": facts["nick_name"],
                "name": facts["display_name"],
                "email": facts["email"],
                "email_verified": True,
                "given_name": facts["first_name"],
                "family_name": facts["last_name"],
                "zoneinfo": facts["timezone"],
                "photos": facts["photos"],
                "profile": facts["urls"]["profile"],
                "picture": facts["photos"]["picture"],
                "address": {},
                "is_salesforce_integration_user": facts["is_salesforce_integration_user"],
                "urls": facts["urls"],
                "active": facts["active"],
                "user_type": facts["user_type"],
                "language": facts["language"],
                "locale": facts["locale"],
                "utcOffset": facts["utcOffset"],
                "updated_at": facts["last_modified_date"],
            }
        )

    def _facts(
        self, active: ActiveToken, user_id: str, context: LoginContext
    ) -> dict[str, Any] | None:
        """The identity URL response for ``user_id``, or None when there is no such user."""
        user = self._org.user(user_id=user_id)
        record = self._org.get("User", user_id)
        if user is None or record is None:
            return None
        instance = self._instance_url()
        org_id = self._org.org_id
        data = f"{instance}/services/data/v{{version}}"
        return {
            "id": context.identity_url(org_id, user.id),
            "asserted_user": user.id == active.session.user.id,
            "user_id": user.id,
            "organization_id": org_id,
            # A token from a sandbox login sees the sandbox username.
            "username": login_username(user.username, sandbox=active.grant.sandbox),
            "nick_name": record.get("CommunityNickname"),
            "display_name": user.name,
            "email": user.email,
            "email_verified": True,
            "first_name": record.get("FirstName"),
            "last_name": record.get("LastName"),
            "timezone": user.time_zone,
            "photos": {
                "picture": f"{instance}/profilephoto/005/F",
                "thumbnail": f"{instance}/profilephoto/005/T",
            },
            "addr_street": None,
            "addr_city": None,
            "addr_state": None,
            "addr_country": None,
            "addr_zip": None,
            "mobile_phone": None,
            "mobile_phone_verified": False,
            "is_lightning_login_user": False,
            "status": {"created_date": None, "body": None},
            "urls": {
                "enterprise": f"{instance}/services/Soap/c/{{version}}/{org_id[:15]}",
                "metadata": f"{instance}/services/Soap/m/{{version}}/{org_id[:15]}",
                "partner": f"{instance}/services/Soap/u/{{version}}/{org_id[:15]}",
                "rest": f"{data}/",
                "sobjects": f"{data}/sobjects/",
                "search": f"{data}/search/",
                "query": f"{data}/query/",
                "recent": f"{data}/recent/",
                "tooling_soap": f"{instance}/services/Soap/T/{{version}}/{org_id[:15]}",
                "tooling_rest": f"{data}/tooling/",
                "profile": f"{instance}/{user.id}",
                "feeds": f"{data}/chatter/feeds",
                "groups": f"{data}/chatter/groups",
                "users": f"{data}/chatter/users",
                "feed_items": f"{data}/chatter/feed-items",
                "feed_elements": f"{data}/chatter/feed-elements",
                "custom_domain": instance,
            },
            "active": bool(record.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": record.get("LanguageLocaleKey") or "en_US",
            "locale": record.get("LocaleSidKey") or "en_US",
            "utcOffset": _utc_offset_ms(user.time_zone),
            "last_modified_date": record.get("LastModifiedDate"),
            "is_salesforce_integration_user": user.profile.name == RESTRICTED_INTEGRATION,
            "is_app_installed": True,
        }


def _as_18(value: str) -> str | None:
    return to_18(value) if is_valid_id(value) else None


def _utc_offset_ms(time_zone: str) -> int:
    """The zone's current offset from UTC in milliseconds (0 for an unknown zone)."""
    try:
        offset = datetime.now(ZoneInfo(time_zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds() * 1000) if offset else 0
