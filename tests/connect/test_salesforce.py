"""Connections as stored state: first login, rotation written back, JWT, upgrade checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sfbridge.config import Settings
from sfbridge.connect.salesforce import ConnectOptions, connect, open_client, upgrade
from sfbridge.emulators.salesforce.login_robot import complete_login
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError
from sfbridge.salesforce import (
    OAuthSession,
    ReconnectRequired,
    RefreshTokenGrant,
    SalesforceClient,
)
from sfbridge.salesforce.http import HttpOptions
from sfbridge.store import AuthFlow, ConnectionStore, Database, Environment


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = Database.open(Settings(home=tmp_path, secret_key=None, database_url=None))
    yield opened
    opened.close()


@pytest.fixture
def store(database: Database) -> ConnectionStore:
    return ConnectionStore(database)


def _browser(server: RunningEmulator) -> Callable[[str], None]:
    creds = server.credentials

    def open_browser(url: str) -> None:
        answer = complete_login(
            url, username=creds.username, password=creds.password, verify=server.trust()
        )
        assert answer.status_code == 200, answer.text

    return open_browser


def _options(server: RunningEmulator, name: str, **kw: object) -> ConnectOptions:
    assert server.tls is not None
    return ConnectOptions(
        name=name,
        environment=Environment.CUSTOM,
        login_url=server.login_url,
        ca_bundle=server.tls.ca_bundle,
        callback_port=0,
        **kw,
    )  # type: ignore[arg-type]


def test_rotated_refresh_tokens_are_written_back(
    sf_server: RunningEmulator, store: ConnectionStore
) -> None:
    app = sf_server.app.auth.register_app(name="rotating", rotate_refresh_tokens=True)
    options = _options(sf_server, "rot", client_id=app.client_id, client_secret=app.client_secret)
    record, client = connect(store, options, open_browser=_browser(sf_server))
    client.close()
    assert record.auth_flow == AuthFlow.WEB_SERVER_PKCE and not record.is_legacy
    first = store.secrets("rot")["refresh_token"]

    with open_client(store, "rot") as sf:
        assert sf.count("Account") >= 0
    second = store.secrets("rot")["refresh_token"]
    assert second != first

    stale = OAuthSession(
        sf_server.login_url, RefreshTokenGrant(app.client_id, first, app.client_secret)
    )
    with (
        SalesforceClient(stale, http=HttpOptions(verify=sf_server.tls.ca_bundle)) as old,
        pytest.raises(ReconnectRequired),
    ):
        old.connect()
    with open_client(store, "rot") as sf:
        assert sf.limits()["DailyApiRequests"].max == 15000


def test_jwt_bearer_connection_logs_in_again_from_the_stored_key(
    sf_server: RunningEmulator, store: ConnectionStore
) -> None:
    creds = sf_server.credentials
    assert creds.jwt_key_file is not None
    options = _options(
        sf_server,
        "jwt",
        flow=AuthFlow.JWT_BEARER,
        client_id=creds.client_id,
        username=creds.username,
        private_key_file=Path(creds.jwt_key_file),
    )
    record, client = connect(store, options, open_browser=_browser(sf_server))
    client.close()
    assert record.username == creds.username
    assert "BEGIN" in store.secrets("jwt")["private_key"]
    with open_client(store, "jwt") as sf:
        assert sf.connect().instance_url == sf_server.instance_url


def test_upgrade_refuses_a_different_org_and_the_password_flow(
    sf_server: RunningEmulator, store: ConnectionStore, database: Database
) -> None:
    creds = sf_server.credentials
    legacy = _options(
        sf_server,
        "old",
        flow=AuthFlow.PASSWORD,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        username=creds.username,
        password=creds.password,
    )
    connect(store, legacy, open_browser=_browser(sf_server))[1].close()
    with pytest.raises(ConfigError, match="not password"):
        upgrade(
            store,
            "old",
            _options(sf_server, "old", flow=AuthFlow.PASSWORD, client_id=creds.client_id),
            open_browser=_browser(sf_server),
        )
    with database.session(write=True) as session:  # as if it had been made for another org
        session.execute(
            text("UPDATE connections SET org_id = :org WHERE name = 'old'"),
            {"org": "00D000000000001AAA"},
        )
    with pytest.raises(ConfigError, match="belongs to org 00D000000000001AAA"):
        upgrade(
            store,
            "old",
            _options(sf_server, "old", client_id=creds.client_id),
            open_browser=_browser(sf_server),
        )
    assert store.get("old").is_legacy


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"flow": AuthFlow.CLIENT_CREDENTIALS, "client_id": "x"}, "needs --client-secret"),
        ({"flow": AuthFlow.JWT_BEARER, "client_id": "x", "username": "u"}, "needs --private-key"),
        ({"flow": AuthFlow.PASSWORD, "client_id": "x", "client_secret": "s"}, "needs --username"),
        ({"flow": AuthFlow.CLIENT_CREDENTIALS}, "needs --client-id"),
    ],
)
def test_missing_inputs_name_the_option(
    sf_server: RunningEmulator, store: ConnectionStore, options: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        connect(store, _options(sf_server, "bad", **options), open_browser=_browser(sf_server))
    assert store.list() == []


def test_a_taken_name_is_refused_before_any_login(
    sf_server: RunningEmulator, store: ConnectionStore
) -> None:
    creds = sf_server.credentials
    options = _options(
        sf_server,
        "dup",
        flow=AuthFlow.CLIENT_CREDENTIALS,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
    )
    connect(store, options, open_browser=_browser(sf_server))[1].close()
    before = sf_server.org.faults.call_count(path_contains="/oauth2/token", counted_only=False)
    with pytest.raises(ConfigError, match="'dup' already exists"):
        connect(store, options, open_browser=_browser(sf_server))
    after = sf_server.org.faults.call_count(path_contains="/oauth2/token", counted_only=False)
    assert after == before
    with pytest.raises(ConfigError, match="Bad Name"):
        connect(
            store,
            _options(
                sf_server,
                "Bad Name",
                flow=AuthFlow.CLIENT_CREDENTIALS,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
            ),
            open_browser=_browser(sf_server),
        )
