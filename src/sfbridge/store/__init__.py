"""The state database (SQLite or PostgreSQL) and its repositories.

``Database.open(settings)`` connects and migrates the schema to head;
``ConnectionStore(database)`` keeps connections with their secrets encrypted;
``SyncStore(database)`` keeps syncs with their cursors, runs and failed records;
``ObjectTypeStore(database)`` the custom object types they send objects of.
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
from sfbridge.store.object_types import ObjectTypeStore
from sfbridge.store.syncs import (
    AlreadyRunning,
    CursorState,
    FailedItem,
    FailedRecord,
    RunCounts,
    RunRecord,
    RunStatus,
    RunTrigger,
    SyncRecord,
    SyncStore,
)

__all__ = [
    "AlreadyRunning",
    "AuthFlow",
    "ConnectionKind",
    "ConnectionRecord",
    "ConnectionStore",
    "CursorState",
    "Database",
    "Environment",
    "FailedItem",
    "FailedRecord",
    "ObjectTypeStore",
    "RunCounts",
    "RunRecord",
    "RunStatus",
    "RunTrigger",
    "SyncRecord",
    "SyncStore",
    "head_revision",
    "validate_connection_name",
]
