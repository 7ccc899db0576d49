"""``sfbridge sync ...`` and ``sfbridge apply`` against the emulator, to the built-in warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from sfbridge.cli.main import app
from sfbridge.config import Settings
from sfbridge.destinations.warehouse_schema import people
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.store import Database, RunTrigger, SyncStore
from sfbridge.store.syncs import DEFAULT_HEARTBEAT_TIMEOUT
from sfbridge.sync import Window


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh sfbridge home; the working folder (where sfbridge.yaml is read) is inside it."""
    monkeypatch.setenv("SFBRIDGE_HOME", str(tmp_path))
    monkeypatch.delenv("SFBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SFBRIDGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SFBRIDGE_STALE_RUN_AFTER", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run_json(*args: str) -> Any:
    code, output = run(*args, "--json")
    assert code == 0, output
    return json.loads(output)


@pytest.fixture
def org(sf_server: RunningEmulator, home: Path) -> RunningEmulator:
    """The emulator with a stored client-credentials connection named ``emu``."""
    assert sf_server.tls is not None
    code, output = run(
        "connect",
        "salesforce",
        "--name",
        "emu",
        "--login-url",
        sf_server.login_url,
        "--client-id",
        sf_server.credentials.client_id,
        "--client-secret",
        sf_server.credentials.client_secret,
        "--ca-bundle",
        str(sf_server.tls.ca_bundle),
        "--flow",
        "client_credentials",
        "--json",
    )
    assert code == 0, output
    return sf_server


def emails_in_org(org: RunningEmulator) -> int:
    """The org's live contacts with an email, read from the emulator's own data."""
    return sum(1 for row in org.org.records("Contact") if row.get("Email"))


def warehouse_people(home: Path) -> int:
    engine = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(people)) or 0)
    finally:
        engine.dispose()


def test_add_run_and_manage_a_contacts_sync(org: RunningEmulator, home: Path) -> None:
    added = run_json("sync", "add", "contacts", "--connection", "emu", "--template", "contacts")
    assert added["count"] == emails_in_org(org) > 0
    assert added["sync"]["spec"]["enabled"] is False
    assert added["sync"]["spec"]["destinations"] == ["warehouse"]
    code, output = run(
        "sync", "add", "leads", "--connection", "emu", "--template", "leads", "--interval", "6h"
    )
    assert code == 0, output
    assert "the first run will bring" in output and "sfbridge sync resume leads" in output

    preview = run_json("sync", "preview", "contacts", "--limit", "3")
    assert preview["total"] == added["count"]
    assert "Email" in preview["fields"] and "FirstName" in preview["fields"]
    assert len(preview["messages"]) == 3
    message = preview["messages"][0]
    assert message["type"] == "identify" and message["userId"].startswith("003")
    assert "@" in message["traits"]["email"] and "first_name" in message["traits"]

    summary = run_json("sync", "run", "contacts")
    assert summary["status"] == "succeeded", summary
    assert summary["counts"]["delivered"] == emails_in_org(org)
    assert warehouse_people(home) == emails_in_org(org)

    runs = run_json("sync", "runs", "contacts")
    assert [r["status"] for r in runs] == ["succeeded"]
    assert runs[0]["counts"]["api_calls"] > 0
    shown = run_json("sync", "show", "contacts")
    assert shown["cursor"] is not None and shown["runs"][0]["id"] == runs[0]["id"]

    assert run_json("sync", "resume", "contacts") == {"name": "contacts", "enabled": True}
    assert run_json("sync", "pause", "contacts") == {"name": "contacts", "enabled": False}
    listed = run_json("sync", "list")
    assert [(s["name"], s["enabled"]) for s in listed] == [("contacts", False), ("leads", False)]
    assert listed[0]["last_run"]["status"] == "succeeded"
    assert run_json("sync", "failures", "contacts") == []

    code, output = run("sync", "remove", "contacts", "--yes")
    assert code == 0, output
    assert [s["name"] for s in run_json("sync", "list")] == ["leads"]
    code, output = run("sync", "show", "contacts")
    assert code == 2 and "contacts" in output


def test_a_sync_with_a_lookup_field_gets_a_formula_refresh_from_the_command_line(
    org: RunningEmulator,
) -> None:
    common = ("sync", "add", "people", "--connection", "emu", "--template", "contacts")
    fields = ("--field", "LastName:last_name", "--field", "Account.Name:company")

    code, output = run(*common, *fields, "--interval", "6h", "--formula-refresh", "1h")
    assert code == 2
    assert "formula_refresh 1h is shorter than the" in " ".join(output.split())

    added = run_json(*common, *fields, "--formula-refresh", "24h")
    assert added["sync"]["spec"]["formula_refresh"] == "24h"
    assert not any("formula_refresh" in warning for warning in added["warnings"])
    # The first run reads every field of every record: it counts as the first refresh.
    run_json("sync", "run", "people")
    [first] = run_json("sync", "runs", "people")
    assert first["counts"]["refreshed"] == 0
    assert run_json("sync", "show", "people")["formula_refreshed_at"] is not None


