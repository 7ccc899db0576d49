"""SyncSpec: what a person writing sfbridge.yaml is told, and the YAML round trip."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sfbridge.sync import (
    DeletePolicy,
    EventFormat,
    FieldMapping,
    ObjectFormat,
    ObjectType,
    PersonFormat,
    PersonIdentifier,
    RelationshipFormat,
    SyncSpec,
)


def spec_dict(**changes: Any) -> dict[str, Any]:
    """A valid Contact person sync as YAML would hold it, with ``changes``."""
    base: dict[str, Any] = {
        "name": "contacts",
        "connection": "prod",
        "object": "Contact",
        "format": {"type": "person", "id_field": "Id", "email_field": "Email"},
        "fields": ["FirstName", {"source": "LastName", "target": "last_name"}],
        "filter": "Email != null",
        "interval": "1h",
        "destinations": ["customerio"],
    }
    base.update(changes)
    return base


ACCOUNT_OBJECT = {"type": "object", "object_type": {"singular": "Account", "plural": "Accounts"}}
TASK_EVENT = {"type": "event", "name": "Task Completed", "person_field": "WhoId"}

BAD_SPECS = [
    pytest.param({"name": "Contacts!"}, "sync name 'Contacts!' is not valid", id="sync-name"),
    pytest.param({"connection": "Prod"}, "connection name 'Prod' is not valid", id="connection"),
    pytest.param({"object": "Contact Us"}, "'Contact Us' is not a SOQL object name", id="object"),
    pytest.param({"interval": "2x"}, "interval '2x' is not a duration: write 1h", id="interval"),
    pytest.param({"interval": "90"}, "interval '90' is not a duration", id="bare-number"),
    pytest.param({"interval": "1m"}, "interval 1m is shorter than 5m", id="short-interval"),
    pytest.param(
        {
            "fields": [
                {"source": "FirstName", "target": "name"},
                {"source": "LastName", "target": "name"},
            ]
        },
        "fields[0] (FirstName) and fields[1] (LastName) both become 'name'",
        id="same-target",
    ),
    pytest.param(
        {"fields": [{"source": "FirstName", "target": "LastName"}, "LastName"]},
        "fields[0] (FirstName) and fields[1] (LastName) both become 'LastName'",
        id="rename-onto-a-field",
    ),
    pytest.param(
        {"fields": [{"source": "Email", "target": "email"}]},
        "renamed to 'email', which a person sync sets itself",
        id="person-identifier-target",
    ),
    pytest.param(
        {
            "format": ACCOUNT_OBJECT,
            "object": "Account",
            "filter": None,
            "fields": [{"source": "Name", "target": "object_id"}],
        },
        "renamed to 'object_id', which an object sync sets itself",
        id="object-reserved-target",
    ),
    pytest.param(
        {"fields": [{"source": "First Name"}]}, "'First Name' is not a SOQL field name", id="source"
    ),
    pytest.param(
        {"fields": [{"source": "FirstName", "target": " first"}]},
        "target ' first' must be a name without spaces around it",
        id="target-spaces",
    ),
    pytest.param(
        {"filter": "SELECT Id FROM Contact"}, "'SELECT' cannot be part of a filter", id="select"
    ),
    pytest.param(
        {"filter": "Email != null LIMIT 10"}, "'LIMIT' cannot be part of a filter", id="limit"
    ),
    pytest.param({"filter": "WHERE Email != null"}, "leave out the word WHERE", id="where"),
    pytest.param({"filter": "Email ="}, "the condition is incomplete", id="incomplete"),
    pytest.param(
        {"filter": "Name = '" + "x" * 3000 + "'"}, "characters once URL-encoded", id="long-filter"
    ),
    pytest.param(
        {"destinations": ["customerio", "customerio"]},
        "destination 'customerio' is listed twice",
        id="destination-twice",
    ),
    pytest.param(
        {"destinations": []},
        "sync 'contacts' is enabled but has no destinations",
        id="no-destination",
    ),
    pytest.param(
        {
            "format": ACCOUNT_OBJECT,
            "object": "Account",
            "filter": None,
            "delete_policy": "suppress",
        },
        "delete_policy suppress applies to people, not to an object sync",
        id="suppress-object",
    ),
    pytest.param(
        {"format": TASK_EVENT, "object": "Task", "filter": None, "delete_policy": "delete"},
        "a sent event cannot be taken back",
        id="delete-event",
    ),
    pytest.param(
        {"mark_attribute": "gone"},
        "mark_attribute 'gone' is used only with delete_policy: mark",
        id="mark-attribute-without-mark",
    ),
    pytest.param(
        {"delete_policy": "mark", "mark_attribute": "FirstName"},
        "mark_attribute 'FirstName' is also the target of fields[0]",
        id="mark-attribute-collision",
    ),
    pytest.param(
        {"formula_refresh": "30m"},
        "formula_refresh 30m is shorter than the interval 1h",
        id="formula-refresh",
    ),
    pytest.param(
        {"format": {"type": "person", "id_field": None}},
        "a person sync needs an identifier: set id_field",
        id="no-identifier",
    ),
    pytest.param(
        {"format": {**TASK_EVENT, "name_field": "Subject"}, "object": "Task", "filter": None},
        "an event sync needs one event name",
        id="two-event-names",
    ),
    pytest.param(
        {
            "format": {
                **ACCOUNT_OBJECT,
                "object_type": {"singular": "A", "plural": "As", "object_type_id": "abc"},
            },
            "object": "Account",
            "filter": None,
        },
        "object_type_id must be an object type id such as '1'",
        id="object-type-id",
    ),
    pytest.param({"filtr": "Email != null"}, "Extra inputs are not permitted", id="misspelt-key"),
    pytest.param(
        {"format": {"type": "people"}}, "does not match any of the expected tags", id="format-type"
    ),
]


@pytest.mark.parametrize(("changes", "fragment"), BAD_SPECS)
def test_invalid_specs_say_what_is_wrong_and_what_to_do(
    changes: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SyncSpec.model_validate(spec_dict(**changes))
    assert fragment in str(caught.value)


def test_a_valid_spec_fills_in_what_it_leaves_out() -> None:
    spec = SyncSpec.model_validate(spec_dict(interval="2h30m", delete_policy="mark"))
    assert spec.fields[0] == FieldMapping(source="FirstName", target="FirstName")
    assert spec.interval == timedelta(hours=2, minutes=30)
    assert spec.mark_attribute == "salesforce_deleted"
    assert spec.read_fields == ("Id", "SystemModstamp", "Email", "FirstName", "LastName")
    assert spec.identifier_fields == ("Id", "Email")


@pytest.mark.parametrize(
    ("written", "meant", "shown"),
    [
        ("1h", timedelta(hours=1), "1h"),
        ("24h", timedelta(hours=24), "24h"),
        ("1d", timedelta(days=1), "24h"),
        ("90m", timedelta(minutes=90), "1h30m"),
        ("5m", timedelta(minutes=5), "5m"),
        (" 6H ", timedelta(hours=6), "6h"),
    ],
)
def test_intervals_read_as_written_and_show_in_short_form(
    written: str, meant: timedelta, shown: str
) -> None:
    spec = SyncSpec.model_validate(spec_dict(interval=written))
    assert spec.interval == meant
    assert spec.model_dump(mode="json")["interval"] == shown


def test_filter_is_checked_for_syntax_only_without_an_org() -> None:
    # An unknown field is for check_against_describe, which has the org's fields.
    spec = SyncSpec.model_validate(spec_dict(filter="  Nonexistent__c = 1  "))
    assert spec.filter == "Nonexistent__c = 1"
    assert SyncSpec.model_validate(spec_dict(filter="   ")).filter is None


def test_a_disabled_sync_may_have_no_destinations_yet() -> None:
    spec = SyncSpec.model_validate(spec_dict(destinations=[], enabled=False))
    assert spec.destinations == ()


def test_json_schema_describes_every_field() -> None:
    schema = SyncSpec.model_json_schema()
    assert all(prop.get("description") for prop in schema["properties"].values())
    for definition in schema["$defs"].values():
        for prop in definition.get("properties", {}).values():
            assert prop.get("description"), definition["title"]


def test_yaml_file_round_trip() -> None:
    spec = SyncSpec.model_validate(spec_dict(formula_refresh="24h", delete_policy="suppress"))
    text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    assert "interval: 1h" in text and "formula_refresh: 24h" in text
    assert SyncSpec.model_validate(yaml.safe_load(text)) == spec


# -- property: any valid spec survives model_dump(mode="json") -> YAML -> model_validate

_names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
_fields = st.from_regex(r"[A-Z][a-z]{1,8}(__c)?", fullmatch=True).filter(
    lambda name: name.lower() not in {"and", "or", "not", "in", "like", "null", "true", "false"}
)
_paths = st.one_of(
    _fields, st.builds("{}.{}".format, st.sampled_from(["Account", "Owner"]), _fields)
)
_targets = st.text(min_size=1, max_size=20).filter(lambda t: t == t.strip() and t.strip() != "")
_object_types = st.builds(
    ObjectType,
    singular=_targets,
    plural=_targets,
    object_type_id=st.one_of(st.none(), st.integers(1, 99).map(str)),
)
_identifiers = st.sampled_from(list(PersonIdentifier))
_formats = st.one_of(
    st.builds(PersonFormat, id_field=st.one_of(st.none(), _paths), email_field=_paths),
    st.builds(ObjectFormat, object_type=_object_types, id_field=_paths),
    st.builds(
        RelationshipFormat,
        person_field=_paths,
        person_identifier=_identifiers,
        object_field=_paths,
        object_type=_object_types,
    ),
    st.one_of(
        st.builds(EventFormat, name=_targets, person_field=_paths, timestamp_field=_paths),
        st.builds(
            EventFormat, name_field=_paths, person_field=_paths, person_identifier=_identifiers
        ),
    ),
)
# No format reserves a name starting with "x" (id, email, object_id ...).
_attributes = _targets.map("x{}".format)


@st.composite
def sync_specs(draw: st.DrawFn) -> SyncSpec:
    sync_format = draw(_formats)
    mappings = draw(
        st.lists(
            st.builds(FieldMapping, source=_paths, target=_attributes),
            max_size=6,
            unique_by=lambda mapping: mapping.target,
        )
    )
    policies = [DeletePolicy.IGNORE]
    if sync_format.type != "event":
        policies += [DeletePolicy.DELETE, DeletePolicy.MARK]
    if sync_format.type == "person":
        policies.append(DeletePolicy.SUPPRESS)
    policy = draw(st.sampled_from(policies))
    taken = {mapping.target for mapping in mappings}
    mark = draw(_targets.filter(lambda t: t not in taken)) if policy == DeletePolicy.MARK else None
    interval = timedelta(seconds=draw(st.integers(300, 7 * 86400)))
    refresh = draw(
        st.one_of(st.none(), st.integers(0, 86400).map(lambda s: interval + timedelta(seconds=s)))
    )
    enabled = draw(st.booleans())
    return SyncSpec(
        name=draw(_names),
        connection=draw(_names),
        object=draw(st.sampled_from(["Contact", "Lead", "Invoice__c"])),
        format=sync_format,
        fields=tuple(mappings),
        filter=draw(
            st.sampled_from([None, "Email != null", "(A__c > 1 OR B__c = 'x') AND C__c = true"])
        ),
        interval=interval,
        destinations=tuple(draw(st.lists(_names, min_size=int(enabled), max_size=3, unique=True))),
        delete_policy=policy,
        mark_attribute=mark,
        enabled=enabled,
        formula_refresh=refresh,
    )


@settings(max_examples=150, deadline=None)
@given(sync_specs())
def test_any_valid_spec_round_trips_through_yaml(spec: SyncSpec) -> None:
    dumped = spec.model_dump(mode="json")
    assert SyncSpec.model_validate(dumped) == spec
    assert SyncSpec.model_validate(yaml.safe_load(yaml.safe_dump(dumped))) == spec
