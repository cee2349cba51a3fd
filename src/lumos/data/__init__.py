"""Tables: readers and writers, validation with clear errors, demo generators."""

from lumos.data._io import atomic_path, read_table

__all__ = ["atomic_path", "read_table"]
