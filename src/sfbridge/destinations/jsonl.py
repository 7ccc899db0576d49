"""The JSONL destination: one file per sync run, one Pipelines message per line.

``<directory>/<sync>/<run_id>.jsonl``, each line a message exactly as the
Data Pipelines API takes it, so a file can be replayed into any
Pipelines-compatible endpoint. A resumed run (same ``run_id``) appends only
the messages its file lacks: the ids already written are read when the file
is opened. Every ``deliver`` ends with an fsync.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import Field

from sfbridge.errors import ConfigError, FatalError
from sfbridge.messages import Message

from .base import (
    DeliveryResult,
    Destination,
    DestinationSettings,
    MessageOutcome,
    RunInfo,
    unique_messages,
)

# Sync names and run ids become path parts: no separators, no leading dot.
_PATH_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class JsonlSpec(DestinationSettings):
    """Settings of a JSONL destination."""

    kind: Literal["jsonl"] = Field(default="jsonl", description="Destination kind.")
    directory: Path | None = Field(
        default=None,
        description="Folder for the files, one per run as <sync>/<run_id>.jsonl; "
        "the home folder's jsonl/ when unset.",
    )


class JsonlDestination(Destination):
    """Appends messages to one run's file; see the module docstring."""

    def __init__(self, path: Path, name: str = "jsonl") -> None:
        """Open ``path`` for appending, after reading the message ids it already holds."""
        self.path = path
        self.name = name
        created = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._written = set() if created else _read_ids(path)
        self._file: BinaryIO = path.open("ab")
        if created:
            # The new file's directory entry must be as durable as its lines.
            _fsync_directory(path.parent)

    @classmethod
    def open(cls, spec: JsonlSpec, run: RunInfo) -> JsonlDestination:
        """The file of ``run`` under the spec's folder (default ``<home>/jsonl``)."""
        for label, part in (("sync name", run.sync), ("run id", run.run_id)):
            if not _PATH_PART.match(part):
                raise ConfigError(
                    f"the {label} {part!r} cannot name a file: use letters, digits, '.', '_' "
                    f"or '-', starting with a letter or digit"
                )
        directory = spec.directory if spec.directory is not None else run.home / "jsonl"
        return cls(directory / run.sync / f"{run.run_id}.jsonl", spec.name or spec.kind)

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        """Append the messages not yet in the file, then fsync."""
        new = [m for m in unique_messages(batch) if m.message_id not in self._written]
        by_id = {m.message_id: MessageOutcome.delivered(m.message_id) for m in batch}
        if new:
            size = self._file.tell()
            try:
                self._file.write("".join(m.to_json() + "\n" for m in new).encode())
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as error:
                # Drop a half-written tail so the next batch starts on a line boundary.
                self._file.truncate(size)
                reason = f"cannot write {self.path}: {error.strerror or error}"
                for message in new:
                    by_id[message.message_id] = MessageOutcome.failed(
                        message.message_id, reason, retriable=True
                    )
            else:
                self._written.update(m.message_id for m in new)
        return DeliveryResult.of(self.name, batch, by_id)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _read_ids(path: Path) -> set[str]:
    """The message ids in a run's file; a last line cut short by a crash is removed.

    A cut line belongs to a batch whose ``deliver`` never returned, so the
    batch is delivered again and the line must not stay half there.
    """
    ids: set[str] = set()
    complete = 0
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                break
            try:
                message_id = json.loads(line)["messageId"]
            except (ValueError, TypeError, KeyError):
                raise FatalError(
                    f"line {number} of {path} is not a message with a messageId; move the "
                    f"file away to run again from the start"
                ) from None
            ids.add(message_id)
            complete += len(line)
    if complete < path.stat().st_size:
        os.truncate(path, complete)
    return ids


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
