"""The CSV of Bulk API 2.0 jobs: column delimiters, line endings, reading uploads, writing results.

A job declares ``columnDelimiter`` (COMMA, TAB, PIPE, SEMICOLON, CARET,
BACKQUOTE) and ``lineEnding`` (LF, CRLF) when it is created; uploads are
read and results written in that format (Bulk API 2.0 Developer Guide,
"Create a Job" and "Prepare CSV Files"). Data is UTF-8; a byte-order mark is
allowed. Every value written is double-quoted, as real result files are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .api_errors import json_parser_error

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


class CsvDataError(ValueError):
    """Uploaded data that is not CSV in the job's format; the message is the job's errorMessage."""


@dataclass(frozen=True)
class CsvFormat:
    """A job's CSV dialect, by the names the API uses."""

    column_delimiter: str = "COMMA"
    line_ending: str = "LF"

    @classmethod
    def from_job_request(cls, body: dict[str, Any]) -> CsvFormat:
        """The format a create-job body asks for; unknown names are refused like bad JSON."""
        content_type = body.get("contentType", "CSV")
        if content_type != "CSV":
            raise _unknown_value("contentType", content_type)
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise _unknown_value("columnDelimiter", delimiter)
        ending = body.get("lineEnding", "LF")
        if ending not in LINE_ENDINGS:
            raise _unknown_value("lineEnding", ending)
        return cls(delimiter, ending)

    @property
    def delimiter(self) -> str:
        """The column delimiter character."""
        return DELIMITERS[self.column_delimiter]

    @property
    def terminator(self) -> str:
        """The line terminator written after each row."""
        return LINE_ENDINGS[self.line_ending]


def _unknown_value(name: str, value: Any) -> Exception:
    return json_parser_error(f"Cannot deserialize value {value!r} for {name}: no such enum value")


def read_csv(data: bytes, fmt: CsvFormat) -> tuple[list[str], list[list[str]]]:
    """The header and the data rows of an upload; raises ``CsvDataError``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvDataError(f"ClientInputError : The data is not UTF-8 (byte {exc.start})") from None
    header_end = text.find("\n")
    if header_end > 0 and (text[header_end - 1] == "\r") != (fmt.line_ending == "CRLF"):
        # A real org refuses the whole upload when its line endings are not the
        # job's (Bulk API 2.0 Developer Guide, "Create a Job": lineEnding).
        raise CsvDataError(
            "ClientInputError : LineEnding is invalid on user data. Current LineEnding "
            f"setting is {fmt.line_ending}"
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter, strict=True)
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise CsvDataError(
            f"ClientInputError : Malformed CSV at line {reader.line_num}: {exc}"
        ) from None
    if not rows:
        raise CsvDataError("ClientInputError : The data has no header row")
    return [name.strip() for name in rows[0]], rows[1:]


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str | None]], fmt: CsvFormat) -> bytes:
    """Header and rows as UTF-8 CSV, every value quoted; None is written as ``""``."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=fmt.delimiter, lineterminator=fmt.terminator, quoting=csv.QUOTE_ALL
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
