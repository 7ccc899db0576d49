"""The periodic formula refresh: sending again the fields that change without SystemModstamp.

A formula field is computed when it is read, and a field read through a
lookup (``Account.Name`` on a Contact) belongs to another record: both change
while the record's SystemModstamp stays put, so an incremental window never
sees them (data-in-peers.md pain point 7). ``check_against_describe`` names
these fields (``SpecCheck.refresh_fields``) and warns about them until the
sync sets ``formula_refresh``.

With ``formula_refresh`` set, a run whose last refresh is at least that old
(or that has never refreshed) ends its window with a refresh (``run.py``
reads it; this module decides and maps):

- **what is read**: every record matching the filter that the window did not
  read (``refresh_window``: SystemModstamp before the window's start; the
  window read the rest whole), selecting Id, SystemModstamp, the identifier
  fields and the refresh fields only; REST keyset pages or one Bulk job,
  chosen by count, checkpointed page by page like the window;
- **what is sent**: the sync's usual message with only the refreshed
  attributes (``RefreshMapper``); identify and group merge their traits, so
  every other attribute stays as it is;
- **when it counts as done**: once its last page is delivered, as of the
  window's end (``Window.end``). The end is ``settle`` before the run's clock,
  so a refresh as often as the interval is never put off to the next run by a
  scheduler a second early.

A first run and a resync read every field of every record: they count as a
refresh. An event sync never refreshes: a sent event cannot be changed, and
sending it again would be a second event (destinations drop it by its id).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sfbridge.messages import Context, Message, message_id
from sfbridge.salesforce.describe import ObjectDescribe

from .compound import DescribeLookup
from .plan import Window
from .records import RecordMapper, iso_datetime
from .spec import SyncSpec


def refresh_due(spec: SyncSpec, last: datetime | None, now: datetime) -> bool:
    """True when a run of ``spec`` at ``now`` should refresh formula fields.

    It should when the sync asks for refreshes (``formula_refresh``) and
    ``last`` (the saved ``CursorState.formula_refreshed_at``) is ``None`` or
    at least ``formula_refresh`` before ``now``.
    """
    if spec.formula_refresh is None or spec.format.type == "event":
        return False
    return last is None or now - last >= spec.formula_refresh


def refresh_window(window: Window) -> Window:
    """What a refresh after ``window`` reads: every record stamped before its start.

    Records stamped within ``window`` were just read with every field; a
    first run's window (no start) reads everything and needs no refresh.
    """
    if window.start is None:
        raise ValueError("a first run reads every record whole; it needs no refresh")
    return Window(None, window.start)


def refresh_spec(spec: SyncSpec, refresh_fields: Collection[str]) -> SyncSpec | None:
    """``spec`` sending only its fields in ``refresh_fields``; None when it sends none of them.

    Identifier fields stay: they say whom each message is about. SOQL names
    ignore case, so ``account.name`` matches ``Account.Name``.
    """
    wanted = {name.lower() for name in refresh_fields}
    kept = tuple(mapping for mapping in spec.fields if mapping.source.lower() in wanted)
    if not kept or spec.format.type == "event":
        return None
    # A subset of a valid spec's fields: nothing to validate again.
    return spec.model_copy(update={"fields": kept})


class RefreshMapper:
    """Maps the records a refresh reads to messages carrying only the refreshed attributes."""

    def __init__(
        self,
        spec: SyncSpec,
        *,
        as_of: datetime,
        object_type_id: str | None = None,
        describe: ObjectDescribe | None = None,
        related: DescribeLookup | None = None,
    ) -> None:
        """Map for ``spec`` as ``refresh_spec`` restricted it, in the refresh as of ``as_of``.

        ``describe`` and ``related`` let a Bulk record's compounds be rebuilt
        (``RecordMapper``).
        """
        self.spec = spec
        self._as_of = iso_datetime(as_of)
        self._mapper = RecordMapper(
            spec, object_type_id=object_type_id, describe=describe, related=related
        )

    @property
    def read_fields(self) -> tuple[str, ...]:
        """What a refresh query selects: Id, SystemModstamp, the identifiers, the refresh fields."""
        return self.spec.read_fields

    def map(self, record: Mapping[str, Any]) -> list[Message]:
        """The refresh messages of one REST or Bulk record; ``RecordMappingError`` if none."""
        return [self._refreshed(message) for message in self._mapper.map(record)]

    def _refreshed(self, message: Message) -> Message:
        origin = message.salesforce
        assert origin is not None  # RecordMapper names the record of every message
        # The record's own message id names its version (Id, SystemModstamp),
        # which a refresh does not change; the refresh's as-of time makes each
        # refresh new to the destinations, and a resumed one the same again.
        refreshed_id = message_id(
            self.spec.name,
            origin.id,
            iso_datetime(origin.system_modstamp),
            "refresh",
            self._as_of,
            message.type,
        )
        # The context names the record but carries no fields: the warehouse's
        # raw table keeps the last full record of a SystemModstamp, and would
        # replace it with these few fields at the same stamp.
        context = Context(salesforce=origin.model_copy(update={"record": {}}))
        fields = message.model_dump(by_alias=False, exclude={"message_id", "context"})
        return type(message)(**fields, message_id=refreshed_id, context=context)
