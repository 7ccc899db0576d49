"""The CSV of Bulk API 2.0, both ways: the cells sfbridge uploads and the rows Salesforce answers.

Uploads follow the Bulk API 2.0 Developer Guide ("Prepare CSV Files", "Valid
Date Format in Records", "Relationship Fields in a Header Row"):

- a header cell is a field (``Email``) or ``Relationship.ExternalIdField``
  (``Account.Ext__c``), passed through as it is;
- ``None`` (and ``""``, which Salesforce stores as null anyway) becomes
  ``#N/A``, which sets the field to null; a key a record lacks becomes an
  empty cell, which leaves the field as it is;
- booleans ``true``/``false``; datetimes in UTC with milliseconds and ``Z``;
  dates ``YYYY-MM-DD``; numbers written out in full (no exponent); a list of
  strings is a multi-select picklist value, ``a;b``.

Every cell is quoted. ``uploads`` cuts the caller's records into the uploads
of one job each, by rows and by bytes.

Answers are read row by row from the page's bytes (``read_rows``), so a page
is never also held as one big string or as a list of rows. Query values are
typed by the field's describe ``type`` (``RecordShape``); ``row_error`` reads
the ``sf__Error`` cell of a failed ingest row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from .errors import SalesforceConfigError, SalesforceError, SalesforceFatalError
from .http import error_from_entry
from .rest import Record

Row = tuple[str, ...]
"""One record as the cells uploaded, in the upload's header order."""
NULL_CELL = "#N/A"
"""The cell that sets a field to null ("Prepare CSV Files")."""
_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?$")


# -- uploads ---------------------------------------------------------------------


def check_column(name: str) -> str:
    """``name`` if it can head an upload column (``Email``, ``Account.Ext__c``)."""
    if not isinstance(name, str) or not _COLUMN.match(name):
        raise SalesforceConfigError(
            f"{name!r} cannot head a Bulk API column: use a field API name, or "
            "Relationship.ExternalIdField such as Account.Ext__c"
        )
    return name


def encode_cell(value: Any, column: str) -> str:
    """One value as the cell Bulk API 2.0 reads; a ConfigError for a value it cannot hold."""
    if value is None or value == "":
        return NULL_CELL
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SalesforceConfigError(
                f"{column}: datetime {value.isoformat()!r} needs a time zone (use UTC)"
            )
        moment = value.astimezone(UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return f"{value:%H:%M:%S}.{value.microsecond // 1000:03d}Z"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            raise SalesforceConfigError(f"{column}: {value!r} is not a number Salesforce stores")
        return format(number, "f")  # 1e+20 would be refused; 100000000000000000000 is not
    if isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(item, str) for item in value
    ):
        return ";".join(value)
    raise SalesforceConfigError(
        f"{column}: a {type(value).__name__} value cannot be written to a Bulk API CSV cell"
    )


