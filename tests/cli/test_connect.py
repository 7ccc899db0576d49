"""``sfbridge connect salesforce`` and ``sfbridge connections ...`` against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfbridge.cli.main import app
from sfbridge.emulators.salesforce.login_robot import complete_login
from sfbridge.emulators.salesforce.org import INTEGRATION_USERNAME
from sfbridge.emulators.salesforce.server import RunningEmulator


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh sfbridge home (state database and key file) for each test."""
    monkeypatch.setenv("SFBRIDGE_HOME", str(tmp_path))
    monkeypatch.delenv("SFBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SFBRIDGE_DATABASE_URL", raising=False)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def connect_args(server: RunningEmulator, name: str, *extra: str) -> list[str]:
    assert server.tls is not None
    return [
        "connect",
        "salesforce",
        "--name",
        name,
        "--login-url",
        server.login_url,
        "--client-id",
        server.credentials.client_id,
        "--ca-bundle",
        str(server.tls.ca_bundle),
        "--json",
        *extra,
    ]


def test_client_credentials_connection_is_stored_and_tested(
    sf_server: RunningEmulator, home: Path
) -> None:
    code, output = run(
        *connect_args(
            sf_server,
            "emu",
            "--flow",
            "client_credentials",
            "--client-secret",
            sf_server.credentials.client_secret,
        )
    )
    assert code == 0, output
    result = json.loads(output)
    assert result["connection"]["instance_url"] == sf_server.instance_url
    assert result["connection"]["org_id"] == sf_server.org.org_id
    assert result["access"]["warnings"] == []

    code, output = run("connections", "list", "--json")
    assert [c["name"] for c in json.loads(output)] == ["emu"]
    code, output = run("connections", "test", "emu", "--json")
    assert code == 0, output
    tested = json.loads(output)
    assert tested["ok"] is True and tested["api_requests"]["max"] == 15000
    code, output = run("connections", "show", "emu", "--json")
    assert json.loads(output)["last_test_ok"] is True

    secret = sf_server.credentials.client_secret
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in output

    code, output = run("connections", "remove", "emu", "--yes")
    assert code == 0
    code, output = run("connections", "show", "emu")
    assert code == 2 and "emu" in output


def test_integration_user_check_warns_about_hidden_fields(
    sf_server: RunningEmulator, home: Path
) -> None:
    code, output = run(
        *connect_args(
            sf_server,
            "legacy",
            "--flow",
            "password",
            "--username",
            INTEGRATION_USERNAME,
            "--password",
            sf_server.credentials.password,
            "--client-secret",
            sf_server.credentials.client_secret,
        )
    )
    assert code == 0, output
    result = json.loads(output)
    assert result["connection"]["is_legacy"] is True
    warnings = " ".join(result["access"]["warnings"])
    assert "Contact.Birthdate" in warnings and "Lead.AnnualRevenue" in warnings
    contact = next(o for o in result["access"]["objects"] if o["name"] == "Contact")
    assert contact["visible"] and contact["readable_fields"] > 40


def test_bad_credentials_say_what_to_do_without_the_secret(
    sf_server: RunningEmulator, home: Path
) -> None:
    code, output = run(
        *connect_args(
            sf_server,
            "bad",
            "--flow",
            "client_credentials",
            "--client-secret",
            "not-the-secret-123",
        )
    )
    assert code != 0
    assert "not-the-secret-123" not in output
    assert "error:" in output
    assert run("connections", "list", "--json")[1].strip() == "[]"


def test_upgrade_moves_a_legacy_connection_to_the_web_server_flow(
    sf_server: RunningEmulator, home: Path
) -> None:
    creds = sf_server.credentials
    code, output = run(
        *connect_args(
            sf_server,
            "crm",
            "--flow",
            "password",
            "--username",
            creds.username,
            "--password",
            creds.password,
            "--client-secret",
            creds.client_secret,
        )
    )
    assert code == 0, output
    before = json.loads(run("connections", "show", "crm", "--json")[1])

    command = [
        sys.executable,
        "-m",
        "sfbridge.cli",
        "connect",
        "salesforce",
        "upgrade",
        "crm",
        "--client-id",
        creds.client_id,
        "--callback-port",
        "0",
        "--no-browser",
        "--json",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        url = ""
        for line in process.stderr:
            if line.startswith("https://"):
                url = line.strip()
                break
        assert url, "the login URL was not printed"
        callback = complete_login(
            url, username=creds.username, password=creds.password, verify=sf_server.trust()
        )
        assert callback.status_code == 200
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    after = json.loads(stdout)["connection"]
    assert after["id"] == before["id"] and after["name"] == "crm"
    assert after["auth_flow"] == "web_server_pkce" and after["is_legacy"] is False
    code, output = run("connections", "test", "crm", "--json")
    assert code == 0 and json.loads(output)["ok"] is True


# Salesforce's token shapes: access tokens "00D<org>!<random>", refresh tokens "5Aep861...".
TOKEN_SHAPES = re.compile(rb"00D\w{12,15}![\w.]{20,}|5Aep861[\w.]{20,}")


def test_no_token_reaches_the_logs_or_the_state_files(
    sf_server: RunningEmulator, home: Path
) -> None:
    creds = sf_server.credentials
    command = [
        sys.executable,
        "-m",
        "sfbridge.cli",
        "--log-level",
        "DEBUG",
        *connect_args(
            sf_server,
            "logged",
            "--flow",
            "password",
            "--username",
            creds.username,
            "--password",
            creds.password,
            "--client-secret",
            creds.client_secret,
        ),
    ]
    done = subprocess.run(
        command, capture_output=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"DEBUG" in done.stderr
    test = subprocess.run(
        [
            sys.executable,
            "-m",
            "sfbridge.cli",
            "--log-level",
            "DEBUG",
            "connections",
            "test",
            "logged",
        ],
        capture_output=True,
        timeout=120,
    )
    assert test.returncode == 0, test.stderr.decode()
    for output in (done.stdout, done.stderr, test.stdout, test.stderr):
        assert not TOKEN_SHAPES.search(output)
        assert creds.client_secret.encode() not in output
        assert creds.password.encode() not in output
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "state.sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not TOKEN_SHAPES.search(data), path
        assert creds.client_secret.encode() not in data, path
        assert creds.password.encode() not in data, path
