"""REST ``/query`` and ``/queryAll`` with query locators and ``nextRecordsUrl`` paging.

A query runs once; its matching rows are a snapshot kept behind a locator
(``01g…``), and each following page is read from that snapshot, as a real
org's query cursor behaves (REST API Developer Guide, "Execute a SOQL Query").
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.routing import Route

from sfbridge.salesforce.soql_parser import SoqlError

from .api_errors import ApiError
from .gate import ApiRequest, Gate
from .org import Org
from .soql_engine import QueryCursor, QueryEngine

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
# A user can keep a limited number of cursors open; the oldest are dropped first.
MAX_OPEN_LOCATORS = 500


def batch_size(header: str | None) -> int:
    """Page size from ``Sforce-Query-Options: batchSize=N`` (200 to 2000; default 2000)."""
    if not header:
        return DEFAULT_BATCH
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(MAX_BATCH, int(value)))
    return DEFAULT_BATCH


def user_zone(name: str) -> ZoneInfo:
    """The user's time zone for date literals; UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class QueryResources:
    """Handlers for ``query`` / ``queryAll`` and their locators."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.engine = QueryEngine(org.store)
        self._locators: OrderedDict[str, tuple[QueryCursor, int]] = OrderedDict()
        self._lock = threading.Lock()

    def _page(self, api: ApiRequest, cursor: QueryCursor, start: int, size: int) -> dict[str, Any]:
        if cursor.count_only:
            return {"totalSize": cursor.total_size, "done": True, "records": []}
        records = cursor.page(start, size)
        end = start + len(records)
        result: dict[str, Any] = {"totalSize": cursor.total_size, "done": end >= cursor.total_size}
        if not result["done"]:
            locator = self._remember(cursor, size)
            result["nextRecordsUrl"] = f"/services/data/v{api.version}/query/{locator}-{end}"
        result["records"] = records
        return result

    def _remember(self, cursor: QueryCursor, size: int) -> str:
        with self._lock:
            for key, (known, _) in self._locators.items():
                if known is cursor:
                    return key
            key = "01g" + secrets.token_hex(8)[:15]
            self._locators[key] = (cursor, size)
            while len(self._locators) > MAX_OPEN_LOCATORS:
                self._locators.popitem(last=False)
            return key

    def query(self, api: ApiRequest, *, include_deleted: bool) -> Any:
        soql = api.request.query_params.get("q")
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        user = api.user
        try:
            cursor = self.engine.execute(
                soql,
                include_deleted=include_deleted,
                api_version=api.version,
                now=self.org.store.clock.now(),
                tz=user_zone(user.time_zone),
                readable=user.profile.readable,
            )
        except SoqlError as error:
            raise ApiError(400, error.error_code, error.message) from None
        size = batch_size(api.request.headers.get("sforce-query-options"))
        return self._page(api, cursor, 0, size)

    def more(self, api: ApiRequest) -> Any:
        locator, _, offset = api.request.path_params["locator"].rpartition("-")
        with self._lock:
            entry = self._locators.get(locator)
        if entry is None or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor, size = entry
        return self._page(api, cursor, int(offset), size)

    def routes(self, gate: Gate) -> list[Route]:
        """``/query``, ``/queryAll`` and their ``/{locator}-{offset}`` follow-ups."""
        base = "/services/data/v{version}"

        def live(api: ApiRequest) -> Any:
            return self.query(api, include_deleted=False)

        def everything(api: ApiRequest) -> Any:
            return self.query(api, include_deleted=True)

        routes = []
        for resource, handler in (("query", live), ("queryAll", everything)):
            routes += [
                Route(f"{base}/{resource}", gate.wrap(handler), methods=["GET"]),
                Route(f"{base}/{resource}/", gate.wrap(handler), methods=["GET"]),
                Route(f"{base}/{resource}/{{locator}}", gate.wrap(self.more), methods=["GET"]),
            ]
        return routes
