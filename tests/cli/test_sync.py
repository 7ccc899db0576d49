"""``sfbridge sync ...`` and ``sfbridge apply`` against the emulator, to the built-in warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from sfbridge.cli.main import app
from sfbridge.destinations.warehouse_schema import people
from sfbridge.emulators.salesforce.server import RunningEmulator


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh sfbridge home; the working folder (where sfbridge.yaml is read) is inside it."""
    monkeypatch.setenv("SFBRIDGE_HOME", str(tmp_path))
    monkeypatch.delenv("SFBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SFBRIDGE_DATABASE_URL", raising=False)
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


def test_an_accounts_sync_needs_its_object_type_id_to_preview(org: RunningEmulator) -> None:
    code, output = run("sync", "add", "accounts", "--connection", "emu", "--template", "accounts")
    assert code == 0 and "object_type_id" in output
    code, output = run("sync", "preview", "accounts")
    assert code == 2 and "object_type_id" in output
    added = run_json(
        "sync",
        "add",
        "typed-accounts",
        "--connection",
        "emu",
        "--template",
        "accounts",
        "--format-option",
        "object_type.object_type_id=1",
    )
    assert added["warnings"] == []
    preview = run_json("sync", "preview", "typed-accounts", "--limit", "2")
    assert [m["type"] for m in preview["messages"]] == ["group", "group"]
    assert preview["messages"][0]["traits"]["object_type_id"] == "1"


def test_a_too_short_interval_is_refused(org: RunningEmulator) -> None:
    code, output = run(
        "sync", "add", "fast", "--connection", "emu", "--template", "contacts", "--interval", "1m"
    )
    assert code == 2 and "interval" in output and "5m" in output
    assert run_json("sync", "list") == []
