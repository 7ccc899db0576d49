"""Compound address and location fields rebuilt from their components (Bulk's shape).

REST answers ``MailingAddress`` as one object; Bulk API 2.0 cannot select it
and reads its components (``MailingStreet``, ``MailingCity``, ...) instead
(``plan.expand_compound``). ``with_compounds`` puts the compound value back
into a Bulk record exactly as REST writes it, so both shapes map to the same
messages::

    compounds = compound_components(describe, spec.read_fields)
    record = with_compounds(bulk_record, compounds)
    record["MailingAddress"]  # {"city": "London", "country": None, ...} or None

An address holds ``city``, ``country``, ``geocodeAccuracy``, ``latitude``,
``longitude``, ``postalCode``, ``state`` and ``street``; a location
``latitude`` and ``longitude``. Keys come sorted, as REST writes them, and
the value is None when every component is null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sfbridge.salesforce.describe import ObjectDescribe

# Only these compounds are refused by Bulk; Name (FirstName, LastName) is a plain string.
COMPOUND_TYPES = frozenset({"address", "location"})
# REST's coordinates are doubles, whatever Bulk's CSV typed them as.
_COORDINATES = frozenset({"latitude", "longitude"})

Components = Mapping[str, Mapping[str, str]]
"""Compound field name -> {component field name -> its key in the compound's value}."""


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
    describe: ObjectDescribe, fields: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The address and location fields among ``fields`` with their components, from describe.

    Components are found by their ``compoundFieldName``; paths through
    lookups are left out (Bulk cannot read those either way).
    """
    wanted: dict[str, str] = {}
    for name in fields:
        field = describe.field(name) if "." not in name else None
        if field is not None and field.type in COMPOUND_TYPES:
            wanted[field.name.lower()] = field.name
    found: dict[str, dict[str, str]] = {}
    for component in describe.fields:
        owner = (component.compound_field_name or "").lower()
        if owner in wanted:
            compound = wanted[owner]
            found.setdefault(compound, {})[component.name] = component_key(compound, component.name)
    return found


def compound_value(record: Mapping[str, Any], parts: Mapping[str, str]) -> Any:
    """The compound's REST value from ``record``'s components; ``KeyError`` if one is missing."""
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
    as it is; the mapper then reports whatever is missing.
    """
    if not compounds:
        return record
    present = {name.lower() for name in record}
    added: dict[str, Any] = {}
    for compound, parts in compounds.items():
        if compound.lower() in present or not parts:
            continue
        try:
            added[compound] = compound_value(record, parts)
        except KeyError:
            continue
    return {**record, **added} if added else record
