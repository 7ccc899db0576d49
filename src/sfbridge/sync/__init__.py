"""Data in: syncs that read Salesforce records and turn them into messages.

``spec`` declares a sync (``SyncSpec``; ``formats`` holds what its records
become: person, object, relationship, event), ``spec_check`` checks one against
the org's describe, ``templates`` holds ready-made specs, and ``plan``
decides what one run reads (window, queries, API) without any I/O. ``records``
turns each record read into messages, ``deletes`` each deletion, and ``run``
runs a sync once: read, deliver, checkpoint.
"""

from .deletes import DeletedRecord, delete_messages
from .formats import (
    EventFormat,
    ObjectFormat,
    ObjectType,
    PersonFormat,
    PersonIdentifier,
    RelationshipFormat,
    SyncFormat,
)
from .plan import (
    BULK_THRESHOLD,
    FIELD_LIST_MAX_CHARS,
    CursorSettings,
    ReadApi,
    RecordKey,
    Stitched,
    Window,
    boundary_keys,
    choose_api,
    dedupe,
    deletes_select,
    estimated_calls,
    expand_compound,
    plan_window,
    record_key,
    select_for_window,
    split_fields,
    stitch,
)
from .records import RecordMapper, RecordMappingError
from .run import RunSummary, SyncState, run_sync
from .spec import INTERVAL_PRESETS, MIN_INTERVAL, DeletePolicy, FieldMapping, SyncSpec
from .spec_check import SpecCheck, SpecProblem, check_against_describe
from .templates import TEMPLATE_FIELDS, TEMPLATES, SyncTemplate, list_templates, template

__all__ = [
    "BULK_THRESHOLD",
    "FIELD_LIST_MAX_CHARS",
    "INTERVAL_PRESETS",
    "MIN_INTERVAL",
    "TEMPLATES",
    "TEMPLATE_FIELDS",
    "CursorSettings",
    "DeletePolicy",
    "DeletedRecord",
    "EventFormat",
    "FieldMapping",
    "ObjectFormat",
    "ObjectType",
    "PersonFormat",
    "PersonIdentifier",
    "ReadApi",
    "RecordKey",
    "RecordMapper",
    "RecordMappingError",
    "RelationshipFormat",
    "RunSummary",
    "SpecCheck",
    "SpecProblem",
    "Stitched",
    "SyncFormat",
    "SyncSpec",
    "SyncState",
    "SyncTemplate",
    "Window",
    "boundary_keys",
    "check_against_describe",
    "choose_api",
    "dedupe",
    "delete_messages",
    "deletes_select",
    "estimated_calls",
    "expand_compound",
    "list_templates",
    "plan_window",
    "record_key",
    "run_sync",
    "select_for_window",
    "split_fields",
    "stitch",
    "template",
]
