"""The state database (SQLite or PostgreSQL) and its repositories.

``Database.open(settings)`` connects and migrates the schema to head;
``ConnectionStore(database)`` keeps connections with their secrets encrypted.
"""

from sfbridge.store.connections import (
    AuthFlow,
    ConnectionKind,
    ConnectionRecord,
    ConnectionStore,
    Environment,
    validate_connection_name,
)
from sfbridge.store.database import Database, head_revision

__all__ = [
    "AuthFlow",
    "ConnectionKind",
    "ConnectionRecord",
    "ConnectionStore",
    "Database",
    "Environment",
    "head_revision",
    "validate_connection_name",
]
