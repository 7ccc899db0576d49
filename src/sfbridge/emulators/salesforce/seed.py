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
"""

from __future__ import annotations

import math
import operator
import random
import time
import unicodedata
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from . import derived
from . import seed_words as words
from .access import SYSTEM_ADMINISTRATOR
from .codec import format_datetime
from .org import ADMIN_USERNAME, Org
from .schema import ObjectDef
from .storage import quote_name

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

_CHUNK = 50_000
# Dropping a table's indexes and rebuilding them after a large insert that at least
# doubles the table beats updating them row by row (measured on contacts: 100k load
# in 6.3 s instead of 7.0 s; 1M insert in 16 s instead of 25 s).
_REINDEX_FROM = 10_000
_DAY = 86_400_000  # milliseconds
_HISTORY_DAYS = 730
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_USER_DOMAIN = "sfbridge.example"

T = TypeVar("T")


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
    seeder = _Seeder(org, contacts, seed, wanted)
    with org.store.transaction():
        seeder.run()
    return SeedReport(counts=seeder.counts, seconds=round(time.perf_counter() - started, 3))


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


# -- word lists -----------------------------------------------------------------


@lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    """ASCII letters and digits: ``O'Brien`` -> ``obrien``, ``Ødegaard`` -> ``odegaard``."""
    folded = unicodedata.normalize("NFKD", text.translate(words.FOLD))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def _picklist(obj: ObjectDef, name: str) -> tuple[str, ...]:
    definition = obj.field(name)
    values = definition.describe.get("picklistValues", []) if definition else []
    return tuple(str(entry["value"]) for entry in values if entry.get("active", True))


def _semantics(obj: ObjectDef, name: str) -> list[dict[str, Any]]:
    rules = obj.describe.get("picklistSemantics", {}).get(name, [])
    return [rule for rule in rules if isinstance(rule, dict)]


class _Dice(random.Random):
    """A seeded random stream with the draws the generators use on every row."""

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def chance(self, probability: float) -> bool:
        return self.random() < probability


