"""Check a person's WHERE filter against an object's describe, before Salesforce sees it.

::

    fields = field_info_from_describe(describe_json)
    checked = validate_filter("Contact", "Emial = 'a@example.com'", fields)
    # FilterError: filter column 1: no field 'Emial' on Contact (did you mean 'Email'?)

The filter is parsed with the shared grammar (``soql.lark``) as
``SELECT Id FROM <object> WHERE <filter>``, and every position is reported in
the filter's own text. Whether an operator or a value suits a field is
decided by ``soql_rules.py``, the rules the emulator applies too, so the
words match what Salesforce would answer. Only a ``ValidatedFilter`` can be
put into a query built by ``soql_builder.py``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass
from typing import Any

from sfbridge.errors import ConfigError

from .soql import checked_object_name
from .soql_parser import (
    And,
    Comparison,
    Condition,
    FieldPath,
    Not,
    Or,
    SoqlError,
    StringLit,
    parse_soql,
)
from .soql_rules import FieldKind, FilterProblem, ProblemKind, comparison_problem


@dataclass(frozen=True)
class FieldInfo:
    """What the validator needs of one field's describe."""

    name: str
    type: str
    filterable: bool = True
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()


# Given an object's API name, its fields; None when they cannot be had.
RelatedFields = Callable[[str], Mapping[str, FieldInfo] | None]


def field_info_from_describe(describe_json: Mapping[str, Any]) -> dict[str, FieldInfo]:
    """The fields of a REST ``/sobjects/<Object>/describe`` response, by API name.

    Picklists keep their active values only: an inactive value is the one a
    filter should be warned about.
    """
    fields: dict[str, FieldInfo] = {}
    for raw in describe_json.get("fields") or ():
        relationship = raw.get("relationshipName")
        info = FieldInfo(
            name=str(raw["name"]),
            type=str(raw["type"]),
            filterable=bool(raw.get("filterable", True)),
            reference_to=tuple(str(name) for name in raw.get("referenceTo") or ()),
            relationship_name=str(relationship) if relationship else None,
            picklist_values=tuple(
                str(entry["value"])
                for entry in raw.get("picklistValues") or ()
                if entry.get("active", True)
            ),
        )
        fields[info.name] = info
    return fields


class FilterError(ConfigError):
    """A filter Salesforce would refuse; the message names the position, the field and the fix.

    ``field`` is the field path as typed (None when the filter's syntax is at
    fault); ``line`` and ``column`` are 1-based in the filter's own text.
    """

    def __init__(self, message: str, *, field: str | None, line: int, column: int) -> None:
        super().__init__(message)
        self.field = field
        self.line = line
        self.column = column


@dataclass(frozen=True)
class FilterWarning:
    """Something in a valid filter that probably does not mean what was intended."""

    message: str
    field: str
    line: int
    column: int

    def __str__(self) -> str:
        return self.message


# Only validate_filter holds this, so only it can make a ValidatedFilter.
_SEAL = object()


@dataclass(frozen=True)
class ValidatedFilter:
    """A filter ``validate_filter`` accepted for ``object_name``; the only text a query may embed.

    It cannot be made directly: ``ValidatedFilter("Contact", "...")`` raises
    ``TypeError``, so unchecked text cannot reach ``Select.where_raw``.
    """

    object_name: str
    text: str
    warnings: tuple[FilterWarning, ...] = ()
    seal: InitVar[object] = None

    def __post_init__(self, seal: object) -> None:
        if seal is not _SEAL:
            raise TypeError("a ValidatedFilter comes only from validate_filter()")


