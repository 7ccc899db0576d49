"""Secrets: the key (environment or 0600 key file), encryption, redaction, log masking."""

from __future__ import annotations

import io
import logging
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from sfbridge.config import Settings
from sfbridge.errors import ConfigError
from sfbridge.secrets import (
    GENERATE_KEY_COMMAND,
    SecretBox,
    SecretValues,
    install_secret_log_filter,
    secret_log_filter,
)

ACCESS_TOKEN = "00D5e000000PLAINACCESS!AQ4AQFakeAccessToken"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty sfbridge home, with no key coming from the environment."""
    monkeypatch.delenv("SFBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SFBRIDGE_HOME", raising=False)
    return tmp_path / "home"


def test_first_use_creates_a_key_file_only_the_owner_can_read(home: Path) -> None:
    box = SecretBox.from_settings(Settings(home=home))

    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in repr(box)
    token = box.encrypt(ACCESS_TOKEN)
    assert SecretBox.from_settings(Settings(home=home)).decrypt(token) == ACCESS_TOKEN


def test_processes_starting_together_agree_on_one_key(home: Path) -> None:
    settings = Settings(home=home)
    with ThreadPoolExecutor(max_workers=8) as pool:
        boxes = list(pool.map(lambda _: SecretBox.from_settings(settings), range(8)))

    token = boxes[0].encrypt(ACCESS_TOKEN)
    assert all(box.decrypt(token) == ACCESS_TOKEN for box in boxes)
    assert [path.name for path in home.iterdir()] == ["secret.key"]


def test_a_key_file_others_can_read_is_refused_with_the_chmod_fix(home: Path) -> None:
    SecretBox.from_settings(Settings(home=home))
    key_file = home / "secret.key"
    key_file.chmod(0o644)

    with pytest.raises(ConfigError) as caught:
        SecretBox.from_settings(Settings(home=home))

    assert f"chmod 600 {key_file}" in str(caught.value)


def test_a_key_from_the_environment_is_used_and_no_key_file_is_written(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SFBRIDGE_SECRET_KEY", key)
    monkeypatch.setenv("SFBRIDGE_HOME", str(home))

    box = SecretBox.from_settings(Settings())

    assert Fernet(key).decrypt(box.encrypt(ACCESS_TOKEN).encode()).decode() == ACCESS_TOKEN
    assert not (home / "secret.key").exists()
    assert key not in repr(box)


def test_a_bad_environment_key_names_the_variable_and_the_fix_but_not_the_value(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFBRIDGE_SECRET_KEY", "hunter2-is-not-a-fernet-key")

    with pytest.raises(ConfigError) as caught:
        SecretBox.from_settings(Settings(home=home))

    message = str(caught.value)
    assert "SFBRIDGE_SECRET_KEY" in message
    assert GENERATE_KEY_COMMAND in message
    assert "hunter2" not in message


def test_a_changed_key_says_so_without_showing_either_key(home: Path) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox.from_settings(Settings(home=home, secret_key=SecretStr(old_key))).encrypt(
        ACCESS_TOKEN
    )
    new_box = SecretBox.from_settings(Settings(home=home, secret_key=SecretStr(new_key)))

    with pytest.raises(ConfigError) as caught:
        new_box.decrypt(token, what="the secrets of connection 'acme-prod'")

    message = str(caught.value)
    assert "the secret key changed" in message
    assert "reconnect" in message
    assert "'acme-prod'" in message
    assert old_key not in message and new_key not in message


def test_encrypted_values_round_trip_and_hide_the_plaintext(home: Path) -> None:
    box = SecretBox.from_settings(Settings(home=home))
    values = {"access_token": ACCESS_TOKEN, "password": "pässwörd-ünïcode"}

    token = box.encrypt_values(values)

    assert ACCESS_TOKEN not in token
    assert box.decrypt_values(token) == values


def test_secret_values_never_print_their_values() -> None:
    values = SecretValues(access_token=ACCESS_TOKEN)

    assert values == {"access_token": ACCESS_TOKEN}
    for shown in (repr(values), str(values), f"{values}", repr([values])):
        assert ACCESS_TOKEN not in shown
        assert "access_token" in shown


@pytest.fixture
def log_output() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A parent logger with one handler and the secret filter installed, and its output."""
    parent = logging.getLogger("sfbridge_test_secrets")
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    install_secret_log_filter(parent)
    yield parent, output
    parent.removeHandler(handler)
    parent.removeFilter(secret_log_filter)


def test_known_secrets_are_masked_in_records_from_child_loggers(
    home: Path, log_output: tuple[logging.Logger, io.StringIO]
) -> None:
    parent, output = log_output
    refresh_token = "5Aep861PLAINREFRESH.TokenValue"
    box = SecretBox.from_settings(Settings(home=home))
    box.decrypt_values(box.encrypt_values({"refresh_token": refresh_token}))
    child = parent.getChild("salesforce.auth")

    child.info("refreshing with %s", refresh_token)
    try:
        raise RuntimeError(f"token {refresh_token} was rejected")
    except RuntimeError:
        child.exception("refresh failed")

    logged = output.getvalue()
    assert refresh_token not in logged
    assert "refreshing with ***" in logged
    assert "token *** was rejected" in logged


def test_installing_twice_masks_once(log_output: tuple[logging.Logger, io.StringIO]) -> None:
    parent, _ = log_output

    install_secret_log_filter(parent)

    assert parent.filters.count(secret_log_filter) == 1
    assert parent.handlers[-1].filters.count(secret_log_filter) == 1