def test_a_filter_on_an_unknown_field_is_refused_and_nothing_is_saved(
    org: RunningEmulator,
) -> None:
    code, output = run(
        "sync",
        "add",
        "bad",
        "--connection",
        "emu",
        "--object",
        "Contact",
        "--format",
        "person",
        "--format-option",
        "email_field=Email",
        "--field",
        "FirstName:first_name",
        "--filter",
        "Emial != null",
    )
    assert code == 2, output
    assert "filter" in output and "Emial" in output and "column" in output
    assert run_json("sync", "list") == []


def test_an_unknown_field_is_named_with_its_position(org: RunningEmulator) -> None:
    code, output = run(
        "sync",
        "add",
        "bad",
        "--connection",
        "emu",
        "--template",
        "contacts",
        "--field",
        "FirstName:first_name",
        "--field",
        "Nickname__c",
    )
    assert code == 2, output
    assert "fields[1].source" in output and "Nickname__c" in output
    assert run_json("sync", "list") == []


def test_run_shows_a_summary_table_without_json(org: RunningEmulator) -> None:
    run_json("sync", "add", "contacts", "--connection", "emu", "--template", "contacts")
    code, output = run("sync", "run", "contacts")
    assert code == 0, output
    assert "succeeded" in output and "delivered" in output


PROJECT = """
syncs:
  - name: contacts
    connection: emu
    object: Contact
    format: {type: person, id_field: Id, email_field: Email}
    fields:
      - {source: FirstName, target: first_name}
      - LastName
    filter: Email != null
    destinations: [warehouse]
  - name: contact-accounts
    connection: emu
    object: Contact
    format:
      type: relationship
      person_field: Id
      object_field: AccountId
      object_type: {singular: Account, plural: Accounts, object_type_id: "1"}
    filter: AccountId != null
    interval: 6h
    enabled: false
    destinations: [local]
destinations:
  local: {kind: jsonl, directory: out}
"""


def test_apply_creates_syncs_then_reports_them_unchanged(org: RunningEmulator, home: Path) -> None:
    project = home / "sfbridge.yaml"
    project.write_text(PROJECT, encoding="utf-8")
    first = run_json("apply")
    assert first == [
        {"name": "contacts", "result": "created"},
        {"name": "contact-accounts", "result": "created"},
    ]
    assert run_json("apply", str(project)) == [
        {"name": "contacts", "result": "unchanged"},
        {"name": "contact-accounts", "result": "unchanged"},
    ]
    project.write_text(PROJECT.replace("interval: 6h", "interval: 24h"), encoding="utf-8")
    code, output = run("apply")
    assert code == 0, output
    assert "unchanged: contacts" in output and "updated: contact-accounts" in output
    shown = run_json("sync", "show", "contact-accounts")
    assert shown["spec"]["interval"] == "24h" and shown["spec_version"] == 2


def test_apply_checks_every_sync_before_saving_any(org: RunningEmulator, home: Path) -> None:
    (home / "sfbridge.yaml").write_text(
        PROJECT.replace("AccountId != null", "Acount != null"), encoding="utf-8"
    )
    code, output = run("apply")
    assert code == 2, output
    assert "syncs[1]" in output and "Acount" in output
    assert run_json("sync", "list") == []


def test_object_types_are_found_by_name_or_created_with_the_next_id(
    org: RunningEmulator,
) -> None:
    accounts = run_json("sync", "add", "accounts", "--connection", "emu", "--template", "accounts")
    opportunities = run_json(
        "sync", "add", "opportunities", "--connection", "emu", "--template", "opportunities"
    )
    # The account-contacts preset relates people to the same type: found by its name.
    related = run_json(
        "sync", "add", "people-accounts", "--connection", "emu", "--template", "account-contacts"
    )

    def type_id(added: dict[str, Any]) -> str:
        return str(added["sync"]["spec"]["format"]["object_type"]["object_type_id"])

    assert [type_id(accounts), type_id(opportunities), type_id(related)] == ["1", "2", "1"]
    assert accounts["warnings"] == []
    preview = run_json("sync", "preview", "accounts", "--limit", "2")
    assert [m["type"] for m in preview["messages"]] == ["group", "group"]
    assert preview["messages"][0]["traits"]["object_type_id"] == "1"
    code, output = run(
        "sync",
        "add",
        "clash",
        "--connection",
        "emu",
        "--template",
        "opportunities",
        "--format-option",
        "object_type.object_type_id=1",
    )
    assert code == 2
    assert "object type id '1' is 'Accounts' already" in " ".join(output.split())


