"""Which operators and values a field accepts in a SOQL filter, as Salesforce decides.

One set of rules serves both sides: the emulator's compiler
(``emulators/salesforce/soql_filter.py``) raises a problem as Salesforce's
error, and the client's validator (``soql_validate.py``) reports it before a
query is sent. The texts are Salesforce's own (SOQL semantics notes, items 2,
6, 7, 13 and 14)::

    problem = comparison_problem(node, "Birthdate", "date", filterable=True)
    problem.text  # "value of filter criterion for field 'Birthdate' must be of type date ..."
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .soql_parser import (
    BoolLit,
    Comparison,
    DateLit,
    DateLiteral,
    DateTimeLit,
    LikePattern,
    Literal,
    NullLit,
    NumberLit,
    StringLit,
)


class FieldKind(StrEnum):
    """How a field compares in a filter; several describe types share one kind."""

    TEXT = "text"
    ID = "id"
    MULTI = "multi"
    BOOLEAN = "boolean"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"


class ProblemKind(StrEnum):
    """What is wrong with a comparison."""

    NOT_FILTERABLE = "not filterable"
    OPERATOR = "operator"
    VALUE_TYPE = "value type"
    INVALID_ID = "invalid id"


_ID_TYPES = frozenset({"id", "reference"})
_NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})
# Address and location fields are views over their components; describe may
# still say filterable, but a query refuses them (item 13).
_COMPOUND_TYPES = frozenset({"address", "location"})
_OWN_KINDS = {
    "boolean": FieldKind.BOOLEAN,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "time": FieldKind.TIME,
    "multipicklist": FieldKind.MULTI,
}
_ACCEPTS: dict[FieldKind, tuple[type, ...]] = {
    FieldKind.TEXT: (StringLit, LikePattern),
    FieldKind.ID: (StringLit, LikePattern),
    FieldKind.MULTI: (StringLit, LikePattern),
    FieldKind.BOOLEAN: (BoolLit,),
    FieldKind.NUMBER: (NumberLit,),
    FieldKind.DATE: (DateLit, DateLiteral),
    FieldKind.DATETIME: (DateTimeLit, DateLiteral),
    FieldKind.TIME: (),
}
# The type names Salesforce's messages use ("must be of type dateTime").
_TYPE_WORDS = {
    "id": "id",
    "reference": "id",
    "boolean": "boolean",
    "int": "integer",
    "long": "long",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "date": "date",
    "datetime": "dateTime",
    "time": "time",
}
# A negated operator is checked as its positive form: NOT IN as IN, and so on.
_POSITIVE = {"!=": "=", "NOT IN": "IN", "EXCLUDES": "INCLUDES"}
ORDERED_OPERATORS = frozenset({"<", "<=", ">", ">="})


def field_kind(field_type: str) -> FieldKind:
    """The kind of a field of describe type ``field_type`` (``"reference"`` -> ID)."""
    if field_type in _ID_TYPES:
        return FieldKind.ID
    if field_type in _NUMBER_TYPES:
        return FieldKind.NUMBER
    return _OWN_KINDS.get(field_type, FieldKind.TEXT)


def is_valid_id(text: str) -> bool:
    """True for a 15- or 18-character record id (letters and digits only)."""
    return len(text) in {15, 18} and text.isascii() and text.isalnum()


@dataclass(frozen=True)
class FilterProblem:
    """Why Salesforce refuses one comparison, and where.

    ``row`` and ``column`` locate the comparison, or the value at fault;
    ``quoted`` says that value is a quoted string.
    """

    kind: ProblemKind
    error_code: str
    text: str
    field_kind: FieldKind
    row: int
    column: int
    quoted: bool = False

    @property
    def salesforce_column(self) -> int:
        """The column Salesforce reports: the character before a string's quote (item 13)."""
        return self.column - 1 if self.quoted else self.column


def comparison_problem(
    node: Comparison, field_name: str, field_type: str, *, filterable: bool
) -> FilterProblem | None:
    """The first reason Salesforce refuses ``node`` on this field, or None.

    Checked in Salesforce's order: the field can be filtered, the operator
    suits the field, every value has the field's type, every id is well formed.
    """
    kind = field_kind(field_type)
    if not filterable or field_type in _COMPOUND_TYPES:
        return FilterProblem(
            ProblemKind.NOT_FILTERABLE,
            "INVALID_FIELD",
            f"field '{field_name}' can not be filtered in a query call",
            kind,
            node.row,
            node.column,
        )
    refused = _operator_refusal(field_type, kind, _POSITIVE.get(node.operator, node.operator))
    if refused:
        return FilterProblem(
            ProblemKind.OPERATOR,
            "INVALID_QUERY_FILTER_OPERATOR",
            refused,
            kind,
            node.row,
            node.column,
        )
    for value in node.values:
        if not isinstance(value, (NullLit, *_ACCEPTS[kind])):
            return _type_problem(field_name, field_type, kind, value)
    if kind == FieldKind.ID:
        for value in node.values:
            if isinstance(value, StringLit) and not is_valid_id(value.value):
                return FilterProblem(
                    ProblemKind.INVALID_ID,
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid ID field: {value.value}",
                    kind,
                    value.row,
                    value.column,
                    quoted=True,
                )
    return None


def _operator_refusal(field_type: str, kind: FieldKind, operator: str) -> str | None:
    if kind == FieldKind.MULTI and (operator == "LIKE" or operator in ORDERED_OPERATORS):
        return "invalid operator on multipicklist field"
    if operator == "LIKE" and kind != FieldKind.TEXT:
        return f"invalid operator on {_TYPE_WORDS.get(field_type, field_type)} field"
    if operator == "INCLUDES" and kind != FieldKind.MULTI:
        return "includes or excludes operator only valid on multipicklist field"
    return None


def _type_problem(
    field_name: str, field_type: str, kind: FieldKind, value: Literal
) -> FilterProblem:
    word = _TYPE_WORDS.get(field_type, "string")
    quoted = "be" if word in {"string", "id"} else "not be"
    return FilterProblem(
        ProblemKind.VALUE_TYPE,
        "INVALID_FIELD",
        f"value of filter criterion for field '{field_name}' must be of type {word} "
        f"and should {quoted} enclosed in quotes",
        kind,
        value.row,
        value.column,
        quoted=isinstance(value, StringLit | LikePattern),
    )
