"""Seeded sales and service work: opportunities and their contact roles, cases, campaigns
with their members, and tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

from . import seed_words as words
from .seed_run import ADDRESS_PARTS, DAY, SeedRun, blocks, picklist, semantics, slug


class _Member(NamedTuple):
    campaign: int
    is_lead: bool
    person: int
    responded: bool
    created: int


def add_opportunities(run: SeedRun) -> None:
    """Opportunities in consecutive blocks per account; past close dates are mostly decided."""
    dice = run.dice("Opportunity")
    pick, chance, draw = dice.pick, dice.chance, dice.random
    obj = run.org.object("Opportunity")
    count, n_accounts = run.n.opportunities, len(run.account_ids)
    placement = sorted(int(n_accounts * draw() ** 1.2) for _ in range(count))
    run.opportunities_of = blocks(placement, n_accounts)
    ids = run.opportunity_ids = run.ids("Opportunity", count)
    stages = semantics(obj, "StageName")
    open_stages = words.weighted(
        [
            (rule["value"], weight)
            for rule, weight in zip(stages, words.OPEN_STAGE_WEIGHTS, strict=False)
            if not rule["isClosed"]
        ]
    )
    won = next(rule["value"] for rule in stages if rule["isWon"])
    lost = next(rule["value"] for rule in stages if rule["isClosed"] and not rule["isWon"])
    types = picklist(obj, "Type")
    sources = (*picklist(obj, "LeadSource"), None)
    time_ = run.time

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(count):
            account = placement[i]
            created = time_.after(dice, run.account_created[account], 1.3)
            close = created + int((14 + draw() * 160) * DAY)
            # Most deals whose close date passed are decided; the rest slipped.
            decided = close < time_.end and chance(0.9)
            if decided:
                stage = won if chance(0.45) else lost
            else:
                stage = pick(open_stages)
                close = time_.end + int(draw() * 180) * DAY
            close_day = time_.day(close)
            year, quarter = int(close_day[:4]), (int(close_day[5:7]) - 1) // 3 + 1
            deal = pick(words.DEALS)
            row: dict[str, Any] = {
                "Id": ids[i],
                "AccountId": run.account_ids[account],
                "Name": f"{run.account_names[account]} - {deal}"[:120],
                "StageName": stage,
                "Amount": float(round(math.exp(8.5 + draw() * 4.5), -2)),
                "Probability": None,  # derive() takes the stage's
                "CloseDate": close_day,
                "Type": "New Customer" if deal == "New Business" else pick(types),
                "LeadSource": pick(sources),
                "NextStep": pick(words.NEXT_STEPS) if not decided and chance(0.6) else None,
                # A new org's fiscal year is the calendar year.
                "FiscalYear": year,
                "FiscalQuarter": quarter,
                "Fiscal": f"{year} {quarter}",
            }
            run.audit(dice, run.account_owner[account], created, row)
            if decided:
                run.touch(row, max(close, created))
            run.opportunity_account.append(account)
            run.opportunity_created.append(created)
            yield row

    run.insert("Opportunity", count, rows())


def add_contact_roles(run: SeedRun) -> None:
    """One to three of its account's contacts on each opportunity, the first one primary."""
    dice = run.dice("OpportunityContactRole")
    roles = picklist(run.org.object("OpportunityContactRole"), "Role")
    plan: list[tuple[int, int]] = []
    for opportunity, account in enumerate(run.opportunity_account):
        people = [
            contact
            for contact in range(run.contacts_of[account], run.contacts_of[account + 1])
            if run.contact_account[contact] == account
        ]
        wanted = 1 if dice.chance(0.6) else 2 if dice.chance(0.75) else 3
        plan.extend(
            (opportunity, contact) for contact in dice.sample(people, min(wanted, len(people)))
        )
    ids = run.ids("OpportunityContactRole", len(plan))

    def rows() -> Iterator[dict[str, Any]]:
        previous = -1
        for i, (opportunity, contact) in enumerate(plan):
            created = max(run.opportunity_created[opportunity], run.contact_created[contact])
            row: dict[str, Any] = {
                "Id": ids[i],
                "OpportunityId": run.opportunity_ids[opportunity],
                "ContactId": run.contact_ids[contact],
                "Role": dice.pick(roles) if dice.chance(0.85) else None,
                "IsPrimary": int(opportunity != previous),  # the first role listed
            }
            previous = opportunity
            run.audit(dice, None, created, row)
            yield row

    run.insert("OpportunityContactRole", len(plan), rows())