def test_a_too_short_interval_is_refused(org: RunningEmulator) -> None:
    code, output = run(
        "sync", "add", "fast", "--connection", "emu", "--template", "contacts", "--interval", "1m"
    )
    assert code == 2 and "interval" in output and "5m" in output
    assert run_json("sync", "list") == []


WEB = "Email != null AND LeadSource = 'Web'"
"""A filter some hundreds of the emulator's contacts match: runs of a few pages."""


def test_run_reads_with_the_page_sizes_and_api_it_is_given(org: RunningEmulator) -> None:
    added = run_json(
        "sync", "add", "web", "--connection", "emu", "--template", "contacts", "--filter", WEB
    )
    total = added["count"]
    assert 100 < total < 2_000
    whole = run_json("sync", "run", "web", "--resync")
    small = run_json("sync", "run", "web", "--resync", "--page-size", "100")
    assert whole["api"] == small["api"] == "rest"
    assert small["counts"]["delivered"] == whole["counts"]["delivered"] == total
    # One API call per page (the last one short); the describe and count calls are the same.
    assert small["counts"]["api_calls"] - whole["counts"]["api_calls"] == total // 100

    bulk = run_json(
        "sync", "run", "web", "--resync", "--bulk-threshold", "0", "--bulk-page-size", "100"
    )
    assert bulk["api"] == "bulk" and bulk["counts"]["delivered"] == total
    assert bulk["counts"]["api_calls"] > total // 100  # a results page per 100 records


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--page-size", "2001", "page size 2001"),
        ("--page-size", "0", "page size 0"),
        ("--bulk-page-size", "0", "Bulk page size 0"),
        ("--bulk-threshold", "-1", "Bulk threshold -1"),
    ],
)
def test_run_refuses_page_sizes_out_of_range(
    org: RunningEmulator, option: str, value: str, named: str
) -> None:
    run_json("sync", "add", "contacts", "--connection", "emu", "--template", "contacts")
    code, output = run("sync", "run", "contacts", option, value)
    assert code == 2, output
    assert named in output
    assert run_json("sync", "runs", "contacts") == []


def plant_silent_run(home: Path, name: str, silent_for: timedelta) -> int:
    """A run of ``name`` left ``running`` with its last heartbeat ``silent_for`` ago."""
    then = datetime.now(UTC) - silent_for
    with Database.open(Settings(home=home)) as database:
        store = SyncStore(database, clock=lambda: then)
        return store.start_run(name, RunTrigger.MANUAL, Window(None, then)).id


