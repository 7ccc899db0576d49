"""Settings of sfbridge, read from ``SFBRIDGE_*`` environment variables.

Declared once as a pydantic model; every field has a description, secrets are
``SecretStr`` so they never print.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sfbridge.errors import ConfigError

MIN_STALE_RUN_AFTER = timedelta(seconds=1)
"""The shortest silence after which a running sync may be taken over as dead."""


def parse_stale_run_after(value: object) -> timedelta:
    """``"30s"``, ``"15m"``, ``"1h"`` (a sync interval's notation) as a timedelta of 1s or more."""
    # sfbridge.sync imports the store, which imports this module: import on use.
    from sfbridge.sync.spec import Duration

    try:
        duration: timedelta | None = TypeAdapter(Duration).validate_python(value)
    except ValidationError:
        duration = None
    if duration is None or duration < MIN_STALE_RUN_AFTER:
        raise ValueError(
            f"{value!r} is not a duration of at least 1s; write for example 30s, 15m or 1h"
        )
    return duration


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
    # A run proves it is alive with each checkpoint; the default is the
    # store's (store.syncs.DEFAULT_HEARTBEAT_TIMEOUT, a test checks they agree).
    stale_run_after: Annotated[timedelta, BeforeValidator(parse_stale_run_after)] = Field(
        default=timedelta(minutes=10),
        description="How long a running sync may go without a checkpoint before another run "
        "counts its process as dead and takes over, e.g. 30s or 15m. Keep it longer than the "
        "slowest page: a Bulk job's processing, one page's delivery.",
    )

    def __init__(self, **values: Any) -> None:
        """Read the environment; a bad value is a ``ConfigError`` naming its variable."""
        try:
            super().__init__(**values)
        except ValidationError as error:
            problems = "; ".join(
                f"SFBRIDGE_{'_'.join(str(part) for part in problem['loc']).upper()} "
                f"{problem['msg'].removeprefix('Value error, ')}"
                for problem in error.errors(include_url=False)
            )
            raise ConfigError(f"bad setting: {problems}") from None

    def emulator_dir(self, name: str) -> Path:
        """Where an emulator keeps its data by default (``home/emulators/name``)."""
        return self.home / "emulators" / name
