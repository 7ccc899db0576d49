"""The errors the emulated org answers with, in Salesforce's shapes.

REST errors are ``[{"message": ..., "errorCode": ..., "fields": [...]}]`` with
the HTTP status a real org uses (REST API Developer Guide, "Status Codes and
Error Responses"). Inside sObject Collections the same error is reported per
record with ``statusCode`` instead of ``errorCode``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: HTTP status, Salesforce errorCode, message and fields."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The REST error body."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def record_error(self) -> dict[str, Any]:
        """The per-record error of sObject Collections (``statusCode``, always ``fields``)."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields or []}


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    """404 NOT_FOUND."""
    return ApiError(404, "NOT_FOUND", message)


def invalid_type(object_name: str) -> ApiError:
    """404 NOT_FOUND for an unknown sObject in a URL (what /sobjects/Foo answers)."""
    return ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {object_name}")


def json_parser_error(detail: str) -> ApiError:
    """400 JSON_PARSER_ERROR for a body that is not the JSON the resource expects."""
    return ApiError(400, "JSON_PARSER_ERROR", detail)


def malformed_id(label: str, value: str) -> ApiError:
    """400 MALFORMED_ID for an id-shaped value that is not an id."""
    return ApiError(400, "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [label])
