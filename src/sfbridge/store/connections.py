"""Connections: the accounts sfbridge reaches, stored with their secrets encrypted.

A ``ConnectionRecord`` is everything about a connection except its secrets, so
it can be printed, logged and returned by ``--json``. The secrets (access and
refresh tokens, client secret, password, private key) live in one encrypted
blob per connection and come out only through ``ConnectionStore.secrets``.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from sfbridge.errors import ConfigError
from sfbridge.secrets import SecretBox, SecretValues
from sfbridge.store.database import Database
from sfbridge.store.models import ConnectionRow

# Names are typed on command lines and appear in URLs and file names. The
# first character cannot be "-" so a name is never mistaken for an option.
_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

# Columns the store sets itself; whatever a caller puts there is ignored.
_STORE_OWNED: set[str] = {"id", "created_at", "updated_at"}


class ConnectionKind(StrEnum):
    """What a connection reaches."""

    SALESFORCE = "salesforce"


class Environment(StrEnum):
    """Which Salesforce login host a connection uses."""

    PRODUCTION = "production"
    SANDBOX = "sandbox"
    CUSTOM = "custom"


class AuthFlow(StrEnum):
    """The OAuth flow that obtains a connection's access tokens."""

    WEB_SERVER_PKCE = "web_server_pkce"
    JWT_BEARER = "jwt_bearer"
    CLIENT_CREDENTIALS = "client_credentials"
    REFRESH_TOKEN = "refresh_token"
    PASSWORD = "password"


def validate_connection_name(name: str) -> str:
    """Return ``name`` if it is a valid connection name; otherwise a ConfigError naming it."""
    if not _NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"connection name {name!r} is not valid: use 1-63 lowercase letters, digits, "
            f"'-' or '_', starting with a letter or digit (for example 'acme-prod')"
        )
    return name


class ConnectionRecord(BaseModel):
    """A stored connection without its secrets: safe to print, log and return as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int | None = Field(
        default=None,
        description="Row id set by the store; syncs, cursors and actions refer to it.",
    )
    name: str = Field(description="Unique name: 1-63 lowercase letters, digits, '-' or '_'.")
    kind: ConnectionKind = Field(
        default=ConnectionKind.SALESFORCE, description="What the connection reaches."
    )
    environment: Environment = Field(description="Production, sandbox or a custom login host.")
    login_url: str = Field(description="OAuth login host, e.g. https://login.salesforce.com.")
    instance_url: str | None = Field(
        default=None, description="The org's API host, learnt at login."
    )
    auth_flow: AuthFlow = Field(description="The OAuth flow that obtains access tokens.")
    is_legacy: bool = Field(
        default=False,
        description="Created with the legacy password / Connected App flow; see upgrade_auth.",
    )
    client_id: str | None = Field(default=None, description="OAuth client id (consumer key).")
    username: str | None = Field(
        default=None, description="Salesforce username, if the flow has one."
    )
    org_id: str | None = Field(default=None, description="18-character Organization id.")
    user_id: str | None = Field(default=None, description="18-character id of the connected user.")
    api_version: str | None = Field(default=None, description="Salesforce API version, e.g. 62.0.")
    ca_bundle: str | None = Field(
        default=None,
        description="PEM file of CAs to trust for this org (a local emulator or a TLS proxy); "
        "the system's CAs when unset.",
    )
    budget_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Share of the org's daily API request budget sfbridge may spend.",
    )
    created_at: datetime | None = Field(default=None, description="When it was added (UTC).")
    updated_at: datetime | None = Field(
        default=None, description="When its settings or secrets last changed (UTC)."
    )
    last_tested_at: datetime | None = Field(
        default=None, description="When a login was last tried (UTC)."
    )
    last_test_ok: bool | None = Field(default=None, description="Whether that login worked.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        # A ConfigError (not a ValueError) passes through pydantic unchanged, so
        # a bad name reads the same here as anywhere else.
        return validate_connection_name(name)

    def public_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values, for ``--json`` output and the API."""
        return self.model_dump(mode="json")


