"""``Org``: the emulated org as a Python object.

The HTTP app serves an ``Org``; tests, the seeder and the demo use the same
object directly (seed, inject faults, read the call log, read and write
records without spending API calls).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfbridge.salesforce.ids import make_id

from .access import RESTRICTED_INTEGRATION, SYSTEM_ADMINISTRATOR, Profile, ProfileStore
from .codec import from_db
from .faults import Faults
from .schema import FieldDef, ObjectDef, OrgSchema
from .storage import OrgStore

ORG_NAME = "sfbridge Emulated Org"
ADMIN_USERNAME = "admin@sfbridge.example"
INTEGRATION_USERNAME = "integration@sfbridge.example"


@dataclass(frozen=True)
class UserInfo:
    """The facts about a user that requests need: who, which profile, which time zone."""

    id: str
    username: str
    name: str
    email: str
    profile: Profile
    time_zone: str


class UnknownObject(LookupError):
    """Raised by the Python handle for an object the org does not have."""


class Org:
    """One emulated org: schema, records, users, faults and call log."""

    def __init__(self, store: OrgStore, data_dir: Path | None) -> None:
        self.store = store
        self.schema = store.schema
        self.data_dir = data_dir
        self.faults = Faults()
        self.profiles = ProfileStore(store)
        store.execute("CREATE TABLE IF NOT EXISTS _org (key TEXT PRIMARY KEY, value TEXT)")
        store.execute(
            "CREATE TABLE IF NOT EXISTS _custom_schema "
            "(seq INTEGER PRIMARY KEY, kind TEXT, spec TEXT)"
        )
        self._replay_custom_schema()
        self.org_id = self._setting("org_id") or self._bootstrap()

    # -- construction ---------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path | None = None, *, schema_file: Path | None = None) -> Org:
        """Open (or create) the org kept in ``data_dir``; in memory when None."""
        schema = OrgSchema.load(schema_file)
        path = None
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            path = data_dir / "org.sqlite"
        return cls(OrgStore(path, schema), data_dir)

    def _setting(self, key: str) -> str | None:
        rows = self.store.execute("SELECT value FROM _org WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _bootstrap(self) -> str:
        org_id = make_id("00D", 1)
        now = self.store.clock.stamp()
        organization = self.object("Organization")
        self.store.insert_rows(
            organization,
            [
                "Id",
                "Name",
                "IsSandbox",
                "OrganizationType",
                "InstanceName",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
            [(org_id, ORG_NAME, 0, "Enterprise Edition", "EMU1", now, now, now)],
        )
        self._add_user(ADMIN_USERNAME, "Admin", "Ada", SYSTEM_ADMINISTRATOR, now)
        self._add_user(INTEGRATION_USERNAME, "Integration", "Ivo", RESTRICTED_INTEGRATION, now)
        self.store.execute("INSERT INTO _org(key, value) VALUES ('org_id', ?)", (org_id,))
        return org_id

    def _add_user(self, username: str, last: str, first: str, profile: str, now: str) -> str:
        user_obj = self.object("User")
        user_id = self.store.next_ids(user_obj, 1)[0]
        row = {
            "Id": user_id,
            "Username": username,
            "LastName": last,
            "FirstName": first,
            "Name": f"{first} {last}",
            "Email": username,
            "Alias": (first[0] + last)[:8].lower(),
            "CommunityNickname": username.split("@")[0],
            "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US",
            "EmailEncodingKey": "UTF-8",
            "LanguageLocaleKey": "en_US",
            "ProfileId": self.profiles.by_name(profile).id,
            "IsActive": 1,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
        }
        self.store.insert_rows(user_obj, list(row), [tuple(row.values())])
        return user_id

    # -- schema ---------------------------------------------------------------

    def object(self, name: str) -> ObjectDef:
        """The object called ``name``; raises ``UnknownObject`` naming it."""
        obj = self.schema.object(name)
        if obj is None:
            raise UnknownObject(f"the org has no object named {name!r}")
        return obj

    def add_custom_field(self, object_name: str, spec: dict[str, Any]) -> FieldDef:
        """Add a custom field (kept across restarts) and its column."""
        definition = self.schema.add_custom_field(object_name, spec)
        self.store.ensure_table(self.object(object_name))
        self._remember("field", {"object": object_name, **spec})
        return definition

    def add_custom_object(self, name: str, *, label: str | None = None) -> ObjectDef:
        """Add a custom object (kept across restarts) and its table."""
        obj = self.schema.add_custom_object(name, label=label)
        self.store.ensure_table(obj)
        self._remember("object", {"name": name, "label": label})
        return obj

    def _remember(self, kind: str, spec: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT INTO _custom_schema(kind, spec) VALUES (?, ?)", (kind, json.dumps(spec))
        )

    def _replay_custom_schema(self) -> None:
        rows = self.store.execute("SELECT kind, spec FROM _custom_schema ORDER BY seq")
        for kind, raw in rows:
            spec = json.loads(raw)
            if kind == "object" and self.schema.object(spec["name"]) is None:
                self.store.ensure_table(
                    self.schema.add_custom_object(spec["name"], label=spec.get("label"))
                )
            elif kind == "field":
                object_name = spec.pop("object")
                obj = self.object(object_name)
                if obj.field(spec["name"]) is None:
                    self.schema.add_custom_field(object_name, spec)
                    self.store.ensure_table(obj)

    # -- users ----------------------------------------------------------------

    def user(self, *, user_id: str | None = None, username: str | None = None) -> UserInfo | None:
        """A user by id or username (case-insensitive), or None."""
        column, value = ("Id", user_id) if user_id else ("Username", username)
        rows = self.store.execute(
            f'SELECT Id, Username, Name, Email, ProfileId, TimeZoneSidKey FROM "User" '
            f'WHERE "{column}" = ? COLLATE NOCASE',
            (value,),
        )
        if not rows:
            return None
        uid, uname, name, email, profile_id, tz = rows[0]
        profile = self.profiles.by_id(profile_id) or self.profiles.by_name(SYSTEM_ADMINISTRATOR)
        return UserInfo(uid, uname, name, email, profile, tz or "UTC")

    # -- direct reads (no API call spent) -------------------------------------

    def get(
        self, object_name: str, record_id: str, *, include_deleted: bool = False
    ) -> dict[str, Any] | None:
        """One record as the REST API would return its fields, or None."""
        obj = self.object(object_name)
        row = self.store.row_by_id(obj, record_id, include_deleted=include_deleted)
        return None if row is None else self._to_json(obj, row)

    def records(self, object_name: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of an object (small orgs only: tests and demos)."""
        obj = self.object(object_name)
        where = "" if include_deleted or not obj.field("IsDeleted") else ' WHERE "IsDeleted" = 0'
        with self.store.lock:
            cursor = self.store.connection.execute(
                f'SELECT * FROM "{obj.name}"{where} ORDER BY rowid'
            )
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        return [self._to_json(obj, dict(zip(names, row, strict=True))) for row in rows]

    def count(self, object_name: str, *, include_deleted: bool = False) -> int:
        """How many records an object has."""
        return self.store.count(self.object(object_name), include_deleted=include_deleted)

    @staticmethod
    def _to_json(obj: ObjectDef, row: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for column, value in row.items():
            definition = obj.field(column)
            if definition is not None:
                result[definition.name] = from_db(definition, value)
        return result

    def close(self) -> None:
        """Close the org's database."""
        self.store.close()
