"""The emulator's SOQL engine against a small hand-written org.

Most behaviour is one table: a query, and the records (by label), count or
error Salesforce gives for it. The org is fixed and the clock stands at
Wednesday 2024-03-13 15:30 UTC, so date literals have known answers:
this week is Sun 10 - Sat 16 March, this quarter January - March.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfbridge.emulators.salesforce.schema import OrgSchema
from sfbridge.emulators.salesforce.soql_compile import plan_query
from sfbridge.emulators.salesforce.soql_engine import QueryEngine
from sfbridge.emulators.salesforce.storage import OrgStore
from sfbridge.salesforce.ids import make_id
from sfbridge.salesforce.soql import quote_like, quote_string
from sfbridge.salesforce.soql_parser import SoqlError, parse_soql

NOW = datetime(2024, 3, 13, 15, 30, tzinfo=UTC)
_PREFIXES = {"a": "001", "c": "003", "u": "005", "l": "00Q", "o": "006", "t": "00T"}


def sf_id(label: str) -> str:
    """The 18-character id of a dataset record: ``c7`` is Contact number 7."""
    return make_id(_PREFIXES[label[0]], int(label[1:]))


# -- the org ------------------------------------------------------------------

USERS = [
    # label, first, last, active, manager
    ("u1", "Ada", "Admin", 1, "u2"),
    ("u2", "Bob", "Boss", 1, None),
    ("u3", "Cy", "Inactive", 0, "u1"),
]
ACCOUNTS = [
    # label, name, industry, revenue, employees, owner, parent, city, country, rating,
    # partner, deleted
    ("a1", "Acme", "Technology", 5e6, 120, "u1", None, "Paris", "France", "Hot", 0, 0),
    ("a2", "acme labs", "Technology", 250000.0, 15, "u1", "a1", "Lyon", "France", None, 0, 0),
    ("a3", "Globex", "Energy", 12000000.5, 800, "u2", None, "Springfield", "USA", "Warm", 0, 0),
    ("a4", "Initech", "Banking", None, 50, "u2", None, None, None, "Cold", 0, 0),
    ("a5", "Umbrella", "Biotechnology", 900000.0, None, "u3", "a3", "Raccoon", "USA", None, 0, 0),
    (
        "a6",
        "Stark Industries",
        "Technology",
        1e9,
        10000,
        None,
        None,
        "New York",
        "USA",
        "Hot",
        1,
        0,
    ),
    ("a7", "Wayne Enterprises", "Banking", 5e8, 5000, "u1", None, "Gotham", "USA", None, 0, 0),
    ("a8", "Société Générale", "Banking", 2e9, 100000, "u2", None, "Paris", "France", "Warm", 0, 0),
    ("a9", "Ørsted", "Energy", 3e8, None, "u3", None, "Fredericia", "Denmark", None, 0, 0),
    ("a10", "Recycled Corp", None, None, None, "u1", None, None, None, None, 0, 1),
]
CONTACT_COLUMNS = [
    "FirstName",
    "LastName",
    "Email",
    "AccountId",
    "Birthdate",
    "CreatedDate",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "LeadSource",
    "Title",
    "MailingCity",
    "MailingPostalCode",
    "Interests__c",
    "External_Key__c",
    "IsDeleted",
]
# fmt: off
CONTACTS: list[tuple[Any, ...]] = [
    ("c1", "John", "Smith", "john.smith@example.com", "a1", "1980-05-17",
     "2024-03-13T09:00:00.000Z", 0, 0, "Web", "CEO", "Paris", "75001", "Golf;Tennis", "KEY-A", 0),
    ("c2", "jane", "smith", "jane@example.com", "a1", "1990-03-13", "2024-03-12T23:30:00.000Z",
     1, 0, "Phone Inquiry", "CTO", "Lyon", None, "Tennis", "key-a", 0),
    ("c3", "Jim", "SMITH", None, "a2", None, "2024-03-13T03:00:00.000Z",
     0, 1, None, None, None, None, "Chess;Golf;Tennis", None, 0),
    ("c4", "Élodie", "Durand", "elodie@example.fr", "a8", "1985-12-31", "2024-03-10T00:00:00.000Z",
     0, 0, "Partner Referral", "Directrice", "Paris", "75008", "Cooking", None, 0),
    ("c5", "Zoë", "Müller", "zoe@example.de", "a8", "1975-01-01", "2024-03-09T23:59:59.999Z",
     0, 0, "Other", None, "Berlin", None, None, None, 0),
    ("c6", "Hans", "MÜLLER", "hans@example.de", None, "1960-07-04", "2024-03-01T00:00:00.000Z",
     1, 1, "Web", None, None, None, "Golf", None, 0),
    ("c7", "Anne-Marie", "O'Brien", "am.obrien@example.ie", "a3", "1992-02-29",
     "2024-02-29T12:00:00.000Z", 0, 0, "Web", None, "Dublin", None, "Tennis;Golf", None, 0),
    ("c8", "Percy", "100%_Pure", "pure@example.com", "a3", None, "2024-02-01T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c9", "Bea", "back\\slash", None, "a4", None, "2024-01-15T10:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c10", None, "Nobody", None, None, None, "2023-12-31T23:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c11", "Tom", "Tester", "TOM@EXAMPLE.COM", "a5", None, "2023-11-15T00:00:00.000Z",
     0, 0, "Purchased List", None, None, None, None, None, 0),
    ("c12", "Tess", "Tester", "tess@example.com", "a5", None, "2023-06-01T00:00:00.000Z",
     0, 0, "Undefined Source", None, None, None, None, None, 0),
    ("c13", "Ann", "Lee", "ann@example.com", "a6", "2000-03-14", "2024-03-14T01:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c14", "Bo", "Lee", "bo@example.com", "a6", None, "2024-03-20T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c15", "Cy", "Lee", None, "a7", None, "2024-04-02T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c16", "Di", "Park", "di@example.com", "a7", None, "2025-01-05T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c17", "Ed", "Park", "ed@example.com", "a9", None, "2022-06-15T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c18", "Flo", "Park", "flo@example.com", "a10", None, "2024-03-06T12:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c19", "Gus", "Gray", None, None, None, "2024-02-14T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c20", "Hal", "Gray", "hal@example.com", "a2", None, "2024-03-11T08:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c21", "Ivy", "Gray", "ivy@example.com", "a2", None, "2024-03-12T10:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c22", "Jo", "Quinn", "jo@example.com", "a1", None, "2024-01-01T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c23", "Kim", "Quinn", "kim@example.com", "a1", None, "2023-03-13T15:30:00.000Z",
     0, 0, None, None, None, None, None, None, 0),
    ("c24", "Del", "Eted", "del@example.com", "a1", None, "2024-03-13T10:00:00.000Z",
     0, 0, None, None, None, None, None, None, 1),
    ("c25", "Rem", "Oved", None, None, None, "2024-02-01T00:00:00.000Z",
     0, 0, None, None, None, None, None, None, 1),
]
# fmt: on
LEADS = [
    # label, first, last, company, status, email, owner
    ("l1", "Lena", "Lead", "Acme", "Open - Not Contacted", "lena@example.com", "u1"),
    ("l2", "Max", "Lead", "Globex", "Working - Contacted", None, "u2"),
    ("l3", "Nia", "Lead", "Initech", "Closed - Converted", "nia@example.com", None),
]
OPPORTUNITIES = [
    # label, name, account, stage, amount, close date, probability, deleted
    ("o1", "Acme Deal", "a1", "Prospecting", 10000.0, "2024-03-13", 10, 0),
    ("o2", "Acme Renewal", "a1", "Closed Won", 50000.0, "2024-03-01", 100, 0),
    ("o3", "Globex Expansion", "a3", "Negotiation/Review", 250000.0, "2024-04-15", 90, 0),
    ("o4", "Initech Pilot", "a4", "Closed Lost", None, "2023-12-20", 0, 0),
    ("o5", "Stark Armor", "a6", "Qualification", 1000000.0, "2024-06-30", 20, 0),
    ("o6", "Wayne Tech", "a7", "Value Proposition", 75000.5, "2024-03-12", 50, 0),
    ("o7", "Orphan Deal", None, "Prospecting", 500.0, "2024-03-14", 10, 0),
    ("o8", "Deleted Deal", "a1", "Prospecting", 1.0, "2024-03-13", 10, 1),
]
TASKS = [
    ("t1", "Call John", "c1", "a1"),
    ("t2", "Email Lena", "l1", None),
    ("t3", "Follow up", None, "o3"),
    ("t4", "Orphan", None, None),
]

LIVE_CONTACTS = [f"c{n}" for n in range(1, 24)]


def _ref(label: str | None) -> str | None:
    return sf_id(label) if label else None


def _build_org() -> OrgStore:
    schema = OrgSchema.standard()
    store = OrgStore(None, schema)
    contact = schema.object("Contact")
    assert contact is not None
    schema.add_custom_field(
        "Contact",
        {
            "name": "Interests__c",
            "type": "multipicklist",
            "values": ["Golf", "Tennis", "Chess", "Cooking"],
        },
    )
    key = schema.add_custom_field(
        "Contact", {"name": "External_Key__c", "type": "string", "unique": True, "externalId": True}
    )
    key.describe["caseSensitive"] = True  # a unique, case-sensitive field (item 2)
    store.ensure_table(contact)

    def insert(object_name: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        obj = schema.object(object_name)
        assert obj is not None
        store.insert_rows(obj, columns, rows)

    insert(
        "User",
        ["Id", "FirstName", "LastName", "Name", "Username", "Email", "IsActive", "ManagerId"],
        [
            (
                sf_id(u),
                first,
                last,
                f"{first} {last}",
                f"{first.lower()}@example.com",
                f"{first.lower()}@example.com",
                active,
                _ref(manager),
            )
            for u, first, last, active, manager in USERS
        ],
    )
    insert(
        "Account",
        [
            "Id",
            "Name",
            "Industry",
            "AnnualRevenue",
            "NumberOfEmployees",
            "OwnerId",
            "ParentId",
            "BillingCity",
            "BillingCountry",
            "Rating",
            "IsPartner",
            "IsDeleted",
        ],
        [(sf_id(a[0]), *a[1:5], _ref(a[5]), _ref(a[6]), *a[7:]) for a in ACCOUNTS],
    )
    insert(
        "Contact",
        ["Id", "Name", "SystemModstamp", *CONTACT_COLUMNS],
        [
            (sf_id(c[0]), " ".join(p for p in c[1:3] if p), c[6], *c[1:4], _ref(c[4]), *c[5:])
            for c in CONTACTS
        ],
    )
    insert(
        "Lead",
        ["Id", "FirstName", "LastName", "Name", "Company", "Status", "Email", "OwnerId"],
        [
            (sf_id(lead[0]), lead[1], lead[2], f"{lead[1]} {lead[2]}", *lead[3:6], _ref(lead[6]))
            for lead in LEADS
        ],
    )
    insert(
        "Opportunity",
        ["Id", "Name", "AccountId", "StageName", "Amount", "CloseDate", "Probability", "IsDeleted"],
        [(sf_id(o[0]), o[1], _ref(o[2]), *o[3:]) for o in OPPORTUNITIES],
    )
    insert(
        "Task",
        ["Id", "Subject", "WhoId", "WhatId"],
        [(sf_id(t[0]), t[1], _ref(t[2]), _ref(t[3])) for t in TASKS],
    )
    insert("Organization", ["Id", "Name", "IsSandbox"], [(make_id("00D", 1), "Emulated Org", 0)])
    return store


@pytest.fixture(scope="module")
def org() -> Iterator[OrgStore]:
    """The hand-written org, shared read-only by the tests of this module."""
    store = _build_org()
    yield store
    store.close()


@pytest.fixture(scope="module")
def engine(org: OrgStore) -> QueryEngine:
    return QueryEngine(org)


def run(engine: QueryEngine, soql: str, **options: Any) -> list[dict[str, Any]]:
    """All records of a query, as the REST API would page them."""
    options.setdefault("include_deleted", False)
    cursor = engine.execute(soql, api_version="62.0", now=NOW, **options)
    return cursor.page(0, cursor.total_size)


# -- the table ----------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What Salesforce answers: records (by label), a COUNT() total, rows, or an error."""

    kind: str
    labels: tuple[str, ...] = ()
    number: int = 0
    rows: tuple[dict[str, Any], ...] = ()
    code: str = ""
    fragment: str = ""


