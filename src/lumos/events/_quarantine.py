"""Lines the log cannot read, set aside: moved from their segment to ``quarantine.jsonl``.

Each record of the quarantine file is one JSON object: the ``segment`` and byte
``offset`` the line had, the ``reason`` it could not be read, the line's bytes in
base64 (``raw``, exact) and as text (``text``, for a person), and when it was moved
(``moved_at``, epoch seconds). The record is durable before the segment is rewritten
without the line (a new file, synced, renamed over the old), so a crash between the
two leaves the line in both places, never in neither.
"""

from __future__ import annotations

import base64
import json
import os
import time
import warnings
from pathlib import Path

from lumos.events._lines import BadLine

QUARANTINE = "quarantine.jsonl"


def quarantine(folder: Path, path: Path, bad: list[BadLine], *, reopen=None) -> list[BadLine]:
    """Move the ``bad`` lines of segment ``path`` to the quarantine file of ``folder``;
    ``bad`` with ``moved`` set on the lines moved.

    The caller holds the log's writer's lock (no line is appended meanwhile);
    ``reopen(path)`` is called once the segment was replaced, to append to the new file.
    A line no longer at its offset (moved already) is left alone.
    """
    data = path.read_bytes()
    here = [b for b in bad if data[b.offset : b.offset + len(b.raw)] == b.raw]
    if not here:
        return bad
    moved_at = time.time()
    records = "".join(
        json.dumps(
            {
                "segment": b.segment,
                "offset": b.offset,
                "reason": b.reason,
                "raw": base64.b64encode(b.raw).decode("ascii"),
                "text": b.raw.decode("utf-8", "backslashreplace"),
                "moved_at": moved_at,
            }
        )
        + "\n"
        for b in here
    )
    with open(folder / QUARANTINE, "ab") as f:
        f.write(records.encode("ascii"))
        f.flush()
        os.fsync(f.fileno())
    keep, at = [], 0
    for b in sorted(here, key=lambda b: b.offset):
        keep.append(data[at : b.offset])
        at = b.offset + len(b.raw)
    keep.append(data[at:])
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as f:
        f.write(b"".join(keep))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself is durable
    finally:
        os.close(directory)
    if reopen is not None:
        reopen(path)
    return [b._replace(moved=b in here) for b in bad]


def describe(where: str, found: list[BadLine], *, shown: int = 5) -> str:
    """One paragraph on the lines set aside: how many, where they went, and each line's
    segment, offset and reason (the first ``shown``).

    Examples
    --------
    >>> print(describe("/var/events", [BadLine("segment-00000001.jsonl", 120, b"{",
    ...     "not one JSON object", moved=True)]))  # doctest: +NORMALIZE_WHITESPACE
    event log '/var/events': 1 line could not be read and is left out;
    moved to '/var/events/quarantine.jsonl': segment-00000001.jsonl byte 120: not one JSON
    object. The other events read as before; each record of quarantine.jsonl holds a line's
    segment, offset, reason and bytes (base64).
    """
    n = len(found)
    moved = sum(b.moved for b in found)
    text = f"event log {where!r}: {n} line{'s' if n > 1 else ''} could not be read and "
    text += "is left out; " if n == 1 else "are left out; "
    if moved:
        text += f"moved to {str(Path(where) / QUARANTINE)!r}" if moved == n else f"{moved} moved"
    if moved < n:
        text += ", " if moved else ""
        text += (
            f"{n - moved} left in place (a writer has the log open, or the folder is read-only: "
            "the writer moves them when it next opens)"
        )
    details = "; ".join(f"{b.segment} byte {b.offset}: {b.reason}" for b in found[:shown])
    if n > shown:
        details += f"; and {n - shown} more"
    return (
        f"{text}: {details}. The other events read as before; each record of "
        f"{QUARANTINE} holds a line's segment, offset, reason and bytes (base64)."
    )


def notifier(notify):
    """``notify``, or a function that warns (:class:`UserWarning`) with its message."""
    if notify is not None:
        return notify

    def warn(message: str) -> None:
        warnings.warn(message, UserWarning, stacklevel=4)

    return warn
