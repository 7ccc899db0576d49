"""The destination interface: what every destination module implements.

A destination takes batches of messages (``sfbridge.messages``) and makes them
durable somewhere. The sync engine calls it like this, for every destination
of the sync, and commits its checkpoint only when every result is settled::

    with open_destination(spec, run) as destination:
        result = destination.deliver(batch)
        if result.settled:
            ...  # commit the cursor; keep result.failed for replay

The contract, which each implementation's tests check:

- ``deliver`` returns only after what it reports as delivered is durable
  (committed, fsynced, acknowledged by the receiver).
- ``deliver`` is idempotent by ``messageId``: a batch delivered again after a
  crash, whole or in part, changes nothing that the first delivery did.
- ``deliver`` reports one ``MessageOutcome`` per message, in batch order:
  delivered, or failed with a reason and whether trying again may help. A
  failure of the whole destination (database down, endpoint unreachable after
  its retries) is every message failed as retriable, not an exception;
  exceptions are for what a person must fix (``ConfigError``, ``FatalError``).
- ``close`` releases connections and files; the destination is not used again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from sfbridge.messages import Message


class Delivery(StrEnum):
    """What became of one message."""

    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class MessageOutcome:
    """The outcome of one message: delivered, or failed with a reason."""

    message_id: str
    status: Delivery
    reason: str = ""
    retriable: bool = False
    """Only for failures: the same message may be delivered if sent again later."""

    @classmethod
    def delivered(cls, message_id: str) -> MessageOutcome:
        """The message is durable in the destination."""
        return cls(message_id, Delivery.DELIVERED)

    @classmethod
    def failed(cls, message_id: str, reason: str, *, retriable: bool) -> MessageOutcome:
        """The message is not in the destination, for ``reason``."""
        return cls(message_id, Delivery.FAILED, reason, retriable)


@dataclass(frozen=True)
class DeliveryResult:
    """The outcomes of one ``deliver`` call, one per message in batch order."""

    destination: str
    outcomes: tuple[MessageOutcome, ...]

    @classmethod
    def of(
        cls, destination: str, batch: Sequence[Message], by_id: Mapping[str, MessageOutcome]
    ) -> DeliveryResult:
        """The result for ``batch`` from outcomes keyed by message id (repeats share one)."""
        return cls(destination, tuple(by_id[message.message_id] for message in batch))

    @property
    def delivered(self) -> list[str]:
        """Ids of the delivered messages."""
        return [o.message_id for o in self.outcomes if o.status is Delivery.DELIVERED]

    @property
    def failed(self) -> list[MessageOutcome]:
        """The failed messages' outcomes, retriable or not."""
        return [o for o in self.outcomes if o.status is Delivery.FAILED]

    @property
    def settled(self) -> bool:
        """No message is waiting for another try: the checkpoint may move past this batch.

        Messages failed for good (not retriable) are settled: the engine keeps
        them with their reason for replay instead of blocking the sync forever.
        """
        return not any(o.retriable for o in self.failed)


@dataclass(frozen=True)
class RunInfo:
    """Which sync run a destination is opened for, and where local state lives."""

    sync: str
    """The sync's name."""
    run_id: str
    """The run's id; a resumed run keeps its id."""
    home: Path
    """sfbridge's home folder (``Settings.home``): the default place for local files."""


class DestinationSettings(BaseModel):
    """Settings every destination has; each kind adds its own and a ``kind`` tag."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None,
        min_length=1,
        description="Label in run reports and logs; the kind (warehouse, jsonl, ...) when unset.",
    )


class Destination(ABC):
    """Where messages go: one module per kind, all with this interface."""

    name: str
    """Label of this destination in results and logs."""

    @abstractmethod
    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        """Make ``batch`` durable; see the module docstring for the contract."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def unique_messages(batch: Sequence[Message]) -> list[Message]:
    """The batch without repeated message ids, first occurrence kept, order unchanged."""
    seen: set[str] = set()
    unique = []
    for message in batch:
        if message.message_id not in seen:
            seen.add(message.message_id)
            unique.append(message)
    return unique
