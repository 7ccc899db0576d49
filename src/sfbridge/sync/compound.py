"""Compound address and location fields rebuilt from their components (Bulk's shape).

REST answers ``MailingAddress`` as one object; Bulk API 2.0 cannot select it
and reads its components (``MailingStreet``, ``MailingCity``, ...) instead
(``plan.expand_compound``). ``with_compounds`` puts the compound value back
into a Bulk record exactly as REST writes it, so both shapes map to the same
messages::

    compounds = compound_components(describe, spec.read_fields, related)
    record = with_compounds(bulk_record, compounds)
    record["MailingAddress"]  # {"city": "London", "country": None, ...} or None

The same holds through lookups: ``Account.BillingAddress`` on a Contact is
read as ``Account.BillingStreet``, ... (the Account's describe, from
``related``, names them), which Bulk answers nested as
``{"Account": {"BillingStreet": ...}}``; the compound is rebuilt inside the
parent, as REST nests it.

An address holds ``city``, ``country``, ``geocodeAccuracy``, ``latitude``,
``longitude``, ``postalCode``, ``state`` and ``street``; a location
``latitude`` and ``longitude``. Keys come sorted, as REST writes them, and
the value is None when every component is null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sfbridge.salesforce.describe import FieldDescribe, ObjectDescribe

# Only these compounds are refused by Bulk; Name (FirstName, LastName) is a plain string.
COMPOUND_TYPES = frozenset({"address", "location"})
# REST's coordinates are doubles, whatever Bulk's CSV typed them as.
_COORDINATES = frozenset({"latitude", "longitude"})

DescribeLookup = Callable[[str], ObjectDescribe | None]
"""Given an object's API name, its describe; None when it cannot be had."""

Components = Mapping[str, Mapping[str, str]]
"""Compound field path -> {component field path -> its key in the compound's value}.

``Account.BillingAddress`` -> ``{"Account.BillingCity": "city", ...}``.
"""


def component_key(compound: str, component: str) -> str:
    """The key of ``component`` in ``compound``'s REST value.

    ``MailingCity`` of ``MailingAddress`` is ``city``, ``City`` of Lead's
    ``Address`` is ``city`` too; ``Site__Latitude__s`` of a custom location
    ``Site__c`` is ``latitude``.
    """
    if component.lower().endswith("__s"):
        suffix = component[: -len("__s")].rsplit("__", 1)[-1]
    else:
        prefix = compound.removesuffix("Address")
        if compound.lower().endswith("__c"):
            prefix = compound[: -len("c")]  # Site__c -> Site__
        suffix = component[len(prefix) :] if component.startswith(prefix) else component
    return suffix[:1].lower() + suffix[1:]


def compound_components(
    describe: ObjectDescribe, fields: Iterable[str], related: DescribeLookup | None = None
) -> dict[str, dict[str, str]]:
    """The address and location fields among ``fields`` with their components, from describe.

    Components are found by their ``compoundFieldName``. A path through
    lookups (``Account.BillingAddress``) needs ``related`` for the parent's
    describe; without it, or past a polymorphic lookup (``Who``), the path
    is left out and read as it is.
    """
    found: dict[str, dict[str, str]] = {}
    for name in fields:
        located = _field_at(describe, name, related)
        if located is None:
            continue
        owner, field = located
        if field.type not in COMPOUND_TYPES:
            continue
        # The relationship names as the spec spells them: record paths ignore case.
        prefix = name[: name.rfind(".") + 1]
        parts = {
            prefix + component.name: component_key(field.name, component.name)
            for component in owner.fields
            if (component.compound_field_name or "").lower() == field.name.lower()
        }
        if parts:
            found[prefix + field.name] = parts
    return found


def _field_at(
    describe: ObjectDescribe, path: str, related: DescribeLookup | None
) -> tuple[ObjectDescribe, FieldDescribe] | None:
    """The field at the end of ``path`` and the describe it belongs to; None if not found."""
    *lookups, name = path.split(".")
    for relationship in lookups:
        wanted = relationship.lower()
        lookup = next(
            (f for f in describe.fields if (f.relationship_name or "").lower() == wanted), None
        )
        if related is None or lookup is None or len(lookup.reference_to) != 1:
            return None
        parent = related(lookup.reference_to[0])
        if parent is None:
            return None
        describe = parent
    field = describe.field(name)
    return None if field is None else (describe, field)


def compound_value(record: Mapping[str, Any], parts: Mapping[str, str]) -> Any:
    """The compound's REST value from ``record``'s components; ``KeyError`` if one is missing.

    ``parts`` maps each component's field name in ``record`` to its key.
    """
    lowered = {name.lower(): value for name, value in record.items()}
    value: dict[str, Any] = {}
    for component, key in parts.items():
        found = record[component] if component in record else lowered[component.lower()]
        if key in _COORDINATES and isinstance(found, int | float) and not isinstance(found, bool):
            found = float(found)
        value[key] = found
    if all(part is None for part in value.values()):
        return None
    return dict(sorted(value.items()))


def with_compounds(record: Mapping[str, Any], compounds: Components) -> Mapping[str, Any]:
    """``record`` with each compound it lacks rebuilt from its components (a Bulk record).

    A record that has the compound (REST) or lacks a component is returned
    as it is; the mapper then reports whatever is missing. A compound
    through an empty lookup (the parent is None) stays absent: the path
    reads as null, as REST's does.
    """
    for compound, parts in compounds.items():
        if parts:
            record = _with_compound(record, compound.split("."), parts)
    return record


def _with_compound(
    record: Mapping[str, Any], path: list[str], parts: Mapping[str, str]
) -> Mapping[str, Any]:
    """``record`` with the compound at ``path`` added where it is missing."""
    head = path[0]
    key = next((name for name in record if name.lower() == head.lower()), None)
    if len(path) > 1:
        if key is None or not isinstance(record[key], Mapping):
            return record  # an empty lookup (None), or not selected at all
        parent = record[key]
        rebuilt = _with_compound(parent, path[1:], parts)
        return record if rebuilt is parent else {**record, key: rebuilt}
    if key is not None:
        return record
    names = {component.rsplit(".", 1)[-1]: value for component, value in parts.items()}
    try:
        return {**record, head: compound_value(record, names)}
    except KeyError:
        return record