def validate_filter(
    object_name: str,
    where: str,
    fields: Mapping[str, FieldInfo],
    *,
    related: RelatedFields | None = None,
) -> ValidatedFilter:
    """Check ``where`` (the text after WHERE) against the fields of ``object_name``.

    Raises ``FilterError`` for what Salesforce would refuse: bad syntax,
    text that reaches past the condition (LIMIT, ORDER BY, a second
    statement, SELECT), an unknown field or relationship, a field that
    cannot be filtered, an operator or value that does not suit the field.
    A picklist value the describe does not list is only a warning.

    A path through a relationship (``Account.Industry``) is checked as far as
    ``related`` can give the parent's fields; past a polymorphic relationship
    (``What.Name``) or an object ``related`` does not know, nothing is checked.
    """
    return _Checker(checked_object_name(object_name), where, fields, related).run()


# Words that would take the text past a condition: clauses after WHERE, a
# subquery, another statement. Quoted strings are matched first, so words
# inside them are skipped; ORDER and GROUP alone are ordinary names.
_ESCAPES = re.compile(
    r"'(?:[^'\\]|\\.)*'?"
    r"|(?P<word>\b(?:select|from|where|limit|offset|having|with"
    r"|(?:order|group)\s+by|all\s+rows)\b)"
    r"|(?P<semicolon>;)",
    re.IGNORECASE | re.DOTALL,
)
_ERROR_AT = re.compile(r"ERROR at Row:(\d+):Column:(\d+)")
_BAD_STRING = "Invalid string literal"
_PICKLIST_SHOWN = 10

_VALUE_ADVICE = {
    FieldKind.TEXT: "put the value in single quotes, as in 'Smith'",
    FieldKind.ID: "put the id in single quotes, as in '003000000000001AAA'",
    FieldKind.MULTI: "put the values in single quotes, as in 'Golf;Tennis'",
    FieldKind.BOOLEAN: "write true or false, without quotes",
    FieldKind.NUMBER: "write the number without quotes, as in 42 or 3.5",
    FieldKind.DATE: "write a date without quotes, as in 2024-01-31, or a date literal "
    "such as TODAY",
    FieldKind.DATETIME: "write a date and time without quotes, as in 2024-01-31T00:00:00Z, "
    "or a date literal such as LAST_N_DAYS:7",
    FieldKind.TIME: "sfbridge can compare a time field only with null",
}


class _Fields:
    """One object's fields, found by name or relationship name, ignoring case as SOQL does."""

    def __init__(self, object_name: str, fields: Mapping[str, FieldInfo]) -> None:
        self.object_name = object_name
        self.by_name = {info.name.lower(): info for info in fields.values()}
        self.by_relationship = {
            info.relationship_name.lower(): info
            for info in fields.values()
            if info.relationship_name
        }


