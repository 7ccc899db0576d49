"""``sfbridge emulate salesforce`` as a user runs it: a real process, a banner, a persistent org."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
from typer.testing import CliRunner

from sfbridge.cli.main import app
from sfbridge.emulators.salesforce.process import emulator_process

BANNER_KEYS = {
    "instance_url",
    "login_url",
    "sandbox_login_url",
    "ca_bundle",
    "client_id",
    "client_secret",
    "username",
    "password",
    "refresh_token",
}


def _trust(banner: dict[str, str]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=banner["ca_bundle"])


def _token(client: httpx.Client, banner: dict[str, str]) -> str:
    response = client.post(
        f"{banner['login_url']}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": banner["refresh_token"],
            "client_id": banner["client_id"],
            "client_secret": banner["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_help_lists_the_emulator() -> None:
    result = CliRunner().invoke(app, ["emulate", "salesforce", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--data-dir", "--seed", "--tls", "--json"):
        assert option in result.output


def test_a_bad_seed_size_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(app, ["emulate", "salesforce", "--seed", "huge"])
    assert result.exit_code == 2
    assert "huge" in result.output and "tiny" in result.output


def test_banner_serves_https_and_the_org_survives_a_restart(tmp_path: Path) -> None:
    with emulator_process(tmp_path, "--seed", "tiny") as banner:
        assert set(banner) >= BANNER_KEYS
        assert banner["instance_url"].startswith("https://127.0.0.1:")
        with httpx.Client(verify=_trust(banner), timeout=30) as client:
            versions = client.get(f"{banner['instance_url']}/services/data/").json()
            assert versions[-1]["version"] == "66.0"
            client.headers["Authorization"] = f"Bearer {_token(client, banner)}"
            created = client.post(
                f"{banner['instance_url']}/services/data/v62.0/sobjects/Account",
                json={"Name": "Persistent Co"},
            ).json()
        first_ca = Path(banner["ca_bundle"]).read_bytes()

    with emulator_process(tmp_path) as banner:
        assert Path(banner["ca_bundle"]).read_bytes() == first_ca
        with httpx.Client(verify=_trust(banner), timeout=30) as client:
            client.headers["Authorization"] = f"Bearer {_token(client, banner)}"
            url = f"{banner['instance_url']}/services/data/v62.0/sobjects/Account/{created['id']}"
            assert client.get(url).json()["Name"] == "Persistent Co"
