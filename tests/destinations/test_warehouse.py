"""The warehouse destination on SQLite and PostgreSQL: merges, deletes, raw tables, re-delivery."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, event, inspect, select, text

from sfbridge.destinations import (
    Delivery,
    Destination,
    RunInfo,
    WarehouseDestination,
    WarehouseSpec,
    open_destination,
)
from sfbridge.destinations.warehouse_schema import (
    events,
    objects,
    open_engine,
    people,
    raw_table,
    relationships,
)
from sfbridge.errors import ConfigError
from sfbridge.messages import (
    Context,
    Group,
    Identify,
    Message,
    ObjectRef,
    SalesforceOrigin,
    Track,
    message_id,
    object_deleted,
    relationship_deleted,
    user_deleted,
    user_suppressed,
)
from sfbridge.salesforce.ids import make_id

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALICE = make_id("003", 1)
BOB = make_id("003", 2)
ACME = make_id("001", 1)
GLOBEX = make_id("001", 2)
COMPANY = ObjectRef("1", ACME)


@pytest.fixture
def warehouse(warehouse_url: str, run: RunInfo) -> Iterator[WarehouseDestination]:
    """An open warehouse destination over an empty database (SQLite or PostgreSQL)."""
    destination = open_destination(WarehouseSpec(url=warehouse_url), run)
    assert isinstance(destination, WarehouseDestination)
    with destination:
        yield destination


def contact(record_id: str, minutes: int = 0, **fields: Any) -> Context:
    """Context of a message made from a Contact as Salesforce returned it."""
    return Context(
        salesforce=SalesforceOrigin(
            object="Contact",
            id=record_id,
            system_modstamp=T0 + timedelta(minutes=minutes),
            record={"Id": record_id, **fields},
        )
    )


def identify(user_id: str, traits: dict[str, Any], n: int = 0, **extra: Any) -> Identify:
    return Identify(
        user_id=user_id,
        traits=traits,
        message_id=message_id("identify", user_id, n),
        timestamp=T0 + timedelta(minutes=n),
        **extra,
    )


def relate(user_id: str, target: ObjectRef, attributes: dict[str, Any], n: int = 0) -> Group:
    return Group(
        group_id=target.object_id,
        user_id=user_id,
        traits={"object_type_id": target.object_type_id, "relationshipAttributes": attributes},
        message_id=message_id("relate", user_id, target.object_id, n),
        timestamp=T0,
    )


def rows(warehouse: WarehouseDestination, table: Table) -> list[dict[str, Any]]:
    with warehouse.engine.connect() as connection:
        result = connection.execute(select(table).order_by(*table.primary_key.columns))
        return [dict(row) for row in result.mappings()]


def snapshot(warehouse: WarehouseDestination) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, timestamps included."""
    core = {table.name: table for table in (people, objects, relationships, events)}
    return {
        name: rows(warehouse, core[name] if name in core else raw_table(name.removeprefix("sf_")))
        for name in inspect(warehouse.engine).get_table_names()
    }


def deliver(warehouse: Destination, *batch: Message) -> None:
    result = warehouse.deliver(batch)
    assert result.delivered == [m.message_id for m in batch], result.failed


def test_identify_merges_traits_like_customerio(warehouse: WarehouseDestination) -> None:
    deliver(warehouse, identify(ALICE, {"email": "a@x.io", "city": "Oslo", "tier": "gold"}))
    deliver(warehouse, identify(ALICE, {"city": "Rome", "tier": None, "phone": "", "age": 41}, 1))

    [person] = rows(warehouse, people)
    assert person["traits"] == {"email": "a@x.io", "city": "Rome", "age": 41}
    assert person["created_at"] == T0
    assert person["updated_at"] == T0 + timedelta(minutes=1)
    assert person["suppressed"] is False


def test_messages_of_one_batch_apply_in_order(warehouse: WarehouseDestination) -> None:
    deliver(
        warehouse,
        identify(ALICE, {"city": "Oslo"}),
        user_deleted(ALICE, message_id="d1"),
        identify(ALICE, {"email": "a@x.io"}, 2),
    )

    assert [p["traits"] for p in rows(warehouse, people)] == [{"email": "a@x.io"}]


