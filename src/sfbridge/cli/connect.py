"""``sfbridge connect salesforce``: connect an org (and ``upgrade NAME`` a legacy connection)."""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.table import Table

from sfbridge.connect.access_check import AccessReport, check_access
from sfbridge.connect.salesforce import (
    DEFAULT_CALLBACK_PORT,
    ECA_INSTRUCTIONS,
    ConnectOptions,
    connect,
    upgrade,
)
from sfbridge.salesforce import DEFAULT_API_VERSION
from sfbridge.store import AuthFlow, ConnectionRecord, Environment

from .state import connection_store, console, errors, failures_as_exit, print_json

connect_app = typer.Typer(help="Connect sfbridge to the systems it bridges.")
salesforce_app = typer.Typer(
    help="Connect a Salesforce org (log in once; the connection is stored encrypted)."
)
connect_app.add_typer(salesforce_app, name="salesforce")

ClientId = Annotated[
    str | None,
    typer.Option(
        envvar="SFBRIDGE_SALESFORCE_CLIENT_ID", help="Consumer key of the External Client App."
    ),
]
ClientSecret = Annotated[
    str | None,
    typer.Option(
        envvar="SFBRIDGE_SALESFORCE_CLIENT_SECRET",
        show_default=False,
        help="Consumer secret (client credentials and password flows; optional with PKCE).",
    ),
]
NoBrowser = Annotated[
    bool, typer.Option("--no-browser", help="Print the login URL instead of opening a browser.")
]
CallbackPort = Annotated[
    int, typer.Option(help="Loopback port the browser returns to after the login.")
]
PrivateKey = Annotated[
    Path | None, typer.Option(help="PEM private key for the JWT bearer flow.", exists=True)
]
Username = Annotated[str | None, typer.Option(help="Salesforce username (JWT and password flows).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _browser(no_browser: bool, quiet: bool) -> Callable[[str], None]:
    def open_url(url: str) -> None:
        if no_browser or not webbrowser.open(url):
            target = errors if quiet else console
            target.print("Open this URL in a browser to log in:", highlight=False)
            target.print(url, highlight=False, soft_wrap=True)

    return open_url


def _report(record: ConnectionRecord, report: AccessReport, as_json: bool) -> None:
    if as_json:
        print_json({"connection": record.public_dict(), "access": report.as_dict()})
        return
    console.print(
        f"[green]connected[/] {record.name}: {record.username} on "
        f"{record.instance_url} (org {record.org_id}, {record.auth_flow})"
    )
    table = Table(
        "object",
        "readable fields",
        "writable fields",
        "create",
        "update",
        title="What this user can reach",
    )
    for item in report.objects:
        if not item.visible:
            table.add_row(item.name, "not visible", "", "", "")
            continue
        table.add_row(
            item.name,
            str(item.readable_fields),
            str(item.writable_fields),
            "yes" if item.createable else "no",
            "yes" if item.updateable else "no",
        )
    console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@salesforce_app.callback(invoke_without_command=True)
def connect_salesforce(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="A name for the connection, e.g. prod.")] = None,
    environment: Annotated[
        Environment | None,
        typer.Option(
            help="production (login.salesforce.com), sandbox (test.salesforce.com) "
            "or custom (give --login-url)."
        ),
    ] = None,
    login_url: Annotated[
        str | None, typer.Option(help="My Domain or other login URL; overrides the environment.")
    ] = None,
    flow: Annotated[AuthFlow, typer.Option(help="How to log in.")] = AuthFlow.WEB_SERVER_PKCE,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    username: Username = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="SFBRIDGE_SALESFORCE_PASSWORD",
            show_default=False,
            help="Password (legacy password flow only).",
        ),
    ] = None,
    private_key: PrivateKey = None,
    ca_bundle: Annotated[
        Path | None, typer.Option(exists=True, help="CA bundle to trust (e.g. the emulator's).")
    ] = None,
    api_version: Annotated[str, typer.Option(help="Salesforce API version.")] = DEFAULT_API_VERSION,
    budget_share: Annotated[
        float, typer.Option(help="Share of the org's daily API allowance sfbridge may use.")
    ] = 0.2,
    callback_port: CallbackPort = DEFAULT_CALLBACK_PORT,
    no_browser: NoBrowser = False,
    as_json: AsJson = False,
) -> None:
    """Connect an org: name it, choose production or sandbox, log in, check the user's access."""
    if ctx.invoked_subcommand is not None:
        return
    name = name or typer.prompt("Connection name")
    if environment is None:
        environment = (
            Environment.CUSTOM
            if login_url
            else Environment(
                typer.prompt(
                    "Environment",
                    default="production",
                    type=click.Choice([e.value for e in Environment]),
                )
            )
        )
    if flow == AuthFlow.WEB_SERVER_PKCE and not as_json:
        console.print(ECA_INSTRUCTIONS.format(port=callback_port), highlight=False)
    client_id = client_id or typer.prompt("Consumer key (client id) of the External Client App")
    if flow in {AuthFlow.CLIENT_CREDENTIALS, AuthFlow.PASSWORD} and not client_secret:
        client_secret = typer.prompt("Consumer secret", hide_input=True)
    if flow == AuthFlow.PASSWORD and not password:
        password = typer.prompt("Password (with the security token appended)", hide_input=True)
    options = ConnectOptions(
        name=name,
        environment=environment,
        login_url=login_url,
        flow=flow,
        client_id=client_id,
        client_secret=client_secret,
        username=username,
        password=password,
        private_key_file=private_key,
        ca_bundle=ca_bundle,
        api_version=api_version,
        budget_share=budget_share,
        callback_port=callback_port,
    )
    with failures_as_exit(), connection_store() as store:
        record, client = connect(store, options, open_browser=_browser(no_browser, as_json))
        with client:
            report = check_access(client, record.username)
    _report(record, report, as_json)
    if record.is_legacy and not as_json:
        console.print(
            "[yellow]The password flow is legacy and Salesforce is retiring it. "
            f"Upgrade later with: sfbridge connect salesforce upgrade {record.name}"
        )


@salesforce_app.command("upgrade")
def upgrade_salesforce(
    name: Annotated[str, typer.Argument(help="The connection to re-authorise.")],
    flow: Annotated[
        AuthFlow, typer.Option(help="web_server_pkce (default) or jwt_bearer.")
    ] = AuthFlow.WEB_SERVER_PKCE,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    username: Username = None,
    private_key: PrivateKey = None,
    callback_port: CallbackPort = DEFAULT_CALLBACK_PORT,
    no_browser: NoBrowser = False,
    as_json: AsJson = False,
) -> None:
    """Move a legacy connection to the External Client App flow, keeping its syncs and cursors."""
    if flow == AuthFlow.WEB_SERVER_PKCE and not as_json:
        console.print(ECA_INSTRUCTIONS.format(port=callback_port), highlight=False)
    client_id = client_id or typer.prompt("Consumer key (client id) of the External Client App")
    options = ConnectOptions(
        name=name,
        flow=flow,
        client_id=client_id,
        client_secret=client_secret,
        username=username,
        private_key_file=private_key,
        callback_port=callback_port,
    )
    with failures_as_exit(), connection_store() as store:
        record, client = upgrade(store, name, options, open_browser=_browser(no_browser, as_json))
        with client:
            report = check_access(client, record.username)
    _report(record, report, as_json)
