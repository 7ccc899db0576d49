"""What every state-using command needs: the settings, the open state database, error exits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from sfbridge.config import Settings
from sfbridge.errors import ConfigError, SfbridgeError
from sfbridge.store import ConnectionStore, Database

console = Console()
errors = Console(stderr=True)


@contextmanager
def connection_store() -> Iterator[ConnectionStore]:
    """The connection store of the configured state database, closed afterwards."""
    database = Database.open(Settings())
    try:
        yield ConnectionStore(database)
    finally:
        database.close()


@contextmanager
def failures_as_exit() -> Iterator[None]:
    """Turn sfbridge errors into one clear line and an exit code (2: fix input, 1: other)."""
    try:
        yield
    except ConfigError as error:
        errors.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    except SfbridgeError as error:
        errors.print(f"[red]error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def print_json(data: Any) -> None:
    """One JSON document on stdout (``--json`` output)."""
    typer.echo(json.dumps(data, default=str, indent=2))