def rows(*labels: str) -> Expect:
    return Expect("set", labels)


def ordered(*labels: str) -> Expect:
    return Expect("list", labels)


def live_contacts_except(*labels: str) -> Expect:
    return Expect("set", tuple(c for c in LIVE_CONTACTS if c not in labels))


def total(number: int) -> Expect:
    return Expect("count", number=number)


def aggregate(*result: dict[str, Any]) -> Expect:
    return Expect("aggregate", rows=result)


def error(code: str, fragment: str) -> Expect:
    return Expect("error", code=code, fragment=fragment)


@dataclass(frozen=True)
class Case:
    soql: str
    expect: Expect
    all_rows: bool = False
    tz: str = "UTC"
    hidden: tuple[str, ...] = ()


def contacts(where: str, expect: Expect, **options: Any) -> Case:
    return Case("SELECT Id FROM Contact WHERE " + where, expect, **options)


def accounts(rest: str, expect: Expect, **options: Any) -> Case:
    return Case("SELECT Id FROM Account " + rest, expect, **options)


def opportunities(rest: str, expect: Expect, **options: Any) -> Case:
    return Case("SELECT Id FROM Opportunity " + rest, expect, **options)


def tasks(where: str, expect: Expect) -> Case:
    return Case("SELECT Id FROM Task WHERE " + where, expect)


NO_COLUMN = "No such column"
BAD_OPERATOR = "INVALID_QUERY_FILTER_OPERATOR"

