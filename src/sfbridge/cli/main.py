"""``sfbridge``: the root Typer app; each command group lives in its own module."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from sfbridge import __version__
from sfbridge.config import Settings
from sfbridge.secrets import install_secret_log_filter

from .connect import connect_app
from .connections import connections_app
from .emulate import emulate_app
from .scheduler import schedule_app
from .state import failures_as_exit
from .sync import apply, sync_app

app = typer.Typer(
    name="sfbridge",
    help="Bridge Salesforce and Customer.io: syncs, actions and workspace migration.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(emulate_app, name="emulate")
app.add_typer(connect_app, name="connect")
app.add_typer(connections_app, name="connections")
app.add_typer(sync_app, name="sync")
app.add_typer(schedule_app, name="schedule")
app.command("apply")(apply)


@app.callback()
def main(
    log_level: Annotated[
        str | None,
        typer.Option(help="Log to stderr at this level (DEBUG, INFO, ...); SFBRIDGE_LOG_LEVEL."),
    ] = None,
) -> None:
    """Bridge Salesforce and Customer.io: syncs, actions and workspace migration."""
    with failures_as_exit():
        level = (log_level or Settings().log_level).upper()
    if level not in logging.getLevelNamesMapping():
        raise typer.BadParameter(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Every secret sfbridge decrypts is masked in any record that reaches a handler.
    install_secret_log_filter()


@app.command()
def version() -> None:
    """Print the sfbridge version."""
    typer.echo(__version__)
