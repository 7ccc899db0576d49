"""The seeder: deterministic, realistic records that agree with the REST write path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sfbridge.emulators.salesforce import derived, seed_run
from sfbridge.emulators.salesforce.codec import stored_datetime
from sfbridge.emulators.salesforce.org import ADMIN_USERNAME, INTEGRATION_USERNAME, Org
from sfbridge.emulators.salesforce.seed import SEEDED_OBJECTS, SeedReport, parse_size, seed_org

BOOTSTRAP_USERS = {ADMIN_USERNAME, INTEGRATION_USERNAME}
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def at_noon(org: Org) -> Org:
    """Move the org's clock to today's noon, so orgs seeded in one test share a day."""
    org.store.clock.advance(NOON - org.store.clock.now())
    return org


def stored_rows(org: Org, name: str) -> list[dict[str, Any]]:
    """Every stored row of an object, as columns, seeded users only for User."""
    with org.store.lock:
        cursor = org.store.connection.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    if name == "User":
        rows = [row for row in rows if row["Username"] not in BOOTSTRAP_USERS]
    return rows


@pytest.fixture(scope="module")
def small_seed() -> Iterator[tuple[Org, SeedReport]]:
    """An in-memory org seeded with the small size (1,000 contacts) and its report."""
    org = at_noon(Org.open(None))
    report = seed_org(org, "small", seed=7)
    yield org, report
    org.close()


@pytest.fixture
def small_org(small_seed: tuple[Org, SeedReport]) -> Org:
    """The shared small seeded org; tests only read it."""
    return small_seed[0]


def test_same_seed_gives_identical_rows() -> None:
    first, second = at_noon(Org.open(None)), at_noon(Org.open(None))
    seed_org(first, "small", seed=3)
    seed_org(second, "small", seed=3)
    for name in SEEDED_OBJECTS:
        assert stored_rows(first, name) == stored_rows(second, name), name


def test_different_seed_gives_different_rows() -> None:
    first, second = at_noon(Org.open(None)), at_noon(Org.open(None))
    seed_org(first, "tiny", seed=3)
    seed_org(second, "tiny", seed=4)
    names = {row["Name"] for row in stored_rows(first, "Contact")}
    assert names != {row["Name"] for row in stored_rows(second, "Contact")}


def test_report_counts_match_the_tables(small_seed: tuple[Org, SeedReport]) -> None:
    small_org, report = small_seed
    assert set(report.counts) == set(SEEDED_OBJECTS)
    for name, count in report.counts.items():
        expected = count + len(BOOTSTRAP_USERS) if name == "User" else count
        assert small_org.count(name) == expected, name
    assert report.counts["Contact"] == 1_000
    assert report.counts["Account"] == 200
    assert report.counts["Lead"] == 500


def test_every_reference_points_at_an_existing_record(small_org: Org) -> None:
    ids = {
        obj.name: {row[0] for row in small_org.store.execute(f'SELECT Id FROM "{obj.name}"')}
        for obj in small_org.schema.objects()
    }
    # Profiles live in the org's own table, not in an sObject table.
    ids["Profile"] = {row[0] for row in small_org.store.execute("SELECT Id FROM _profiles")}
    for name in SEEDED_OBJECTS:
        obj = small_org.object(name)
        rows = stored_rows(small_org, name)
        for definition in obj.stored_fields():
            if definition.type != "reference":
                continue
            known = set().union(*(ids.get(target, set()) for target in definition.reference_to))
            dangling = {row[definition.name] for row in rows} - known - {None}
            assert not dangling, f"{name}.{definition.name} -> {sorted(dangling)[:3]}"


def test_polymorphic_and_paired_references_are_consistent(small_org: Org) -> None:
    contacts = {row["Id"]: row for row in stored_rows(small_org, "Contact")}
    opportunities = {row["Id"]: row for row in stored_rows(small_org, "Opportunity")}
    assert sum(row["AccountId"] is None for row in contacts.values()) > 0  # private contacts
    for task in stored_rows(small_org, "Task"):
        who = task["WhoId"]
        assert who[:3] in {"003", "00Q"}
        if who.startswith("00Q"):
            assert task["WhatId"] is None  # a lead's task cannot have a WhatId
        else:
            assert task["AccountId"] == contacts[who]["AccountId"]
        if task["WhatId"] and task["WhatId"].startswith("006"):
            assert opportunities[task["WhatId"]]["AccountId"] == task["AccountId"]
    for member in stored_rows(small_org, "CampaignMember"):
        assert (member["ContactId"] is None) != (member["LeadId"] is None)
        assert member["LeadOrContactId"] == (member["ContactId"] or member["LeadId"])
        assert member["Type"] == ("Contact" if member["ContactId"] else "Lead")
    pairs = [
        (m["CampaignId"], m["LeadOrContactId"]) for m in stored_rows(small_org, "CampaignMember")
    ]
    assert len(pairs) == len(set(pairs))  # one membership per campaign and person
    for role in stored_rows(small_org, "OpportunityContactRole"):
        opportunity = opportunities[role["OpportunityId"]]
        assert contacts[role["ContactId"]]["AccountId"] == opportunity["AccountId"]


def test_converted_leads_repeat_their_contact(small_org: Org) -> None:
    contacts = {row["Id"]: row for row in stored_rows(small_org, "Contact")}
    converted = [row for row in stored_rows(small_org, "Lead") if row["IsConverted"]]
    assert converted
    for lead in converted:
        contact = contacts[lead["ConvertedContactId"]]
        assert (lead["Name"], lead["Email"]) == (contact["Name"], contact["Email"])
        assert lead["ConvertedAccountId"] == contact["AccountId"]
        assert lead["ConvertedDate"] == contact["CreatedDate"][:10]
        assert lead["CreatedDate"] <= contact["CreatedDate"] <= lead["LastModifiedDate"]


def test_required_and_non_nillable_fields_are_filled(small_org: Org) -> None:
    for name in SEEDED_OBJECTS:
        obj = small_org.object(name)
        required = {f.name for f in obj.stored_fields() if not f.describe.get("nillable", True)}
        required |= set(obj.required_on_create)
        for row in stored_rows(small_org, name):
            missing = sorted(field for field in required if row[field] is None)
            assert not missing, f"{name} {row['Id']} lacks {missing}"


def test_derived_fields_agree_with_the_write_path(small_org: Org) -> None:
    for name in SEEDED_OBJECTS:
        obj = small_org.object(name)
        for row in stored_rows(small_org, name):
            recomputed = dict(row)
            derived.derive(obj, recomputed)
            assert {k: row[k] for k in recomputed} == recomputed, f"{name} {row['Id']}"
    stages = {row["StageName"] for row in stored_rows(small_org, "Opportunity")}
    assert {"Closed Won", "Closed Lost"} <= stages and len(stages) > 4
    for opportunity in stored_rows(small_org, "Opportunity"):
        assert opportunity["IsWon"] == (opportunity["StageName"] == "Closed Won")
    for contact in stored_rows(small_org, "Contact"):
        assert contact["Name"] == derived.person_name(contact["FirstName"], contact["LastName"])
    statuses = {row["Status"] for row in stored_rows(small_org, "Lead")}
    assert statuses == {
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
    }


def test_timestamps_are_storage_form_ordered_and_in_the_past(small_org: Org) -> None:
    now = small_org.store.clock.stamp()
    oldest = (NOON - timedelta(days=800)).strftime("%Y-%m-%d")
    for name in SEEDED_OBJECTS:
        for row in stored_rows(small_org, name):
            created, modified, modstamp = (
                row["CreatedDate"],
                row["LastModifiedDate"],
                row["SystemModstamp"],
            )
            assert stored_datetime(created) == created
            assert oldest < created <= modified <= modstamp < now, f"{name} {row['Id']}"


def test_people_look_real(small_org: Org) -> None:
    contacts = stored_rows(small_org, "Contact")
    emails = [row["Email"] for row in contacts if row["Email"]]
    assert len(emails) == len(set(emails))
    assert len(emails) < len(contacts)  # some contacts have no email
    lead_emails = [row["Email"] for row in stored_rows(small_org, "Lead") if row["Email"]]
    assert len(lead_emails) == len(set(lead_emails))
    last_names = {row["LastName"] for row in contacts}
    assert any("'" in name for name in last_names)
    assert any(not name.isascii() for name in last_names)
    assert all(email.isascii() and email.count("@") == 1 for email in emails)
    assert len({row["MailingCountry"] for row in contacts}) > 5


def test_only_seeds_the_objects_asked_for_and_what_they_need() -> None:
    partial, full = at_noon(Org.open(None)), at_noon(Org.open(None))
    report = seed_org(partial, "tiny", seed=5, only={"contact"})
    seed_org(full, "tiny", seed=5)
    assert set(report.counts) == {"User", "Account", "Contact"}
    assert partial.count("Lead") == 0
    # Each object has its own random stream: contacts do not depend on what else is seeded.
    assert stored_rows(partial, "Contact") == stored_rows(full, "Contact")


def test_seeding_again_adds_records_and_reuses_the_sales_users(org: Org) -> None:
    seed_org(org, "tiny", seed=2)
    users = org.count("User")
    report = seed_org(org, "tiny", seed=2)
    assert report.counts["User"] == 0 and org.count("User") == users
    assert org.count("Contact") == 200
    numbers = [row["CaseNumber"] for row in stored_rows(org, "Case")]
    assert len(numbers) == len(set(numbers))


def test_bulk_loads_rebuild_every_index(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seed_run, "_REINDEX_FROM", 10)
    query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
    before = org.store.execute(query)
    seed_org(org, "tiny", seed=1)
    assert org.store.execute(query) == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tiny", 100),
        ("Small", 1_000),
        ("medium", 50_000),
        ("large", 1_000_000),
        ("250000", 250_000),
        ("10_000", 10_000),
        (42, 42),
    ],
)
def test_parse_size_accepts_names_and_numbers(value: str | int, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["huge", "", "0", "-5", "1e6", 0, -1, True])
def test_parse_size_rejects_other_values_naming_them(value: str | int) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(value)
    assert repr(value) in str(caught.value)
    assert "tiny" in str(caught.value) and "large" in str(caught.value)


def test_unknown_object_is_refused(org: Org) -> None:
    with pytest.raises(ValueError, match=r"'Widget__c'.*Contact"):
        seed_org(org, "tiny", only={"Widget__c"})
    assert org.count("Contact") == 0