CASES: list[Case] = [
    # strings: every operator, case-insensitive, null as a value (items 1, 2)
    contacts("LastName = 'Smith'", rows("c1", "c2", "c3")),
    contacts("LastName = 'SMITH'", rows("c1", "c2", "c3")),
    contacts("LastName != 'Smith'", live_contacts_except("c1", "c2", "c3")),
    contacts("LastName <> 'smith'", live_contacts_except("c1", "c2", "c3")),
    contacts("Email = null", rows("c3", "c9", "c10", "c15", "c19")),
    contacts("Email != null", live_contacts_except("c3", "c9", "c10", "c15", "c19")),
    contacts("Email != 'john.smith@example.com'", live_contacts_except("c1")),
    contacts("NOT Email = 'john.smith@example.com'", live_contacts_except("c1")),
    contacts("NOT (Email = 'JOHN.SMITH@example.com')", live_contacts_except("c1")),
    contacts(
        "Email NOT IN ('john.smith@example.com', 'jane@example.com')",
        live_contacts_except("c1", "c2"),
    ),
    contacts("Email IN ('JOHN.SMITH@example.com', 'Jane@Example.com')", rows("c1", "c2")),
    contacts("Email IN ('jane@example.com', null)", rows("c2", "c3", "c9", "c10", "c15", "c19")),
    contacts(
        "Email NOT IN ('jane@example.com', null)",
        live_contacts_except("c2", "c3", "c9", "c10", "c15", "c19"),
    ),
    contacts("Email = 'tom@example.com'", rows("c11")),
    contacts("Email < 'b'", rows("c7", "c13")),
    contacts("NOT Email < 'b'", live_contacts_except("c7", "c13")),
    contacts("Email > 'z'", rows("c5")),
    contacts("Email >= 'zoe@example.de'", rows("c5")),
    contacts("Email <= 'ann@example.com'", rows("c7", "c13")),
    contacts("Email > null", rows()),
    contacts("Title != 'CEO'", live_contacts_except("c1")),
    contacts("FirstName = null", rows("c10")),
    contacts("LastName IN ('lee', 'PARK')", rows("c13", "c14", "c15", "c16", "c17", "c18")),
    contacts("LastName = 'O\\'Brien'", rows("c7")),
    contacts("LastName = 'back\\\\slash'", rows("c9")),
    contacts("LastName = ''", rows()),
    # LIKE (item 7)
    contacts("LastName LIKE 'sm%'", rows("c1", "c2", "c3")),
    contacts("LastName LIKE '%ER'", rows("c5", "c6", "c11", "c12")),
    contacts("LastName LIKE 'L_e'", rows("c13", "c14", "c15")),
    contacts("FirstName LIKE 'J%'", rows("c1", "c2", "c3", "c22")),
    contacts("LastName LIKE '100\\%\\_Pure'", rows("c8")),
    contacts("LastName LIKE '100%Pure'", rows("c8")),
    contacts("LastName LIKE '%\\%%'", rows("c8")),
    contacts("LastName LIKE '%\\_%'", rows("c8")),
    contacts("LastName LIKE 'back\\\\slash'", rows("c9")),
    contacts("LastName LIKE 'Smit'", rows()),
    contacts("NOT LastName LIKE 'S%'", live_contacts_except("c1", "c2", "c3")),
    contacts(
        "Email LIKE '%@example.com'",
        live_contacts_except("c3", "c4", "c5", "c6", "c7", "c9", "c10", "c15", "c19"),
    ),
    contacts(
        "NOT Email LIKE '%.com'", rows("c3", "c4", "c5", "c6", "c7", "c9", "c10", "c15", "c19")
    ),
    # non-ASCII letters fold case; accents stay distinct (item 2)
    contacts("FirstName = 'ÉLODIE'", rows("c4")),
    contacts("FirstName = 'elodie'", rows()),
    contacts("LastName = 'müller'", rows("c5", "c6")),
    contacts("LastName LIKE 'MÜL%'", rows("c5", "c6")),
    contacts("LastName IN ('müller', 'lee')", rows("c5", "c6", "c13", "c14", "c15")),
    contacts("LastName != 'MÜLLER'", live_contacts_except("c5", "c6")),
    accounts("WHERE Name = 'ØRSTED'", rows("a9")),
    accounts("WHERE Name LIKE 'société%'", rows("a8")),
    accounts("WHERE Name = 'ACME LABS'", rows("a2")),
    # ids: 15 or 18 characters, matched case-sensitively (item 2)
    contacts("Id = '{c1}'", rows("c1")),
    contacts("Id = '{c1_15}'", rows("c1")),
    contacts("Id = '{c1_recased}'", rows()),
    contacts("Id = '{c1_15_recased}'", rows()),
    contacts("Id IN ('{c1_15}', '{c2}')", rows("c1", "c2")),
    contacts("Id NOT IN ('{c1}')", live_contacts_except("c1")),
    contacts("Id != '{c1_15}'", live_contacts_except("c1")),
    contacts("Id > '{c20}'", rows("c21", "c22", "c23")),
    contacts("AccountId = '{a1_15}'", rows("c1", "c2", "c22", "c23")),
    contacts("AccountId = null", rows("c6", "c10", "c19")),
    contacts("AccountId != '{a1}'", live_contacts_except("c1", "c2", "c22", "c23")),
    contacts(
        "AccountId IN ('{a6}', '{a7}', null)", rows("c6", "c10", "c13", "c14", "c15", "c16", "c19")
    ),
    contacts("Id = 'abc'", error(BAD_OPERATOR, "invalid ID field: abc")),
    contacts("AccountId IN ('{a1}', '001-not-an-id')", error(BAD_OPERATOR, "invalid ID field")),
    contacts("Id LIKE '003%'", error(BAD_OPERATOR, "invalid operator on id field")),
    contacts("AccountId LIKE '001%'", error(BAD_OPERATOR, "invalid operator on id field")),
    contacts(
        "Id = 3", error("INVALID_FIELD", "must be of type id and should be enclosed in quotes")
    ),
    # a unique case-sensitive custom field compares exactly (item 2)
    contacts("External_Key__c = 'KEY-A'", rows("c1")),
    contacts("External_Key__c = 'key-a'", rows("c2")),
    contacts("External_Key__c LIKE 'KEY%'", rows("c1")),
    contacts("External_Key__c != 'KEY-A'", live_contacts_except("c1")),
    # numbers
    accounts("WHERE AnnualRevenue > 1000000", rows("a1", "a3", "a6", "a7", "a8", "a9")),
    accounts("WHERE AnnualRevenue = 250000", rows("a2")),
    accounts("WHERE AnnualRevenue = 12000000.5", rows("a3")),
    accounts("WHERE AnnualRevenue = null", rows("a4")),
    accounts("WHERE AnnualRevenue != 250000", rows("a1", "a3", "a4", "a5", "a6", "a7", "a8", "a9")),
    accounts("WHERE AnnualRevenue < 1000000", rows("a2", "a5")),
    accounts("WHERE NOT AnnualRevenue < 1000000", rows("a1", "a3", "a4", "a6", "a7", "a8", "a9")),
    accounts("WHERE AnnualRevenue <= 900000", rows("a2", "a5")),
    accounts("WHERE AnnualRevenue >= 2000000000", rows("a8")),
    accounts("WHERE NumberOfEmployees IN (15, 50, 800)", rows("a2", "a3", "a4")),
    accounts(
        "WHERE NumberOfEmployees NOT IN (15, 50)", rows("a1", "a3", "a5", "a6", "a7", "a8", "a9")
    ),
    accounts("WHERE NumberOfEmployees > -1", rows("a1", "a2", "a3", "a4", "a6", "a7", "a8")),
    accounts(
        "WHERE AnnualRevenue = '250000'",
        error("INVALID_FIELD", "must be of type double and should not be enclosed in quotes"),
    ),
    accounts("WHERE NumberOfEmployees = '15'", error("INVALID_FIELD", "must be of type integer")),
    accounts("WHERE NumberOfEmployees = TODAY", error("INVALID_FIELD", "must be of type integer")),
    opportunities("WHERE Amount > 75000", rows("o3", "o5", "o6")),
    opportunities("WHERE Probability >= 90", rows("o2", "o3")),
    # booleans: never null, = null means = false (item 4)
    contacts("HasOptedOutOfEmail = true", rows("c2", "c6")),
    contacts("HasOptedOutOfEmail = FALSE", live_contacts_except("c2", "c6")),
    contacts("HasOptedOutOfEmail = null", live_contacts_except("c2", "c6")),
    contacts("HasOptedOutOfEmail != null", rows("c2", "c6")),
    contacts("HasOptedOutOfEmail != true", live_contacts_except("c2", "c6")),
    contacts("HasOptedOutOfEmail IN (true)", rows("c2", "c6")),
    contacts("HasOptedOutOfEmail = true AND DoNotCall = true", rows("c6")),
    contacts("NOT (HasOptedOutOfEmail = false OR DoNotCall = false)", rows("c6")),
    contacts("HasOptedOutOfEmail = 'true'", error("INVALID_FIELD", "must be of type boolean")),
    contacts("HasOptedOutOfEmail = 1", error("INVALID_FIELD", "must be of type boolean")),
    contacts("Account.IsPartner = true", rows("c13", "c14")),
    contacts("Account.IsPartner = false", live_contacts_except("c13", "c14")),
    contacts("Account.IsPartner = null", live_contacts_except("c13", "c14")),
    contacts("Account.IsPartner != true", live_contacts_except("c13", "c14")),
    # dates
    contacts("Birthdate = 1980-05-17", rows("c1")),
    contacts("Birthdate > 1990-01-01", rows("c2", "c7", "c13")),
    contacts("Birthdate < 1970-01-01", rows("c6")),
    contacts("Birthdate = null", live_contacts_except("c1", "c2", "c4", "c5", "c6", "c7", "c13")),
    contacts("Birthdate IN (1980-05-17, 1975-01-01)", rows("c1", "c5")),
    contacts(
        "Birthdate = '1980-05-17'",
        error("INVALID_FIELD", "must be of type date and should not be enclosed in quotes"),
    ),
    contacts(
        "Birthdate = 1980-05-17T00:00:00Z",
        error("INVALID_FIELD", "field 'Birthdate' must be of type date"),
    ),
    contacts("Birthdate = 2023-02-30", error("MALFORMED_QUERY", "unexpected token: '2023-02-30'")),
    contacts("Birthdate LIKE '1980%'", error(BAD_OPERATOR, "invalid operator on date field")),
    contacts("CreatedDate LIKE TODAY", error(BAD_OPERATOR, "invalid operator on dateTime field")),
    # datetimes: any fraction, Z or offsets, compared in UTC (item 6)
    contacts("CreatedDate = 2024-03-13T09:00:00Z", rows("c1")),
    contacts("CreatedDate = 2024-03-13T09:00:00.000Z", rows("c1")),
    contacts("CreatedDate = 2024-03-13T09:00:00.000000Z", rows("c1")),
    contacts("CreatedDate = 2024-03-13T10:00:00.000+01:00", rows("c1")),
    contacts("CreatedDate = 2024-03-13T04:00:00-0500", rows("c1")),
    contacts("CreatedDate = 2024-03-09T23:59:59.999Z", rows("c5")),
    contacts("CreatedDate > 2024-03-13T00:00:00Z", rows("c1", "c3", "c13", "c14", "c15", "c16")),
    contacts(
        "CreatedDate >= 2024-03-13T03:00:00.000Z AND CreatedDate < 2024-03-13T09:00:00.000Z",
        rows("c3"),
    ),
    contacts("CreatedDate < 2023-01-01T00:00:00+00:00", rows("c17")),
    contacts("CreatedDate IN (2024-03-13T09:00:00Z, 2022-06-15T00:00:00Z)", rows("c1", "c17")),
    contacts(
        "CreatedDate > 2024-01-01",
        error(
            "INVALID_FIELD",
            "field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes",
        ),
    ),
    contacts(
        "CreatedDate > '2024-01-01T00:00:00Z'", error("INVALID_FIELD", "must be of type dateTime")
    ),
    contacts(
        "CreatedDate > 2024-01-01T00:00:00",
        error("MALFORMED_QUERY", "no viable alternative at character '<EOF>'"),
    ),
    contacts(
        "CreatedDate > 2024-01-01T00:00:00 00:00",
        error("MALFORMED_QUERY", "no viable alternative at character ' '"),
    ),
    # date literals on a DateTime field, UTC user (item 5)
    contacts("CreatedDate = TODAY", rows("c1", "c3")),
    contacts("CreatedDate = YESTERDAY", rows("c2", "c21")),
    contacts("CreatedDate = TOMORROW", rows("c13")),
    contacts("CreatedDate = THIS_WEEK", rows("c1", "c2", "c3", "c4", "c13", "c20", "c21")),
    contacts("CreatedDate = LAST_WEEK", rows("c5", "c18")),
    contacts("CreatedDate = NEXT_WEEK", rows("c14")),
    contacts(
        "CreatedDate = THIS_MONTH",
        rows("c1", "c2", "c3", "c4", "c5", "c6", "c13", "c14", "c18", "c20", "c21"),
    ),
    contacts("CreatedDate = LAST_MONTH", rows("c7", "c8", "c19")),
    contacts("CreatedDate = NEXT_MONTH", rows("c15")),
    contacts(
        "CreatedDate = THIS_QUARTER",
        rows(
            "c1",
            "c2",
            "c3",
            "c4",
            "c5",
            "c6",
            "c7",
            "c8",
            "c9",
            "c13",
            "c14",
            "c18",
            "c19",
            "c20",
            "c21",
            "c22",
        ),
    ),
    contacts("CreatedDate = LAST_QUARTER", rows("c10", "c11")),
    contacts("CreatedDate = NEXT_QUARTER", rows("c15")),
    contacts(
        "CreatedDate = THIS_YEAR", live_contacts_except("c10", "c11", "c12", "c16", "c17", "c23")
    ),
    contacts("CreatedDate = LAST_YEAR", rows("c10", "c11", "c12", "c23")),
    contacts("CreatedDate = NEXT_YEAR", rows("c16")),
    contacts(
        "CreatedDate = THIS_FISCAL_QUARTER",
        rows(
            "c1",
            "c2",
            "c3",
            "c4",
            "c5",
            "c6",
            "c7",
            "c8",
            "c9",
            "c13",
            "c14",
            "c18",
            "c19",
            "c20",
            "c21",
            "c22",
        ),
    ),
    contacts("CreatedDate = LAST_N_DAYS:1", rows("c1", "c2", "c3", "c21")),
    contacts(
        "CreatedDate = LAST_N_DAYS:7", rows("c1", "c2", "c3", "c4", "c5", "c18", "c20", "c21")
    ),
    contacts("CreatedDate = NEXT_N_DAYS:7", rows("c13", "c14")),
    contacts("CreatedDate = N_DAYS_AGO:3", rows("c4")),
    contacts("CreatedDate = LAST_N_WEEKS:2", rows("c5", "c6", "c7", "c18")),
    contacts("CreatedDate = NEXT_N_WEEKS:1", rows("c14")),
    contacts("CreatedDate = N_WEEKS_AGO:1", rows("c5", "c18")),
    contacts("CreatedDate = LAST_N_MONTHS:2", rows("c7", "c8", "c9", "c19", "c22")),
    contacts("CreatedDate = NEXT_N_MONTHS:1", rows("c15")),
    contacts("CreatedDate = N_MONTHS_AGO:1", rows("c7", "c8", "c19")),
    contacts("CreatedDate = LAST_N_QUARTERS:1", rows("c10", "c11")),
    contacts("CreatedDate = NEXT_N_QUARTERS:2", rows("c15")),
    contacts("CreatedDate = LAST_N_YEARS:1", rows("c10", "c11", "c12", "c23")),
    contacts("CreatedDate = LAST_N_YEARS:2", rows("c10", "c11", "c12", "c17", "c23")),
    contacts("CreatedDate = NEXT_N_YEARS:1", rows("c16")),
    contacts("CreatedDate = N_YEARS_AGO:2", rows("c17")),
    contacts(
        "CreatedDate = LAST_90_DAYS",
        rows(
            "c1",
            "c2",
            "c3",
            "c4",
            "c5",
            "c6",
            "c7",
            "c8",
            "c9",
            "c10",
            "c18",
            "c19",
            "c20",
            "c21",
            "c22",
        ),
    ),
    contacts("CreatedDate = NEXT_90_DAYS", rows("c13", "c14", "c15")),
    contacts("CreatedDate < TODAY", live_contacts_except("c1", "c3", "c13", "c14", "c15", "c16")),
    contacts("CreatedDate > TODAY", rows("c13", "c14", "c15", "c16")),
    contacts("CreatedDate <= TODAY", live_contacts_except("c13", "c14", "c15", "c16")),
    contacts("CreatedDate >= TODAY", rows("c1", "c3", "c13", "c14", "c15", "c16")),
    contacts("CreatedDate != TODAY", live_contacts_except("c1", "c3")),
    contacts("CreatedDate > LAST_N_DAYS:1", rows("c13", "c14", "c15", "c16")),
    contacts("CreatedDate IN (TODAY, NEXT_YEAR)", rows("c1", "c3", "c16")),
    # ... in the user's time zone (watch-out: not UTC)
    contacts("CreatedDate = TODAY", rows("c1", "c13"), tz="America/Los_Angeles"),
    contacts("CreatedDate = YESTERDAY", rows("c2", "c3", "c21"), tz="America/Los_Angeles"),
    contacts("CreatedDate = TODAY", rows("c13"), tz="Pacific/Auckland"),
    contacts(
        "CreatedDate = THIS_YEAR",
        live_contacts_except("c11", "c12", "c16", "c17", "c23"),
        tz="Pacific/Auckland",
    ),
    # date literals on a Date field: plain dates
    opportunities("WHERE CloseDate = TODAY", rows("o1")),
    opportunities("WHERE CloseDate = YESTERDAY", rows("o6")),
    opportunities("WHERE CloseDate = THIS_MONTH", rows("o1", "o2", "o6", "o7")),
    opportunities("WHERE CloseDate = NEXT_QUARTER", rows("o3", "o5")),
    opportunities("WHERE CloseDate = LAST_N_DAYS:1", rows("o1", "o6")),
    opportunities("WHERE CloseDate = NEXT_N_DAYS:1", rows("o7")),
    opportunities("WHERE CloseDate < THIS_MONTH", rows("o4")),
    opportunities("WHERE CloseDate > THIS_MONTH", rows("o3", "o5")),
    opportunities("WHERE CloseDate >= THIS_QUARTER", rows("o1", "o2", "o3", "o5", "o6", "o7")),
    opportunities("WHERE CloseDate <= LAST_YEAR", rows("o4")),
    opportunities("WHERE CloseDate = 2024-03-13", rows("o1")),
    opportunities("WHERE CloseDate IN (TODAY, TOMORROW)", rows("o1", "o7")),
    opportunities("WHERE CloseDate = TODAY", rows("o1"), tz="America/Los_Angeles"),
    opportunities("WHERE CloseDate = TODAY", rows("o7"), tz="Pacific/Auckland"),
    opportunities(
        "WHERE CloseDate = 2024-03-13T00:00:00Z", error("INVALID_FIELD", "must be of type date")
    ),
    # multi-select picklists (item 14)
    contacts("Interests__c INCLUDES ('Golf')", rows("c1", "c3", "c6", "c7")),
    contacts("Interests__c includes ('golf')", rows("c1", "c3", "c6", "c7")),
    contacts("Interests__c INCLUDES ('Golf;Tennis')", rows("c1", "c3", "c7")),
    contacts("Interests__c INCLUDES ('Tennis;Golf', 'Cooking')", rows("c1", "c3", "c4", "c7")),
    contacts("Interests__c INCLUDES ('Gol')", rows()),
    contacts("Interests__c EXCLUDES ('Golf')", live_contacts_except("c1", "c3", "c6", "c7")),
    contacts("Interests__c EXCLUDES ('Golf;Tennis')", live_contacts_except("c1", "c3", "c7")),
    contacts("NOT Interests__c INCLUDES ('Golf')", live_contacts_except("c1", "c3", "c6", "c7")),
    contacts("Interests__c = 'Golf;Tennis'", rows("c1", "c7")),
    contacts("Interests__c = 'Tennis;Golf'", rows("c1", "c7")),
    contacts("Interests__c = 'Golf'", rows("c6")),
    contacts("Interests__c != 'Golf'", live_contacts_except("c6")),
    contacts("Interests__c IN ('Golf', 'Tennis')", rows("c2", "c6")),
    contacts("Interests__c = null", live_contacts_except("c1", "c2", "c3", "c4", "c6", "c7")),
    contacts(
        "Interests__c LIKE 'Golf%'", error(BAD_OPERATOR, "invalid operator on multipicklist field")
    ),
    contacts("Interests__c < 'b'", error(BAD_OPERATOR, "invalid operator on multipicklist field")),
    contacts("LastName INCLUDES ('Smith')", error(BAD_OPERATOR, "only valid on multipicklist")),
    Case(
        "SELECT Id FROM Contact ORDER BY Interests__c",
        error("INVALID_FIELD", "field 'Interests__c' can not be sorted in a query call"),
    ),
    # AND / OR / NOT / parentheses
    contacts("LastName = 'Lee' AND Email != null", rows("c13", "c14")),
    contacts(
        "LastName = 'Lee' OR LastName = 'Park'", rows("c13", "c14", "c15", "c16", "c17", "c18")
    ),
    contacts("(LastName = 'Lee' OR LastName = 'Park') AND AccountId = '{a6}'", rows("c13", "c14")),
    contacts(
        "NOT (LastName = 'Lee' OR LastName = 'Park')",
        live_contacts_except("c13", "c14", "c15", "c16", "c17", "c18"),
    ),
    contacts("NOT (Email = null)", live_contacts_except("c3", "c9", "c10", "c15", "c19")),
    contacts("NOT (Email != null)", rows("c3", "c9", "c10", "c15", "c19")),
    contacts("NOT (NOT (LastName = 'Lee'))", rows("c13", "c14", "c15")),
    contacts("lastname = 'Lee' and (email = null or title = 'x')", rows("c15")),
    contacts("NOT (Email > 'i' AND Email < 'k')", live_contacts_except("c1", "c2", "c21", "c22")),
    contacts(
        "LastName = 'a' AND LastName = 'b' OR LastName = 'c'",
        error("MALFORMED_QUERY", "unexpected token: 'OR'"),
    ),
    # child-to-parent paths, 1 to 5 levels; a missing parent reads as null (item 9)
    contacts("Account.Name = 'Acme'", rows("c1", "c2", "c22", "c23")),
    contacts("Account.Name = null", rows("c6", "c10", "c19")),
    contacts("Account.Name != 'Acme'", live_contacts_except("c1", "c2", "c22", "c23")),
    contacts("Account.Name LIKE 'acme%'", rows("c1", "c2", "c3", "c20", "c21", "c22", "c23")),
    contacts("Account.Owner.Name = 'Bob Boss'", rows("c4", "c5", "c7", "c8", "c9")),
    contacts(
        "Account.Owner.Manager.Name = 'Bob Boss'",
        rows("c1", "c2", "c3", "c15", "c16", "c18", "c20", "c21", "c22", "c23"),
    ),
    contacts("Account.Parent.Name = 'Acme'", rows("c3", "c20", "c21")),
    contacts("Account.Parent.Owner.Name = 'Bob Boss'", rows("c11", "c12")),
    contacts(
        "Account.Owner.IsActive = false",
        rows("c6", "c10", "c11", "c12", "c13", "c14", "c17", "c19"),
    ),
    contacts("Account.IsDeleted = true", rows("c18")),
    contacts(
        "Account.Parent.Parent.Parent.Parent.Name = null", Expect("set", tuple(LIVE_CONTACTS))
    ),
    contacts(
        "Account.Parent.Parent.Parent.Parent.Parent.Name = null",
        error("MALFORMED_QUERY", "at most 5 relationships"),
    ),
    contacts("Contact.LastName = 'Lee'", rows("c13", "c14", "c15")),
    contacts(
        "Acount.Name = 'x'",
        error("INVALID_FIELD", "Didn't understand relationship 'Acount' in field path"),
    ),
    contacts(
        "Account.Naem = 'x'", error("INVALID_FIELD", "No such column 'Naem' on entity 'Account'")
    ),
    contacts(
        "LastName.Foo = 'x'", error("INVALID_FIELD", "Didn't understand relationship 'LastName'")
    ),
    opportunities("WHERE Account.Industry = 'Banking'", rows("o4", "o6")),
    # polymorphic relationships go through the Name entity (item 9)
    tasks("Who.Name = 'John Smith'", rows("t1")),
    tasks("Who.Type = 'Lead'", rows("t2")),
    tasks("What.Type IN ('Account', 'Opportunity')", rows("t1", "t3")),
    tasks("Who.Name = null", rows("t3", "t4")),
    tasks("Who.Type = 'lead'", rows("t2")),
    tasks("What.Name LIKE 'globex%'", rows("t3")),
    tasks(
        "Who.Industry = 'x'", error("INVALID_FIELD", "No such column 'Industry' on entity 'Name'")
    ),
    tasks("Who.Owner.Name = 'x'", error("INVALID_FIELD", "Didn't understand relationship 'Owner'")),
    Case("SELECT Id FROM Lead WHERE Owner.Name = 'Ada Admin'", rows("l1")),
    Case("SELECT Id FROM Lead WHERE Owner.Type = 'User'", rows("l1", "l2")),
    # ORDER BY: several keys, ASC/DESC, NULLS, case-insensitive text, picklist order (item 3)
    contacts("LastName = 'Gray' ORDER BY FirstName", ordered("c19", "c20", "c21")),
    contacts("LastName = 'Gray' ORDER BY FirstName DESC", ordered("c21", "c20", "c19")),
    contacts("LastName = 'smith' ORDER BY LastName, FirstName", ordered("c2", "c3", "c1")),
    contacts(
        "LastName IN ('Lee', 'Park') ORDER BY LastName DESC, FirstName ASC",
        ordered("c16", "c17", "c18", "c13", "c14", "c15"),
    ),
    accounts(
        "ORDER BY AnnualRevenue", ordered("a4", "a2", "a5", "a1", "a3", "a9", "a7", "a6", "a8")
    ),
    accounts(
        "ORDER BY AnnualRevenue DESC", ordered("a8", "a6", "a7", "a9", "a3", "a1", "a5", "a2", "a4")
    ),
    accounts(
        "ORDER BY AnnualRevenue ASC NULLS LAST",
        ordered("a2", "a5", "a1", "a3", "a9", "a7", "a6", "a8", "a4"),
    ),
    accounts(
        "ORDER BY AnnualRevenue DESC NULLS FIRST",
        ordered("a4", "a8", "a6", "a7", "a9", "a3", "a1", "a5", "a2"),
    ),
    accounts(
        "ORDER BY NumberOfEmployees, Name",
        ordered("a5", "a9", "a2", "a4", "a1", "a3", "a7", "a6", "a8"),
    ),
    accounts("WHERE Rating != null ORDER BY Rating", ordered("a1", "a6", "a3", "a8", "a4")),
    accounts("WHERE Rating != null ORDER BY Rating DESC", ordered("a4", "a3", "a8", "a1", "a6")),
    contacts(
        "LeadSource != null ORDER BY LeadSource",
        ordered("c1", "c6", "c7", "c2", "c4", "c11", "c5", "c12"),
    ),
    opportunities("ORDER BY StageName", ordered("o1", "o7", "o5", "o6", "o3", "o2", "o4")),
    opportunities(
        "ORDER BY Account.Name DESC, Name", ordered("o7", "o6", "o5", "o4", "o3", "o1", "o2")
    ),
    contacts(
        "LastName IN ('Gray', 'Nobody', 'Müller') ORDER BY Account.Name NULLS LAST",
        ordered("c6", "c10", "c19", "c20", "c21", "c5"),
    ),
    Case("SELECT Id FROM Contact ORDER BY CreatedDate DESC LIMIT 3", ordered("c16", "c15", "c14")),
    Case(
        "SELECT Id FROM Contact ORDER BY Description",
        error("INVALID_FIELD", "field 'Description' can not be sorted in a query call"),
    ),
    Case(
        "SELECT Id FROM Contact ORDER BY MailingAddress",
        error("INVALID_FIELD", "can not be sorted"),
    ),
    Case("SELECT Id FROM Contact ORDER BY Naem", error("INVALID_FIELD", NO_COLUMN)),
    # LIMIT / OFFSET (item 10)
    Case("SELECT Id FROM Contact ORDER BY CreatedDate LIMIT 2", ordered("c17", "c23")),
    Case("SELECT Id FROM Contact ORDER BY CreatedDate LIMIT 2 OFFSET 2", ordered("c12", "c11")),
    Case("SELECT Id FROM Contact ORDER BY CreatedDate OFFSET 21", ordered("c15", "c16")),
    Case("SELECT Id FROM Contact ORDER BY CreatedDate LIMIT 0", ordered()),
    Case("SELECT Id FROM Contact ORDER BY Id OFFSET 2000", ordered()),
    Case(
        "SELECT Id FROM Contact OFFSET 2001",
        error(
            "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed for apiName Contact is 2000"
        ),
    ),
    Case(
        "SELECT Id FROM contact LIMIT 2 OFFSET 2001",
        error("NUMBER_OUTSIDE_VALID_RANGE", "apiName Contact"),
    ),
    # COUNT() and aggregates (item 11)
    Case("SELECT COUNT() FROM Contact", total(23)),
    Case("SELECT COUNT() FROM Contact", total(25), all_rows=True),
    Case("SELECT count() FROM Contact WHERE Email = null", total(5)),
    Case("SELECT COUNT() FROM Contact LIMIT 3", total(3)),
    Case("SELECT COUNT() FROM Contact GROUP BY LeadSource", total(7)),
    Case("SELECT COUNT(Id) FROM Contact", aggregate({"expr0": 23})),
    Case("SELECT COUNT(Email) FROM Contact", aggregate({"expr0": 18})),
    Case(
        "SELECT COUNT(Id) total, COUNT(Email) FROM Contact", aggregate({"total": 23, "expr0": 18})
    ),
    Case("SELECT COUNT_DISTINCT(AccountId) FROM Contact", aggregate({"expr0": 10})),
    Case(
        "SELECT MAX(AnnualRevenue), MIN(NumberOfEmployees), SUM(NumberOfEmployees) n, "
        "AVG(NumberOfEmployees) FROM Account",
        aggregate({"expr0": 2e9, "expr1": 15, "n": 115985, "expr2": 115985 / 7}),
    ),
    Case(
        "SELECT MAX(CreatedDate) FROM Contact WHERE LastName = 'Lee'",
        aggregate({"expr0": "2024-04-02T00:00:00.000+0000"}),
    ),
    Case(
        "SELECT LeadSource, COUNT(Id) FROM Contact GROUP BY LeadSource "
        "ORDER BY COUNT(Id) DESC, LeadSource",
        aggregate(
            {"LeadSource": None, "expr0": 15},
            {"LeadSource": "Web", "expr0": 3},
            {"LeadSource": "Phone Inquiry", "expr0": 1},
            {"LeadSource": "Partner Referral", "expr0": 1},
            {"LeadSource": "Purchased List", "expr0": 1},
            {"LeadSource": "Other", "expr0": 1},
            {"LeadSource": "Undefined Source", "expr0": 1},
        ),
    ),
    Case(
        "SELECT Account.Name, COUNT(Id) c FROM Contact WHERE Account.Industry = 'Banking' "
        "GROUP BY Account.Name ORDER BY Account.Name LIMIT 5",
        aggregate(
            {"Name": "Initech", "c": 1},
            {"Name": "Société Générale", "c": 2},
            {"Name": "Wayne Enterprises", "c": 2},
        ),
    ),
    Case(
        "SELECT COUNT(), Id FROM Contact",
        error("MALFORMED_QUERY", "COUNT() must be the only element"),
    ),
    Case("SELECT COUNT() FROM Contact ORDER BY Name", error("MALFORMED_QUERY", "ORDER BY")),
    Case("SELECT COUNT(Id) FROM Contact LIMIT 1", error("MALFORMED_QUERY", "LIMIT")),
    Case(
        "SELECT Name, COUNT(Id) FROM Contact GROUP BY LeadSource",
        error("MALFORMED_QUERY", "Field must be grouped or aggregated: Name"),
    ),
    Case(
        "SELECT LeadSource FROM Contact GROUP BY LeadSource ORDER BY Name",
        error("MALFORMED_QUERY", "Ordered field must be grouped or aggregated: Name"),
    ),
    Case(
        "SELECT COUNT(Id) a, COUNT(Email) A FROM Contact",
        error("MALFORMED_QUERY", "duplicate alias: A"),
    ),
    Case(
        "SELECT SUM(Name) FROM Account",
        error("INVALID_FIELD", "does not support aggregate operator SUM"),
    ),
    Case(
        "SELECT Description FROM Contact GROUP BY Description",
        error("INVALID_FIELD", "can not be grouped"),
    ),
    Case(
        "SELECT Id FROM Contact ORDER BY COUNT(Id)",
        error("MALFORMED_QUERY", "unexpected token: 'COUNT'"),
    ),
    # /query leaves the recycle bin out, /queryAll keeps it (item 12)
    contacts("IsDeleted = true", rows()),
    contacts("IsDeleted = true", rows("c24", "c25"), all_rows=True),
    contacts("LastName = 'Eted'", rows()),
    contacts("LastName = 'Eted'", rows("c24"), all_rows=True),
    opportunities("WHERE AccountId = '{a1}'", rows("o1", "o2")),
    opportunities("WHERE AccountId = '{a1}'", rows("o1", "o2", "o8"), all_rows=True),
    Case("SELECT Id FROM Account WHERE Name = 'Recycled Corp'", rows("a10"), all_rows=True),
    Case("SELECT Id FROM Organization", Expect("size", number=1)),
    # field-level security: a hidden field does not exist (access.py)
    Case(
        "SELECT Id, Birthdate FROM Contact",
        error("INVALID_FIELD", "No such column 'Birthdate' on entity 'Contact'"),
        hidden=("Contact.Birthdate",),
    ),
    contacts(
        "Birthdate = null",
        error("INVALID_FIELD", "No such column 'Birthdate'"),
        hidden=("Contact.Birthdate",),
    ),
    Case(
        "SELECT Id FROM Contact ORDER BY Birthdate",
        error("INVALID_FIELD", NO_COLUMN),
        hidden=("Contact.Birthdate",),
    ),
    Case(
        "SELECT Account.Name FROM Contact",
        error("INVALID_FIELD", "Didn't understand relationship 'Account'"),
        hidden=("Contact.AccountId",),
    ),
    Case(
        "SELECT Account.Name FROM Contact",
        error("INVALID_FIELD", "No such column 'Name' on entity 'Account'"),
        hidden=("Account.Name",),
    ),
    contacts("LastName = 'Lee'", rows("c13", "c14", "c15"), hidden=("Contact.Birthdate",)),
    # errors
    Case("SELECT Id FRM Contact", error("MALFORMED_QUERY", "unexpected token: 'FRM'")),
    Case("SELECT Id FROM Contct", error("INVALID_TYPE", "sObject type 'Contct' is not supported")),
    Case(
        "SELECT Naem FROM Account",
        error("INVALID_FIELD", "No such column 'Naem' on entity 'Account'"),
    ),
    Case(
        "SELECT Id, Name, id FROM Contact", error("INVALID_FIELD", "duplicate field selected: id")
    ),
    Case(
        "SELECT Account.Name, account.name FROM Contact",
        error("INVALID_FIELD", "duplicate field selected"),
    ),
    contacts(
        "Description = 'x'",
        error("INVALID_FIELD", "field 'Description' can not be filtered in a query call"),
    ),
    contacts(
        "MailingAddress = null",
        error("INVALID_FIELD", "field 'MailingAddress' can not be filtered in a query call"),
    ),
    contacts(
        "LastName = 'Anne\\-Marie'",
        error("MALFORMED_QUERY", "Illegal character sequence '\\-' in string literal"),
    ),
    contacts("LastName = 'x\\%'", error("MALFORMED_QUERY", "Illegal character sequence '\\%'")),
    contacts(
        "CreatedDate = LAST_N_HOURS:2", error("MALFORMED_QUERY", "unexpected token: 'LAST_N_HOURS'")
    ),
    contacts(
        "LastName = 5",
        error(
            "INVALID_FIELD",
            "field 'LastName' must be of type string and should be enclosed in quotes",
        ),
    ),
    contacts("LastName = TODAY", error("INVALID_FIELD", "must be of type string")),
    contacts("LastName = true", error("INVALID_FIELD", "must be of type string")),
    contacts("Email LIKE 5", error("INVALID_FIELD", "must be of type string")),
    Case(
        "SELECT Id FROM Contact ALL ROWS",
        error("MALFORMED_QUERY", "ALL ROWS not allowed in this context"),
    ),
    Case("SELECT Id FROM Contact WHERE", error("MALFORMED_QUERY", "unexpected token: '<EOF>'")),
]

