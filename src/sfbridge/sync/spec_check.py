"""Check a sync spec against the org: do its object, fields and filter exist for this user?

::

    check = check_against_describe(spec, client.describe(spec.object), client.describe)
    check.raise_if_invalid()   # a ConfigError listing every problem
    check.filter               # the ValidatedFilter plan.select_for_window needs
    check.warnings             # formula fields, lookups, picklist values ...

Describe lists only the fields the connected user may read (field-level
security hides the rest), so "no such field" and "not readable" are one
problem, and the message says both. A spec valid on its own can still fail
here; ``SyncSpec`` validation needs no org, this needs the org's describe.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from sfbridge.errors import ConfigError
from sfbridge.salesforce.client import SalesforceClient
from sfbridge.salesforce.describe import FieldDescribe, ObjectDescribe
from sfbridge.salesforce.errors import SalesforceConfigError
from sfbridge.salesforce.soql_validate import (
    FieldInfo,
    FilterError,
    ValidatedFilter,
    validate_filter,
)

from .compound import DescribeLookup
from .spec import CURSOR_FIELD, DeletePolicy, SyncSpec

_TIMESTAMP_TYPES = frozenset({"datetime", "date"})
_TEXT_TYPES = frozenset({"string", "picklist", "combobox"})


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong (or doubtful) in a spec, at ``location`` (``fields[2].source``)."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class SpecCheck:
    """What ``check_against_describe`` found.

    ``errors`` would make the sync fail; ``warnings`` would make it quietly
    wrong. ``filter`` is the spec's filter as a ``ValidatedFilter`` (None
    when the spec has none or it is invalid). ``refresh_fields`` are read
    fields whose value can change while the record's SystemModstamp does not
    (formula fields, fields through lookups): what ``formula_refresh``
    re-reads; none for an event sync, which never refreshes.
    """

    sync_name: str
    errors: tuple[SpecProblem, ...]
    warnings: tuple[SpecProblem, ...]
    filter: ValidatedFilter | None
    refresh_fields: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing would make the sync fail."""
        return not self.errors

    def raise_if_invalid(self) -> None:
        """Raise a ConfigError listing every error, if there is one."""
        if self.errors:
            listed = "\n".join(f"  - {problem}" for problem in self.errors)
            raise ConfigError(f"sync {self.sync_name!r} does not fit the org:\n{listed}")


@dataclass(frozen=True)
class _Resolved:
    """A path's field; or why not (``error``); or why it could not be checked (``note``)."""

    field: FieldDescribe | None = None
    error: str | None = None
    note: str | None = None
    through_lookup: bool = False


def check_against_describe(
    spec: SyncSpec, describe: ObjectDescribe, related: DescribeLookup | None = None
) -> SpecCheck:
    """Check ``spec`` against its object's ``describe``.

    ``related`` gives the describe of a lookup's target, so that paths such
    as ``Account.Name`` and filters on them are checked too; without it (or
    past a polymorphic lookup such as ``Who``), such paths are only warned about.
    """
    return _Checker(spec, describe, related).run()


