"""Fields the org computes on every write: person names, stage and status flags, defaults.

The REST write path and the seeder both call ``apply_defaults`` (on create)
and ``derive`` (on create and update) so that a seeded org and an org written
through the API look alike.
"""

from __future__ import annotations

from typing import Any

from .schema import ObjectDef

_PERSON_OBJECTS = frozenset({"Contact", "Lead", "User"})


def _semantics(obj: ObjectDef, field_name: str) -> dict[str, dict[str, Any]]:
    rules = obj.describe.get("picklistSemantics", {}).get(field_name, [])
    return {str(rule["value"]).lower(): rule for rule in rules if isinstance(rule, dict)}


def person_name(first: str | None, last: str | None) -> str | None:
    """The compound Name of a Contact, Lead or User: ``First Last``."""
    parts = [p for p in (first, last) if p]
    return " ".join(parts) if parts else None


def apply_defaults(obj: ObjectDef, row: dict[str, Any]) -> None:
    """Fill picklist defaults (``defaultValue`` / semantics ``isDefault``) missing from ``row``."""
    for definition in obj.stored_fields():
        name = definition.name
        if row.get(name) is not None:
            continue
        if definition.type == "boolean":
            default = definition.describe.get("defaultValue")
            row[name] = int(bool(default)) if isinstance(default, bool) else 0
            continue
        if definition.type in {"picklist", "multipicklist"} and definition.flag(
            "defaultedOnCreate"
        ):
            for rule in _semantics(obj, name).values():
                if rule.get("isDefault"):
                    row[name] = rule["value"]
            for entry in definition.describe.get("picklistValues", []):
                if entry.get("defaultValue") and row.get(name) is None:
                    row[name] = entry["value"]


def derive(obj: ObjectDef, row: dict[str, Any]) -> None:
    """Recompute derived fields of a full stored row in place."""
    if obj.name in _PERSON_OBJECTS:
        row["Name"] = person_name(row.get("FirstName"), row.get("LastName"))
    if obj.name == "Opportunity":
        stage = _semantics(obj, "StageName").get(str(row.get("StageName") or "").lower())
        if stage:
            row["IsClosed"] = int(bool(stage["isClosed"]))
            row["IsWon"] = int(bool(stage["isWon"]))
            row["ForecastCategory"] = stage["forecastCategoryName"]
            row["ForecastCategoryName"] = stage["forecastCategoryName"]
            if row.get("Probability") is None:
                row["Probability"] = float(stage["probability"])
        if row.get("Amount") is not None and row.get("Probability") is not None:
            row["ExpectedRevenue"] = float(row["Amount"]) * float(row["Probability"]) / 100
    elif obj.name in {"Case", "Task"}:
        status = _semantics(obj, "Status").get(str(row.get("Status") or "").lower())
        if status is not None and obj.field("IsClosed"):
            row["IsClosed"] = int(bool(status["isClosed"]))
    elif obj.name == "Lead":
        status = _semantics(obj, "Status").get(str(row.get("Status") or "").lower())
        if status is not None:
            row["IsConverted"] = int(bool(status["isConverted"]))
    elif obj.name == "CampaignMember":
        status = _semantics(obj, "Status").get(str(row.get("Status") or "").lower())
        row["HasResponded"] = int(bool(status and status.get("hasResponded")))
    # Keep only columns the object stores (a derived name may not exist on a custom shape).
    for key in [k for k in row if k.lower() not in obj.fields and not k.startswith("_")]:
        del row[key]