_PLACEHOLDERS = {
    **{
        row[0]: sf_id(row[0])
        for table in (USERS, ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES, TASKS)
        for row in table
    },
    "a1_15": sf_id("a1")[:15],
    "c1_15": sf_id("c1")[:15],
    "c1_recased": sf_id("c1")[:15] + sf_id("c1")[15:].lower(),
    "c1_15_recased": sf_id("c1")[:15].swapcase(),
}


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}" for i in range(len(CASES))])
def test_query(engine: QueryEngine, case: Case) -> None:
    soql = case.soql.format_map(_PLACEHOLDERS)
    hidden = {name.lower() for name in case.hidden}
    options: dict[str, Any] = {
        "include_deleted": case.all_rows,
        "tz": ZoneInfo(case.tz),
        "readable": (lambda obj, field: f"{obj}.{field}".lower() not in hidden) if hidden else None,
    }
    expect = case.expect
    if expect.kind == "error":
        with pytest.raises(SoqlError) as caught:
            run(engine, soql, **options)
        assert caught.value.error_code == expect.code, caught.value.message
        assert expect.fragment in caught.value.message
        return
    cursor = engine.execute(soql, api_version="62.0", now=NOW, **options)
    records = cursor.page(0, max(cursor.total_size, 1))
    if expect.kind == "count":
        assert cursor.count_only
        assert cursor.total_size == expect.number
        assert records == []
        return
    assert cursor.total_size == len(records)
    if expect.kind == "size":
        assert len(records) == expect.number
    elif expect.kind == "aggregate":
        assert [{k: v for k, v in r.items() if k != "attributes"} for r in records] == list(
            expect.rows
        )
        assert all(r["attributes"] == {"type": "AggregateResult"} for r in records)
    else:
        found = [r["Id"] for r in records]
        wanted = [sf_id(label) for label in expect.labels]
        if expect.kind == "list":
            assert found == wanted
        else:
            assert sorted(found) == sorted(wanted)


