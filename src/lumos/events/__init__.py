"""Funnel tracking: the unified event, durable logs (disk, SQLite, Redis Streams) behind
:func:`open_event_log`, legacy shapes."""

from lumos.errors import LogUnavailable
from lumos.events._event import (
    FIELDS,
    LIMITS,
    TYPES,
    new_id,
    new_ids,
    served_lines,
    validate_event,
)
from lumos.events._legacy import by_type, funnel, to_interactions
from lumos.events._lines import BadLine
from lumos.events._log import EventLog, is_events_file, open_event_log, read_events
from lumos.events._redis import RedisEventLog
from lumos.events._sqlite import SQLiteEventLog
from lumos.events._workers import WorkerEventLog

__all__ = [
    "FIELDS",
    "LIMITS",
    "TYPES",
    "BadLine",
    "EventLog",
    "LogUnavailable",
    "RedisEventLog",
    "SQLiteEventLog",
    "WorkerEventLog",
    "by_type",
    "funnel",
    "is_events_file",
    "new_id",
    "new_ids",
    "open_event_log",
    "read_events",
    "served_lines",
    "to_interactions",
    "validate_event",
]
