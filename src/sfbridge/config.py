"""Settings of sfbridge, read from ``SFBRIDGE_*`` environment variables.

Declared once as a pydantic model; every field has a description, secrets are
``SecretStr`` so they never print.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings (environment variables with the ``SFBRIDGE_`` prefix)."""

    model_config = SettingsConfigDict(env_prefix="SFBRIDGE_", extra="ignore")

    home: Path = Field(
        default=Path(".sfbridge"),
        description="Folder for local state: the SQLite state database, key file, emulator data.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the state database; SQLite under `home` when unset.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts tokens at rest; a generated key file when unset.",
    )
    log_level: str = Field(default="WARNING", description="Python logging level name.")

    def emulator_dir(self, name: str) -> Path:
        """Where an emulator keeps its data by default (``home/emulators/name``)."""
        return self.home / "emulators" / name
