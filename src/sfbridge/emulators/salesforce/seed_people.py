"""Seeded people and the companies they work for: sales users, accounts, contacts, leads.

Also the details people carry: addresses spelled the way each country writes
them, phone numbers, email addresses and company names.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from typing import Any

from . import seed_words as words
from .seed_run import (
    ADDRESS_PARTS,
    DAY,
    Dice,
    Person,
    SeedRun,
    blocks,
    picklist,
    semantics,
    slug,
)

_USER_DOMAIN = "sfbridge.example"


def _city(dice: Dice) -> words.City:
    return dice.pick(words.CITY_DRAW)


def _street(dice: Dice, city: words.City) -> str:
    country = words.COUNTRIES[city.country]
    name = dice.pick(country.streets)
    number = 1 + int(dice.random() * dice.random() * 2400)
    if country.style == "name-first":
        street = f"{name} {number % 180 + 1}"
    elif country.style == "name-number":
        street = f"{name}, {number % 300 + 1}"
    else:
        street = f"{number} {name}"
    if dice.chance(0.15):
        # A second line: multi-line text areas are what trips up CSV exports.
        street += f"\nSuite {100 + int(dice.random() * 900)}"
    return street


def _postal(dice: Dice, city: words.City) -> str:
    if city.country not in words.NUMERIC_POSTAL:
        return city.postal
    return f"{int(city.postal) + int(dice.random() * 40):0{len(city.postal)}d}"


def _phone(dice: Dice, city: words.City) -> str:
    draw = dice.random
    if city.country in {"US", "CA"}:
        return f"({city.area}) {200 + int(draw() * 800)}-{int(draw() * 10_000):04d}"
    dial = words.COUNTRIES[city.country].dial
    return f"+{dial} {city.area} {int(draw() * 10_000):04d} {int(draw() * 10_000):04d}"


def _country_name(dice: Dice, city: words.City) -> str:
    country = words.COUNTRIES[city.country]
    # No state and country picklists: hand-typed data spells countries several ways.
    if country.variants and dice.chance(0.12):
        return dice.pick(country.variants)
    return country.name


def _address(
    dice: Dice, city: words.City, prefix: str, street: str | None = None
) -> dict[str, Any]:
    """The components of a compound address field, e.g. ``Mailing`` + Street, City, …"""
    return {
        f"{prefix}Street": street or _street(dice, city),
        f"{prefix}City": city.name,
        f"{prefix}State": city.state,
        f"{prefix}PostalCode": _postal(dice, city),
        f"{prefix}Country": _country_name(dice, city),
    }


def _no_address(prefix: str) -> dict[str, Any]:
    return dict.fromkeys(f"{prefix}{part}" for part in ADDRESS_PARTS)


def _company(dice: Dice) -> str:
    name = f"{dice.pick(words.COMPANY_HEADS)} {dice.pick(words.COMPANY_TAILS)}"
    return f"{name} {dice.pick(words.COMPANY_SUFFIXES)}".rstrip()


def _email(dice: Dice, first: str | None, last: str, number: int, domain: str) -> str:
    """A person's address; ``number`` keeps it unique (names never end in digits)."""
    if first is None:
        local = slug(last)
    elif dice.chance(0.25):
        local = slug(first)[:1] + slug(last)
    else:
        local = f"{slug(first)}.{slug(last)}"
    return f"{local}{number}@{domain}"


