"""``sfbridge connections list|show|test|remove``: the stored connections."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sfbridge.connect.access_check import check_access
from sfbridge.connect.salesforce import open_client

from .state import connection_store, console, failures_as_exit, print_json

connections_app = typer.Typer(help="List, inspect, test and remove stored connections.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@connections_app.command("list")
def list_connections(as_json: JsonOption = False) -> None:
    """Every stored connection (no secrets)."""
    with failures_as_exit(), connection_store() as store:
        records = store.list()
    if as_json:
        print_json([r.public_dict() for r in records])
        return
    table = Table("name", "kind", "environment", "flow", "user", "instance", "last test")
    for r in records:
        tested = (
            "never"
            if r.last_tested_at is None
            else (f"{'ok' if r.last_test_ok else 'FAILED'} {r.last_tested_at:%Y-%m-%d %H:%M}")
        )
        flow = f"{r.auth_flow}{' (legacy: upgrade)' if r.is_legacy else ''}"
        table.add_row(
            r.name, r.kind, r.environment, flow, r.username or "", r.instance_url or "", tested
        )
    console.print(table if records else "no connections yet: run 'sfbridge connect salesforce'")


@connections_app.command("show")
def show(name: str, as_json: JsonOption = False) -> None:
    """One connection's settings (no secrets)."""
    with failures_as_exit(), connection_store() as store:
        record = store.get(name)
    data = record.public_dict()
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value}", highlight=False)
    if record.is_legacy:
        console.print(
            f"[yellow]This connection uses the legacy password flow. Move it to the "
            f"External Client App flow with: sfbridge connect salesforce upgrade {name}"
        )


@connections_app.command("test")
def test(name: str, as_json: JsonOption = False) -> None:
    """Log in with the stored credentials, read the API usage, and check field access."""
    with failures_as_exit(), connection_store() as store:
        record = store.get(name)
        ok = False
        try:
            with open_client(store, name) as client:
                tokens = client.connect()
                limits = client.limits()["DailyApiRequests"]
                report = check_access(client, record.username)
                ok = True
        finally:
            store.mark_tested(name, ok)
    result = {
        "name": name,
        "ok": ok,
        "instance_url": tokens.instance_url,
        "api_requests": {"max": limits.max, "remaining": limits.remaining},
        "access": report.as_dict(),
    }
    if as_json:
        print_json(result)
        return
    console.print(
        f"[green]ok[/]: {name} logged in to {tokens.instance_url}; "
        f"daily API requests: {limits.used:,} used of {limits.max:,}"
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@connections_app.command("remove")
def remove(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a connection and its stored secrets."""
    if not yes:
        typer.confirm(f"Remove connection {name!r} and its stored secrets?", abort=True)
    with failures_as_exit(), connection_store() as store:
        store.remove(name)
    console.print(f"removed {name}")