def write_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """An upload: header and rows as UTF-8 CSV with LF line endings (the job's ``lineEnding``).

    Every cell is quoted, as in Salesforce's own result files: a lone ``\r``
    in a value would otherwise end the row for a reader.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@dataclass
class Upload:
    """The rows of one job: their cells, input indexes and CSV, and the records refused unsent."""

    header: list[str]
    rows: list[Row] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    refused: dict[int, SalesforceError] = field(default_factory=dict)
    content: bytes = field(default=b"", repr=False)


def uploads(
    records: Iterable[Mapping[str, Any]],
    *,
    first_columns: Sequence[str],
    only_id: bool,
    max_rows: int,
    max_bytes: int,
) -> Iterator[Upload]:
    """Cut ``records`` into uploads; each header is ``first_columns``, then keys in order seen.

    A record whose key or value cannot go into a CSV (or, with ``only_id``,
    that holds more than an ``Id``) is refused here, with a ConfigError, and
    never sent.
    """
    first = list(first_columns)
    header = dict.fromkeys(first)
    cells: list[dict[str, str]] = []
    indexes: list[int] = []
    refused: dict[int, SalesforceError] = {}
    size = 0
    for index, record in enumerate(records):
        try:
            encoded = _encode(record, only_id)
        except SalesforceConfigError as error:
            error.row = index
            refused[index] = error
            continue
        # An estimate: quotes and a delimiter per cell, a delimiter per empty cell.
        row_bytes = sum(len(cell) + 3 for cell in encoded.values()) + len(header)
        if cells and (len(cells) >= max_rows or size + row_bytes > max_bytes):
            yield from _fitting(_upload(header, cells, indexes, refused), max_bytes)
            header, cells, indexes, refused, size = dict.fromkeys(first), [], [], {}, 0
        header.update(dict.fromkeys(encoded))
        cells.append(encoded)
        indexes.append(index)
        size += row_bytes
    yield from _fitting(_upload(header, cells, indexes, refused), max_bytes)


def _encode(record: Mapping[str, Any], only_id: bool) -> dict[str, str]:
    if not record:
        raise SalesforceConfigError("the record has no fields to write")
    if only_id and list(record) != ["Id"]:
        raise SalesforceConfigError(
            f"a delete takes records holding only an Id; got keys {sorted(record)}"
        )
    return {check_column(key): encode_cell(value, key) for key, value in record.items()}


def _upload(
    header: dict[str, None],
    cells: list[dict[str, str]],
    indexes: list[int],
    refused: dict[int, SalesforceError],
) -> Upload:
    names = list(header)
    rows = [tuple(row.get(name, "") for name in names) for row in cells]
    return Upload(names, rows, indexes, refused)


def _fitting(batch: Upload, max_bytes: int) -> Iterator[Upload]:
    """``batch`` with its CSV, or its halves (and theirs) until each CSV fits ``max_bytes``."""
    if not batch.rows:
        if batch.refused:
            yield batch
        return
    content = write_csv(batch.header, batch.rows)
    if len(content) <= max_bytes or len(batch.rows) == 1:
        batch.content = content
        yield batch
        return
    half = len(batch.rows) // 2
    header, rows, indexes = batch.header, batch.rows, batch.indexes
    yield from _fitting(Upload(header, rows[:half], indexes[:half], batch.refused), max_bytes)
    yield from _fitting(Upload(header, rows[half:], indexes[half:]), max_bytes)


# -- answers ---------------------------------------------------------------------


def read_rows(content: bytes) -> Iterator[list[str]]:
    """The rows of a CSV answer (header first), decoded and parsed a few kilobytes at a time."""
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    yield from csv.reader(text)


def row_error(text: str, *, object_name: str, row: int) -> SalesforceError:
    """The error of an ``sf__Error`` cell: ``CODE:message:Field1,Field2 --`` or ``CODE:message:--``.

    The message may itself hold colons ("Required fields are missing:
    [LastName]"), so the fields are what follows the last colon, and only
    when that part ends with ``--``.
    """
    code, _, rest = text.partition(":")
    message, fields = rest, ""
    head, colon, tail = rest.rpartition(":")
    if colon and tail.strip().endswith("--"):
        message, fields = head, tail.strip().removesuffix("--")
    return error_from_entry(
        {
            "statusCode": code.strip(),
            "message": message.strip(),
            "fields": [f.strip() for f in fields.split(",") if f.strip()],
        },
        object_name=object_name,
        row=row,
    )


def _boolean(cell: str) -> bool:
    return cell.lower() == "true"


def _datetime(cell: str) -> datetime:
    moment = datetime.fromisoformat(cell)  # 2024-01-01T00:00:00.000Z (or +0000)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Describe ``type`` -> the Python value of a query cell; other types stay strings.
CONVERTERS: Mapping[str, Callable[[str], Any]] = {
    "int": int,
    "long": int,
    "double": float,
    "currency": float,
    "percent": float,
    "boolean": _boolean,
    "date": date.fromisoformat,
    "datetime": _datetime,
}


class RecordShape:
    """Turns a query result row into a record shaped like the REST API's.

    Values are typed by their field's describe ``type`` (``CONVERTERS``); an
    empty cell is None (Bulk CSV cannot tell null from empty, and Salesforce
    stores no empty strings). A ``Account.Owner.Name`` column becomes
    ``{"Account": {"Owner": {"Name": ...}}}``, and a parent whose every column
    is empty is None, as REST answers an empty lookup. Nested records carry no
    ``attributes``: the CSV has neither their type nor their URL.
    """

    def __init__(self, header: Sequence[str], types: Sequence[str]) -> None:
        self.header = tuple(header)
        self.types = tuple(types)
        self._columns = [
            (tuple(name.split(".")), CONVERTERS.get(kind))
            for name, kind in zip(header, types, strict=True)
        ]
        prefixes = {path[:end] for path, _ in self._columns for end in range(1, len(path))}
        self._parents = sorted(prefixes, key=len, reverse=True)  # deepest first

    def record(self, cells: Sequence[str]) -> Record:
        """One row as a record."""
        record: Record = {}
        for (path, convert), cell in zip(self._columns, cells, strict=True):
            target = record
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = self._value(path, convert, cell)
        for prefix in self._parents:
            holder = record
            for key in prefix[:-1]:
                holder = holder[key]
            if all(value is None for value in holder[prefix[-1]].values()):
                holder[prefix[-1]] = None
        return record

    def _value(self, path: tuple[str, ...], convert: Callable[[str], Any] | None, cell: str) -> Any:
        if cell == "":
            return None
        if convert is None:
            return cell
        try:
            return convert(cell)
        except ValueError:
            column = ".".join(path)
            kind = self.types[self.header.index(column)]
            raise SalesforceFatalError(
                f"Bulk query column {column} holds {cell!r}, which is not a {kind}"
            ) from None