def add_cases(run: SeedRun) -> None:
    """Cases, most about a contact, some from the web form; copies contact details onto them."""
    dice = run.dice("Case")
    pick, chance, draw = dice.pick, dice.chance, dice.random
    obj = run.org.object("Case")
    count, time_ = run.n.cases, run.time
    # About one case in ten comes from the web form with no contact attached.
    contacts = [int(draw() * run.n_contacts) if chance(0.9) else -1 for _ in range(count)]
    order = sorted(
        (time_.after(dice, run.contact_created[c] if c >= 0 else time_.start, 1.2), c)
        for c in contacts
    )
    ids = run.ids("Case", count)
    # CaseNumber is an auto-number; the REST write path draws from the same sequence.
    first_number = run.store.reserve("Case.CaseNumber", count)
    origins = picklist(obj, "Origin")
    types = (*picklist(obj, "Type"), None)
    reasons = (*picklist(obj, "Reason"), None)

    def rows() -> Iterator[dict[str, Any]]:
        for i, (created, contact) in enumerate(order):
            status = pick(words.CASE_STATUSES)
            account = run.contact_account[contact] if contact >= 0 else -1
            first, last = pick(words.FIRST_NAMES), pick(words.LAST_NAMES)
            web = contact < 0
            row: dict[str, Any] = {
                "Id": ids[i],
                "CaseNumber": f"{first_number + i:08d}",
                "ContactId": run.contact_ids[contact] if contact >= 0 else None,
                "AccountId": run.account_ids[account] if account >= 0 else None,
                "SuppliedName": f"{first} {last}" if web else None,
                "SuppliedEmail": f"{slug(first)}.{slug(last)}@example.net" if web else None,
                "Type": pick(types),
                "Status": status,
                "Reason": pick(reasons),
                "Origin": "Web" if web else pick(origins),
                "Subject": pick(words.CASE_SUBJECTS),
                "Priority": pick(words.CASE_PRIORITIES),
                "Description": pick(words.NOTES),
                "ClosedDate": None,
                "IsEscalated": int(status == "Escalated" or chance(0.03)),
            }
            run.audit(dice, int(draw() * len(run.owners)), created, row)
            if status == "Closed":
                closed = time_.after(dice, created, 4.0)
                row["ClosedDate"] = time_.stamp(closed)
                run.touch(row, closed)
            yield row

    run.insert("Case", count, rows())
    if ids:
        # A case shows its contact's email and phones; the org keeps them in step.
        run.store.execute(
            'UPDATE "Case" SET ContactEmail = c.Email, ContactPhone = c.Phone, '
            'ContactMobile = c.MobilePhone, ContactFax = c.Fax FROM "Contact" AS c '
            'WHERE c.Id = "Case".ContactId AND "Case".Id BETWEEN ? AND ?',
            (ids[0], ids[-1]),
        )


