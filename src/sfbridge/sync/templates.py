"""Sync templates: ready-made specs for the records most syncs start with.

The product offers templates for Contacts, Leads and Accounts (seed
"Configure a sync with a template"), and sets the format for popular
objects itself ("for Opportunities, we automatically set ... Custom Object
... Opportunities"): those are the presets here. A template is a spec
without a name, connection or destinations::

    spec = template("contacts", connection="prod", destinations=["customerio"])

``TEMPLATE_FIELDS`` is what every template reads; the integration-user
check (``connect/access_check.py``) warns about any the user cannot read.
Every field exists in the emulator's standard describe (a test checks).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sfbridge.errors import ConfigError
from sfbridge.salesforce.soql_parser import Comparison, Not, parse_soql

from .formats import (
    EventFormat,
    ObjectFormat,
    ObjectType,
    PersonFormat,
    RelationshipFormat,
    SyncFormat,
)
from .spec import FieldMapping, SyncSpec, read_fields


@dataclass(frozen=True)
class SyncTemplate:
    """A sync spec without its name, connection and destinations."""

    name: str
    summary: str
    preset: bool
    """False for the product's templates (contacts, leads, accounts), True for presets."""
    object: str
    format: SyncFormat
    fields: tuple[FieldMapping, ...]
    filter: str | None = None

    @property
    def needed_fields(self) -> tuple[str, ...]:
        """Every field a sync made from this template selects or filters on."""
        names = read_fields(self.format, self.fields)
        known = {name.lower() for name in names}
        return names + tuple(name for name in self._filter_fields() if name.lower() not in known)

    def _filter_fields(self) -> tuple[str, ...]:
        """The fields the filter compares, in order: the user must be able to read them too."""
        if self.filter is None:
            return ()
        where = parse_soql(f"SELECT Id FROM {self.object} WHERE {self.filter}").where
        found: list[str] = []
        pending = [] if where is None else [where]
        while pending:
            node = pending.pop(0)
            if isinstance(node, Comparison):
                found.append(node.field.text)
            elif isinstance(node, Not):
                pending.append(node.item)
            else:
                pending.extend(node.items)
        return tuple(dict.fromkeys(found))


def _fields(*pairs: tuple[str, str]) -> tuple[FieldMapping, ...]:
    """Field mappings from (source, target) pairs: snake_case, as Customer.io attributes go."""
    return tuple(FieldMapping(source=source, target=target) for source, target in pairs)


_ACCOUNTS = ObjectType(singular="Account", plural="Accounts")
_OPPORTUNITIES = ObjectType(singular="Opportunity", plural="Opportunities")
_CAMPAIGNS = ObjectType(singular="Campaign", plural="Campaigns")

