"""``sfbridge schedule run``: start enabled syncs on their intervals (thin shell over Scheduler).

``--once`` starts the syncs due now, waits for them and exits; without it the
scheduler keeps going until Ctrl-C, then waits for running syncs to end.
Each sync runs as ``sfbridge sync run`` runs it, with the ``schedule`` trigger;
a run another process left silent for ``--stale-after`` (or
``SFBRIDGE_STALE_RUN_AFTER``) is taken over as dead, as ``sync run`` does.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from sfbridge.config import Settings
from sfbridge.runtime import Outcome, Scheduler
from sfbridge.store import ConnectionStore, Database, RunStatus, RunTrigger
from sfbridge.sync import RunSummary
from sfbridge.sync.service import PROJECT_FILE, load_project, run_named

from .state import console, failures_as_exit, print_json
from .sync import StaleAfterOption, sync_store

schedule_app = typer.Typer(help="Run enabled syncs on their intervals.")


@schedule_app.command("run")
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Start the syncs due now, wait for them, then exit.")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="How many syncs may run at once.")] = 4,
    stale_after: StaleAfterOption = None,
    project: Annotated[
        Path, typer.Option("--project", help="The project file that declares destinations.")
    ] = Path(PROJECT_FILE),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per finished run.")
    ] = False,
) -> None:
    """Run due syncs (each sync at most once at a time); exit 1 if a --once run failed."""
    settings = Settings()
    failed: list[str] = []

    def report(outcome: Outcome) -> None:
        if outcome.status == RunStatus.FAILED:
            failed.append(outcome.sync)
        if as_json:
            print_json({"sync": outcome.sync, "status": outcome.status, "error": outcome.error})
            return
        colour = {RunStatus.FAILED: "red", RunStatus.SUCCEEDED: "green"}.get(outcome.status)
        status = f"[{colour}]{outcome.status}[/]" if colour else str(outcome.status)
        reason = f": {outcome.error}" if outcome.error else ""
        console.print(f"{outcome.sync}: {status}{reason}", highlight=False)

    with failures_as_exit():
        known = load_project(project).destination_specs()
        database = Database.open(settings)
        try:
            connections = ConnectionStore(database)
            syncs = sync_store(database, settings, stale_after)

            def run_one(name: str, trigger: RunTrigger) -> RunSummary:
                return run_named(
                    name,
                    store=syncs,
                    connections=connections,
                    known=known,
                    home=settings.home,
                    trigger=trigger,
                )

            scheduler = Scheduler(
                syncs, run_one, clock=lambda: datetime.now(UTC), workers=workers, on_outcome=report
            )
            if once:
                scheduler.tick(datetime.now(UTC))
                scheduler.close()
            else:
                stop = threading.Event()
                try:
                    scheduler.serve(stop)
                except KeyboardInterrupt:
                    stop.set()
                    scheduler.close()
        finally:
            database.close()
    if once and failed:
        raise typer.Exit(1)
