"""Alembic environment of the state database, run in-process by ``sfbridge.store``.

There is no ``alembic.ini``: ``sfbridge.store.database.alembic_config`` builds the
configuration and hands over an open connection, and ``Database.open`` upgrades
to head every time. To write the next revision, against a database at head::

    from alembic import command
    from sfbridge.config import Settings
    from sfbridge.store.database import Database, alembic_config

    with Database.open(Settings(home=".dev")) as db, db.engine.begin() as connection:
        command.revision(alembic_config(connection), "add syncs", autogenerate=True,
                         rev_id="0002")

then review the generated file: autogenerate is a draft, not a migration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from sfbridge.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("sfbridge migrations run through sfbridge.store.database.alembic_config")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead,
    # and is a plain ALTER on PostgreSQL.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
