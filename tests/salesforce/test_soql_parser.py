"""The SOQL grammar, its syntax tree, Salesforce-shaped errors, and value quoting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfbridge.salesforce.soql import (
    checked_field_path,
    checked_object_name,
    escape_like,
    literal,
    quote_like,
    quote_like_pattern,
    quote_string,
)
from sfbridge.salesforce.soql_parser import (
    Aggregate,
    And,
    BoolLit,
    Comparison,
    DateLit,
    DateLiteral,
    DateTimeLit,
    FieldPath,
    LikePattern,
    Not,
    NullLit,
    NumberLit,
    Or,
    OrderKey,
    SoqlError,
    StringLit,
    error_message,
    parse_soql,
)


def where(condition: str) -> object:
    """The parsed WHERE tree of ``SELECT Id FROM Contact WHERE <condition>``."""
    return parse_soql("SELECT Id FROM Contact WHERE " + condition).where


def value(condition: str) -> object:
    """The single literal of a one-comparison WHERE."""
    node = where(condition)
    assert isinstance(node, Comparison)
    return node.values[0]


def refused(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        parse_soql(soql)
    return caught.value


# -- statements ---------------------------------------------------------------


def test_select_list_paths_and_clauses() -> None:
    query = parse_soql(
        "SELECT Id, Account.Owner.Name FROM Contact WHERE LastName = 'x' "
        "ORDER BY LastName DESC NULLS LAST, Id LIMIT 10 OFFSET 5"
    )
    assert query.select == (
        FieldPath(("Id",), 8),
        FieldPath(("Account", "Owner", "Name"), 12),
    )
    assert query.sobject.name == "Contact"
    assert query.sobject.column == 36
    assert query.order_by == (
        OrderKey(FieldPath(("LastName",), 74), descending=True, nulls_first=False),
        OrderKey(FieldPath(("Id",), 100), descending=False, nulls_first=None),
    )
    assert (query.limit, query.offset) == (10, 5)


def test_keywords_are_case_insensitive_and_names_keep_their_casing() -> None:
    query = parse_soql("select iD from cOnTaCt where lastname = 'x' order by ID asc nulls first")
    assert query.select == (FieldPath(("iD",), 8),)
    assert query.sobject.name == "cOnTaCt"
    assert query.order_by[0].nulls_first is True


def test_object_names_that_look_like_keywords() -> None:
    assert parse_soql("SELECT Id FROM Order").sobject.name == "Order"
    assert parse_soql("SELECT Id FROM Group").sobject.name == "Group"


def test_count_and_aggregates_with_aliases() -> None:
    assert parse_soql("SELECT COUNT() FROM Contact").is_count_only
    query = parse_soql(
        "SELECT LeadSource, COUNT(Id) total, max(CreatedDate) FROM Contact "
        "GROUP BY LeadSource ORDER BY COUNT(Id) DESC"
    )
    assert query.select[1] == Aggregate("COUNT", FieldPath(("Id",), 26), "total", 20)
    assert query.select[2] == Aggregate("MAX", FieldPath(("CreatedDate",), 41), None, 37)
    assert query.group_by == (FieldPath(("LeadSource",), 76),)
    assert not query.is_count_only


def test_where_tree_and_not() -> None:
    tree = where("(A = 1 AND B = 2) OR NOT C = 3")
    assert isinstance(tree, Or)
    first, second = tree.items
    assert isinstance(first, And) and len(first.items) == 2
    assert isinstance(second, Not) and isinstance(second.item, Comparison)


@pytest.mark.parametrize(
    ("condition", "operator", "count"),
    [
        ("A = 1", "=", 1),
        ("A != 1", "!=", 1),
        ("A <> 1", "!=", 1),
        ("A < 1", "<", 1),
        ("A <= 1", "<=", 1),
        ("A > 1", ">", 1),
        ("A >= 1", ">=", 1),
        ("A LIKE 'x%'", "LIKE", 1),
        ("A IN ('x', 'y')", "IN", 2),
        ("A not in ('x')", "NOT IN", 1),
        ("A INCLUDES ('x;y', 'z')", "INCLUDES", 2),
        ("A excludes ('x')", "EXCLUDES", 1),
    ],
)
def test_every_operator(condition: str, operator: str, count: int) -> None:
    node = where(condition)
    assert isinstance(node, Comparison)
    assert node.operator == operator
    assert len(node.values) == count


def test_mixing_and_with_or_needs_parentheses() -> None:
    error = refused("SELECT Id FROM Contact WHERE A = 1 AND B = 2 OR C = 3")
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith("ERROR at Row:1:Column:46\nunexpected token: 'OR'")


# -- literals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'plain'", "plain"),
        (r"'O\'Brien'", "O'Brien"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'a\\b'", "a\\b"),
        (r"'1\n2\N3'", "1\n2\n3"),
        (r"'\r\R\t\T\b\B\f\F'", "\r\r\t\t\b\b\f\f"),
        (r"'\u00e9t\u00C9'", "étÉ"),
        ("'multi\nline'", "multi\nline"),
    ],
)
def test_string_escapes(text: str, expected: str) -> None:
    literal_node = value("LastName = " + text)
    assert isinstance(literal_node, StringLit)
    assert literal_node.value == expected


def test_like_patterns_keep_wildcards_and_escape_literals() -> None:
    assert value(r"Name LIKE '100\%\_a%_'") == LikePattern("100\\%\\_a%_", 40)
    assert value(r"Name LIKE 'a\\b'") == LikePattern("a\\\\b", 40)


def test_numbers_booleans_null() -> None:
    assert value("A = -12.50") == NumberLit(Decimal("-12.50"), 34)
    assert value("A = .5") == NumberLit(Decimal(".5"), 34)
    assert value("A = TRUE") == BoolLit(True, 34)
    assert value("A = false") == BoolLit(False, 34)
    assert value("A = NULL") == NullLit(34)


def test_dates_and_datetimes() -> None:
    assert value("A = 2024-02-29") == DateLit(date(2024, 2, 29), 34)
    cases = {
        "2024-01-01T00:00:00Z": datetime(2024, 1, 1, tzinfo=UTC),
        "2024-01-01T00:00:00.000Z": datetime(2024, 1, 1, tzinfo=UTC),
        "2024-01-01T00:00:00.123456Z": datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
        "2024-01-01T01:00:00+01:00": datetime(2024, 1, 1, tzinfo=UTC),
        "2024-01-01T01:00:00.000+0100": datetime(2024, 1, 1, tzinfo=UTC),
        "2023-12-31T19:00:00-05:00": datetime(2024, 1, 1, tzinfo=UTC),
    }
    for text, instant in cases.items():
        node = value("CreatedDate > " + text)
        assert isinstance(node, DateTimeLit)
        assert node.value == instant
    offset = value("A = 2024-01-01T01:00:00+01:30")
    assert isinstance(offset, DateTimeLit)
    assert offset.value.utcoffset() == timedelta(hours=1, minutes=30)
    assert offset.value.tzinfo == timezone(timedelta(hours=1, minutes=30))


@pytest.mark.parametrize(
    ("text", "name", "n"),
    [
        ("TODAY", "TODAY", None),
        ("yesterday", "YESTERDAY", None),
        ("THIS_FISCAL_QUARTER", "THIS_FISCAL_QUARTER", None),
        ("LAST_N_DAYS:30", "LAST_N_DAYS", 30),
        ("n_days_ago:2", "N_DAYS_AGO", 2),
        ("NEXT_N_YEARS:0", "NEXT_N_YEARS", 0),
    ],
)
def test_date_literals(text: str, name: str, n: int | None) -> None:
    assert value("CreatedDate = " + text) == DateLiteral(name, n, 44)


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soql", "expected"),
    [
        (
            "SELECT Id FRM Contact",
            "\nSELECT Id FRM Contact\n          ^\nERROR at Row:1:Column:11\n"
            "unexpected token: 'FRM'",
        ),
        (
            "SELECT Id, FROM Contact",
            "\nSELECT Id, FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
            "unexpected token: 'FROM'",
        ),
        (
            "SELECT Id FROM Contact WHERE",
            "\nSELECT Id FROM Contact WHERE\n                            ^\n"
            "ERROR at Row:1:Column:29\nunexpected token: '<EOF>'",
        ),
        (
            r"SELECT Id FROM Contact WHERE LastName = 'Anne\-Marie'",
            "\nSELECT Id FROM Contact WHERE LastName = 'Anne\\-Marie'\n"
            + " " * 39
            + "^\nERROR at Row:1:Column:40\nInvalid string literal 'Anne\\-Marie'. "
            "Illegal character sequence '\\-' in string literal.",
        ),
        (
            r"SELECT Id FROM Contact WHERE LastName = 'C:\Users'",
            "\nSELECT Id FROM Contact WHERE LastName = 'C:\\Users'\n"
            + " " * 39
            + "^\nERROR at Row:1:Column:40\nInvalid string literal 'C:\\Users'. "
            "Illegal unicode sequence. '\\users' in string literal.",
        ),
        (
            "SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01T00:00:00",
            "\nSELECT Id FROM Contact WHERE CreatedDate > 2024-01-01T00:00:00\n"
            + " " * 62
            + "^\nERROR at Row:1:Column:63\nno viable alternative at character '<EOF>'",
        ),
        (
            "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_HOURS:2",
            "\nSELECT Id FROM Contact WHERE CreatedDate = LAST_N_HOURS:2\n"
            + " " * 43
            + "^\nERROR at Row:1:Column:44\nunexpected token: 'LAST_N_HOURS'",
        ),
    ],
)
def test_error_messages_have_salesforce_shape(soql: str, expected: str) -> None:
    error = refused(soql)
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message == expected


@pytest.mark.parametrize(
    ("soql", "fragment"),
    [
        # A '+' that the URL decoded to a space (item 6).
        (
            "SELECT Id FROM Contact WHERE SystemModstamp >= 2024-01-01T00:00:00 00:00",
            "Column:67\nno viable alternative at character ' '",
        ),
        (r"SELECT Id FROM Contact WHERE LastName = 'x\%'", "Illegal character sequence '\\%'"),
        ("SELECT Id FROM Contact WHERE LastName = 'open", "no viable alternative at character '''"),
        ('SELECT Id FROM Contact WHERE LastName = "x"', "no viable alternative at character '\"'"),
        (
            "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS",
            "unexpected token: 'LAST_N_DAYS'",
        ),
        ("SELECT Id FROM Contact WHERE CreatedDate = TODAY:3", "unexpected token: ':'"),
        ("SELECT Id FROM Contact WHERE CreatedDate = 2024-02-30", "unexpected token: '2024-02-30'"),
        ("SELECT Id FROM Contact WHERE Name = bareword", "unexpected token: 'bareword'"),
        ("SELECT Id FROM Contact ORDER BY Name ascending", "unexpected token: 'ascending'"),
        ("SELECT Id FROM Contact LIMIT 1.5", "unexpected token: '1.5'"),
        ("SELECT Id FROM Contact ALL ROWS", "ALL ROWS not allowed in this context"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "parent-to-child subqueries"),
        ("SELECT TYPEOF What WHEN Account THEN Name END FROM Task", "TYPEOF is not supported"),
        ("SELECT Id FROM Contact WHERE Id IN (SELECT Id FROM Lead)", "semi-join subqueries"),
        ("SELECT FIELDS(ALL) FROM Contact LIMIT 200", "FIELDS() is not supported"),
        ("SELECT SUM() FROM Opportunity", "unexpected token: ')'"),
        ("SELECT Id FROM Contact ORDER BY COUNT(Id) c", "unexpected token: 'c'"),
        ("SELECT Id FROM Contact WHERE Name = 'x' #", "no viable alternative at character '#'"),
    ],
)
def test_refused_statements(soql: str, fragment: str) -> None:
    error = refused(soql)
    assert error.error_code == "MALFORMED_QUERY"
    assert fragment in error.message


def test_error_row_counts_lines() -> None:
    error = refused("SELECT Id\nFROM Contact\nWHERE Name = = 'x'")
    assert error.message == (
        "\nWHERE Name = = 'x'\n             ^\nERROR at Row:3:Column:14\nunexpected token: '='"
    )


def test_long_query_is_cut_around_the_error() -> None:
    # The shape of a real message: 30 characters of context, whole tokens.
    line = (
        "SELECT Id,Aaaaaaaaaa__c,Bbbbbbbbbb__c,CreatedById,OCE__ActualCap__c,TPI_Product__c,"
        "Name,OCE__JobId__c,Zzzzzzzzzzzzzzzzzzzz__c FROM OCE__ActivityPlan__c"
    )
    column = line.index("TPI_Product__c") + 1
    assert error_message(line, 1, column, "No such column") == (
        "\nCreatedById,OCE__ActualCap__c,TPI_Product__c,Name,OCE__JobId__c\n"
        + " " * 30
        + f"^\nERROR at Row:1:Column:{column}\nNo such column"
    )


def test_error_helper_for_callers_with_a_position() -> None:
    error = SoqlError.at("SELECT Naem FROM Account", 1, 8, "INVALID_FIELD", "No such column")
    assert error.error_code == "INVALID_FIELD"
    assert error.message == (
        "\nSELECT Naem FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column"
    )


def test_overlong_statement() -> None:
    error = refused("SELECT Id FROM Contact WHERE Name = '" + "x" * 100_000 + "'")
    assert error.error_code == "MALFORMED_QUERY"


# -- quoting ------------------------------------------------------------------


def test_quote_string_escapes() -> None:
    assert quote_string('O\'Brien "x" \\ \n\r\t\b\f') == (
        "'O\\'Brien \\\"x\\\" \\\\ \\n\\r\\t\\b\\f'"
    )


def test_quote_like_escapes_wildcards() -> None:
    assert quote_like("100%_a\\'") == "'100\\%\\_a\\\\\\''"


@pytest.mark.parametrize(
    ("python", "soql"),
    [
        ("it's", "'it\\'s'"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (42, "42"),
        (-1.5, "-1.5"),
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000"),
        (Decimal("12.3400"), "12.3400"),
        (date(2024, 1, 31), "2024-01-31"),
        (datetime(2024, 1, 31, 12, 0, 0, 123456, tzinfo=UTC), "2024-01-31T12:00:00.123Z"),
        # Four-digit years even before 1000 (strftime's %Y does not pad them on glibc).
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000Z"),
        (
            datetime(2024, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1))),
            "2024-01-31T12:00:00.000Z",
        ),
        (["a", "b'"], "('a','b\\'')"),
        ((1, 2), "(1,2)"),
        ({"b", "a"}, "('a','b')"),
    ],
)
def test_literal(python: object, soql: str) -> None:
    assert literal(python) == soql  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("python", "error"),
    [
        (datetime(2024, 1, 1), ValueError),
        (float("nan"), ValueError),
        (Decimal("Infinity"), ValueError),
        ([], ValueError),
        (object(), TypeError),
        ([["nested"]], TypeError),
    ],
)
def test_literal_refuses(python: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        literal(python)  # type: ignore[arg-type]


def test_literals_parse_back() -> None:
    values = literal(["x", 1, True, None, date(2024, 1, 1)])
    node = where("Name IN " + values)
    assert isinstance(node, Comparison)
    assert node.values == (
        StringLit("x", 39),
        NumberLit(Decimal(1), 43),
        BoolLit(True, 45),
        NullLit(50),
        DateLit(date(2024, 1, 1), 55),
    )


@given(st.text())
def test_quote_string_round_trip(text: str) -> None:
    node = value("LastName = " + quote_string(text))
    assert isinstance(node, StringLit)
    assert node.value == text


@given(st.text())
def test_quote_like_round_trip(text: str) -> None:
    # The pattern holds no wildcard: every %, _ and backslash is escaped.
    node = value("LastName LIKE " + quote_like(text))
    assert isinstance(node, LikePattern)
    literal_text, wildcards, index = [], 0, 0
    while index < len(node.pattern):
        char = node.pattern[index]
        if char == "\\":
            literal_text.append(node.pattern[index + 1])
            index += 2
            continue
        wildcards += char in "%_"
        literal_text.append(char)
        index += 1
    assert wildcards == 0
    assert "".join(literal_text) == text


@pytest.mark.parametrize(
    ("pattern", "soql"),
    [
        ("Ac%", "'Ac%'"),
        ("a_c", "'a_c'"),
        ("100\\%%", "'100\\%%'"),
        ("snake\\_case", "'snake\\_case'"),
        ("back\\\\slash%", "'back\\\\slash%'"),
        ("O'Brien%", "'O\\'Brien%'"),
        ("\\x", "'x'"),
    ],
)
def test_quote_like_pattern(pattern: str, soql: str) -> None:
    assert quote_like_pattern(pattern) == soql


def test_quote_like_pattern_refuses_a_trailing_backslash() -> None:
    with pytest.raises(ValueError, match="lone backslash"):
        quote_like_pattern("abc\\")


@given(st.lists(st.one_of(st.sampled_from(["%", "_"]), st.text(min_size=1))))
def test_like_pattern_round_trip(pieces: list[str]) -> None:
    # Text escaped by escape_like stays literal; bare % and _ stay wildcards.
    pattern = "".join(p if p in {"%", "_"} else escape_like(p) for p in pieces)
    node = value("LastName LIKE " + quote_like_pattern(pattern))
    assert isinstance(node, LikePattern)
    assert node.pattern == pattern


@given(st.text())
def test_quote_like_is_an_escaped_pattern(text: str) -> None:
    assert quote_like(text) == quote_like_pattern(escape_like(text))


@pytest.mark.parametrize(
    "path", ["Id", "Account.Owner.Name", "Invoice__c", "Order.Status", "Group"]
)
def test_checked_field_path_accepts_names_and_paths(path: str) -> None:
    assert checked_field_path(path) == path


@pytest.mark.parametrize(
    "path",
    ["First Name", "Name'", "Account..Name", "Account.", "1st", "Limit", "Account.From", "", "a,b"],
)
def test_checked_field_path_refuses(path: str) -> None:
    with pytest.raises(ValueError, match="is not a SOQL field name") as caught:
        checked_field_path(path)
    assert repr(path) in str(caught.value)


def test_checked_object_name() -> None:
    assert checked_object_name("Order") == "Order"
    for bad in ["Contact Name", "Account.Name", "From", "X; DELETE"]:
        with pytest.raises(ValueError, match="is not a SOQL object name"):
            checked_object_name(bad)
