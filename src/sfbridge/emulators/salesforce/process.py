"""Run ``sfbridge emulate salesforce`` as a child process, as a user or a tool would.

Benchmarks use it to keep the emulator's memory and CPU out of the measured
process; tests use it to check the command itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def emulator_process(data_dir: Path, *options: str) -> Iterator[dict[str, str]]:
    """Start the command on a free port; yield its JSON banner; stop it with Ctrl-C."""
    command = [
        sys.executable,
        "-m",
        "sfbridge.cli",
        "emulate",
        "salesforce",
        "--port",
        "0",
        "--json",
        "--data-dir",
        str(data_dir),
        *options,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator did not start: {process.stderr.read()}")
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
