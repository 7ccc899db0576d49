"""``sfbridge sync ...`` and ``sfbridge apply``: a thin shell over ``sfbridge.sync.service``.

A sync is added **disabled**: ``add`` checks it against the org, says how
many records the first run reads and saves it; ``preview`` shows what they
become; ``resume`` enables it. ``run`` runs it once now, paused or not.
``apply`` makes the saved syncs what ``sfbridge.yaml`` declares (``--prune``
also removes the ones it no longer declares).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic_core import to_jsonable_python
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sfbridge.config import Settings, parse_stale_run_after
from sfbridge.connect.salesforce import open_client
from sfbridge.salesforce.client import SalesforceClient
from sfbridge.store import ConnectionStore, Database, RunStatus, SyncStore
from sfbridge.sync import RunSummary
from sfbridge.sync.plan import BULK_PAGE_ROWS, BULK_THRESHOLD, REST_PAGE_ROWS
from sfbridge.sync.service import (
    PROJECT_FILE,
    Applied,
    ProgressHook,
    RunOptions,
    add_sync,
    apply_project,
    build_spec,
    failure_reasons,
    load_project,
    preview_sync,
    replay_named,
    resume_sync,
    run_named,
)

from .state import console, errors, failures_as_exit, print_json

sync_app = typer.Typer(help="Add, preview, run and manage data-in syncs.")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ProjectOption = Annotated[
    Path,
    typer.Option("--project", help="The project file that declares destinations."),
]
SyncName = Annotated[str, typer.Argument(help="The sync's name.")]


def _stale_after(text: str) -> timedelta:
    try:
        return parse_stale_run_after(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


StaleAfterOption = Annotated[
    timedelta | None,
    typer.Option(
        "--stale-after",
        parser=_stale_after,
        metavar="DURATION",
        help="Count a run that made no checkpoint for this long as dead and take it over, "
        "e.g. 30s or 15m (default: SFBRIDGE_STALE_RUN_AFTER, else 10m).",
    ),
]


def sync_store(database: Database, settings: Settings, stale_after: timedelta | None) -> SyncStore:
    """The sync store; a run silent for ``stale_after`` (else the setting) counts as dead."""
    return SyncStore(database, heartbeat_timeout=stale_after or settings.stale_run_after)


@contextlib.contextmanager
def _stores(
    stale_after: timedelta | None = None,
) -> Iterator[tuple[ConnectionStore, SyncStore]]:
    """The connection and sync stores of the state database, closed afterwards."""
    settings = Settings()
    database = Database.open(settings)
    try:
        yield ConnectionStore(database), sync_store(database, settings, stale_after)
    finally:
        database.close()


def _warn(warnings: tuple[str, ...] | list[str]) -> None:
    for warning in warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False)


@sync_app.command("add")
def add(
    name: SyncName,
    connection: Annotated[str, typer.Option(help="The Salesforce connection to read from.")],
    template: Annotated[
        str | None,
        typer.Option(help="contacts, leads, accounts or a preset (opportunities, tasks, ...)."),
    ] = None,
    object_name: Annotated[
        str | None, typer.Option("--object", help="The Salesforce object, without --template.")
    ] = None,
    format_type: Annotated[
        str | None,
        typer.Option("--format", help="person, object, relationship or event (with --object)."),
    ] = None,
    format_option: Annotated[
        list[str] | None,
        typer.Option(help="A format setting KEY=VALUE, e.g. email_field=Email (repeatable)."),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            help="Source[:target], e.g. FirstName:first_name (repeatable; replaces the "
            "template's fields).",
        ),
    ] = None,
    filter_text: Annotated[
        str | None, typer.Option("--filter", help='SOQL criteria, e.g. "Email != null".')
    ] = None,
    interval: Annotated[str | None, typer.Option(help="1h, 6h, 24h or e.g. 30m.")] = None,
    destination: Annotated[
        list[str] | None, typer.Option(help="A destination name (repeatable); warehouse if none.")
    ] = None,
    delete_policy: Annotated[
        str | None, typer.Option(help="ignore, delete, suppress (people) or mark.")
    ] = None,
    formula_refresh: Annotated[
        str | None,
        typer.Option(
            help="Re-read formula and lookup fields this often, e.g. 24h (at least the interval)."
        ),
    ] = None,
    project: ProjectOption = Path(PROJECT_FILE),
    as_json: AsJson = False,
) -> None:
    """Check a sync against the org, count what its first run reads, and save it paused."""
    with failures_as_exit(), _stores() as (connections, syncs):
        spec = build_spec(
            name,
            connection=connection,
            template_name=template,
            object_name=object_name,
            format_type=format_type,
            format_options=format_option or (),
            fields=field or (),
            filter_text=filter_text,
            interval=interval,
            destinations=destination or ("warehouse",),
            delete_policy=delete_policy,
            formula_refresh=formula_refresh,
        )
        known = load_project(project).destination_specs()
        with open_client(connections, connection) as client:
            added = add_sync(syncs, client, spec, known)
    if as_json:
        print_json(
            {
                "sync": added.record.public_dict(),
                "count": added.count,
                "warnings": list(added.warnings),
            }
        )
        return
    _warn(added.warnings)
    console.print(
        f"[green]added[/] {name} (paused): the first run will bring {added.count:,} "
        f"{spec.object} records. Preview with: sfbridge sync preview {name}; "
        f"enable with: sfbridge sync resume {name}",
        highlight=False,
    )


@sync_app.command("preview")
def preview(
    name: SyncName,
    limit: Annotated[int, typer.Option(help="How many sample records.")] = 5,
    as_json: AsJson = False,
) -> None:
    """Sample records exactly as they will be delivered, the fields read and the total count."""
    with failures_as_exit(), _stores() as (connections, syncs):
        spec = syncs.get(name).spec
        with open_client(connections, spec.connection) as client:
            result = preview_sync(spec, client, limit)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(f"fields read: {', '.join(result.fields)}", highlight=False)
    console.print(f"records matching now: {result.total:,}", highlight=False)
    for message in result.messages:
        console.print_json(message.to_json())
    _warn([f"not deliverable: {reason}" for reason in result.failures])


@sync_app.command("list")
def list_syncs(as_json: AsJson = False) -> None:
    """Every sync, with its last run."""
    with failures_as_exit(), _stores() as (_, syncs):
        rows = [(record, syncs.runs(record.name, limit=1)) for record in syncs.list()]
    if as_json:
        print_json(
            [
                {
                    **record.spec.model_dump(mode="json"),
                    "last_run": runs[0].public_dict() if runs else None,
                }
                for record, runs in rows
            ]
        )
        return
    if not rows:
        console.print("no syncs yet: run 'sfbridge sync add'")
        return
    table = Table("name", "connection", "object", "format", "enabled", "destinations", "last run")
    for record, runs in rows:
        spec = record.spec
        last = f"{runs[0].status} {runs[0].started_at:%Y-%m-%d %H:%M}" if runs else "never"
        table.add_row(
            spec.name,
            spec.connection,
            spec.object,
            spec.format.type,
            "yes" if spec.enabled else "paused",
            ", ".join(spec.destinations),
            last,
        )
    console.print(table)


@sync_app.command("show")
def show(name: SyncName, as_json: AsJson = False) -> None:
    """A sync's spec, cursor and last runs."""
    with failures_as_exit(), _stores() as (_, syncs):
        record = syncs.get(name)
        cursor = syncs.cursor(name)
        runs = syncs.runs(name, limit=5)
    data: dict[str, Any] = {
        "spec": record.spec.model_dump(mode="json"),
        "spec_version": record.spec_version,
        "cursor": None if cursor is None else cursor.cursor,
        "formula_refreshed_at": None if cursor is None else cursor.formula_refreshed_at,
        "runs": [run.public_dict() for run in runs],
    }
    if as_json:
        print_json(data)
        return
    console.print(yaml.safe_dump(data["spec"], sort_keys=False), highlight=False)
    console.print(f"spec version: {record.spec_version}", highlight=False)
    console.print(f"cursor: {data['cursor'] or 'none (the first run reads everything)'}")
    if record.spec.formula_refresh is not None:
        refreshed = data["formula_refreshed_at"] or "never (the next run refreshes)"
        console.print(f"formula fields refreshed: {refreshed}")
    if runs:
        console.print(_runs_table(runs))