# -- records as the REST API returns them -------------------------------------


def test_record_shape_with_parents_and_api_casing(engine: QueryEngine) -> None:
    records = run(
        engine,
        "select lastname, account.name, ACCOUNT.owner.NAME, birthdate, createddate, "
        "hasoptedoutofemail, account.annualrevenue, account.numberofemployees "
        "from contact where id in ('{c1}', '{c6}') order by lastname".format_map(_PLACEHOLDERS),
    )
    base = "/services/data/v62.0/sobjects"
    assert records == [
        {
            "attributes": {"type": "Contact", "url": f"{base}/Contact/{sf_id('c6')}"},
            "LastName": "MÜLLER",
            "Account": None,
            "Birthdate": "1960-07-04",
            "CreatedDate": "2024-03-01T00:00:00.000+0000",
            "HasOptedOutOfEmail": True,
        },
        {
            "attributes": {"type": "Contact", "url": f"{base}/Contact/{sf_id('c1')}"},
            "LastName": "Smith",
            "Account": {
                "attributes": {"type": "Account", "url": f"{base}/Account/{sf_id('a1')}"},
                "Name": "Acme",
                "Owner": {
                    "attributes": {"type": "User", "url": f"{base}/User/{sf_id('u1')}"},
                    "Name": "Ada Admin",
                },
                "AnnualRevenue": 5000000.0,
                "NumberOfEmployees": 120,
            },
            "Birthdate": "1980-05-17",
            "CreatedDate": "2024-03-13T09:00:00.000+0000",
            "HasOptedOutOfEmail": False,
        },
    ]


