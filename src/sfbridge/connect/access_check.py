"""The integration-user check: what the connected user can read and write.

After connecting, sfbridge reads describe for the objects syncs and actions
use and reports, per object, how many fields the user can read and write,
and warns where a sync template needs a field the user cannot see: in
Salesforce a field without field-level access is simply absent from describe
and SOQL, so a sync would otherwise fail at its first run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sfbridge.salesforce import SalesforceClient, SalesforceError
from sfbridge.sync.templates import TEMPLATE_FIELDS

# Objects the checks cover: every object a sync template reads (its fields
# are in TEMPLATE_FIELDS, made from the templates), and those actions write.
CHECKED_OBJECTS = tuple(
    dict.fromkeys(
        [
            *(object_name for object_name, _ in TEMPLATE_FIELDS.values()),
            "Contact",
            "Lead",
            "Account",
            "Opportunity",
            "Campaign",
            "CampaignMember",
            "Task",
        ]
    )
)


@dataclass(frozen=True)
class ObjectAccess:
    """What the user can do with one object."""

    name: str
    visible: bool
    readable_fields: int = 0
    writable_fields: int = 0
    createable: bool = False
    updateable: bool = False


@dataclass
class AccessReport:
    """Per-object access plus the template fields the user cannot read."""

    objects: list[ObjectAccess] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for ``--json`` output."""
        return {
            "objects": [vars(o) for o in self.objects],
            "warnings": list(self.warnings),
        }


def check_access(client: SalesforceClient, username: str | None) -> AccessReport:
    """Describe the checked objects as the connected user sees them."""
    visible = {summary.name for summary in client.describe_global()}
    report = AccessReport()
    readable: dict[str, set[str]] = {}
    who = username or "the connected user"
    for name in CHECKED_OBJECTS:
        if name not in visible:
            report.objects.append(ObjectAccess(name, visible=False))
            continue
        try:
            describe = client.describe(name)
        except SalesforceError as error:
            report.warnings.append(
                f"{name}: describe failed ({error.error_code}); {who} may lack access to it"
            )
            report.objects.append(ObjectAccess(name, visible=False))
            continue
        readable[name] = {f.name for f in describe.fields}
        report.objects.append(
            ObjectAccess(
                name,
                visible=True,
                readable_fields=len(describe.fields),
                writable_fields=sum(1 for f in describe.fields if f.createable or f.updateable),
                createable=describe.summary.createable,
                updateable=describe.summary.updateable,
            )
        )
    for template, (object_name, fields) in TEMPLATE_FIELDS.items():
        if object_name not in readable:
            report.warnings.append(
                f"template '{template}' reads {object_name}, which {who} cannot see: give the "
                f"user read access to {object_name} before adding that sync"
            )
            continue
        missing = [f for f in fields if f not in readable[object_name]]
        if missing:
            names = ", ".join(f"{object_name}.{f}" for f in missing)
            report.warnings.append(
                f"template '{template}' uses {names}, which {who} cannot read: grant field "
                "access in the user's permission set, or leave the field out of the sync"
            )
    return report