def test_a_large_batch_is_written_with_a_few_statements(warehouse: WarehouseDestination) -> None:
    people_ids = [make_id("003", n) for n in range(1, 1201)]
    batch: list[Message] = []
    for n, person in enumerate(people_ids):
        batch.append(identify(person, {"n": n}, context=contact(person, Email=f"{n}@x.io")))
        batch.append(relate(person, COMPANY, {"role": "Buyer"}))
        batch.append(Track(event="Signed Up", user_id=person, message_id=f"e{n}", timestamp=T0))
    statements: list[str] = []
    event.listen(
        warehouse.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )

    deliver(warehouse, *batch)

    # Per message this would be ~12,000 statements; set-based, a few per 500 rows per table.
    assert len(statements) < 60, statements[:10]
    assert len(rows(warehouse, people)) == 1200
    assert len(rows(warehouse, relationships)) == 1200
    assert len(rows(warehouse, events)) == 1200
    assert len(rows(warehouse, raw_table("Contact"))) == 1200


_PEOPLE = [ALICE, BOB]
_COMPANIES = [COMPANY, ObjectRef("1", GLOBEX)]
_TRAITS = st.dictionaries(
    st.sampled_from(["email", "city", "tier"]),
    st.one_of(st.none(), st.just(""), st.sampled_from(["a", "b"]), st.integers(0, 3)),
    max_size=3,
)


@st.composite
def _messages(draw: st.DrawFn) -> list[Message]:
    """A sequence of merges and deletes over two people and two companies."""
    made: list[Message] = []
    for n in range(draw(st.integers(1, 14))):
        person = draw(st.sampled_from(_PEOPLE))
        company = draw(st.sampled_from(_COMPANIES))
        kind = draw(st.sampled_from(["identify", "group", "relate", "track", "delete", "suppress"]))
        stamp = T0 + timedelta(minutes=draw(st.integers(0, 5)))
        common: dict[str, Any] = {"message_id": f"m{n}", "timestamp": stamp}
        if kind == "identify":
            origin = contact(person, draw(st.integers(0, 5)), Title=draw(st.sampled_from("xy")))
            made.append(Identify(user_id=person, traits=draw(_TRAITS), context=origin, **common))
        elif kind == "group":
            made.append(Group(group_id=company.object_id, traits=draw(_TRAITS), **common))
        elif kind == "relate":
            attributes = {"object_type_id": "1", "relationshipAttributes": draw(_TRAITS)}
            made.append(
                Group(group_id=company.object_id, user_id=person, traits=attributes, **common)
            )
        elif kind == "track":
            made.append(Track(event="Clicked", user_id=person, **common))
        elif kind == "delete":
            made.append(
                draw(
                    st.sampled_from(
                        [
                            user_deleted(person, **common),
                            object_deleted(company, **common),
                            relationship_deleted(person, company, **common),
                        ]
                    )
                )
            )
        else:
            made.append(user_suppressed(person, **common))
    return made


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_messages())
def test_one_batch_ends_like_the_same_messages_one_at_a_time(
    tmp_path: Path, messages: list[Message]
) -> None:
    def applied(one_by_one: bool) -> dict[str, list[dict[str, Any]]]:
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        with WarehouseDestination(open_engine(f"sqlite:///{folder / 'w.sqlite'}")) as warehouse:
            batches = [[m] for m in messages] if one_by_one else [messages]
            for batch in batches:
                deliver(warehouse, *batch)
            return snapshot(warehouse)

    assert applied(one_by_one=False) == applied(one_by_one=True)


def test_group_merges_the_object_and_the_relationship(warehouse: WarehouseDestination) -> None:
    company = Group(
        group_id=ACME,
        traits={"object_type_id": "2", "name": "Acme", "plan": "pro"},
        message_id="g1",
    )
    deliver(warehouse, company, relate(ALICE, ObjectRef("2", ACME), {"role": "Buyer"}))
    deliver(warehouse, relate(ALICE, ObjectRef("2", ACME), {"since": 2020}, 1))

    [stored] = rows(warehouse, objects)
    assert (stored["object_type_id"], stored["id"]) == ("2", ACME)
    assert stored["traits"] == {"name": "Acme", "plan": "pro"}
    [link] = rows(warehouse, relationships)
    assert (link["user_id"], link["object_type_id"], link["object_id"]) == (ALICE, "2", ACME)
    assert link["attributes"] == {"role": "Buyer", "since": 2020}