def test_missing_grandparent_is_null_inside_a_present_parent(engine: QueryEngine) -> None:
    [record] = run(engine, "SELECT Account.Owner.Name FROM Contact WHERE FirstName = 'Bo'")
    assert record["Account"]["Owner"] is None
    assert record["Account"]["attributes"]["type"] == "Account"


def test_compound_address(engine: QueryEngine) -> None:
    records = run(
        engine,
        "SELECT MailingAddress, Account.BillingAddress FROM Contact "
        "WHERE Id = '{c1}' OR Id = '{c2}' ORDER BY Id".format_map(_PLACEHOLDERS),
    )
    assert records[0]["MailingAddress"] == {
        "city": "Paris",
        "country": None,
        "geocodeAccuracy": None,
        "latitude": None,
        "longitude": None,
        "postalCode": "75001",
        "state": None,
        "street": None,
    }
    assert records[0]["Account"]["BillingAddress"]["country"] == "France"
    [nobody] = run(engine, "SELECT MailingAddress FROM Contact WHERE LastName = 'Nobody'")
    assert nobody["MailingAddress"] is None


def test_polymorphic_parent_is_a_name_record(engine: QueryEngine) -> None:
    records = run(
        engine, "SELECT Subject, Who.Name, Who.Type, What.Name FROM Task ORDER BY Subject"
    )
    base = "/services/data/v62.0/sobjects"
    by_subject = {r["Subject"]: r for r in records}
    assert by_subject["Call John"]["Who"] == {
        "attributes": {"type": "Name", "url": f"{base}/Contact/{sf_id('c1')}"},
        "Name": "John Smith",
        "Type": "Contact",
    }
    assert by_subject["Email Lena"]["Who"]["attributes"]["url"] == f"{base}/Lead/{sf_id('l1')}"
    assert by_subject["Follow up"]["What"]["Name"] == "Globex Expansion"
    assert by_subject["Orphan"]["Who"] is None