def _runs_table(runs: list[Any]) -> Table:
    # The refreshed column only for syncs that refresh formula fields: narrow terminals.
    refreshing = any(run.counts.refreshed for run in runs)
    headers = ["run", "status", "trigger", "started", "read", "delivered"]
    table = Table(*headers, *(["refreshed"] if refreshing else []), "failed", "API")
    for run in runs:
        counts = run.counts
        table.add_row(
            str(run.id),
            str(run.status),
            str(run.trigger),
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            str(counts.records_read),
            str(counts.delivered),
            *([str(counts.refreshed)] if refreshing else []),
            str(counts.failed),
            str(counts.api_calls),
        )
    return table


@sync_app.command("runs")
def runs(
    name: SyncName,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    as_json: AsJson = False,
) -> None:
    """A sync's newest runs."""
    with failures_as_exit(), _stores() as (_, syncs):
        records = syncs.runs(name, limit=limit)
    if as_json:
        print_json([run.public_dict() for run in records])
        return
    console.print(_runs_table(records) if records else f"{name} has not run yet")


@sync_app.command("pause")
def pause(name: SyncName, as_json: AsJson = False) -> None:
    """Stop scheduled runs; settings and cursor are kept."""
    with failures_as_exit(), _stores() as (_, syncs):
        record = syncs.set_enabled(name, False)
    _print_enabled(record.name, record.spec.enabled, as_json)