def add_users(run: SeedRun) -> None:
    """Sales users to own records, reusing ones an earlier seeding added; sets ``run.owners``."""
    dice = run.dice("User")
    people: dict[str, tuple[str, str]] = {}
    while len(people) < run.n.users:
        first, last = dice.pick(words.FIRST_NAMES), dice.pick(words.LAST_NAMES)
        people.setdefault(f"{slug(first)}.{slug(last)}", (first, last))
    usernames = [f"{local}@{_USER_DOMAIN}" for local in people]
    marks = ", ".join("?" for _ in usernames)
    existing = dict(
        run.store.execute(
            f'SELECT Username, Id FROM "User" WHERE Username IN ({marks})',
            usernames,
        )
    )
    new_ids = iter(run.ids("User", len(usernames) - len(existing)))
    ids = [existing.get(username) or next(new_ids) for username in usernames]
    joined = run.time.stamp(run.time.start - 30 * DAY)

    def rows() -> Iterator[dict[str, Any]]:
        for index, (local, (first, last)) in enumerate(people.items()):
            zone, locale = dice.pick(words.USER_ZONES)
            if usernames[index] in existing:
                continue
            title = words.USER_TITLES[index % len(words.USER_TITLES)]
            yield {
                "Id": ids[index],
                "Username": usernames[index],
                "FirstName": first,
                "LastName": last,
                "Email": usernames[index],
                "Alias": (slug(first)[:1] + slug(last))[:8],
                "CommunityNickname": local[:40],
                "Title": title,
                "Department": "Support" if title == "Support Engineer" else "Sales",
                "TimeZoneSidKey": zone,
                "LocaleSidKey": locale,
                "EmailEncodingKey": "UTF-8",
                "LanguageLocaleKey": "en_US",
                "ProfileId": run.profile,
                "UserType": "Standard",
                # One former employee still owns records, as in most real orgs.
                "IsActive": int(index < len(people) - 1),
                "ManagerId": ids[0] if index else None,
                "CreatedById": run.admin,
                "LastModifiedById": run.admin,
                "CreatedDate": joined,
                "LastModifiedDate": joined,
                "SystemModstamp": joined,
            }

    run.insert("User", len(usernames) - len(existing), rows())
    # Sales users own most records; the administrator owns a few (imports).
    run.owners = (run.admin, *ids, *ids, *ids)


def add_accounts(run: SeedRun) -> None:
    """Accounts, older ones first, with the names, domains and places their contacts share."""
    dice = run.dice("Account")
    pick, chance, draw = dice.pick, dice.chance, dice.random
    obj = run.org.object("Account")
    count = run.n.accounts
    ids = run.account_ids = run.ids("Account", count)
    created = run.account_created = array("q", run.time.growth(dice, count))
    industries = picklist(obj, "Industry")
    ownerships = picklist(obj, "Ownership")
    ratings = (*picklist(obj, "Rating"), None)
    sources = (*picklist(obj, "AccountSource"), None, None)

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(count):
            name = _company(dice)
            city = _city(dice)
            domain = f"{slug(' '.join(name.split()[:2]))}.{words.COUNTRIES[city.country].tld}"
            owner = int(draw() * len(run.owners))
            employees = int(10 ** (1 + draw() * 4))
            public = employees > 5000 and chance(0.5)
            kind = pick(words.ACCOUNT_TYPES)
            row: dict[str, Any] = {
                "Id": ids[i],
                "Name": name,
                "Type": kind,
                "Industry": pick(industries) if chance(0.9) else None,
                "Phone": _phone(dice, city) if chance(0.9) else None,
                "Fax": _phone(dice, city) if chance(0.1) else None,
                "Website": f"{pick(('https://www.', 'www.', 'http://'))}{domain}"
                if chance(0.85)
                else None,
                "AccountNumber": f"CD{100_000 + i:06d}" if kind else None,
                "NumberOfEmployees": employees if chance(0.85) else None,
                "AnnualRevenue": float(round(employees * (80_000 + draw() * 320_000), -3))
                if chance(0.75)
                else None,
                "Ownership": "Public" if public else pick((*ownerships, None, None)),
                "TickerSymbol": slug(name)[:4].upper() if public else None,
                "Rating": pick(ratings),
                "AccountSource": pick(sources),
                "YearStarted": str(1950 + int(draw() * 73)) if chance(0.4) else None,
                "Description": pick(words.NOTES),
                # A few subsidiaries of an older account.
                "ParentId": ids[int(draw() * i)] if i and chance(0.03) else None,
                "BillingLatitude": None,
                "BillingLongitude": None,
            }
            if chance(0.92):
                row |= _address(dice, city, "Billing")
                row["BillingLatitude"] = round(city.latitude + (draw() - 0.5) / 10, 6)
                row["BillingLongitude"] = round(city.longitude + (draw() - 0.5) / 10, 6)
                shipping = chance(0.7)
                street = row["BillingStreet"]
                row |= (
                    _address(dice, city, "Shipping", street)
                    if shipping
                    else _no_address("Shipping")
                )
            else:
                row |= _no_address("Billing") | _no_address("Shipping")
            run.account_names.append(name)
            run.account_domains.append(domain)
            run.account_cities.append(city if row["BillingCity"] else None)
            run.account_streets.append(row["BillingStreet"])
            run.account_owner.append(owner)
            run.audit(dice, owner, created[i], row)
            yield row

    run.insert("Account", count, rows())