def test_organization_for_is_sandbox(engine: QueryEngine) -> None:
    [record] = run(engine, "SELECT IsSandbox FROM Organization LIMIT 1")
    assert record["IsSandbox"] is False


def test_pages_are_slices_of_one_snapshot(org: OrgStore, engine: QueryEngine) -> None:
    cursor = engine.execute(
        "SELECT Id, LastName FROM Contact ORDER BY LastName, Id",
        include_deleted=False,
        api_version="62.0",
        now=NOW,
    )
    whole = cursor.page(0, 100)
    assert cursor.total_size == len(whole) == 23
    pieces = cursor.page(0, 10) + cursor.page(10, 10) + cursor.page(20, 10)
    assert pieces == whole
    assert cursor.page(23, 10) == []


def test_count_cursor_has_no_records(engine: QueryEngine) -> None:
    cursor = engine.execute(
        "SELECT COUNT() FROM Lead", include_deleted=False, api_version="62.0", now=NOW
    )
    assert (cursor.count_only, cursor.total_size, cursor.object_name) == (True, 3, "Lead")
    assert cursor.page(0, 10) == []


def test_error_message_shape_through_the_engine(engine: QueryEngine) -> None:
    with pytest.raises(SoqlError) as caught:
        run(engine, "SELECT Id, Naem FROM Account")
    assert caught.value.message == (
        "\nSELECT Id, Naem FROM Account\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'Naem' on entity 'Account'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference "
        "your WSDL or the describe call for the appropriate names."
    )
    with pytest.raises(SoqlError) as caught:
        run(engine, "SELECT Id FROM Contact WHERE CreatedDate > 2005-10-08")
    assert caught.value.message.startswith(
        "\nSELECT Id FROM Contact WHERE CreatedDate > 2005-10-08\n" + " " * 43 + "^\n"
        "ERROR at Row:1:Column:44\n"
    )