def add_campaigns(run: SeedRun) -> None:
    """Campaigns with their roll-up counts, then their members when those are wanted."""
    dice = run.dice("Campaign")
    pick, draw = dice.pick, dice.random
    obj = run.org.object("Campaign")
    time_ = run.time
    starts = time_.growth(dice, run.n.campaigns)
    starts[-1] = time_.end + 20 * DAY  # the latest one is still being planned
    members = _plan_members(run, starts) if "CampaignMember" in run.wanted else []
    contacts, leads, converted, responses = ([0] * len(starts) for _ in range(4))
    for member in members:
        (leads if member.is_lead else contacts)[member.campaign] += 1
        if member.is_lead and run.lead_converted[member.person]:
            converted[member.campaign] += 1
        responses[member.campaign] += member.responded
    ids = run.ids("Campaign", len(starts))
    types = picklist(obj, "Type")

    def rows() -> Iterator[dict[str, Any]]:
        for i, start in enumerate(starts):
            end = start + int((1 + draw() * 60) * DAY)
            if start > time_.end:
                status = "Planned"
            else:
                status = "Completed" if end < time_.end else "In Progress"
            kind, start_day = pick(types), time_.day(start)
            quarter = (int(start_day[5:7]) - 1) // 3 + 1
            budget = float(round(1_000 + draw() * 49_000, -2))
            row: dict[str, Any] = {
                "Id": ids[i],
                "Name": f"{start_day[:4]} Q{quarter} {kind}: {pick(words.CAMPAIGN_TOPICS)}"[:80],
                "Type": kind,
                "Status": status,
                "StartDate": start_day,
                "EndDate": time_.day(end),
                "IsActive": int(status != "Completed"),
                "BudgetedCost": budget,
                "ActualCost": float(round(budget * (0.7 + draw() * 0.5), -2))
                if status == "Completed"
                else None,
                "ExpectedRevenue": float(round(budget * (2 + draw() * 8), -2)),
                "ExpectedResponse": round(1 + draw() * 14, 1),
                "NumberSent": float(contacts[i] + leads[i]),
                # Roll-ups the org maintains from the members (no opportunity is
                # attributed to a seeded campaign).
                "NumberOfContacts": contacts[i],
                "NumberOfLeads": leads[i],
                "NumberOfConvertedLeads": converted[i],
                "NumberOfResponses": responses[i],
                "NumberOfOpportunities": 0,
                "NumberOfWonOpportunities": 0,
                "AmountAllOpportunities": 0.0,
                "AmountWonOpportunities": 0.0,
            }
            created = max(time_.start, min(start, time_.end) - int((7 + draw() * 30) * DAY))
            run.audit(dice, int(draw() * len(run.owners)), created, row)
            yield row

    run.insert("Campaign", len(starts), rows())
    if members:
        _add_campaign_members(run, ids, members)


