"""``sfbridge emulate salesforce``: run the built-in Salesforce org emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sfbridge.config import Settings
from sfbridge.emulators.salesforce.seed import parse_size
from sfbridge.emulators.salesforce.server import prepare, serve_forever

emulate_app = typer.Typer(help="Run built-in emulators of the systems sfbridge talks to.")


def _size(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_size(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return value


@emulate_app.command("salesforce")
def salesforce(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8443,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder that keeps the org between restarts "
            "[default: .sfbridge/emulators/salesforce]."
        ),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option(
            help="Seed an empty org: tiny, small, medium, large or a number of contacts.",
            callback=_size,
        ),
    ] = None,
    seed_value: Annotated[
        int, typer.Option("--seed-value", help="Random seed of the generated data.")
    ] = 1,
    schema: Annotated[
        Path | None, typer.Option(help="YAML/JSON file declaring custom objects and fields.")
    ] = None,
    tls: Annotated[
        bool, typer.Option("--tls/--no-tls", help="Serve HTTPS with a local CA.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the banner as one JSON line.")
    ] = False,
) -> None:
    """Serve an emulated Salesforce org until Ctrl-C.

    Unmodified clients connect with the printed instance URL and credentials;
    trust the CA with REQUESTS_CA_BUNDLE / SSL_CERT_FILE. Clients that
    hard-code login.salesforce.com reach it through HTTPS_PROXY=<https_proxy>.
    """
    if schema is not None and not schema.is_file():
        raise typer.BadParameter(f"schema file {schema} does not exist", param_hint="--schema")
    folder = data_dir or Settings().emulator_dir("salesforce")
    try:
        running, sock = prepare(
            folder, port=port, tls=tls, seed=seed, seed_value=seed_value, schema_file=schema
        )
    except OSError as error:
        typer.echo(
            f"error: cannot listen on 127.0.0.1:{port} ({error.strerror}); "
            "choose another --port or stop the process using it",
            err=True,
        )
        raise typer.Exit(2) from None
    facts = running.banner()
    if as_json:
        typer.echo(json.dumps(facts))
    else:
        for key, value in facts.items():
            typer.echo(f"{key}: {value}")
    serve_forever(running, sock)
