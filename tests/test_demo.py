"""``make demo`` runs the tour end to end and tells the user what each step did."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_tour_runs_and_reports_each_step() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sfbridge.demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "-> 201" in out and "-> 200" in out
    assert "queryAll found 1 deleted contact(s); the same query on /query finds 0." in out
    assert "500 created, 1 refused (REQUIRED_FIELD_MISSING on row 500)" in out
    assert "API calls used:" in out
    assert "What moved, and what it cost" in out
    assert "changing the org: 3 contacts updated, 2 created, 1 deleted" in out
    assert "warehouse people after the second runs:" in out
