"""One series of segments a process appends to: ``segment-00000001.jsonl``, … (a log's own),
or ``segment-w1-00000001.jsonl``, … (one worker's, under ``lumos serve --workers``).

A batch is acknowledged only once it is durable, and a batch that fails leaves the
series as it was: a write or ``fsync`` that fails cuts the segment back to where
the last acknowledged batch ended and raises
:class:`~lumos.errors.LogUnavailable`. Bytes go to the file unbuffered, so none
of a failed batch can be written later. A new segment that cannot be created
leaves the series writing to the one it has.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from lumos.errors import LogUnavailable

#: A segment's name: its series (empty for the log's own, ``w1-`` for worker 1's) and number.
NAME = re.compile(r"segment-(?:(w\d+)-)?(\d{8})\.jsonl")


def series_of(path: Path) -> str:
    """The series a segment belongs to: ``""`` for the log's own, else the worker's name."""
    match = NAME.fullmatch(path.name)
    return (match.group(1) or "") if match else ""


def try_lock(path: Path, how: int = fcntl.LOCK_EX):
    """``path`` opened and locked (``fcntl.LOCK_EX`` or ``LOCK_SH``) without waiting, or
    None when another process holds it. Closing the file releases the lock."""
    file = open(path, "a")
    try:
        fcntl.flock(file, how | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file


class Series:
    """The segments of one series in ``folder`` (``name`` empty for the log's own), and the
    open one, appended to by this process alone (or by whoever holds the series' lock).

    Attributes
    ----------
    size : int
        The open segment's acknowledged bytes: where the last durable batch ended.
    faults : int
        Batches refused, and new segments that could not be created.
    """

    def __init__(self, folder: Path, name: str = "", *, segment_bytes: int, fsync: bool):
        self.folder, self.name = folder, name
        self.segment_bytes, self.fsync = segment_bytes, fsync
        self.file = None  # the open segment, unbuffered
        self.size = 0
        self.dirty = False  # whether it may hold bytes past size (a failed batch's)
        self.moved = False  # whether it was replaced (quarantine) but not yet reopened
        self.faults = 0
        paths = self.paths()
        self.number = self.number_of(paths[-1]) if paths else 1

    def path(self, number: int) -> Path:
        prefix = f"segment-{self.name}-" if self.name else "segment-"
        return self.folder / f"{prefix}{number:08d}.jsonl"

    def paths(self) -> list[Path]:
        """This series' segments, in order."""
        found = (p for p in self.folder.glob("segment-*.jsonl") if NAME.fullmatch(p.name))
        return sorted(p for p in found if series_of(p) == self.name)

    @staticmethod
    def number_of(path: Path) -> int:
        return int(NAME.fullmatch(path.name).group(2))

    def open(self, path: Path | None = None) -> None:
        """Append to ``path`` (default the series' latest) from now on; the segment open
        before, if any, is closed after."""
        path = self.path(self.number) if path is None else path
        file = open(path, "ab", buffering=0)
        old, self.file = self.file, file
        self.size = os.fstat(file.fileno()).st_size
        self.dirty = self.moved = False
        self.number = self.number_of(path)
        if old is not None:
            try:
                old.close()
            except OSError:  # its batches were synced as they were acknowledged
                pass

    def reopen(self, path: Path) -> None:
        """After ``path`` was rewritten: append to the new file, if it is the open segment."""
        if self.file is not None and Path(self.file.name) == path:
            try:
                self.open(path)
            except OSError:  # the next batch opens it first: none goes to the file replaced
                self.dirty = self.moved = True

    def put(self, lines: list[str], where: str) -> int:
        """Write ``lines`` durably and return the bytes written, or raise
        :class:`LogUnavailable` (naming ``where``) with the series as it was."""
        data = ("\n".join(lines) + "\n").encode()
        if self.dirty and not self.restore():
            raise self.fault(None, len(lines), where)
        if self.size > self.segment_bytes:
            self.roll()
        try:
            view = memoryview(data)
            while view:  # a short write (the disk filled mid-batch) writes the rest, or raises
                view = view[self.file.write(view) :]
            if self.fsync:
                os.fsync(self.file.fileno())
        except BaseException as exc:
            self.dirty = True
            self.restore()
            if isinstance(exc, OSError):
                raise self.fault(exc, len(lines), where) from exc
            raise
        self.size += len(data)
        return len(data)

    def roll(self) -> None:
        """Go on in a new segment; if it cannot be created, stay in this one (and try again
        on the next batch): the series is never left without a file to write."""
        try:
            self.open(self.path(self.number + 1))
        except OSError:
            self.faults += 1

    def restore(self) -> bool:
        """Cut the segment back to its acknowledged bytes (or open it again, if it was
        replaced); whether that worked. A closed series is left as it is."""
        if self.file.closed:
            return False
        try:
            if self.moved:
                self.open(Path(self.file.name))
                return True
            os.ftruncate(self.file.fileno(), self.size)
            if self.fsync:
                os.fsync(self.file.fileno())  # the cut is as durable as the batches were
        except OSError:
            return False
        self.dirty = False
        return True

    def fault(self, exc: OSError | None, n: int, where: str) -> LogUnavailable:
        self.faults += 1
        why = f" ({exc.strerror or exc})" if exc is not None else ""
        if not self.dirty:
            cut = f"was cut back to its last acknowledged byte ({self.size:,})"
        else:
            cut = "could not be " + ("opened again" if self.moved else "cut back")
            cut += " yet (the next batch tries again first)"
        retry = LogUnavailable.retry_after
        return LogUnavailable(
            f"event log {where!r} cannot write now{why}: the batch of {n} "
            f"event{'s' if n != 1 else ''} was not written, and {Path(self.file.name).name} "
            f"{cut}. Free space on the disk (or make it writable) and send the batch again "
            f"in {retry} s; the log goes on by itself.",
            retry_after=retry,
        )

    @property
    def closed(self) -> bool:
        return self.file is None or self.file.closed

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()