class _Timeline:
    """Moments as epoch milliseconds from ``start`` to ``end``, and their storage forms."""

    def __init__(self, end: datetime) -> None:
        self.end = (end - _EPOCH) // timedelta(milliseconds=1)
        self.start = self.end - _HISTORY_DAYS * _DAY
        self.span = self.end - self.start
        self._days: dict[int, str] = {}

    def day(self, moment: int) -> str:
        """``YYYY-MM-DD`` of a moment (UTC)."""
        number = moment // _DAY
        text = self._days.get(number)
        if text is None:
            text = self._days[number] = format_datetime(_EPOCH + timedelta(days=number))[:10]
        return text

    def stamp(self, moment: int) -> str:
        """The storage form ``codec.format_datetime`` gives, built from the cached day."""
        seconds, millis = divmod(moment % _DAY, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{self.day(moment)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"

    def growth(self, dice: _Dice, count: int) -> list[int]:
        """``count`` sorted creation moments, denser towards today as in a growing org."""
        draw, start, span = dice.random, self.start, self.span
        return sorted(start + int(span * math.sqrt(draw())) for _ in range(count))

    def after(self, dice: _Dice, moment: int, power: float = 1.0) -> int:
        """A moment from ``moment`` to the end; ``power`` > 1 keeps it close to ``moment``."""
        return moment + int(max(0, self.end - moment) * dice.random() ** power)


def _city(dice: _Dice) -> words.City:
    return dice.pick(words.CITY_DRAW)


def _street(dice: _Dice, city: words.City) -> str:
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


def _postal(dice: _Dice, city: words.City) -> str:
    if city.country not in words.NUMERIC_POSTAL:
        return city.postal
    return f"{int(city.postal) + int(dice.random() * 40):0{len(city.postal)}d}"


def _phone(dice: _Dice, city: words.City) -> str:
    draw = dice.random
    if city.country in {"US", "CA"}:
        return f"({city.area}) {200 + int(draw() * 800)}-{int(draw() * 10_000):04d}"
    dial = words.COUNTRIES[city.country].dial
    return f"+{dial} {city.area} {int(draw() * 10_000):04d} {int(draw() * 10_000):04d}"


def _country_name(dice: _Dice, city: words.City) -> str:
    country = words.COUNTRIES[city.country]
    # No state and country picklists: hand-typed data spells countries several ways.
    if country.variants and dice.chance(0.12):
        return dice.pick(country.variants)
    return country.name


_ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country")


def _address(
    dice: _Dice, city: words.City, prefix: str, street: str | None = None
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
    return dict.fromkeys(f"{prefix}{part}" for part in _ADDRESS_PARTS)


def _company(dice: _Dice) -> str:
    name = f"{dice.pick(words.COMPANY_HEADS)} {dice.pick(words.COMPANY_TAILS)}"
    return f"{name} {dice.pick(words.COMPANY_SUFFIXES)}".rstrip()


def _email(dice: _Dice, first: str | None, last: str, number: int, domain: str) -> str:
    """A person's address; ``number`` keeps it unique (names never end in digits)."""
    if first is None:
        local = _slug(last)
    elif dice.chance(0.25):
        local = _slug(first)[:1] + _slug(last)
    else:
        local = f"{_slug(first)}.{_slug(last)}"
    return f"{local}{number}@{domain}"


def _blocks(placement: Sequence[int], groups: int) -> array[int]:
    """For sorted group numbers, where each group starts: group g is ``[s[g], s[g+1])``."""
    starts = array("i", [0] * (groups + 1))
    for group in placement:
        starts[group + 1] += 1
    for group in range(groups):
        starts[group + 1] += starts[group]
    return starts


@dataclass
class _Counts:
    users: int
    accounts: int
    leads: int
    opportunities: int
    cases: int
    tasks: int
    campaigns: int
    members: int

    @classmethod
    def for_contacts(cls, contacts: int) -> _Counts:
        return cls(
            users=min(40, 4 + contacts // 25_000),
            accounts=max(1, contacts // 5),
            leads=max(1, contacts // 2),
            opportunities=max(1, contacts * 3 // 10),
            cases=max(1, contacts // 10),
            tasks=max(1, contacts // 2),
            campaigns=min(60, 3 + contacts // 20_000),
            members=max(2, contacts // 5),
        )


class _Person(NamedTuple):
    """The details of a contact that the lead it was converted from repeats."""

    salutation: str | None
    first: str | None
    last: str
    email: str | None
    title: str | None
    phone: str | None
    lead_source: str | None
    created: int


class _Member(NamedTuple):
    campaign: int
    is_lead: bool
    person: int
    responded: bool
    created: int


class _Seeder:
    """One seeding run. Generators run in dependency order and share what later ones point at."""

    def __init__(self, org: Org, contacts: int, seed: int, wanted: set[str]) -> None:
        self.org = org
        self.seed = seed
        self.wanted = wanted
        self.n_contacts = contacts
        self.n = _Counts.for_contacts(contacts)
        midnight = org.store.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        self.time = _Timeline(midnight)
        self.counts: dict[str, int] = {}
        admin = org.user(username=ADMIN_USERNAME)
        if admin is None:
            raise LookupError(f"the org has no user {ADMIN_USERNAME!r} to own seeded records")
        self.admin = admin.id
        self.owners: tuple[str, ...] = ()
        # Per-record facts, indexed by position in the seeded id lists.
        self.account_ids: list[str] = []
        self.account_names: list[str] = []
        self.account_domains: list[str] = []
        self.account_cities: list[words.City | None] = []
        self.account_streets: list[str | None] = []
        self.account_owner = array("i")
        self.account_created = array("q")
        self.contact_ids: list[str] = []
        self.contact_account = array("i")  # -1: a private contact
        self.contact_owner = array("i")
        self.contact_created = array("q")
        self.contacts_of = array("i")  # account a's contacts: contacts_of[a] .. contacts_of[a+1]
        self.converted: dict[int, _Person | None] = {}  # contact -> the lead it came from
        self.opportunity_ids: list[str] = []
        self.opportunity_account = array("i")
        self.opportunity_created = array("q")
        self.opportunities_of = array("i")
        self.lead_ids: list[str] = []
        self.lead_created = array("q")
        self.lead_converted = bytearray()
        self.profile = org.profiles.by_name(SYSTEM_ADMINISTRATOR).id
        self.store = org.store

    def run(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("User", self._users),
            ("Account", self._accounts),
            ("Contact", self._contacts),
            ("Opportunity", self._opportunities),
            ("OpportunityContactRole", self._contact_roles),
            ("Lead", self._leads),
            ("Case", self._cases),
            ("Campaign", self._campaigns),
            ("Task", self._tasks),
        ]
        for name, step in steps:
            if name in self.wanted:
                step()

    # -- plumbing -------------------------------------------------------------

    def _dice(self, purpose: str) -> _Dice:
        # One stream per purpose: seeding fewer objects leaves the others' values unchanged.
        return _Dice(f"sfbridge-seed:{self.seed}:{purpose}")

    def _audit(self, dice: _Dice, owner: int | None, created: int, row: dict[str, Any]) -> None:
        """OwnerId (``owners[owner]``; None for objects without one), audit users, timestamps."""
        owners, stamp = self.owners, self.time.stamp
        modified = created if dice.chance(0.55) else self.time.after(dice, created, 1.5)
        creator = owners[owner] if owner is not None and dice.chance(0.7) else self.admin
        # Never the integration user: a sync skips its own writes by that id.
        modifier = creator if modified == created else dice.pick(owners)
        if owner is not None:
            row["OwnerId"] = owners[owner]
        row["CreatedById"] = creator
        row["LastModifiedById"] = modifier
        row["CreatedDate"] = created_at = stamp(created)
        row["LastModifiedDate"] = modified_at = (
            created_at if modified == created else stamp(modified)
        )
        # A background recalculation sometimes moves SystemModstamp alone.
        if dice.chance(0.05):
            modified_at = stamp(min(self.time.end, modified + int(dice.random() * 3_600_000)))
        row["SystemModstamp"] = modified_at

    def _touch(self, row: dict[str, Any], moment: int) -> None:
        """Make the row last modified no earlier than ``moment`` (a later edit, e.g. closing)."""
        at = self.time.stamp(min(moment, self.time.end))
        if row["LastModifiedDate"] < at:
            row["LastModifiedDate"] = at
        if row["SystemModstamp"] < at:
            row["SystemModstamp"] = at

    def _ids(self, name: str, count: int) -> list[str]:
        return self.store.next_ids(self.org.object(name), count) if count else []

    def _insert(self, name: str, count: int, rows: Iterator[dict[str, Any]]) -> None:
        """Insert ``count`` generated rows after picklist defaults and derived fields."""
        obj = self.org.object(name)
        # apply_defaults fills only what a row lacks and no default depends on another
        # field, so one run on an empty row gives every row's defaults.
        defaults: dict[str, Any] = {}
        derived.apply_defaults(obj, defaults)
        indexes: list[tuple[str, str]] = []
        if count >= _REINDEX_FROM and count >= self.store.count(obj, include_deleted=True):
            indexes = self.store.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (obj.name,),
            )
            for index_name, _ in indexes:
                self.store.execute(f"DROP INDEX {quote_name(index_name)}")
        columns: list[str] = []
        values: Callable[[dict[str, Any]], Any] = tuple
        inserted = 0
        while chunk := list(islice(rows, _CHUNK)):
            batch = []
            for row in chunk:
                for key, default in defaults.items():
                    if row.get(key) is None:
                        row[key] = default
                derived.derive(obj, row)
                if not columns:
                    unknown = [key for key in row if obj.field(key) is None]
                    if unknown:
                        raise RuntimeError(f"{obj.name} has no fields {unknown}")
                    columns = list(row)
                    values = operator.itemgetter(*columns)
                if len(row) != len(columns):
                    raise RuntimeError(f"seeded {obj.name} rows differ in fields: {sorted(row)}")
                batch.append(values(row))
            inserted += self.store.insert_rows(obj, columns, batch)
        # Rebuilt inside the seeding transaction: a failure rolls the drop back too.
        for _, sql in indexes:
            self.store.execute(sql)
        self.counts[obj.name] = self.counts.get(obj.name, 0) + inserted

    # -- users ----------------------------------------------------------------

    def _users(self) -> None:
        dice = self._dice("User")
        people: dict[str, tuple[str, str]] = {}
        while len(people) < self.n.users:
            first, last = dice.pick(words.FIRST_NAMES), dice.pick(words.LAST_NAMES)
            people.setdefault(f"{_slug(first)}.{_slug(last)}", (first, last))
        usernames = [f"{local}@{_USER_DOMAIN}" for local in people]
        marks = ", ".join("?" for _ in usernames)
        existing = dict(
            self.store.execute(
                f'SELECT Username, Id FROM "User" WHERE Username IN ({marks})',
                usernames,
            )
        )
        new_ids = iter(self._ids("User", len(usernames) - len(existing)))
        ids = [existing.get(username) or next(new_ids) for username in usernames]
        joined = self.time.stamp(self.time.start - 30 * _DAY)

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
                    "Alias": (_slug(first)[:1] + _slug(last))[:8],
                    "CommunityNickname": local[:40],
                    "Title": title,
                    "Department": "Support" if title == "Support Engineer" else "Sales",
                    "TimeZoneSidKey": zone,
                    "LocaleSidKey": locale,
                    "EmailEncodingKey": "UTF-8",
                    "LanguageLocaleKey": "en_US",
                    "ProfileId": self.profile,
                    "UserType": "Standard",
                    # One former employee still owns records, as in most real orgs.
                    "IsActive": int(index < len(people) - 1),
                    "ManagerId": ids[0] if index else None,
                    "CreatedById": self.admin,
                    "LastModifiedById": self.admin,
                    "CreatedDate": joined,
                    "LastModifiedDate": joined,
                    "SystemModstamp": joined,
                }

        self._insert("User", len(usernames) - len(existing), rows())
        # Sales users own most records; the administrator owns a few (imports).
        self.owners = (self.admin, *ids, *ids, *ids)

    # -- accounts and contacts ----------------------------------------------

    def _accounts(self) -> None:
        dice = self._dice("Account")
        pick, chance, draw = dice.pick, dice.chance, dice.random
        obj = self.org.object("Account")
        count = self.n.accounts
        ids = self.account_ids = self._ids("Account", count)
        created = self.account_created = array("q", self.time.growth(dice, count))
        industries = _picklist(obj, "Industry")
        ownerships = _picklist(obj, "Ownership")
        ratings = (*_picklist(obj, "Rating"), None)
        sources = (*_picklist(obj, "AccountSource"), None, None)

        def rows() -> Iterator[dict[str, Any]]:
            for i in range(count):
                name = _company(dice)
                city = _city(dice)
                domain = f"{_slug(' '.join(name.split()[:2]))}.{words.COUNTRIES[city.country].tld}"
                owner = int(draw() * len(self.owners))
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
                    "TickerSymbol": _slug(name)[:4].upper() if public else None,
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
                self.account_names.append(name)
                self.account_domains.append(domain)
                self.account_cities.append(city if row["BillingCity"] else None)
                self.account_streets.append(row["BillingStreet"])
                self.account_owner.append(owner)
                self._audit(dice, owner, created[i], row)
                yield row

        self._insert("Account", count, rows())

    def _contacts(self) -> None:
        dice = self._dice("Contact")
        pick, chance, draw = dice.pick, dice.chance, dice.random
        obj = self.org.object("Contact")
        count, n_accounts = self.n_contacts, len(self.account_ids)
        # Older accounts collect more contacts; an account's contacts are consecutive.
        placement = sorted(int(n_accounts * draw() ** 1.4) for _ in range(count))
        self.contacts_of = _blocks(placement, n_accounts)
        ids = self.contact_ids = self._ids("Contact", count)
        # Planned even when leads are not seeded, so contacts come out the same either way.
        converted = self.converted = dict.fromkeys(self._plan_conversions())
        salutations = _picklist(obj, "Salutation")
        sources = _picklist(obj, "LeadSource")
        time_, owners = self.time, self.owners

        def rows() -> Iterator[dict[str, Any]]:
            head = -1
            for i in range(count):
                account = placement[i]
                if i == self.contacts_of[account]:
                    head = i
                # About 2% are private contacts; never one a lead became (conversion sets
                # an account).
                private = chance(0.02) and i not in converted
                if private:
                    account = -1
                    created = time_.start + int(time_.span * math.sqrt(draw()))
                    owner = int(draw() * len(owners))
                else:
                    created = time_.after(dice, self.account_created[account], 3.0)
                    owner = (
                        self.account_owner[account] if chance(0.85) else pick(range(len(owners)))
                    )
                first = pick(words.FIRST_NAMES) if chance(0.97) else None
                last = pick(words.LAST_NAMES)
                email = None
                if chance(0.92):
                    at_work = account >= 0 and chance(0.75)
                    domain = self.account_domains[account] if at_work else pick(words.FREE_MAIL)
                    # Odd numbers here, even for leads: a lead repeats a contact's
                    # address only when it was converted into that contact.
                    email = _email(dice, first, last, 2 * i + 1, domain)
                city = self.account_cities[account] if account >= 0 else None
                street = self.account_streets[account] if city else None
                if city is None or chance(0.4):
                    city, street = _city(dice), None
                bounced = email is not None and chance(0.01)
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "AccountId": self.account_ids[account] if account >= 0 else None,
                    "Salutation": pick(salutations) if chance(0.4) else None,
                    "FirstName": first,
                    "LastName": last,
                    "Email": email,
                    "Title": pick(words.TITLES) if chance(0.85) else None,
                    "Department": pick(words.DEPARTMENTS) if chance(0.6) else None,
                    "Phone": _phone(dice, city) if chance(0.8) else None,
                    "MobilePhone": _phone(dice, city) if chance(0.5) else None,
                    "LeadSource": pick(sources) if chance(0.7) else None,
                    "Birthdate": time_.day(time_.end - int((22 + draw() * 48) * 365 * _DAY))
                    if chance(0.4)
                    else None,
                    "HasOptedOutOfEmail": int(chance(0.08)),
                    "DoNotCall": int(chance(0.03)),
                    "ReportsToId": ids[head]
                    if head != i and self.contact_account[head] == account >= 0 and chance(0.1)
                    else None,
                    "IsEmailBounced": int(bounced),
                    "EmailBouncedDate": time_.stamp(time_.after(dice, created))
                    if bounced
                    else None,
                    "EmailBouncedReason": "550 5.1.1 User unknown" if bounced else None,
                }
                row |= (
                    _address(dice, city, "Mailing", street)
                    if chance(0.9)
                    else _no_address("Mailing")
                )
                self._audit(dice, owner, created, row)
                self.contact_account.append(account)
                self.contact_owner.append(owner)
                self.contact_created.append(created)
                if i in converted:
                    converted[i] = _Person(
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

        self._insert("Contact", count, rows())

    def _plan_conversions(self) -> list[int]:
        """The contacts that converted leads became, chosen before the contacts exist."""
        dice = self._dice("Lead/conversions")
        wanted = min(self.n.leads * 22 // 100, self.n_contacts)
        return sorted(dice.sample(range(self.n_contacts), wanted))

    # -- opportunities --------------------------------------------------------

    def _opportunities(self) -> None:
        dice = self._dice("Opportunity")
        pick, chance, draw = dice.pick, dice.chance, dice.random
        obj = self.org.object("Opportunity")
        count, n_accounts = self.n.opportunities, len(self.account_ids)
        placement = sorted(int(n_accounts * draw() ** 1.2) for _ in range(count))
        self.opportunities_of = _blocks(placement, n_accounts)
        ids = self.opportunity_ids = self._ids("Opportunity", count)
        stages = _semantics(obj, "StageName")
        open_stages = words.weighted(
            [
                (rule["value"], weight)
                for rule, weight in zip(stages, words.OPEN_STAGE_WEIGHTS, strict=False)
                if not rule["isClosed"]
            ]
        )
        won = next(rule["value"] for rule in stages if rule["isWon"])
        lost = next(rule["value"] for rule in stages if rule["isClosed"] and not rule["isWon"])
        types = _picklist(obj, "Type")
        sources = (*_picklist(obj, "LeadSource"), None)
        time_ = self.time

        def rows() -> Iterator[dict[str, Any]]:
            for i in range(count):
                account = placement[i]
                created = time_.after(dice, self.account_created[account], 1.3)
                close = created + int((14 + draw() * 160) * _DAY)
                # Most deals whose close date passed are decided; the rest slipped.
                decided = close < time_.end and chance(0.9)
                if decided:
                    stage = won if chance(0.45) else lost
                else:
                    stage = pick(open_stages)
                    close = time_.end + int(draw() * 180) * _DAY
                close_day = time_.day(close)
                year, quarter = int(close_day[:4]), (int(close_day[5:7]) - 1) // 3 + 1
                deal = pick(words.DEALS)
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "AccountId": self.account_ids[account],
                    "Name": f"{self.account_names[account]} - {deal}"[:120],
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
                self._audit(dice, self.account_owner[account], created, row)
                if decided:
                    self._touch(row, max(close, created))
                self.opportunity_account.append(account)
                self.opportunity_created.append(created)
                yield row

        self._insert("Opportunity", count, rows())

    def _contact_roles(self) -> None:
        dice = self._dice("OpportunityContactRole")
        roles = _picklist(self.org.object("OpportunityContactRole"), "Role")
        plan: list[tuple[int, int]] = []
        for opportunity, account in enumerate(self.opportunity_account):
            people = [
                contact
                for contact in range(self.contacts_of[account], self.contacts_of[account + 1])
                if self.contact_account[contact] == account
            ]
            wanted = 1 if dice.chance(0.6) else 2 if dice.chance(0.75) else 3
            plan.extend(
                (opportunity, contact) for contact in dice.sample(people, min(wanted, len(people)))
            )
        ids = self._ids("OpportunityContactRole", len(plan))

        def rows() -> Iterator[dict[str, Any]]:
            previous = -1
            for i, (opportunity, contact) in enumerate(plan):
                created = max(self.opportunity_created[opportunity], self.contact_created[contact])
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "OpportunityId": self.opportunity_ids[opportunity],
                    "ContactId": self.contact_ids[contact],
                    "Role": dice.pick(roles) if dice.chance(0.85) else None,
                    "IsPrimary": int(opportunity != previous),  # the first role listed
                }
                previous = opportunity
                self._audit(dice, None, created, row)
                yield row

        self._insert("OpportunityContactRole", len(plan), rows())

    # -- leads ----------------------------------------------------------------

    def _leads(self) -> None:
        dice = self._dice("Lead")
        pick, chance, draw = dice.pick, dice.chance, dice.random
        obj = self.org.object("Lead")
        time_ = self.time
        count = self.n.leads
        # A converted lead existed shortly before the contact it became.
        became = [
            (max(time_.start, person.created - int((1 + draw() * 90) * _DAY)), contact)
            for contact, person in self.converted.items()
            if person is not None
        ][:count]
        others = time_.growth(dice, count - len(became))
        order = sorted(became + [(moment, -1) for moment in others])
        ids = self.lead_ids = self._ids("Lead", count)
        converted_status = next(r["value"] for r in _semantics(obj, "Status") if r["isConverted"])
        salutations = _picklist(obj, "Salutation")
        sources = _picklist(obj, "LeadSource")
        industries = (*_picklist(obj, "Industry"), None)
        ratings = (*_picklist(obj, "Rating"), None, None)
        owners = self.owners

        def rows() -> Iterator[dict[str, Any]]:
            for i, (created, contact) in enumerate(order):
                city = _city(dice)
                row: dict[str, Any] = {"Id": ids[i]}
                person = self.converted[contact] if contact >= 0 else None
                if person is not None:
                    account = self.contact_account[contact]
                    deals = range(
                        self.opportunities_of[account], self.opportunities_of[account + 1]
                    )
                    row |= {
                        "Salutation": person.salutation,
                        "FirstName": person.first,
                        "LastName": person.last,
                        "Email": person.email,
                        "Title": person.title,
                        "Phone": person.phone,
                        "LeadSource": person.lead_source,
                        "Company": self.account_names[account],
                        "Status": converted_status,
                        "ConvertedDate": time_.day(person.created),
                        "ConvertedAccountId": self.account_ids[account],
                        "ConvertedContactId": self.contact_ids[contact],
                        "ConvertedOpportunityId": self.opportunity_ids[pick(deals)]
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
                            domain = f"{_slug(company)[:24]}.{words.COUNTRIES[city.country].tld}"
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
                    "AnnualRevenue": float(round(10 ** (5 + draw() * 4), -3))
                    if chance(0.3)
                    else None,
                    "NumberOfEmployees": int(10 ** (1 + draw() * 4)) if chance(0.4) else None,
                    "HasOptedOutOfEmail": int(chance(0.06)),
                    "DoNotCall": int(chance(0.03)),
                    "IsUnreadByOwner": int(row["Status"] == "Open - Not Contacted" and chance(0.3)),
                    "Description": pick(words.NOTES),
                }
                row |= _address(dice, city, "") if chance(0.75) else _no_address("")
                self._audit(dice, int(draw() * len(owners)), created, row)
                if person is not None:
                    self._touch(row, person.created)  # converting is the last edit
                self.lead_created.append(created)
                self.lead_converted.append(person is not None)
                yield row

        self._insert("Lead", count, rows())

    # -- cases ----------------------------------------------------------------

    def _cases(self) -> None:
        dice = self._dice("Case")
        pick, chance, draw = dice.pick, dice.chance, dice.random
        obj = self.org.object("Case")
        count, time_ = self.n.cases, self.time
        # About one case in ten comes from the web form with no contact attached.
        contacts = [int(draw() * self.n_contacts) if chance(0.9) else -1 for _ in range(count)]
        order = sorted(
            (time_.after(dice, self.contact_created[c] if c >= 0 else time_.start, 1.2), c)
            for c in contacts
        )
        ids = self._ids("Case", count)
        # CaseNumber is an auto-number; the REST write path draws from the same sequence.
        first_number = self.store.reserve("Case.CaseNumber", count)
        origins = _picklist(obj, "Origin")
        types = (*_picklist(obj, "Type"), None)
        reasons = (*_picklist(obj, "Reason"), None)

        def rows() -> Iterator[dict[str, Any]]:
            for i, (created, contact) in enumerate(order):
                status = pick(words.CASE_STATUSES)
                account = self.contact_account[contact] if contact >= 0 else -1
                first, last = pick(words.FIRST_NAMES), pick(words.LAST_NAMES)
                web = contact < 0
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "CaseNumber": f"{first_number + i:08d}",
                    "ContactId": self.contact_ids[contact] if contact >= 0 else None,
                    "AccountId": self.account_ids[account] if account >= 0 else None,
                    "SuppliedName": f"{first} {last}" if web else None,
                    "SuppliedEmail": f"{_slug(first)}.{_slug(last)}@example.net" if web else None,
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
                self._audit(dice, int(draw() * len(self.owners)), created, row)
                if status == "Closed":
                    closed = time_.after(dice, created, 4.0)
                    row["ClosedDate"] = time_.stamp(closed)
                    self._touch(row, closed)
                yield row

        self._insert("Case", count, rows())
        if ids:
            # A case shows its contact's email and phones; the org keeps them in step.
            self.store.execute(
                'UPDATE "Case" SET ContactEmail = c.Email, ContactPhone = c.Phone, '
                'ContactMobile = c.MobilePhone, ContactFax = c.Fax FROM "Contact" AS c '
                'WHERE c.Id = "Case".ContactId AND "Case".Id BETWEEN ? AND ?',
                (ids[0], ids[-1]),
            )

    # -- campaigns ------------------------------------------------------------

    def _campaigns(self) -> None:
        dice = self._dice("Campaign")
        pick, draw = dice.pick, dice.random
        obj = self.org.object("Campaign")
        time_ = self.time
        starts = time_.growth(dice, self.n.campaigns)
        starts[-1] = time_.end + 20 * _DAY  # the latest one is still being planned
        members = self._plan_members(starts) if "CampaignMember" in self.wanted else []
        contacts, leads, converted, responses = ([0] * len(starts) for _ in range(4))
        for member in members:
            (leads if member.is_lead else contacts)[member.campaign] += 1
            if member.is_lead and self.lead_converted[member.person]:
                converted[member.campaign] += 1
            responses[member.campaign] += member.responded
        ids = self._ids("Campaign", len(starts))
        types = _picklist(obj, "Type")

        def rows() -> Iterator[dict[str, Any]]:
            for i, start in enumerate(starts):
                end = start + int((1 + draw() * 60) * _DAY)
                if start > time_.end:
                    status = "Planned"
                else:
                    status = "Completed" if end < time_.end else "In Progress"
                kind, start_day = pick(types), time_.day(start)
                quarter = (int(start_day[5:7]) - 1) // 3 + 1
                budget = float(round(1_000 + draw() * 49_000, -2))
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "Name": f"{start_day[:4]} Q{quarter} {kind}: {pick(words.CAMPAIGN_TOPICS)}"[
                        :80
                    ],
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
                created = max(time_.start, min(start, time_.end) - int((7 + draw() * 30) * _DAY))
                self._audit(dice, int(draw() * len(self.owners)), created, row)
                yield row

        self._insert("Campaign", len(starts), rows())
        if members:
            self._campaign_members(ids, members)

    def _plan_members(self, starts: list[int]) -> list[_Member]:
        """Who joined which campaign when; a person joins a campaign at most once."""
        dice = self._dice("CampaignMember/plan")
        per_campaign = max(1, self.n.members // len(starts))
        n_leads = len(self.lead_ids)
        plan = []
        for campaign, start in enumerate(starts):
            if start > self.time.end:
                continue  # planned: nobody has joined yet
            contacts = min(per_campaign * 6 // 10, self.n_contacts)
            for is_lead, population, created_of, wanted in (
                (False, self.n_contacts, self.contact_created, contacts),
                (True, n_leads, self.lead_created, min(per_campaign - contacts, n_leads)),
            ):
                for person in sorted(dice.sample(range(population), wanted)):
                    joined = max(start, created_of[person])
                    if joined < self.time.end:
                        created = self.time.after(dice, joined, 3.0)
                        plan.append(_Member(campaign, is_lead, person, dice.chance(0.3), created))
        return plan

    def _campaign_members(self, campaign_ids: list[str], plan: list[_Member]) -> None:
        dice = self._dice("CampaignMember")
        ids = self._ids("CampaignMember", len(plan))
        time_ = self.time

        def rows() -> Iterator[dict[str, Any]]:
            for i, member in enumerate(plan):
                person = member.person
                responded = time_.after(dice, member.created, 6.0) if member.responded else None
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "CampaignId": campaign_ids[member.campaign],
                    "ContactId": None if member.is_lead else self.contact_ids[person],
                    "LeadId": self.lead_ids[person] if member.is_lead else None,
                    "Status": "Sent" if responded is None else "Responded",
                    "FirstRespondedDate": None if responded is None else time_.day(responded),
                }
                self._audit(dice, None, member.created, row)
                if responded is not None:
                    self._touch(row, responded)  # responding changed the status
                yield row

        self._insert("CampaignMember", len(plan), rows())
        if ids:
            self._copy_member_details(ids[0], ids[-1])

    def _copy_member_details(self, first_id: str, last_id: str) -> None:
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
            address = ", ".join(f"{part} = p.{prefix}{part}" for part in _ADDRESS_PARTS)
            kind = source.strip('"')
            self.store.execute(
                f"UPDATE {member} SET {copied}, {address}, CompanyOrAccount = {company}, "
                f"Type = '{kind}', LeadOrContactId = p.Id, LeadOrContactOwnerId = p.OwnerId "
                f"FROM {source} AS p {join} "
                f"WHERE p.Id = {member}.{link} AND {member}.Id BETWEEN ? AND ?",
                (first_id, last_id),
            )

    # -- tasks ----------------------------------------------------------------

    def _tasks(self) -> None:
        dice = self._dice("Task")
        pick, chance, draw = dice.pick, dice.chance, dice.random
        obj = self.org.object("Task")
        count, time_ = self.n.tasks, self.time
        n_leads = len(self.lead_ids)
        plan = []
        for _ in range(count):
            is_lead = n_leads > 0 and chance(0.3)
            person = int(draw() * (n_leads if is_lead else self.n_contacts))
            since = self.lead_created[person] if is_lead else self.contact_created[person]
            plan.append((time_.after(dice, since, 1.5), is_lead, person))
        plan.sort()
        ids = self._ids("Task", count)
        call_types = _picklist(obj, "CallType")

        def rows() -> Iterator[dict[str, Any]]:
            for i, (created, is_lead, person) in enumerate(plan):
                account = -1 if is_lead else self.contact_account[person]
                what = None
                # A task about a lead cannot also be about a record: WhatId stays empty.
                if account >= 0:
                    deals = range(
                        self.opportunities_of[account], self.opportunities_of[account + 1]
                    )
                    about = draw()
                    if about < 0.3 and deals:
                        what = self.opportunity_ids[pick(deals)]
                    elif about < 0.75:
                        what = self.account_ids[account]
                subject, kind, subtype = pick(words.TASK_KINDS)
                done = created < time_.end - _DAY and chance(0.65)
                if done:
                    due = time_.day(min(time_.end - 1, created + int(draw() * 14) * _DAY))
                else:
                    due = time_.day(time_.end + int((draw() * 40 - 10) * _DAY))
                priority = pick(words.TASK_PRIORITIES)
                call = subtype == "Call"
                row: dict[str, Any] = {
                    "Id": ids[i],
                    "WhoId": self.lead_ids[person] if is_lead else self.contact_ids[person],
                    "WhatId": what,
                    "AccountId": self.account_ids[account] if account >= 0 else None,
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
                owner = pick(range(len(self.owners))) if is_lead else self.contact_owner[person]
                self._audit(dice, owner, created, row)
                row["CompletedDateTime"] = row["LastModifiedDate"] if done else None
                yield row

        self._insert("Task", count, rows())
