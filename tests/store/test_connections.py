"""ConnectionStore: adding, reading, rotating and upgrading connections, secrets kept encrypted."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sfbridge.config import Settings
from sfbridge.errors import ConfigError
from sfbridge.secrets import SecretBox, SecretValues
from sfbridge.store import (
    AuthFlow,
    ConnectionRecord,
    ConnectionStore,
    Database,
    Environment,
)

ACCESS_TOKEN = "00D5e000000PLAINACCESS!AQ4AQ.access-token-in-clear"
REFRESH_TOKEN = "5Aep861PLAINREFRESH.refresh-token-in-clear"


@pytest.fixture
def connections(fresh_state: Database) -> ConnectionStore:
    """A connection store on a fresh state database."""
    return ConnectionStore(fresh_state)


def legacy_record(name: str = "acme-prod") -> ConnectionRecord:
    """A production connection made with the legacy username-password flow."""
    return ConnectionRecord(
        name=name,
        environment=Environment.PRODUCTION,
        login_url="https://login.salesforce.com",
        auth_flow=AuthFlow.PASSWORD,
        is_legacy=True,
        client_id="3MVG9legacy",
        username="integration@acme.example",
    )


def tokens() -> dict[str, str]:
    return {"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN}


def test_an_added_connection_comes_back_with_its_id_and_utc_timestamps(
    connections: ConnectionStore,
) -> None:
    added = connections.add(legacy_record(), tokens())

    assert added.id is not None
    assert added.created_at is not None and added.created_at.tzinfo == UTC
    assert added.updated_at == added.created_at
    assert added.budget_share == 0.2
    assert connections.get("acme-prod") == added
    assert connections.secrets("acme-prod") == tokens()


def test_list_returns_every_connection_by_name(connections: ConnectionStore) -> None:
    for name in ("zeta", "acme-prod", "beta_sandbox"):
        connections.add(legacy_record(name), {})

    assert [record.name for record in connections.list()] == ["acme-prod", "beta_sandbox", "zeta"]


def test_a_second_connection_with_the_same_name_is_refused(connections: ConnectionStore) -> None:
    connections.add(legacy_record(), tokens())

    with pytest.raises(ConfigError, match="'acme-prod' already exists"):
        connections.add(legacy_record(), {})
    assert len(connections.list()) == 1


def test_an_unknown_name_lists_the_known_ones(connections: ConnectionStore) -> None:
    with pytest.raises(ConfigError, match="no connection has been added yet"):
        connections.get("acme-prod")
    connections.add(legacy_record("acme-prod"), {})
    connections.add(legacy_record("acme-sandbox"), {})

    with pytest.raises(ConfigError, match="'acme'; known connections: acme-prod, acme-sandbox"):
        connections.secrets("acme")


def test_remove_deletes_the_connection(connections: ConnectionStore) -> None:
    connections.add(legacy_record(), tokens())

    connections.remove("acme-prod")

    assert connections.list() == []
    with pytest.raises(ConfigError, match="no connection named 'acme-prod'"):
        connections.remove("acme-prod")


@pytest.mark.parametrize("name", ["a", "acme-prod_2", "0rg", "x" * 63])
def test_valid_names(name: str) -> None:
    assert legacy_record(name).name == name


@pytest.mark.parametrize("name", ["", "Acme", "acme prod", "-acme", "_acme", "acmé", "x" * 64])
def test_invalid_names_are_a_config_error_naming_the_value(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        legacy_record(name)

    assert repr(name) in str(caught.value)
    assert "lowercase letters, digits" in str(caught.value)


def database_file_bytes(home: Path) -> bytes:
    """Every byte SQLite has written: the database file and its WAL / journal files."""
    files = sorted(home.glob("state.sqlite*"))
    assert files, f"no database file in {home}"
    return b"".join(path.read_bytes() for path in files)


def test_tokens_are_never_written_to_disk_in_clear(settings: Settings) -> None:
    rotated_refresh_token = "5Aep861ROTATEDREFRESH.rotated-token-in-clear"
    database = Database.open(settings)
    connections = ConnectionStore(database)
    connections.add(legacy_record(), tokens())
    connections.update_tokens("acme-prod", refresh_token=rotated_refresh_token)

    # While open, fresh writes sit in the WAL file; after closing, in the main file.
    written_while_open = database_file_bytes(settings.home)
    database.close()
    written_after_close = database_file_bytes(settings.home)

    for written in (written_while_open, written_after_close):
        # The row really is on disk (else the check below would prove nothing)...
        assert b"acme-prod" in written
        assert b"gAAAAA" in written  # the start of every Fernet token
        # ...and no token is readable in it.
        for secret in (ACCESS_TOKEN, REFRESH_TOKEN, rotated_refresh_token):
            assert secret.encode() not in written


def test_rotated_tokens_are_merged_and_persist_across_reopening(settings: Settings) -> None:
    with Database.open(settings) as database:
        ConnectionStore(database).add(legacy_record(), tokens())
        ConnectionStore(database).update_tokens("acme-prod", refresh_token="5Aep861rotated")

    with Database.open(settings) as database:
        assert ConnectionStore(database).secrets("acme-prod") == {
            "access_token": ACCESS_TOKEN,
            "refresh_token": "5Aep861rotated",
        }


class LingeringBox(SecretBox):
    """A box that pauses after reading the stored secrets, so another writer can cut in."""

    def __init__(self, key: bytes) -> None:
        super().__init__(key, source="test")
        self.has_read = threading.Event()

    def decrypt_values(self, token: str, *, what: str = "stored secrets") -> SecretValues:
        values = super().decrypt_values(token, what=what)
        self.has_read.set()
        time.sleep(0.3)
        return values


def test_two_workers_rotating_tokens_at_once_keep_both_rotations(settings: Settings) -> None:
    key = Fernet.generate_key()
    slow_box = LingeringBox(key)
    with Database.open(settings) as first_worker, Database.open(settings) as second_worker:
        ConnectionStore(first_worker, slow_box).add(legacy_record(), tokens())
        second = ConnectionStore(second_worker, SecretBox(key, source="test"))

        with ThreadPoolExecutor(max_workers=1) as pool:
            first_rotation = pool.submit(
                ConnectionStore(first_worker, slow_box).update_tokens,
                "acme-prod",
                refresh_token="5Aep861first-worker",
            )
            assert slow_box.has_read.wait(timeout=5)
            second.update_tokens("acme-prod", access_token="00Dsecond-worker")
            first_rotation.result()

        assert second.secrets("acme-prod") == {
            "access_token": "00Dsecond-worker",
            "refresh_token": "5Aep861first-worker",
        }


def test_mark_tested_records_the_outcome(connections: ConnectionStore) -> None:
    added = connections.add(legacy_record(), tokens())

    tested = connections.mark_tested("acme-prod", ok=False)

    assert tested.last_test_ok is False
    assert tested.last_tested_at is not None and added.created_at is not None
    assert tested.last_tested_at >= added.created_at
    assert tested.updated_at == added.updated_at
    assert connections.get("acme-prod") == tested


def test_upgrade_auth_keeps_id_and_name_and_replaces_the_secrets(
    connections: ConnectionStore,
) -> None:
    legacy = connections.add(legacy_record(), {**tokens(), "password": "hunter2+securitytoken"})
    connections.mark_tested("acme-prod", ok=True)
    jwt_secrets = {
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----"
    }

    upgraded = connections.upgrade_auth(
        "acme-prod", AuthFlow.JWT_BEARER, jwt_secrets, client_id="3MVG9external"
    )

    assert (upgraded.id, upgraded.name) == (legacy.id, legacy.name)
    assert upgraded.auth_flow is AuthFlow.JWT_BEARER
    assert upgraded.is_legacy is False
    assert upgraded.client_id == "3MVG9external"
    assert upgraded.username == legacy.username
    assert upgraded.last_test_ok is None and upgraded.last_tested_at is None
    assert connections.get("acme-prod") == upgraded
    # The password does not outlive the flow that needed it.
    assert connections.secrets("acme-prod") == jwt_secrets


def test_upgrade_auth_to_the_password_flow_is_refused(connections: ConnectionStore) -> None:
    connections.add(legacy_record(), tokens())

    with pytest.raises(ConfigError, match="jwt_bearer"):
        connections.upgrade_auth("acme-prod", AuthFlow.PASSWORD, {"password": "x"})


def test_records_and_secrets_never_print_a_secret(connections: ConnectionStore) -> None:
    connections.add(legacy_record(), tokens())
    record = connections.get("acme-prod")
    secrets = connections.secrets("acme-prod")

    shown = [
        repr(record),
        str(record),
        json.dumps(record.public_dict()),
        record.model_dump_json(),
        repr(connections.list()),
        repr(secrets),
        str(secrets),
    ]
    for text in shown:
        assert ACCESS_TOKEN not in text and REFRESH_TOKEN not in text
    assert record.public_dict()["name"] == "acme-prod"
    assert record.public_dict()["auth_flow"] == "password"


def test_secrets_stored_under_another_key_ask_to_reconnect(fresh_state: Database) -> None:
    ConnectionStore(fresh_state).add(legacy_record(), tokens())
    other_box = SecretBox(Fernet.generate_key(), source="SFBRIDGE_SECRET_KEY")

    with pytest.raises(ConfigError, match=r"secret key changed.*reconnect") as caught:
        ConnectionStore(fresh_state, other_box).secrets("acme-prod")

    assert "connection 'acme-prod'" in str(caught.value)
