"""``sfbridge schedule run --once`` against the emulator, to the built-in warehouse."""

from __future__ import annotations

import json
from pathlib import Path

from sfbridge.emulators.salesforce.server import RunningEmulator

from .test_sync import home, org, run, run_json

__all__ = ["home", "org"]


def test_once_runs_enabled_syncs_on_schedule_and_skips_paused(
    org: RunningEmulator, home: Path
) -> None:
    run_json("sync", "add", "contacts", "--connection", "emu", "--template", "contacts")
    run_json("sync", "add", "leads", "--connection", "emu", "--template", "leads")
    run_json("sync", "resume", "contacts")

    code, output = run("schedule", "run", "--once", "--json")
    assert code == 0, output
    assert json.loads(output) == {"sync": "contacts", "status": "succeeded", "error": None}
    runs = run_json("sync", "runs", "contacts")
    assert [r["trigger"] for r in runs] == ["schedule"]

    # Not due again until its interval has passed.
    code, output = run("schedule", "run", "--once", "--json")
    assert code == 0, output
    assert output == ""