def add_contacts(run: SeedRun) -> None:
    """Contacts in consecutive blocks per account, noting the ones converted leads became."""
    dice = run.dice("Contact")
    pick, chance, draw = dice.pick, dice.chance, dice.random
    obj = run.org.object("Contact")
    count, n_accounts = run.n_contacts, len(run.account_ids)
    # Older accounts collect more contacts; an account's contacts are consecutive.
    placement = sorted(int(n_accounts * draw() ** 1.4) for _ in range(count))
    run.contacts_of = blocks(placement, n_accounts)
    ids = run.contact_ids = run.ids("Contact", count)
    # Planned even when leads are not seeded, so contacts come out the same either way.
    converted = run.converted = dict.fromkeys(_plan_conversions(run))
    salutations = picklist(obj, "Salutation")
    sources = picklist(obj, "LeadSource")
    time_, owners = run.time, run.owners

    def rows() -> Iterator[dict[str, Any]]:
        head = -1
        for i in range(count):
            account = placement[i]
            if i == run.contacts_of[account]:
                head = i
            # About 2% are private contacts; never one a lead became (conversion sets
            # an account).
            private = chance(0.02) and i not in converted
            if private:
                account = -1
                created = time_.start + int(time_.span * math.sqrt(draw()))
                owner = int(draw() * len(owners))
            else:
                created = time_.after(dice, run.account_created[account], 3.0)
                owner = run.account_owner[account] if chance(0.85) else pick(range(len(owners)))
            first = pick(words.FIRST_NAMES) if chance(0.97) else None
            last = pick(words.LAST_NAMES)
            email = None
            if chance(0.92):
                at_work = account >= 0 and chance(0.75)
                domain = run.account_domains[account] if at_work else pick(words.FREE_MAIL)
                # Odd numbers here, even for leads: a lead repeats a contact's
                # address only when it was converted into that contact.
                email = _email(dice, first, last, 2 * i + 1, domain)
            city = run.account_cities[account] if account >= 0 else None
            street = run.account_streets[account] if city else None
            if city is None or chance(0.4):
                city, street = _city(dice), None
            bounced = email is not None and chance(0.01)
            row: dict[str, Any] = {
                "Id": ids[i],
                "AccountId": run.account_ids[account] if account >= 0 else None,
                "Salutation": pick(salutations) if chance(0.4) else None,
                "FirstName": first,
                "LastName": last,
                "Email": email,
                "Title": pick(words.TITLES) if chance(0.85) else None,
                "Department": pick(words.DEPARTMENTS) if chance(0.6) else None,
                "Phone": _phone(dice, city) if chance(0.8) else None,
                "MobilePhone": _phone(dice, city) if chance(0.5) else None,
                "LeadSource": pick(sources) if chance(0.7) else None,
                "Birthdate": time_.day(time_.end - int((22 + draw() * 48) * 365 * DAY))
                if chance(0.4)
                else None,
                "HasOptedOutOfEmail": int(chance(0.08)),
                "DoNotCall": int(chance(0.03)),
                "ReportsToId": ids[head]
                if head != i and run.contact_account[head] == account >= 0 and chance(0.1)
                else None,
                "IsEmailBounced": int(bounced),
                "EmailBouncedDate": time_.stamp(time_.after(dice, created)) if bounced else None,
                "EmailBouncedReason": "550 5.1.1 User unknown" if bounced else None,
            }
            row |= (
                _address(dice, city, "Mailing", street) if chance(0.9) else _no_address("Mailing")
            )
            run.audit(dice, owner, created, row)
            run.contact_account.append(account)
            run.contact_owner.append(owner)
            run.contact_created.append(created)
            if i in converted:
                converted[i] = Person(
                    row["Salutation"],
                    first,
                    last,
                    email,
                    row["Title"],
                    row["Phone"],
                    row["LeadSource"],
                    created,
                )
            yield row

    run.insert("Contact", count, rows())