def test_group_without_a_type_is_of_type_1(warehouse: WarehouseDestination) -> None:
    deliver(warehouse, Group(group_id=GLOBEX, traits={"name": "Globex"}, message_id="g"))

    assert [(o["object_type_id"], o["id"]) for o in rows(warehouse, objects)] == [("1", GLOBEX)]


def test_events_are_stored_once_per_message_id(warehouse: WarehouseDestination) -> None:
    opened = Track(
        event="Email Opened",
        user_id=ALICE,
        properties={"subject": "Hi"},
        message_id="e1",
        timestamp=T0,
    )
    deliver(warehouse, opened, opened)
    deliver(warehouse, opened)

    assert rows(warehouse, events) == [
        {
            "message_id": "e1",
            "user_id": ALICE,
            "anonymous_id": None,
            "event": "Email Opened",
            "properties": {"subject": "Hi"},
            "timestamp": T0,
        }
    ]


def test_a_redelivered_batch_changes_nothing(warehouse: WarehouseDestination) -> None:
    batch = [
        identify(ALICE, {"email": "a@x.io"}, context=contact(ALICE, Email="a@x.io")),
        identify(BOB, {"email": "b@x.io"}),
        Group(group_id=ACME, traits={"name": "Acme"}, message_id="g"),
        relate(ALICE, COMPANY, {"role": "Buyer"}),
        relate(BOB, COMPANY, {"role": "User"}),
        Track(event="Signed Up", user_id=ALICE, message_id="e", timestamp=T0),
        relationship_deleted(BOB, COMPANY, message_id="rd"),
        user_suppressed(BOB, message_id="us"),
    ]
    deliver(warehouse, *batch)
    before = snapshot(warehouse)

    deliver(warehouse, *batch)

    assert snapshot(warehouse) == before
    assert set(before) == {"people", "objects", "relationships", "events", "sf_contact"}
    assert len(before["relationships"]) == 1


def test_user_deleted_removes_the_person_and_their_relationships(
    warehouse: WarehouseDestination,
) -> None:
    deliver(
        warehouse,
        identify(ALICE, {"email": "a@x.io"}, context=contact(ALICE)),
        identify(BOB, {"email": "b@x.io"}),
        relate(ALICE, COMPANY, {}),
        relate(BOB, COMPANY, {}),
    )

    deleted = Context(
        salesforce=SalesforceOrigin(
            object="Contact", id=ALICE, system_modstamp=T0 + timedelta(hours=1)
        )
    )
    deliver(warehouse, user_deleted(ALICE, message_id="d", context=deleted))

    assert [p["id"] for p in rows(warehouse, people)] == [BOB]
    assert [r["user_id"] for r in rows(warehouse, relationships)] == [BOB]
    [raw] = rows(warehouse, raw_table("Contact"))
    # The delete carried no fields: the last full record stays, marked deleted.
    assert raw["is_deleted"] is True
    assert raw["record"] == {"Id": ALICE}
    assert raw["system_modstamp"] == T0 + timedelta(hours=1)


def test_object_deleted_removes_the_object_and_its_relationships(
    warehouse: WarehouseDestination,
) -> None:
    globex = ObjectRef("1", GLOBEX)
    deliver(
        warehouse,
        Group(group_id=ACME, traits={"name": "Acme"}, message_id="g1"),
        Group(group_id=GLOBEX, traits={"name": "Globex"}, message_id="g2"),
        relate(ALICE, COMPANY, {}),
        relate(ALICE, globex, {}),
    )

    deliver(warehouse, object_deleted(COMPANY, message_id="od"))

    assert [o["id"] for o in rows(warehouse, objects)] == [GLOBEX]
    assert [r["object_id"] for r in rows(warehouse, relationships)] == [GLOBEX]


def test_relationship_deleted_removes_only_the_link(warehouse: WarehouseDestination) -> None:
    deliver(
        warehouse,
        identify(ALICE, {"email": "a@x.io"}),
        Group(group_id=ACME, traits={"name": "Acme"}, message_id="g"),
        relate(ALICE, COMPANY, {"role": "Buyer"}),
        relate(BOB, COMPANY, {"role": "User"}),
    )

    deliver(warehouse, relationship_deleted(ALICE, COMPANY, message_id="rd"))

    assert [r["user_id"] for r in rows(warehouse, relationships)] == [BOB]
    assert len(rows(warehouse, people)) == 1
    assert len(rows(warehouse, objects)) == 1


