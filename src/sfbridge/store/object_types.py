"""The object types syncs send objects of: found by name, created if new.

A custom object sync names its object type (``Accounts``); its workspace id
(``"1"``) may be given or left out. ``ObjectTypeStore.resolve`` returns the
id: the given one, recorded with the names the first time; or the one
already recorded for the plural name; or, for a new name, the next free
number. Plural names are compared without regard to case, as a workspace does::

    types = ObjectTypeStore(database)
    types.resolve("Account", "Accounts")          # "1", created
    types.resolve("Opportunity", "Opportunities") # "2", created
    types.resolve("Account", "accounts")          # "1", found
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from sfbridge.errors import ConfigError

from .database import Database
from .models import ObjectTypeRow


class ObjectTypeStore:
    """Object type ids by plural name, in the state database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def resolve(self, singular: str, plural: str, declared_id: str | None = None) -> str:
        """The id of the type named ``plural``: ``declared_id``, the recorded one, or a new one.

        A ``declared_id`` already used by another name, or a name recorded
        with another id, is a ConfigError naming both.
        """
        with self._database.session(write=True) as session:
            by_name = session.scalars(
                select(ObjectTypeRow).where(func.lower(ObjectTypeRow.plural) == plural.lower())
            ).one_or_none()
            if declared_id is None:
                if by_name is not None:
                    return by_name.id
                used = session.scalars(select(ObjectTypeRow.id)).all()
                declared_id = str(max((int(i) for i in used if i.isdigit()), default=0) + 1)
            else:
                by_id = session.get(ObjectTypeRow, declared_id)
                if by_id is not None and by_id.plural.lower() != plural.lower():
                    raise ConfigError(
                        f"object type id {declared_id!r} is {by_id.plural!r} already; give "
                        f"{plural!r} another id, or leave object_type_id out to get a new one"
                    )
                if by_name is not None and by_name.id != declared_id:
                    raise ConfigError(
                        f"object type {plural!r} has id {by_name.id!r} already, not "
                        f"{declared_id!r}; use {by_name.id!r} or leave object_type_id out"
                    )
                if by_id is not None:
                    return declared_id
            session.add(
                ObjectTypeRow(
                    id=declared_id, singular=singular, plural=plural, created_at=datetime.now(UTC)
                )
            )
            return declared_id

    def list(self) -> list[tuple[str, str, str]]:
        """Every recorded type as (id, singular, plural), by id."""
        with self._database.session() as session:
            rows = session.scalars(select(ObjectTypeRow).order_by(ObjectTypeRow.id)).all()
            return [(row.id, row.singular, row.plural) for row in rows]
