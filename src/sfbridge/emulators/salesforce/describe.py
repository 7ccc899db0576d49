"""Describe results (describeGlobal and per-object describe) as a user sees them.

Field-level security applies: a field the user's profile cannot read is left
out, as in a real org.
"""

from __future__ import annotations

from typing import Any

from .access import Profile
from .schema import OBJECT_FLAGS, ObjectDef, OrgSchema

_OBJECT_KEYS = (
    "name",
    "label",
    "labelPlural",
    "keyPrefix",
    "custom",
    *OBJECT_FLAGS,
    "feedEnabled",
)


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    """One entry of describeGlobal."""
    summary: dict[str, Any] = {key: obj.describe.get(key, False) for key in _OBJECT_KEYS}
    summary["keyPrefix"] = obj.key_prefix
    summary["customSetting"] = False
    summary["activateable"] = False
    summary["deprecatedAndHidden"] = False
    summary["urls"] = _urls(obj, version)
    return summary


def describe_global(schema: OrgSchema, version: str) -> dict[str, Any]:
    """``GET /sobjects``."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(obj, version) for obj in schema.objects()],
    }


def describe_object(
    obj: ObjectDef, schema: OrgSchema, profile: Profile, version: str
) -> dict[str, Any]:
    """``GET /sobjects/{Object}/describe`` for a user with ``profile``."""
    result = object_summary(obj, version)
    result["fields"] = [
        dict(f.describe) for f in obj.fields.values() if profile.readable(obj.name, f.name)
    ]
    result["childRelationships"] = [
        {
            "childSObject": child["childSObject"],
            "field": child["field"],
            "relationshipName": child.get("relationshipName"),
            "cascadeDelete": bool(child.get("cascadeDelete")),
            "deprecatedAndHidden": False,
            "restrictedDelete": False,
        }
        for child in _child_relationships(obj, schema)
    ]
    result["recordTypeInfos"] = obj.describe.get("recordTypeInfos", [])
    result["urls"] = {**_urls(obj, version), "uiDetailTemplate": None}
    return result


def _child_relationships(obj: ObjectDef, schema: OrgSchema) -> list[dict[str, Any]]:
    """Declared child relationships plus those of custom lookups pointing at ``obj``."""
    children = list(obj.describe.get("childRelationships", []))
    seen = {(c["childSObject"], c["field"]) for c in children}
    for other in schema.objects():
        for definition in other.fields.values():
            key = (other.name, definition.name)
            if (
                obj.name in definition.reference_to
                and key not in seen
                and definition.describe.get("custom")
            ):
                relationship = definition.name.removesuffix("__c") + "s__r"
                children.append(
                    {
                        "childSObject": other.name,
                        "field": definition.name,
                        "relationshipName": relationship,
                        "cascadeDelete": False,
                    }
                )
                seen.add(key)
    return children