class ConnectionStore:
    """Adds, reads, updates and removes connections in the state database."""

    def __init__(self, database: Database, secret_box: SecretBox | None = None) -> None:
        """Store connections in ``database``; secrets use the box its settings configure."""
        self._database = database
        self._box = (
            secret_box if secret_box is not None else SecretBox.from_settings(database.settings)
        )

    def add(self, record: ConnectionRecord, secrets: Mapping[str, str]) -> ConnectionRecord:
        """Store a new connection and its secrets; return it with its id and timestamps."""
        now = _now()
        row = ConnectionRow(
            **record.model_dump(exclude=_STORE_OWNED),
            secrets_encrypted=self._box.encrypt_values(secrets),
            created_at=now,
            updated_at=now,
        )
        taken = (
            f"a connection named {record.name!r} already exists; "
            "choose another name or remove that one first"
        )
        return _to_record(self._database.insert_unique(row, taken=taken))

    def get(self, name: str) -> ConnectionRecord:
        """The connection called ``name``; a ConfigError listing the known names if none."""
        with self._database.session() as session:
            return _to_record(_find(session, name))

    def list(self) -> builtins.list[ConnectionRecord]:
        """Every connection, by name."""
        with self._database.session() as session:
            rows = session.scalars(select(ConnectionRow).order_by(ConnectionRow.name))
            return [_to_record(row) for row in rows]

    def secrets(self, name: str) -> SecretValues:
        """The decrypted secrets of ``name`` (a dict that never prints its values)."""
        with self._database.session() as session:
            row = _find(session, name)
            return self._box.decrypt_values(row.secrets_encrypted, what=_secrets_of(name))

    def update_tokens(self, name: str, /, **secrets: str) -> None:
        """Merge ``secrets`` into the stored ones, e.g. when a refresh token rotates."""
        with self._database.session(write=True) as session:
            # Locked for the read-modify-write (the write session on SQLite, the
            # row on PostgreSQL), so two workers refreshing at once cannot drop
            # each other's rotated token.
            row = _find(session, name, for_update=True)
            stored = self._box.decrypt_values(row.secrets_encrypted, what=_secrets_of(name))
            row.secrets_encrypted = self._box.encrypt_values({**stored, **secrets})
            row.updated_at = _now()

    def mark_tested(self, name: str, ok: bool) -> ConnectionRecord:
        """Record the outcome of a login test now; ``updated_at`` is left alone."""
        with self._database.session(write=True) as session:
            row = _find(session, name, for_update=True)
            row.last_tested_at = _now()
            row.last_test_ok = ok
            return _to_record(row)

    def upgrade_auth(
        self,
        name: str,
        new_flow: AuthFlow,
        secrets: Mapping[str, str],
        *,
        client_id: str | None = None,
        username: str | None = None,
    ) -> ConnectionRecord:
        """Move a connection to ``new_flow`` with new secrets, keeping its id and name.

        Syncs, cursors and actions refer to the connection by id or name, so they
        keep working. The old secrets are replaced, not merged: a password must
        not outlive the flow that needed it. ``client_id`` and ``username``
        change only when given (an External Client App has its own client id).
        The connection counts as untested until it is tested again.
        """
        if new_flow is AuthFlow.PASSWORD:
            raise ConfigError(
                f"cannot upgrade connection {name!r} to the password flow: it is the legacy "
                f"flow being replaced; choose {', '.join(_modern_flows())}"
            )
        with self._database.session(write=True) as session:
            row = _find(session, name, for_update=True)
            row.auth_flow = new_flow
            row.is_legacy = False
            row.secrets_encrypted = self._box.encrypt_values(secrets)
            if client_id is not None:
                row.client_id = client_id
            if username is not None:
                row.username = username
            row.last_tested_at = None
            row.last_test_ok = None
            row.updated_at = _now()
            return _to_record(row)

    def remove(self, name: str) -> None:
        """Delete the connection called ``name`` and its secrets."""
        with self._database.session(write=True) as session:
            session.delete(_find(session, name))


def _find(session: Session, name: str, *, for_update: bool = False) -> ConnectionRow:
    """The row called ``name``, or a ConfigError that lists the names that exist."""
    query = select(ConnectionRow).where(ConnectionRow.name == name)
    if for_update:
        # SQLite ignores FOR UPDATE; a write session holds its file lock instead.
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is not None:
        return row
    known = session.scalars(select(ConnectionRow.name).order_by(ConnectionRow.name)).all()
    if known:
        raise ConfigError(f"no connection named {name!r}; known connections: {', '.join(known)}")
    raise ConfigError(f"no connection named {name!r}; no connection has been added yet")


def _to_record(row: ConnectionRow) -> ConnectionRecord:
    return ConnectionRecord.model_validate(row, from_attributes=True)


def _secrets_of(name: str) -> str:
    return f"the secrets of connection {name!r}"


def _modern_flows() -> list[str]:
    return [flow.value for flow in AuthFlow if flow is not AuthFlow.PASSWORD]


def _now() -> datetime:
    return datetime.now(UTC)