def _plan_conversions(run: SeedRun) -> list[int]:
    """The contacts that converted leads became, chosen before the contacts exist."""
    dice = run.dice("Lead/conversions")
    wanted = min(run.n.leads * 22 // 100, run.n_contacts)
    return sorted(dice.sample(range(run.n_contacts), wanted))


def add_leads(run: SeedRun) -> None:
    """Leads: converted ones repeat their contact's details, the rest are open or closed out."""
    dice = run.dice("Lead")
    pick, chance, draw = dice.pick, dice.chance, dice.random
    obj = run.org.object("Lead")
    time_ = run.time
    count = run.n.leads
    # A converted lead existed shortly before the contact it became.
    became = [
        (max(time_.start, person.created - int((1 + draw() * 90) * DAY)), contact)
        for contact, person in run.converted.items()
        if person is not None
    ][:count]
    others = time_.growth(dice, count - len(became))
    order = sorted(became + [(moment, -1) for moment in others])
    ids = run.lead_ids = run.ids("Lead", count)
    converted_status = next(r["value"] for r in semantics(obj, "Status") if r["isConverted"])
    salutations = picklist(obj, "Salutation")
    sources = picklist(obj, "LeadSource")
    industries = (*picklist(obj, "Industry"), None)
    ratings = (*picklist(obj, "Rating"), None, None)
    owners = run.owners

    def rows() -> Iterator[dict[str, Any]]:
        for i, (created, contact) in enumerate(order):
            city = _city(dice)
            row: dict[str, Any] = {"Id": ids[i]}
            person = run.converted[contact] if contact >= 0 else None
            if person is not None:
                account = run.contact_account[contact]
                deals = range(run.opportunities_of[account], run.opportunities_of[account + 1])
                row |= {
                    "Salutation": person.salutation,
                    "FirstName": person.first,
                    "LastName": person.last,
                    "Email": person.email,
                    "Title": person.title,
                    "Phone": person.phone,
                    "LeadSource": person.lead_source,
                    "Company": run.account_names[account],
                    "Status": converted_status,
                    "ConvertedDate": time_.day(person.created),
                    "ConvertedAccountId": run.account_ids[account],
                    "ConvertedContactId": run.contact_ids[contact],
                    "ConvertedOpportunityId": run.opportunity_ids[pick(deals)]
                    if deals and chance(0.7)
                    else None,
                }
            else:
                status = pick(words.OPEN_LEAD_STATUSES)
                if (time_.end - created) > time_.span / 2 and chance(0.5):
                    status = "Closed - Not Converted"  # old leads get closed out
                first = pick(words.FIRST_NAMES) if chance(0.95) else None
                last = pick(words.LAST_NAMES)
                company = _company(dice) if chance(0.9) else "[not provided]"
                email = None
                if chance(0.9):
                    domain = pick(words.FREE_MAIL)
                    if company[0] != "[" and chance(0.6):
                        domain = f"{slug(company)[:24]}.{words.COUNTRIES[city.country].tld}"
                    email = _email(dice, first, last, 2 * i + 2, domain)
                row |= {
                    "Salutation": pick(salutations) if chance(0.3) else None,
                    "FirstName": first,
                    "LastName": last,
                    "Email": email,
                    "Title": pick(words.TITLES) if chance(0.7) else None,
                    "Phone": _phone(dice, city) if chance(0.7) else None,
                    "LeadSource": pick(sources) if chance(0.85) else None,
                    "Company": company,
                    "Status": status,
                    "ConvertedDate": None,
                    "ConvertedAccountId": None,
                    "ConvertedContactId": None,
                    "ConvertedOpportunityId": None,
                }
            row |= {
                "MobilePhone": _phone(dice, city) if chance(0.4) else None,
                "Industry": pick(industries),
                "Rating": pick(ratings),
                "AnnualRevenue": float(round(10 ** (5 + draw() * 4), -3)) if chance(0.3) else None,
                "NumberOfEmployees": int(10 ** (1 + draw() * 4)) if chance(0.4) else None,
                "HasOptedOutOfEmail": int(chance(0.06)),
                "DoNotCall": int(chance(0.03)),
                "IsUnreadByOwner": int(row["Status"] == "Open - Not Contacted" and chance(0.3)),
                "Description": pick(words.NOTES),
            }
            row |= _address(dice, city, "") if chance(0.75) else _no_address("")
            run.audit(dice, int(draw() * len(owners)), created, row)
            if person is not None:
                run.touch(row, person.created)  # converting is the last edit
            run.lead_created.append(created)
            run.lead_converted.append(person is not None)
            yield row

    run.insert("Lead", count, rows())