_TEMPLATES = (
    SyncTemplate(
        name="contacts",
        summary="Contacts with an email address become people, identified by Contact Id and email.",
        preset=False,
        object="Contact",
        # The Salesforce Id as the person's id: writing Tasks back needs it
        # (customerio-salesforce-mapping.md section 2, identifier hint).
        format=PersonFormat(id_field="Id", email_field="Email"),
        fields=_fields(
            ("FirstName", "first_name"),
            ("LastName", "last_name"),
            ("Title", "title"),
            ("Phone", "phone"),
            ("AccountId", "account_id"),
            ("MailingCity", "city"),
            ("MailingCountry", "country"),
            ("LeadSource", "lead_source"),
            ("Birthdate", "birthdate"),
        ),
        filter="Email != null",
    ),
    SyncTemplate(
        name="leads",
        summary="Unconverted leads with an email address become people, identified by "
        "Lead Id and email.",
        preset=False,
        object="Lead",
        format=PersonFormat(id_field="Id", email_field="Email"),
        fields=_fields(
            ("FirstName", "first_name"),
            ("LastName", "last_name"),
            ("Company", "company"),
            ("Status", "lead_status"),
            ("LeadSource", "lead_source"),
            ("Industry", "industry"),
            ("AnnualRevenue", "annual_revenue"),
        ),
        # A converted lead lives on as a Contact; syncing both would make two people.
        filter="Email != null AND IsConverted = false",
    ),
    SyncTemplate(
        name="accounts",
        summary="Accounts become objects of type Accounts, identified by Account Id.",
        preset=False,
        object="Account",
        format=ObjectFormat(object_type=_ACCOUNTS, id_field="Id"),
        fields=_fields(
            ("Name", "name"),
            ("Industry", "industry"),
            ("Type", "type"),
            ("Website", "website"),
            ("BillingCity", "city"),
            ("BillingCountry", "country"),
            ("NumberOfEmployees", "employees"),
            ("AnnualRevenue", "annual_revenue"),
        ),
    ),
    SyncTemplate(
        name="account-contacts",
        summary="Relates each contact (person by Contact Id) to its account (Accounts object).",
        preset=True,
        object="Contact",
        format=RelationshipFormat(
            person_field="Id", object_field="AccountId", object_type=_ACCOUNTS
        ),
        fields=(),
        # The same people the contacts template creates, and only those with an account.
        filter="Email != null AND AccountId != null",
    ),
    SyncTemplate(
        name="opportunities",
        summary="Opportunities become objects of type Opportunities, identified by Opportunity Id.",
        preset=True,
        object="Opportunity",
        format=ObjectFormat(object_type=_OPPORTUNITIES, id_field="Id"),
        fields=_fields(
            ("Name", "name"),
            ("StageName", "stage"),
            ("Amount", "amount"),
            ("CloseDate", "close_date"),
            ("Probability", "probability"),
            ("Type", "type"),
            ("LeadSource", "lead_source"),
            ("ForecastCategoryName", "forecast_category"),
            ("IsClosed", "is_closed"),
            ("IsWon", "is_won"),
            ("AccountId", "account_id"),
        ),
    ),
    SyncTemplate(
        name="opportunity-contacts",
        summary="Relates opportunities to their contacts through contact roles, with the "
        "role as a relationship attribute.",
        preset=True,
        object="OpportunityContactRole",
        # Customer.io has no object-to-object relationships (mapping section 6),
        # so an opportunity reaches people through its contact roles, not its account.
        format=RelationshipFormat(
            person_field="ContactId", object_field="OpportunityId", object_type=_OPPORTUNITIES
        ),
        fields=_fields(("Role", "role"), ("IsPrimary", "is_primary")),
    ),
    SyncTemplate(
        name="tasks",
        summary="Completed tasks become 'Task Completed' events of their contact or lead.",
        preset=True,
        object="Task",
        # WhoId is a Contact or Lead Id: the person's id when people are
        # synced by Salesforce Id, as the contacts and leads templates do.
        format=EventFormat(
            name="Task Completed", person_field="WhoId", timestamp_field="CompletedDateTime"
        ),
        fields=_fields(
            ("Subject", "subject"),
            ("Type", "type"),
            ("TaskSubtype", "subtype"),
            ("Status", "status"),
            ("Priority", "priority"),
            ("ActivityDate", "due_date"),
            ("WhatId", "related_to_id"),
        ),
        filter="IsClosed = true AND WhoId != null",
    ),
    SyncTemplate(
        name="campaigns",
        summary="Campaigns become objects of type Campaigns, identified by Campaign Id.",
        preset=True,
        object="Campaign",
        format=ObjectFormat(object_type=_CAMPAIGNS, id_field="Id"),
        fields=_fields(
            ("Name", "name"),
            ("Type", "type"),
            ("Status", "status"),
            ("StartDate", "start_date"),
            ("EndDate", "end_date"),
            ("IsActive", "is_active"),
        ),
    ),
    SyncTemplate(
        name="campaign-members",
        summary="Relates each campaign member (contact or lead, by Id) to its campaign, "
        "with member status as relationship attributes.",
        preset=True,
        object="CampaignMember",
        format=RelationshipFormat(
            person_field="LeadOrContactId", object_field="CampaignId", object_type=_CAMPAIGNS
        ),
        fields=_fields(
            ("Status", "status"),
            ("HasResponded", "has_responded"),
            ("FirstRespondedDate", "first_responded_date"),
        ),
    ),
)

TEMPLATES: Mapping[str, SyncTemplate] = MappingProxyType({t.name: t for t in _TEMPLATES})

# (object, fields) each template reads: the integration-user check's list.
TEMPLATE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    t.name: (t.object, t.needed_fields) for t in _TEMPLATES
}


def list_templates() -> tuple[SyncTemplate, ...]:
    """Every template and preset, the product's three templates first (for the CLI's listing)."""
    return _TEMPLATES


def template(
    name: str,
    *,
    connection: str,
    sync_name: str | None = None,
    destinations: Sequence[str] = (),
    enabled: bool = False,
) -> SyncSpec:
    """A sync spec from template ``name``, called ``sync_name`` (the template's name by default).

    The sync starts disabled, as in the product: review it, then enable it.
    An unknown name is a ConfigError listing the templates.
    """
    chosen = TEMPLATES.get(name)
    if chosen is None:
        close = difflib.get_close_matches(name, list(TEMPLATES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"no sync template {name!r}; {hint}choose one of: {', '.join(TEMPLATES)}")
    return SyncSpec(
        name=sync_name or chosen.name,
        connection=connection,
        object=chosen.object,
        format=chosen.format,
        fields=chosen.fields,
        filter=chosen.filter,
        destinations=tuple(destinations),
        enabled=enabled,
    )
