"""Deterministic, realistic demo data for an emulated org.

``seed_org(org, "medium", seed=7)`` adds sales users, accounts, contacts,
opportunities with their contact roles, leads, cases, campaigns with members,
and tasks. In a fresh org the same seed and size give the same rows, ids
included. Timestamps are fixed offsets back from the start of the org clock's
current UTC day, so two seedings on the same day match byte for byte and every
seeded timestamp is older than anything written later through the API.

Rows pass through ``derived.apply_defaults`` and ``derived.derive`` as REST
writes do, so Name, IsClosed, IsWon, IsConverted, HasResponded, probabilities
and picklist defaults agree with what the API stores. Fields a real org keeps
that ``derive`` does not cover (CaseNumber, fiscal period, converted-lead
links, campaign member counts, contact details copied onto cases and campaign
members) are filled here the way a real org fills them.

The work is split by job: ``seed_run`` holds one run's random streams,
timeline, shared facts and bulk insert; ``seed_people`` generates users,
accounts, contacts and leads; ``seed_sales`` generates opportunities, contact
roles, cases, campaigns with their members, and tasks. This module is the
public surface and runs the generators in dependency order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .org import Org
from .seed_people import add_accounts, add_contacts, add_leads, add_users
from .seed_run import SeedRun
from .seed_sales import add_campaigns, add_cases, add_contact_roles, add_opportunities, add_tasks

SIZES: dict[str, int] = {"tiny": 100, "small": 1_000, "medium": 50_000, "large": 1_000_000}
"""Named sizes, in contacts; every other object scales with the contacts."""

SEEDED_OBJECTS = (
    "User",
    "Account",
    "Contact",
    "Opportunity",
    "OpportunityContactRole",
    "Lead",
    "Case",
    "Campaign",
    "CampaignMember",
    "Task",
)
"""The objects ``seed_org`` fills, in the order it fills them."""

# What each object's rows point at; ``only`` pulls these in.
_NEEDS: dict[str, tuple[str, ...]] = {
    "Contact": ("Account",),
    "Opportunity": ("Account",),
    "OpportunityContactRole": ("Opportunity", "Contact"),
    "Lead": ("Contact", "Opportunity"),  # what converted leads became
    "Case": ("Contact",),
    "CampaignMember": ("Campaign", "Contact", "Lead"),
    "Task": ("Contact", "Lead", "Opportunity"),
}

# Each generator with the object it fills, in dependency order; later ones point at
# what earlier ones recorded on the run. Campaign members are added with their campaigns.
_STEPS: tuple[tuple[str, Callable[[SeedRun], None]], ...] = (
    ("User", add_users),
    ("Account", add_accounts),
    ("Contact", add_contacts),
    ("Opportunity", add_opportunities),
    ("OpportunityContactRole", add_contact_roles),
    ("Lead", add_leads),
    ("Case", add_cases),
    ("Campaign", add_campaigns),
    ("Task", add_tasks),
)


@dataclass
class SeedReport:
    """What ``seed_org`` added: rows per object, and how long it took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def parse_size(value: str | int) -> int:
    """Contacts for a size name (``tiny``, ``small``, ``medium``, ``large``) or a positive number.

    Raises ``ValueError`` naming the value and the choices.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in SIZES:
            return SIZES[text]
        if text.replace("_", "").isdigit() and int(text) > 0:
            return int(text)
    names = ", ".join(f"{name} ({count:,})" for name, count in SIZES.items())
    raise ValueError(
        f"invalid seed size {value!r}: use one of {names} or a positive number of contacts"
    )


def seed_org(
    org: Org, size: str | int = "tiny", *, seed: int = 1, only: set[str] | None = None
) -> SeedReport:
    """Add realistic records for ``size`` contacts to ``org``, deterministically from ``seed``.

    ``only`` limits seeding to some objects plus the ones their rows point at
    (and always a few sales users to own records), e.g. ``{"Contact"}`` for a
    benchmark. It all happens in one transaction: a failed seed adds nothing.
    """
    contacts = parse_size(size)
    wanted = _with_needs(org, only)
    started = time.perf_counter()
    run = SeedRun(org, contacts, seed, wanted)
    with org.store.transaction():
        for name, step in _STEPS:
            if name in wanted:
                step(run)
    return SeedReport(counts=run.counts, seconds=round(time.perf_counter() - started, 3))


def _with_needs(org: Org, only: set[str] | None) -> set[str]:
    if only is None:
        return set(SEEDED_OBJECTS)
    chosen = {"User"}
    pending = list(only)
    while pending:
        known = org.schema.object(name := pending.pop())
        if known is None or known.name not in SEEDED_OBJECTS:
            choices = ", ".join(SEEDED_OBJECTS)
            raise ValueError(f"cannot seed object {name!r}: choose from {choices}")
        if known.name not in chosen:
            chosen.add(known.name)
            pending.extend(_NEEDS.get(known.name, ()))
    return chosen
