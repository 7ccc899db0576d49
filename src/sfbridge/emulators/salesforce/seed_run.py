"""One seeding run: its random streams and timeline, the facts generators share, its bulk insert.

The row generators (``seed_people``, ``seed_sales``) take a ``SeedRun``: they
draw from ``run.dice(purpose)``, place moments on ``run.time``, record what
later generators point at (ids, owners, creation moments, per-account
blocks) on the run, and write through ``run.insert``.
"""

from __future__ import annotations

import math
import operator
import random
import unicodedata
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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

_CHUNK = 50_000
# Dropping a table's indexes and rebuilding them after a large insert that at least
# doubles the table beats updating them row by row (measured on contacts: 100k load
# in 6.3 s instead of 7.0 s; 1M insert in 16 s instead of 25 s).
_REINDEX_FROM = 10_000
DAY = 86_400_000  # milliseconds
_HISTORY_DAYS = 730
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country")
"""The components of a compound address field, after its prefix (``Mailing``, ``Billing``, …)."""

T = TypeVar("T")


@lru_cache(maxsize=4096)
def slug(text: str) -> str:
    """ASCII letters and digits: ``O'Brien`` -> ``obrien``, ``Ødegaard`` -> ``odegaard``."""
    folded = unicodedata.normalize("NFKD", text.translate(words.FOLD))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def picklist(obj: ObjectDef, name: str) -> tuple[str, ...]:
    """The active values of a picklist field, in describe order."""
    definition = obj.field(name)
    values = definition.describe.get("picklistValues", []) if definition else []
    return tuple(str(entry["value"]) for entry in values if entry.get("active", True))


def semantics(obj: ObjectDef, name: str) -> list[dict[str, Any]]:
    """The rules saying which picklist values close, win or convert (``isClosed``, …)."""
    rules = obj.describe.get("picklistSemantics", {}).get(name, [])
    return [rule for rule in rules if isinstance(rule, dict)]


def blocks(placement: Sequence[int], groups: int) -> array[int]:
    """For sorted group numbers, where each group starts: group g is ``[s[g], s[g+1])``."""
    starts = array("i", [0] * (groups + 1))
    for group in placement:
        starts[group + 1] += 1
    for group in range(groups):
        starts[group + 1] += starts[group]
    return starts


class Dice(random.Random):
    """A seeded random stream with the draws the generators use on every row."""

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def chance(self, probability: float) -> bool:
        return self.random() < probability


class Timeline:
    """Moments as epoch milliseconds from ``start`` to ``end``, and their storage forms."""

    def __init__(self, end: datetime) -> None:
        self.end = (end - _EPOCH) // timedelta(milliseconds=1)
        self.start = self.end - _HISTORY_DAYS * DAY
        self.span = self.end - self.start
        self._days: dict[int, str] = {}

    def day(self, moment: int) -> str:
        """``YYYY-MM-DD`` of a moment (UTC)."""
        number = moment // DAY
        text = self._days.get(number)
        if text is None:
            text = self._days[number] = format_datetime(_EPOCH + timedelta(days=number))[:10]
        return text

    def stamp(self, moment: int) -> str:
        """The storage form ``codec.format_datetime`` gives, built from the cached day."""
        seconds, millis = divmod(moment % DAY, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{self.day(moment)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"

    def growth(self, dice: Dice, count: int) -> list[int]:
        """``count`` sorted creation moments, denser towards today as in a growing org."""
        draw, start, span = dice.random, self.start, self.span
        return sorted(start + int(span * math.sqrt(draw())) for _ in range(count))

    def after(self, dice: Dice, moment: int, power: float = 1.0) -> int:
        """A moment from ``moment`` to the end; ``power`` > 1 keeps it close to ``moment``."""
        return moment + int(max(0, self.end - moment) * dice.random() ** power)


@dataclass
class Counts:
    """How many rows of each object go with a number of contacts."""

    users: int
    accounts: int
    leads: int
    opportunities: int
    cases: int
    tasks: int
    campaigns: int
    members: int

    @classmethod
    def for_contacts(cls, contacts: int) -> Counts:
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


class Person(NamedTuple):
    """The details of a contact that the lead it was converted from repeats."""

    salutation: str | None
    first: str | None
    last: str
    email: str | None
    title: str | None
    phone: str | None
    lead_source: str | None
    created: int


class SeedRun:
    """One seeding run: the org, its random streams, and the facts later generators point at."""

    def __init__(self, org: Org, contacts: int, seed: int, wanted: set[str]) -> None:
        self.org = org
        self.seed = seed
        self.wanted = wanted
        self.n_contacts = contacts
        self.n = Counts.for_contacts(contacts)
        midnight = org.store.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        self.time = Timeline(midnight)
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
        self.converted: dict[int, Person | None] = {}  # contact -> the lead it came from
        self.opportunity_ids: list[str] = []
        self.opportunity_account = array("i")
        self.opportunity_created = array("q")
        self.opportunities_of = array("i")
        self.lead_ids: list[str] = []
        self.lead_created = array("q")
        self.lead_converted = bytearray()
        self.profile = org.profiles.by_name(SYSTEM_ADMINISTRATOR).id
        self.store = org.store

    def dice(self, purpose: str) -> Dice:
        # One stream per purpose: seeding fewer objects leaves the others' values unchanged.
        return Dice(f"sfbridge-seed:{self.seed}:{purpose}")

    def audit(self, dice: Dice, owner: int | None, created: int, row: dict[str, Any]) -> None:
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

    def touch(self, row: dict[str, Any], moment: int) -> None:
        """Make the row last modified no earlier than ``moment`` (a later edit, e.g. closing)."""
        at = self.time.stamp(min(moment, self.time.end))
        if row["LastModifiedDate"] < at:
            row["LastModifiedDate"] = at
        if row["SystemModstamp"] < at:
            row["SystemModstamp"] = at

    def ids(self, name: str, count: int) -> list[str]:
        """``count`` fresh record ids for an object, in order."""
        return self.store.next_ids(self.org.object(name), count) if count else []

    def insert(self, name: str, count: int, rows: Iterator[dict[str, Any]]) -> None:
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