@sync_app.command("resume")
def resume(name: SyncName, as_json: AsJson = False) -> None:
    """Enable a sync: it runs on its interval from its cursor."""
    with failures_as_exit(), _stores() as (_, syncs):
        record = resume_sync(syncs, name)
    _print_enabled(record.name, record.spec.enabled, as_json)


def _print_enabled(name: str, enabled: bool, as_json: bool) -> None:
    if as_json:
        print_json({"name": name, "enabled": enabled})
    else:
        console.print(f"{name} {'enabled' if enabled else 'paused'}")


@sync_app.command("remove")
def remove(
    name: SyncName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
) -> None:
    """Delete a sync with its cursor, runs and failed records."""
    if not yes:
        typer.confirm(f"Remove sync {name!r} with its cursor and history?", abort=True)
    with failures_as_exit(), _stores() as (_, syncs):
        syncs.remove(name)
    if as_json:
        print_json({"name": name, "removed": True})
    else:
        console.print(f"removed {name}")


@sync_app.command("run")
def run(
    name: SyncName,
    resync: Annotated[
        bool, typer.Option("--resync", help="Read every record again, ignoring the cursor.")
    ] = False,
    page_size: Annotated[
        int,
        typer.Option(
            help="Records per REST query page, 1 to 2000: one API call and one checkpoint each."
        ),
    ] = REST_PAGE_ROWS,
    bulk_page_size: Annotated[
        int,
        typer.Option(
            help="Records per Bulk API 2.0 results page: one API call and one checkpoint each; "
            "fewer use less memory."
        ),
    ] = BULK_PAGE_ROWS,
    bulk_threshold: Annotated[
        int,
        typer.Option(
            help="Read with Bulk API 2.0 when the window holds more records than this "
            "(0: always Bulk); REST otherwise."
        ),
    ] = BULK_THRESHOLD,
    stale_after: StaleAfterOption = None,
    project: ProjectOption = Path(PROJECT_FILE),
    as_json: AsJson = False,
) -> None:
    """Run a sync once now; exit 1 if the run failed."""
    settings = Settings()
    with failures_as_exit(), _stores(stale_after) as (connections, syncs):
        options = RunOptions(page_size, bulk_page_size, bulk_threshold)
        known = load_project(project).destination_specs()

        def run_it(progress: ProgressHook | None) -> RunSummary:
            return run_named(
                name,
                store=syncs,
                connections=connections,
                known=known,
                home=settings.home,
                resync=resync,
                options=options,
                progress=progress,
            )

        summary = run_it(None) if as_json else _with_progress(name, run_it)
        reasons = failure_reasons(syncs, name) if summary.status == RunStatus.PARTIAL else {}
    _print_summary(summary, reasons, as_json)
    if summary.status == RunStatus.FAILED:
        raise typer.Exit(1)