class _Checker:
    """Validates one filter; positions in the wrapped query are turned into filter positions."""

    def __init__(
        self,
        object_name: str,
        where: str,
        fields: Mapping[str, FieldInfo],
        related: RelatedFields | None,
    ) -> None:
        self.where = where
        self.prefix = f"SELECT Id FROM {object_name} WHERE "
        self.text = self.prefix + where
        self.root = _Fields(object_name, fields)
        self.related = related
        self.parents: dict[str, _Fields | None] = {}
        self.warnings: list[FilterWarning] = []
        self.line_starts = [0] + [i + 1 for i, char in enumerate(self.text) if char == "\n"]

    def run(self) -> ValidatedFilter:
        self._check_bounds()
        try:
            query = parse_soql(self.text)
        except SoqlError as error:
            raise self._syntax_error(error) from None
        assert query.where is not None  # the text has a WHERE and the filter is not empty
        self._walk(query.where)
        return ValidatedFilter(
            self.root.object_name, self.where.strip(), tuple(self.warnings), _SEAL
        )

    # -- positions

    def _offset(self, row: int, column: int) -> int:
        """The 0-based offset in the filter of a 1-based row and column of the wrapped query."""
        absolute = self.line_starts[row - 1] + column - 1
        return max(absolute - len(self.prefix), 0)

    def _place(self, offset: int) -> tuple[int, int, str]:
        """Line, column and the words that name them ("filter column 7")."""
        line = self.where.count("\n", 0, offset) + 1
        column = offset - (self.where.rfind("\n", 0, offset) + 1) + 1
        if "\n" in self.where:
            return line, column, f"filter line {line} column {column}"
        return line, column, f"filter column {column}"

    def _error(self, offset: int, field: str | None, text: str) -> FilterError:
        line, column, words = self._place(offset)
        return FilterError(f"{words}: {text}", field=field, line=line, column=column)

    # -- the filter as a whole

    def _check_bounds(self) -> None:
        if not self.where.strip():
            raise self._error(
                0, None, "the filter is empty; write a condition such as LastName = 'Smith'"
            )
        for match in _ESCAPES.finditer(self.where):
            if match.group("semicolon"):
                raise self._error(
                    match.start(),
                    None,
                    "';' would end the query; a filter is one condition, not a second statement",
                )
            word = match.group("word")
            if not word:
                continue
            if word.lower() == "where" and not self.where[: match.start()].strip():
                raise self._error(
                    match.start(),
                    None,
                    "leave out the word WHERE; the filter is only the condition that follows it",
                )
            raise self._error(
                match.start(),
                None,
                f"'{' '.join(word.split())}' cannot be part of a filter; the filter is only "
                "the condition after WHERE and cannot add clauses, subqueries or statements",
            )

    def _syntax_error(self, error: SoqlError) -> FilterError:
        # SoqlError keeps its position only inside Salesforce's message:
        # "\n<excerpt>\n<caret>\nERROR at Row:R:Column:C\n<text>" (semantics item 13).
        lines = error.message.split("\n")
        found = _ERROR_AT.fullmatch(lines[3]) if len(lines) > 4 else None
        if found is None:
            # The one error without a position: the statement is too long.
            return self._error(0, None, f"{error.message}; shorten the filter")
        text = "\n".join(lines[4:])
        offset = self._offset(int(found.group(1)), int(found.group(2)))
        if text.startswith(_BAD_STRING):
            offset += 1  # Salesforce points at the character before the quote; show the quote
        return self._error(offset, None, f"{text.rstrip('.')}; {_syntax_advice(text)}")

    # -- comparisons

    def _walk(self, node: Condition) -> None:
        if isinstance(node, And | Or):
            for item in node.items:
                self._walk(item)
        elif isinstance(node, Not):
            self._walk(node.item)
        else:
            self._comparison(node)

    def _comparison(self, node: Comparison) -> None:
        info = self._resolve(node.field)
        if info is None:
            return
        problem = comparison_problem(node, info.name, info.type, filterable=info.filterable)
        if problem is not None:
            offset = self._offset(problem.row, problem.column)
            advice = _problem_advice(problem, node, info)
            raise self._error(offset, node.field.text, f"{problem.text}; {advice}")
        if info.type in {"picklist", "multipicklist"} and info.picklist_values:
            self._check_picklist(node, info)

    def _resolve(self, path: FieldPath) -> FieldInfo | None:
        """The field ``path`` names; None when it lies past what describe can tell."""
        parts = path.parts
        fields = self.root
        first = 0
        # A path may start with the object's own name: Contact.LastName on Contact.
        own_name = parts[0].lower() == fields.object_name.lower()
        if len(parts) > 1 and own_name and parts[0].lower() not in fields.by_relationship:
            first = 1
        for index in range(first, len(parts) - 1):
            name = parts[index]
            reference = fields.by_relationship.get(name.lower())
            if reference is None:
                raise self._error(
                    self._part_offset(path, index),
                    path.text,
                    f"no relationship '{name}' on {fields.object_name}"
                    + _suggestion(
                        name,
                        [info.relationship_name or "" for info in fields.by_relationship.values()],
                        "follow a lookup by its relationship name (custom ones end in '__r')",
                    ),
                )
            parent = self._parent(reference)
            if parent is None:
                return None
            fields = parent
        name = parts[-1]
        info = fields.by_name.get(name.lower())
        if info is None:
            raise self._error(
                self._part_offset(path, len(parts) - 1),
                path.text,
                f"no field '{name}' on {fields.object_name}"
                + _suggestion(
                    name,
                    [info.name for info in fields.by_name.values()],
                    "use the field's API name (custom fields end in '__c')",
                ),
            )
        return info

    def _parent(self, reference: FieldInfo) -> _Fields | None:
        # A polymorphic lookup (several referenceTo) leads to the Name entity,
        # which has no describe of its own (semantics item 9).
        if len(reference.reference_to) != 1 or self.related is None:
            return None
        target = reference.reference_to[0]
        if target not in self.parents:
            fields = self.related(target)
            self.parents[target] = None if fields is None else _Fields(target, fields)
        return self.parents[target]

    def _part_offset(self, path: FieldPath, index: int) -> int:
        """The filter offset of part ``index`` of ``path`` (parts may have spaces between)."""
        absolute = self.line_starts[path.row - 1] + path.column - 1
        for part in path.parts[:index]:
            absolute = self.text.index(part, absolute) + len(part)
        return self.text.index(path.parts[index], absolute) - len(self.prefix)

    def _check_picklist(self, node: Comparison, info: FieldInfo) -> None:
        known = {value.lower() for value in info.picklist_values}
        for value in node.values:
            if not isinstance(value, StringLit):
                continue  # null, or a LIKE pattern, which may match several values
            items = value.value.split(";") if info.type == "multipicklist" else [value.value]
            for item in items:
                item = item.strip() if info.type == "multipicklist" else item
                if item and item.lower() not in known:
                    self._warn(value.row, value.column, node.field.text, item, info)

    def _warn(self, row: int, column: int, field: str, item: str, info: FieldInfo) -> None:
        line, column, words = self._place(self._offset(row, column))
        shown = ", ".join(info.picklist_values[:_PICKLIST_SHOWN])
        if len(info.picklist_values) > _PICKLIST_SHOWN:
            shown += ", ..."
        message = (
            f"{words}: '{item}' is not a value of picklist '{info.name}' ({shown}); the filter "
            "matches only records that hold it as an inactive or unlisted value"
        )
        self.warnings.append(FilterWarning(message, field, line, column))