class _Checker:
    def __init__(
        self, spec: SyncSpec, describe: ObjectDescribe, related: DescribeLookup | None
    ) -> None:
        self.spec = spec
        self.describe = describe
        self.related = related
        self.errors: list[SpecProblem] = []
        self.warnings: list[SpecProblem] = []
        self.refresh: list[str] = []

    def run(self) -> SpecCheck:
        self._check_object()
        self._check_refresh()
        for location, path in self._paths():
            self._check_path(location, path)
        validated = self._check_filter()
        return SpecCheck(
            self.spec.name,
            tuple(self.errors),
            tuple(self.warnings),
            validated,
            tuple(dict.fromkeys(self.refresh)),
        )

    def _error(self, location: str, message: str) -> None:
        self.errors.append(SpecProblem(location, message))

    def _warn(self, location: str, message: str) -> None:
        self.warnings.append(SpecProblem(location, message))

    def _check_object(self) -> None:
        spec, name = self.spec, self.describe.name
        if name.lower() != spec.object.lower():
            self._error("object", f"the describe given is {name}'s, not {spec.object}'s")
        if not self.describe.summary.queryable:
            self._error("object", f"{name} cannot be queried; choose a queryable object")
        if self.describe.field(CURSOR_FIELD) is None:
            self._error(
                "object",
                f"{name} has no {CURSOR_FIELD} field, so changes cannot be found; "
                "sfbridge syncs only objects that have it",
            )
        if spec.delete_policy != DeletePolicy.IGNORE and self.describe.field("IsDeleted") is None:
            self._error(
                "delete_policy",
                f"{name} has no IsDeleted field, so deletes cannot be found; "
                "set delete_policy: ignore",
            )

    def _check_refresh(self) -> None:
        if self.spec.format.type == "event" and self.spec.formula_refresh is not None:
            self._warn(
                "formula_refresh",
                "an event sync never refreshes: a sent event is never sent again (a second "
                "one would be a second event), so formula_refresh does nothing here; remove it",
            )

    def _paths(self) -> list[tuple[str, str]]:
        """Every field path of the spec, with where it is written."""
        paths = [(f"format.{name}", path) for name, path in self.spec.format.paths.items()]
        paths += [(f"fields[{i}].source", m.source) for i, m in enumerate(self.spec.fields)]
        return paths

    def _check_path(self, location: str, path: str) -> None:
        resolved = self._resolve(path)
        if resolved.error is not None:
            self._error(location, resolved.error)
            return
        if resolved.note is not None:
            self._warn(location, resolved.note)
            return
        field = resolved.field
        assert field is not None
        self._check_stale(location, path, field, resolved.through_lookup)
        if location == "format.timestamp_field" and field.type not in _TIMESTAMP_TYPES:
            self._error(
                location,
                f"{path} is a {field.type} field; an event's time comes from a date or "
                "datetime field such as CreatedDate",
            )
        elif location == "format.email_field" and field.type != "email":
            self._warn(location, f"{path} is a {field.type} field, not an email field")
        elif location == "format.name_field" and field.type not in _TEXT_TYPES:
            self._warn(location, f"{path} is a {field.type} field; event names are text")

    def _check_stale(
        self, location: str, path: str, field: FieldDescribe, through_lookup: bool
    ) -> None:
        # data-in-peers.md pain point 7 (stale formula fields): a value computed
        # by Salesforce, or read from a parent record, changes without the
        # record's SystemModstamp changing, so an incremental sync never sees it.
        if not (field.calculated or through_lookup):
            return
        if field.calculated:
            why = f"{path} is a formula field: formula fields change without SystemModstamp "
        else:
            why = f"{path} is read through a lookup: the parent record changes without "
            why += f"{self.spec.object}'s SystemModstamp "
        if self.spec.format.type == "event":
            # formula_refresh skips event syncs (formula_refresh.refresh_due).
            self._warn(
                location,
                why + "changing; an event carries the value read when it is sent and is "
                "never sent again, so it keeps that value (formula_refresh does not apply "
                "to events)",
            )
            return
        self.refresh.append(path)
        if self.spec.formula_refresh is None:
            self._warn(location, why + "changing; enable formula_refresh (for example 24h)")

    def _resolve(self, path: str) -> _Resolved:
        parts = path.split(".")
        describe = self.describe
        for part in parts[:-1]:
            lookup = next(
                (f for f in describe.fields if (f.relationship_name or "").lower() == part.lower()),
                None,
            )
            if lookup is None:
                relationships = [f.relationship_name or "" for f in describe.fields]
                return _Resolved(
                    error=f"no lookup '{part}' on {describe.name}"
                    + _did_you_mean(part, relationships)
                    + "; follow a lookup by its relationship name (custom ones end in '__r')"
                )
            if len(lookup.reference_to) != 1:
                targets = ", ".join(lookup.reference_to)
                return _Resolved(
                    note=f"{part} may be any of {targets}, so {path} cannot be checked before "
                    "the first run"
                )
            target = lookup.reference_to[0]
            parent = None if self.related is None else self.related(target)
            if parent is None:
                return _Resolved(note=f"no describe of {target} was given; {path} is unchecked")
            describe = parent
        field = describe.field(parts[-1])
        if field is None:
            return _Resolved(
                error=f"no field '{parts[-1]}' on {describe.name}"
                + _did_you_mean(parts[-1], list(describe.field_names))
                + ", or the connected user cannot read it (describe lists only the fields "
                "field-level security lets the user read); check the API name (custom fields "
                "end in '__c') and the user's field access"
            )
        return _Resolved(field=field, through_lookup=len(parts) > 1)

    def _check_filter(self) -> ValidatedFilter | None:
        if self.spec.filter is None:
            return None
        try:
            validated = validate_filter(
                self.spec.object,
                self.spec.filter,
                _field_infos(self.describe),
                related=self._related_fields,
            )
        except FilterError as error:
            self._error("filter", str(error))
            return None
        for warning in validated.warnings:
            self._warn("filter", warning.message)
        return validated

    def _related_fields(self, object_name: str) -> Mapping[str, FieldInfo] | None:
        parent = None if self.related is None else self.related(object_name)
        return None if parent is None else _field_infos(parent)


def _field_infos(describe: ObjectDescribe) -> dict[str, FieldInfo]:
    """What ``validate_filter`` needs of each field (active picklist values only)."""
    return {
        f.name: FieldInfo(
            name=f.name,
            type=f.type,
            filterable=f.filterable,
            reference_to=f.reference_to,
            relationship_name=f.relationship_name,
            picklist_values=tuple(v.value for v in f.picklist_values if v.active),
        )
        for f in describe.fields
    }


def _did_you_mean(name: str, candidates: list[str]) -> str:
    """`` (did you mean 'Email'?)`` for the closest candidate, else nothing."""
    lowered = {candidate.lower(): candidate for candidate in candidates if candidate}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def check_spec(spec: SyncSpec, client: SalesforceClient) -> SpecCheck:
    """Check ``spec`` against the org's describe; a ConfigError listing every error."""
    try:
        describe = client.describe(spec.object)
    except SalesforceConfigError as error:
        raise ConfigError(f"sync {spec.name!r}: object {spec.object!r}: {error}") from None

    def related(name: str) -> ObjectDescribe | None:
        try:
            return client.describe(name)
        except SalesforceConfigError:
            return None

    check = check_against_describe(spec, describe, related)
    check.raise_if_invalid()
    return check