def test_user_suppressed_flags_the_person_for_good(warehouse: WarehouseDestination) -> None:
    deliver(warehouse, identify(ALICE, {"email": "a@x.io"}))

    deliver(
        warehouse, user_suppressed(ALICE, message_id="s1"), user_suppressed(BOB, message_id="s2")
    )
    deliver(warehouse, identify(ALICE, {"city": "Oslo"}, 5))

    assert [(p["id"], p["suppressed"], p["traits"]) for p in rows(warehouse, people)] == [
        (ALICE, True, {"email": "a@x.io", "city": "Oslo"}),
        (BOB, True, {}),
    ]


def test_raw_tables_keep_the_newest_version_of_each_record(
    warehouse: WarehouseDestination,
) -> None:
    newer = identify(ALICE, {}, 1, context=contact(ALICE, 10, LastName="New", IsDeleted=False))
    older = identify(ALICE, {}, 2, context=contact(ALICE, 5, LastName="Old", IsDeleted=False))
    account = Group(
        group_id=ACME,
        message_id="g",
        context=Context(
            salesforce=SalesforceOrigin(
                object="Account", id=ACME, system_modstamp=T0, record={"Name": "Acme"}
            )
        ),
    )
    deliver(warehouse, newer, older, account)

    [raw] = rows(warehouse, raw_table("Contact"))
    assert raw == {
        "id": ALICE,
        "system_modstamp": T0 + timedelta(minutes=10),
        "is_deleted": False,
        "record": {"Id": ALICE, "LastName": "New", "IsDeleted": False},
    }
    assert [r["record"] for r in rows(warehouse, raw_table("Account"))] == [{"Name": "Acme"}]


def test_a_refused_message_does_not_hold_back_the_others(warehouse: WarehouseDestination) -> None:
    anonymous = Identify(anonymous_id="visitor-1", traits={"x": 1}, message_id="anon")
    known = identify(ALICE, {"email": "a@x.io"})

    result = warehouse.deliver([anonymous, known])

    assert [o.status for o in result.outcomes] == [Delivery.FAILED, Delivery.DELIVERED]
    assert "anonymousId" in result.outcomes[0].reason
    assert result.outcomes[0].retriable is False
    assert result.settled
    assert len(rows(warehouse, people)) == 1


def test_a_database_error_fails_the_whole_batch_as_retriable(
    warehouse: WarehouseDestination,
) -> None:
    with warehouse.engine.begin() as connection:
        connection.execute(text("DROP TABLE events"))

    result = warehouse.deliver(
        [identify(ALICE, {"a": 1}), Track(event="Clicked", user_id=ALICE, message_id="e")]
    )

    assert all(o.status is Delivery.FAILED and o.retriable for o in result.outcomes)
    assert result.outcomes[0].reason.startswith("warehouse write failed: ")
    assert not result.settled
    assert rows(warehouse, people) == []  # the identify was rolled back with the track


# Only PostgreSQL refuses \u0000 in JSON; SQLite stores it.
@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_a_value_postgresql_refuses_fails_only_its_message(
    warehouse: WarehouseDestination,
) -> None:
    result = warehouse.deliver(
        [identify(ALICE, {"note": "nul \x00 here"}), identify(BOB, {"email": "b@x.io"})]
    )

    assert [o.status for o in result.outcomes] == [Delivery.FAILED, Delivery.DELIVERED]
    assert result.outcomes[0].retriable is False
    assert "refused a value" in result.outcomes[0].reason
    assert [p["id"] for p in rows(warehouse, people)] == [BOB]


def test_the_default_warehouse_is_a_sqlite_file_in_home(run: RunInfo) -> None:
    with open_destination(WarehouseSpec(), run) as destination:
        deliver(destination, identify(ALICE, {"a": 1}))

    assert (run.home / "warehouse.sqlite").is_file()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL"),
        ("mysql://u:hunter2@db/x", "SQLite and PostgreSQL"),
        ("postgresql+nosuchdriver://u:hunter2@db/x", "database driver"),
    ],
)
def test_a_bad_url_is_a_config_error_without_the_password(
    url: str, expected: str, run: RunInfo
) -> None:
    with pytest.raises(ConfigError, match=expected) as raised:
        WarehouseDestination.open(WarehouseSpec(url=url), run)

    assert "hunter2" not in str(raised.value)