def _suggestion(name: str, candidates: list[str], otherwise: str) -> str:
    """`` (did you mean 'Email'?)`` for the closest candidate, else ``; <otherwise>``."""
    lowered = {candidate.lower(): candidate for candidate in candidates if candidate}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else f"; {otherwise}"


def _syntax_advice(text: str) -> str:
    if re.fullmatch(r"unexpected token: '(and|or)'", text, re.IGNORECASE):
        return "to mix AND and OR, put parentheses around one side, as in A AND (B OR C)"
    if text == "unexpected token: '<EOF>'":
        return "the condition is incomplete"
    if text.startswith(_BAD_STRING):
        return "inside quotes write a backslash as \\\\ and a quote as \\'"
    return "the filter is not valid SOQL at this point"


def _problem_advice(problem: FilterProblem, node: Comparison, info: FieldInfo) -> str:
    if problem.kind == ProblemKind.NOT_FILTERABLE:
        return "Salesforce never filters long text areas, addresses or locations"
    if problem.kind == ProblemKind.INVALID_ID:
        return "an id is 15 or 18 letters and digits, as in '003000000000001AAA'"
    if problem.kind == ProblemKind.VALUE_TYPE:
        return _VALUE_ADVICE[problem.field_kind]
    if problem.field_kind == FieldKind.MULTI:
        return "compare a multi-select picklist with INCLUDES, EXCLUDES, = or !="
    if node.operator == "LIKE" and problem.field_kind == FieldKind.ID:
        return "compare ids with = or IN"
    if node.operator == "LIKE":
        return "LIKE works only on text fields; compare with =, <, > or IN"
    return f"compare '{info.name}' with = or IN; INCLUDES and EXCLUDES suit multi-select picklists"
