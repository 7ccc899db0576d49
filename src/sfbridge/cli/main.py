"""``sfbridge``: the root Typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

from sfbridge import __version__

from .connect import connect_app
from .connections import connections_app
from .emulate import emulate_app

app = typer.Typer(
    name="sfbridge",
    help="Bridge Salesforce and Customer.io: syncs, actions and workspace migration.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(emulate_app, name="emulate")
app.add_typer(connect_app, name="connect")
app.add_typer(connections_app, name="connections")


@app.command()
def version() -> None:
    """Print the sfbridge version."""
    typer.echo(__version__)
