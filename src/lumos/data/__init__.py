"""Tables: schemas and validation with clear errors, readers and writers, demo generators."""

from lumos.data._cdnow import cdnow_path, cdnow_usage, load_cdnow
from lumos.data._io import (
    TABLE_SUFFIXES,
    atomic_path,
    naming_files,
    read_files,
    read_table,
    read_tables,
    write_table,
)
from lumos.data._movielens import load_movielens100k, movielens100k_path
from lumos.data._obd import load_obd, obd_path
from lumos.data._schema_docs import schemas_markdown
from lumos.data._schemas import CONTRACT_KINDS, SCHEMAS, id_positions, validate_table

__all__ = [
    "CONTRACT_KINDS",
    "SCHEMAS",
    "TABLE_SUFFIXES",
    "atomic_path",
    "cdnow_path",
    "cdnow_usage",
    "id_positions",
    "load_cdnow",
    "load_movielens100k",
    "load_obd",
    "movielens100k_path",
    "naming_files",
    "obd_path",
    "read_files",
    "read_table",
    "read_tables",
    "schemas_markdown",
    "validate_table",
    "write_table",
]