@pytest.mark.parametrize(
    "order",
    [
        "ORDER BY SystemModstamp, Id LIMIT 2000",  # Airbyte
        "ORDER BY SystemModstamp ASC",  # tap-salesforce
    ],
)
def test_incremental_sync_query_uses_the_systemmodstamp_index(org: OrgStore, order: str) -> None:
    # What the clients send (salesforce-api.md section 3.1): no sort step, only the index.
    query = parse_soql(
        "SELECT Id, LastName FROM Contact WHERE SystemModstamp >= 2024-01-01T00:00:00.000000Z  "
        "AND SystemModstamp < 2024-02-01T00:00:00.000+00:00 " + order
    )
    plan = plan_query(query, org.schema, include_deleted=False, now=NOW, tz=UTC, readable=None)
    steps = " | ".join(
        row[3] for row in org.execute("EXPLAIN QUERY PLAN " + plan.rows_sql, plan.params)
    )
    assert "USING INDEX ix_contact_sysmod (SystemModstamp>? AND SystemModstamp<?)" in steps
    assert "TEMP B-TREE" not in steps


def test_snapshot_survives_a_purged_row() -> None:
    store = _build_org()
    engine = QueryEngine(store)
    cursor = engine.execute(
        "SELECT Id FROM Lead ORDER BY Name", include_deleted=False, api_version="62.0", now=NOW
    )
    store.execute('DELETE FROM "Lead" WHERE "Id" = ?', (sf_id("l2"),))
    assert [r["Id"] for r in cursor.page(0, 10)] == [sf_id("l1"), sf_id("l3")]
    store.close()


# Every date literal of SOQL ref "Date Formats and Date Literals".
STANDALONE_DATE_LITERALS = [
    "YESTERDAY",
    "TODAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "NEXT_QUARTER",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
    "THIS_FISCAL_QUARTER",
    "LAST_FISCAL_QUARTER",
    "NEXT_FISCAL_QUARTER",
    "THIS_FISCAL_YEAR",
    "LAST_FISCAL_YEAR",
    "NEXT_FISCAL_YEAR",
]
DATE_LITERALS_OF_N = [
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
    "N_DAYS_AGO",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "N_WEEKS_AGO",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
    "N_MONTHS_AGO",
    "LAST_N_QUARTERS",
    "NEXT_N_QUARTERS",
    "N_QUARTERS_AGO",
    "LAST_N_YEARS",
    "NEXT_N_YEARS",
    "N_YEARS_AGO",
    "LAST_N_FISCAL_QUARTERS",
    "NEXT_N_FISCAL_QUARTERS",
    "N_FISCAL_QUARTERS_AGO",
    "LAST_N_FISCAL_YEARS",
    "NEXT_N_FISCAL_YEARS",
    "N_FISCAL_YEARS_AGO",
]


@pytest.mark.parametrize(
    "literal", STANDALONE_DATE_LITERALS + [f"{name}:2" for name in DATE_LITERALS_OF_N]
)
def test_every_date_literal_is_a_range(engine: QueryEngine, literal: str) -> None:
    # Within the range plus before it plus after it is everything with a date.
    def count(operator: str) -> int:
        soql = f"SELECT COUNT() FROM Contact WHERE CreatedDate {operator} {literal}"
        cursor = engine.execute(soql, include_deleted=False, api_version="62.0", now=NOW)
        return cursor.total_size

    assert count("=") + count("<") + count(">") == len(LIVE_CONTACTS)


# -- round trip ---------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[tuple[OrgStore, QueryEngine]]:
    """An empty org for property tests."""
    store = OrgStore(None, OrgSchema.standard())
    yield store, QueryEngine(store)
    store.close()


@settings(max_examples=200)
@given(st.text())
def test_any_stored_last_name_is_found_by_its_quoted_literal_and_like_pattern(
    scratch: tuple[OrgStore, QueryEngine], text: str
) -> None:
    # Any Python string: SQLite stores embedded NULs, and the literal carries them raw.
    store, engine = scratch
    contact = store.schema.object("Contact")
    assert contact is not None
    [record_id] = store.next_ids(contact, 1)
    store.insert_rows(contact, ["Id", "LastName"], [(record_id, text)])
    records = run(engine, "SELECT Id, LastName FROM Contact WHERE LastName = " + quote_string(text))
    found = {r["Id"]: r["LastName"] for r in records}
    assert found.get(record_id) == text
    matches = run(engine, "SELECT Id FROM Contact WHERE LastName LIKE " + quote_like(text))
    assert record_id in [r["Id"] for r in matches]