def _with_progress(name: str, run_it: Callable[[ProgressHook], RunSummary]) -> RunSummary:
    """Run with a live line: records delivered, records/s and API calls so far."""
    started = time.monotonic()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[rate]:,.0f} records/s"),
        TextColumn("{task.fields[calls]} API calls"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(f"{name}: 0 records", total=None, rate=0.0, calls=0)

        def show(delivered: int, api_calls: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                description=f"{name}: {delivered:,} records",
                rate=delivered / elapsed,
                calls=api_calls,
            )

        return run_it(show)


def _print_summary(summary: RunSummary, reasons: dict[str, int], as_json: bool) -> None:
    counts = summary.counts
    if as_json:
        print_json(
            {
                "sync": summary.sync,
                "status": summary.status,
                "run_id": summary.run_id,
                "api": summary.api,
                # The same ISO form as the runs' times in `sync runs --json`.
                "window": to_jsonable_python(
                    {"start": summary.window.start, "end": summary.window.end}
                ),
                "counts": counts.public_dict(),
                "resumed": summary.resumed,
                "error": summary.error,
                "failure_reasons": reasons,
            }
        )
        return
    refreshing = bool(counts.refreshed) or summary.refresh_api is not None
    headers = ["status", "read", "delivered", "deleted", *(["refreshed"] if refreshing else [])]
    table = Table(*headers, "failed", "API calls", "read with")
    table.add_row(
        str(summary.status),
        f"{counts.records_read:,}",
        f"{counts.delivered:,}",
        f"{counts.deleted:,}",
        *([f"{counts.refreshed:,}"] if refreshing else []),
        f"{counts.failed:,}",
        f"{counts.api_calls:,}",
        str(summary.api or "-"),
    )
    console.print(table)
    if summary.error:
        errors.print(f"[red]error:[/] {summary.error}", highlight=False)
    if reasons:
        console.print(f"{counts.failed:,} records failed and were kept for replay:")
        for reason, count in reasons.items():
            console.print(f"  {count:,} x {reason}", highlight=False)
        console.print(f"list them with: sfbridge sync failures {summary.sync}")


@sync_app.command("failures")
def failures(name: SyncName, as_json: AsJson = False) -> None:
    """The failed records a sync kept for replay, oldest first."""
    with failures_as_exit(), _stores() as (_, syncs):
        records = syncs.failures(name)
    if as_json:
        print_json([record.public_dict() for record in records])
        return
    if not records:
        console.print(f"{name} has no failed records")
        return
    table = Table("run", "record", "destination", "retriable", "reason")
    for record in records:
        table.add_row(
            str(record.run_id),
            record.record_id or "",
            record.destination or "",
            "yes" if record.retriable else "no",
            record.reason,
        )
    console.print(table)


@sync_app.command("replay")
def replay(
    name: SyncName,
    record: Annotated[
        list[str] | None,
        typer.Option(help="Replay only this record id (repeatable); all kept records if none."),
    ] = None,
    project: ProjectOption = Path(PROJECT_FILE),
    as_json: AsJson = False,
) -> None:
    """Read the kept failed records again from Salesforce and deliver them; exit 1 if any fail."""
    settings = Settings()
    with failures_as_exit(), _stores() as (connections, syncs):
        summary = replay_named(
            name,
            store=syncs,
            connections=connections,
            known=load_project(project).destination_specs(),
            home=settings.home,
            record_ids=record or (),
        )
    if as_json:
        print_json(to_jsonable_python(summary))
    else:
        console.print(
            f"{name}: {summary.replayed:,} replayed, {summary.skipped:,} no longer sent "
            f"(deleted or out of the filter), {len(summary.still_failing):,} still failing; "
            f"{summary.api_calls:,} API calls",
            highlight=False,
        )
        for record_id, reason in summary.still_failing.items():
            console.print(f"  {record_id}: {reason}", highlight=False)
    if summary.still_failing:
        raise typer.Exit(1)


def apply(
    file: Annotated[
        Path, typer.Argument(help="The project file declaring syncs and destinations.")
    ] = Path(PROJECT_FILE),
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Remove saved syncs the file does not declare, with their cursor, runs "
            "and failed records.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Create or update the syncs a project file declares (all checked before any is saved).

    Saved syncs the file does not declare are reported as "not declared" and
    kept, or removed with --prune.
    """
    with failures_as_exit(), _stores() as (connections, syncs):
        project = load_project(file, required=True)
        with contextlib.ExitStack() as stack:
            clients: dict[str, SalesforceClient] = {}

            def client_for(connection: str) -> SalesforceClient:
                if connection not in clients:
                    clients[connection] = stack.enter_context(open_client(connections, connection))
                return clients[connection]

            outcomes = apply_project(project, syncs, client_for, prune=prune)
    if as_json:
        print_json([{"name": name, "result": str(result)} for name, result in outcomes])
        return
    for name, result in outcomes:
        console.print(f"{result}: {name}", highlight=False)
    if not project.syncs:
        console.print(f"{file} declares no syncs", highlight=False)
    if any(result == Applied.NOT_DECLARED for _, result in outcomes):
        console.print(f"syncs not declared in {file} are kept; --prune removes them")