def test_stale_after_says_when_a_silent_run_is_taken_over(
    org: RunningEmulator, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().stale_run_after == DEFAULT_HEARTBEAT_TIMEOUT
    run_json("sync", "add", "web", "--connection", "emu", "--template", "contacts", "--filter", WEB)
    silent = plant_silent_run(home, "web", timedelta(minutes=20))

    skipped = run_json("sync", "run", "web", "--stale-after", "1h")
    assert skipped["status"] == "skipped" and "already running" in skipped["error"]
    monkeypatch.setenv("SFBRIDGE_STALE_RUN_AFTER", "1h")
    assert run_json("sync", "run", "web")["status"] == "skipped"
    # The option wins over the setting: 20 minutes of silence is past 15.
    assert run_json("sync", "run", "web", "--stale-after", "15m")["status"] == "succeeded"
    runs = {r["id"]: r for r in run_json("sync", "runs", "web")}
    assert runs[silent]["status"] == "failed" and "process died" in runs[silent]["error"]

    # The scheduler takes over the same way.
    monkeypatch.setenv("SFBRIDGE_STALE_RUN_AFTER", "15m")
    run_json("sync", "resume", "web")
    plant_silent_run(home, "web", timedelta(minutes=20))
    code, output = run("schedule", "run", "--once", "--stale-after", "1h", "--json")
    assert code == 0 and json.loads(output)["status"] == "skipped", output
    code, output = run("schedule", "run", "--once", "--json")
    assert code == 0 and json.loads(output)["status"] == "succeeded", output


@pytest.mark.parametrize("value", ["0s", "soon", "1.5s"])
def test_stale_after_must_be_a_duration_of_a_second_or_more(
    org: RunningEmulator, value: str
) -> None:
    run_json("sync", "add", "contacts", "--connection", "emu", "--template", "contacts")
    for command in (["sync", "run", "contacts"], ["schedule", "run", "--once"]):
        code, output = run(*command, "--stale-after", value)
        assert code == 2, output
        assert f"'{value}' is not a duration of at least 1s" in output
    assert run_json("sync", "runs", "contacts") == []


def test_a_bad_setting_in_the_environment_is_one_clear_line(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFBRIDGE_STALE_RUN_AFTER", "soon")

    code, output = run("sync", "list")

    assert code == 2
    assert output.startswith("error: bad setting: SFBRIDGE_STALE_RUN_AFTER 'soon' is not")
    assert "Traceback" not in output


def test_a_jsonl_file_is_named_for_the_sync_and_the_window_it_holds(
    org: RunningEmulator, home: Path
) -> None:
    (home / "sfbridge.yaml").write_text(
        "destinations:\n  files: {kind: jsonl, directory: out}\n", encoding="utf-8"
    )
    run_json(
        "sync",
        "add",
        "contacts",
        "--connection",
        "emu",
        "--template",
        "contacts",
        "--filter",
        WEB,
        "--destination",
        "files",
    )
    summary = run_json("sync", "run", "contacts")
    end = datetime.fromisoformat(summary["window"]["end"])
    assert summary["window"]["end"] == run_json("sync", "runs", "contacts")[0]["window_end"]
    name = f"contacts-{end:%Y%m%dT%H%M%S}.{end.microsecond // 1000:03d}Z.jsonl"
    assert [path.name for path in (home / "out" / "contacts").iterdir()] == [name]


def test_apply_reports_syncs_it_does_not_declare_and_prune_removes_them(
    org: RunningEmulator, home: Path
) -> None:
    project = home / "sfbridge.yaml"
    project.write_text(PROJECT, encoding="utf-8")
    run_json("sync", "add", "leads", "--connection", "emu", "--template", "leads")

    assert run_json("apply") == [
        {"name": "contacts", "result": "created"},
        {"name": "contact-accounts", "result": "created"},
        {"name": "leads", "result": "not declared"},
    ]
    code, output = run("apply")
    assert code == 0, output
    assert "not declared: leads" in output and "--prune" in output
    assert "leads" in [s["name"] for s in run_json("sync", "list")]

    # A file that does not fit the org prunes nothing either.
    project.write_text(PROJECT.replace("AccountId != null", "Acount != null"), encoding="utf-8")
    code, output = run("apply", "--prune")
    assert code == 2, output
    assert "leads" in [s["name"] for s in run_json("sync", "list")]

    project.write_text(PROJECT, encoding="utf-8")
    assert run_json("apply", "--prune") == [
        {"name": "contacts", "result": "unchanged"},
        {"name": "contact-accounts", "result": "unchanged"},
        {"name": "leads", "result": "removed"},
    ]
    assert [s["name"] for s in run_json("sync", "list")] == ["contact-accounts", "contacts"]
    code, output = run("apply", "--prune")
    assert code == 0 and "removed" not in output and "not declared" not in output, output


REPLAY_PROJECT = """\
syncs:
  - name: by-email
    connection: emu
    object: Contact
    format: {type: person, id_field: null, email_field: Email}
    fields: [LastName]
    destinations: [warehouse]
"""


def test_replay_delivers_kept_records_once_their_data_is_fixed(
    org: RunningEmulator, home: Path
) -> None:
    (home / "sfbridge.yaml").write_text(REPLAY_PROJECT, encoding="utf-8")
    run_json("apply")
    # People are identified by email here: the seeded contacts without one fail and are kept.
    summary = run_json("sync", "run", "by-email")
    assert summary["status"] == "partial"
    kept = [f["record_id"] for f in run_json("sync", "failures", "by-email")]
    assert len(kept) == summary["counts"]["failed"] >= 2
    base = f"{org.instance_url}/services/data/v62.0/sobjects/Contact"
    headers = {"Authorization": f"Bearer {org.access_token()}"}
    with httpx.Client(verify=org.trust(), headers=headers) as api:
        fixed = api.patch(f"{base}/{kept[0]}", json={"Email": "replayed@example.com"})
        assert fixed.status_code == 204, fixed.text
    before = warehouse_people(home)

    code, output = run("sync", "replay", "by-email")

    assert code == 1
    assert f"1 replayed, 0 no longer sent (deleted or out of the filter), {len(kept) - 1} " in (
        " ".join(output.split())
    )
    assert f"{kept[1]}: has no person id" in " ".join(output.split())
    assert [f["record_id"] for f in run_json("sync", "failures", "by-email")] == kept[1:]
    assert warehouse_people(home) == before + 1
    code, output = run("sync", "replay", "by-email", "--record", "003000000000000AAA")
    assert code == 2 and "keeps no failed record '003000000000000AAA'" in output