def _plan_members(run: SeedRun, starts: list[int]) -> list[_Member]:
    """Who joined which campaign when; a person joins a campaign at most once."""
    dice = run.dice("CampaignMember/plan")
    per_campaign = max(1, run.n.members // len(starts))
    n_leads = len(run.lead_ids)
    plan = []
    for campaign, start in enumerate(starts):
        if start > run.time.end:
            continue  # planned: nobody has joined yet
        contacts = min(per_campaign * 6 // 10, run.n_contacts)
        for is_lead, population, created_of, wanted in (
            (False, run.n_contacts, run.contact_created, contacts),
            (True, n_leads, run.lead_created, min(per_campaign - contacts, n_leads)),
        ):
            for person in sorted(dice.sample(range(population), wanted)):
                joined = max(start, created_of[person])
                if joined < run.time.end:
                    created = run.time.after(dice, joined, 3.0)
                    plan.append(_Member(campaign, is_lead, person, dice.chance(0.3), created))
    return plan


def _add_campaign_members(run: SeedRun, campaign_ids: list[str], plan: list[_Member]) -> None:
    dice = run.dice("CampaignMember")
    ids = run.ids("CampaignMember", len(plan))
    time_ = run.time

    def rows() -> Iterator[dict[str, Any]]:
        for i, member in enumerate(plan):
            person = member.person
            responded = time_.after(dice, member.created, 6.0) if member.responded else None
            row: dict[str, Any] = {
                "Id": ids[i],
                "CampaignId": campaign_ids[member.campaign],
                "ContactId": None if member.is_lead else run.contact_ids[person],
                "LeadId": run.lead_ids[person] if member.is_lead else None,
                "Status": "Sent" if responded is None else "Responded",
                "FirstRespondedDate": None if responded is None else time_.day(responded),
            }
            run.audit(dice, None, member.created, row)
            if responded is not None:
                run.touch(row, responded)  # responding changed the status
            yield row

    run.insert("CampaignMember", len(plan), rows())
    if ids:
        _copy_member_details(run, ids[0], ids[-1])


def _copy_member_details(run: SeedRun, first_id: str, last_id: str) -> None:
    """A campaign member shows its contact's or lead's details; the org keeps them in step."""
    shared = (
        "Salutation, FirstName, LastName, Name, Title, Email, Phone, MobilePhone, Fax, "
        "DoNotCall, HasOptedOutOfEmail, HasOptedOutOfFax, LeadSource"
    )
    copied = ", ".join(f"{name} = p.{name}" for name in shared.split(", "))
    member = '"CampaignMember"'
    with_account = 'LEFT JOIN "Account" AS a ON a.Id = p.AccountId'
    for source, join, prefix, company, link in (
        ('"Contact"', with_account, "Mailing", "a.Name", "ContactId"),
        ('"Lead"', "", "", "p.Company", "LeadId"),
    ):
        address = ", ".join(f"{part} = p.{prefix}{part}" for part in ADDRESS_PARTS)
        kind = source.strip('"')
        run.store.execute(
            f"UPDATE {member} SET {copied}, {address}, CompanyOrAccount = {company}, "
            f"Type = '{kind}', LeadOrContactId = p.Id, LeadOrContactOwnerId = p.OwnerId "
            f"FROM {source} AS p {join} "
            f"WHERE p.Id = {member}.{link} AND {member}.Id BETWEEN ? AND ?",
            (first_id, last_id),
        )


def add_tasks(run: SeedRun) -> None:
    """Tasks about contacts or leads, some also about an account or opportunity."""
    dice = run.dice("Task")
    pick, chance, draw = dice.pick, dice.chance, dice.random
    obj = run.org.object("Task")
    count, time_ = run.n.tasks, run.time
    n_leads = len(run.lead_ids)
    plan = []
    for _ in range(count):
        is_lead = n_leads > 0 and chance(0.3)
        person = int(draw() * (n_leads if is_lead else run.n_contacts))
        since = run.lead_created[person] if is_lead else run.contact_created[person]
        plan.append((time_.after(dice, since, 1.5), is_lead, person))
    plan.sort()
    ids = run.ids("Task", count)
    call_types = picklist(obj, "CallType")

    def rows() -> Iterator[dict[str, Any]]:
        for i, (created, is_lead, person) in enumerate(plan):
            account = -1 if is_lead else run.contact_account[person]
            what = None
            # A task about a lead cannot also be about a record: WhatId stays empty.
            if account >= 0:
                deals = range(run.opportunities_of[account], run.opportunities_of[account + 1])
                about = draw()
                if about < 0.3 and deals:
                    what = run.opportunity_ids[pick(deals)]
                elif about < 0.75:
                    what = run.account_ids[account]
            subject, kind, subtype = pick(words.TASK_KINDS)
            done = created < time_.end - DAY and chance(0.65)
            if done:
                due = time_.day(min(time_.end - 1, created + int(draw() * 14) * DAY))
            else:
                due = time_.day(time_.end + int((draw() * 40 - 10) * DAY))
            priority = pick(words.TASK_PRIORITIES)
            call = subtype == "Call"
            row: dict[str, Any] = {
                "Id": ids[i],
                "WhoId": run.lead_ids[person] if is_lead else run.contact_ids[person],
                "WhatId": what,
                "AccountId": run.account_ids[account] if account >= 0 else None,
                "WhoCount": 1,
                "WhatCount": int(what is not None),
                "Subject": subject,
                "Type": kind,
                "TaskSubtype": subtype,
                "ActivityDate": due if chance(0.9) else None,
                "Status": "Completed" if done else pick(words.OPEN_TASK_STATUSES),
                "Priority": priority,
                "IsHighPriority": int(priority == "High"),
                "Description": pick(words.NOTES),
                "CallType": pick(call_types) if call else None,
                "CallDurationInSeconds": int(30 + draw() * 1800) if call and done else None,
            }
            owner = pick(range(len(run.owners))) if is_lead else run.contact_owner[person]
            run.audit(dice, owner, created, row)
            row["CompletedDateTime"] = row["LastModifiedDate"] if done else None
            yield row

    run.insert("Task", count, rows())
