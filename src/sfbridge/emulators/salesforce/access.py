"""Profiles and field-level security.

A user's profile decides which fields the user can read and edit. A field the
user cannot read is absent from describe and is an unknown column in SOQL
(``INVALID_FIELD``), exactly as in a real org, where an integration user with
missing field permissions simply does not see the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sfbridge.salesforce.ids import make_id

from .storage import OrgStore

SYSTEM_ADMINISTRATOR = "System Administrator"
RESTRICTED_INTEGRATION = "Restricted Integration"

# The restricted profile hides a few personal fields and makes one field
# read-only, so tests and the integration-user check have something to find.
_BUILTIN_PROFILES: dict[str, tuple[list[str], list[str]]] = {
    SYSTEM_ADMINISTRATOR: ([], []),
    RESTRICTED_INTEGRATION: (
        ["Contact.Birthdate", "Contact.HomePhone", "Lead.AnnualRevenue"],
        ["Account.Industry"],
    ),
}


@dataclass(frozen=True)
class Profile:
    """A named set of field permissions."""

    id: str
    name: str
    hidden: frozenset[str]
    read_only: frozenset[str]

    def readable(self, object_name: str, field_name: str) -> bool:
        """True when users of this profile can see ``object_name.field_name``."""
        return f"{object_name}.{field_name}".lower() not in self.hidden

    def editable(self, object_name: str, field_name: str) -> bool:
        """True when users of this profile can write ``object_name.field_name``."""
        key = f"{object_name}.{field_name}".lower()
        return key not in self.hidden and key not in self.read_only


def _normalise(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


class ProfileStore:
    """The org's profiles, kept in the ``_profiles`` table."""

    def __init__(self, store: OrgStore) -> None:
        self._store = store
        store.execute(
            "CREATE TABLE IF NOT EXISTS _profiles ("
            "Id TEXT PRIMARY KEY, Name TEXT UNIQUE NOT NULL, hidden TEXT, read_only TEXT)"
        )
        for index, (name, (hidden, read_only)) in enumerate(_BUILTIN_PROFILES.items(), start=1):
            self.save(make_id("00e", index), name, hidden, read_only, replace=False)

    def save(
        self,
        profile_id: str,
        name: str,
        hidden: list[str],
        read_only: list[str],
        *,
        replace: bool = True,
    ) -> Profile:
        """Create (or with ``replace``, overwrite) a profile."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self._store.execute(
            f"{verb} INTO _profiles(Id, Name, hidden, read_only) VALUES (?, ?, ?, ?)",
            (profile_id, name, json.dumps(hidden), json.dumps(read_only)),
        )
        return self.by_name(name)

    def by_id(self, profile_id: str) -> Profile | None:
        """The profile with this id, or None."""
        rows = self._store.execute(
            "SELECT Id, Name, hidden, read_only FROM _profiles WHERE Id = ?", (profile_id,)
        )
        return _profile(rows[0]) if rows else None

    def by_name(self, name: str) -> Profile:
        """The profile called ``name``; raises ``KeyError`` naming it when absent."""
        rows = self._store.execute(
            "SELECT Id, Name, hidden, read_only FROM _profiles WHERE Name = ?", (name,)
        )
        if not rows:
            raise KeyError(f"no profile named {name!r}")
        return _profile(rows[0])


def _profile(row: tuple[str, str, str, str]) -> Profile:
    return Profile(
        id=row[0],
        name=row[1],
        hidden=_normalise(json.loads(row[2] or "[]")),
        read_only=_normalise(json.loads(row[3] or "[]")),
    )
