"""Durable event sinks: an append-only log on disk (embedded) and Redis Streams (at scale).

Both take a batch, validate every event before writing any (a bad event
rejects the batch and writes nothing), drop events whose ``event_id`` was
seen before (idempotent: a client may resend a batch it got no answer for),
and return only once the batch is durable — the disk log after ``fsync``, the
Redis sink after the server applied the batch in one script. ``served``
events are the exception to de-duplication: the server mints their ids
(:meth:`EventLog.append_served` takes them as ready JSON lines), so their
ids are never remembered — the memory of seen ids grows with what clients
send, not with what the server shows.

The disk log is a folder of segments, ``segment-00000001.jsonl``, … — one
JSON object per line, a new segment past ``segment_bytes``. One process writes
(a lock file says so); a crash can leave at most a torn last line, which the
next open cuts off: it was never acknowledged.

A batch is acknowledged only once it is durable, and a batch that fails leaves
the log as it was: a write or ``fsync`` that fails (a full disk, a read-only or
failing one) cuts the segment back to where the last acknowledged batch ended,
forgets nothing it had and remembers nothing of the batch (a retry is new, not
a duplicate), and raises :class:`~lumos.errors.LogUnavailable`. Bytes go to the
file unbuffered, so none of a failed batch can be written later. The next batch
tries again, so the log recovers by itself once the disk does. A new segment
that cannot be created leaves the log writing to the one it has.

A line the log cannot read back (damaged on disk, written by hand or by an older
version that let an integer past int64 or a lone surrogate through) never stops
it from opening: the line is moved to ``quarantine.jsonl`` in the folder, the
rest is read as before, and the log says so once (:attr:`EventLog.bad_lines`).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from lumos._targets import parse_target
from lumos.errors import DataValidationError, LumosUserError
from lumos.events import _lines
from lumos.events._event import FIELDS, validate_event
from lumos.events._lines import BadLine
from lumos.events._quarantine import describe, notifier, quarantine
from lumos.events._series import NAME, Series, series_of, try_lock

_NUMBERS = _lines.NUMBERS


def open_event_log(target, *, readonly: bool = False, worker: bool = False, **kwargs):
    """The event log at ``target``: Redis Streams for a Redis URL (``redis://``,
    ``rediss://``, ``unix://``), SQLite for ``sqlite:///path`` or a path ending in
    ``.sqlite`` or ``.db``, else the disk log (JSON lines) in that folder.

    The targets :func:`lumos.store.open_store` takes; ``readonly`` opens a
    disk log beside its writer (a Redis stream has no writer's lock, so it
    only refuses appends); ``kwargs`` go to the backend.

    ``worker`` opens a folder as one of several processes writing it
    (:class:`~lumos.events.WorkerEventLog`, for ``lumos serve --workers``); SQLite and
    Redis take any number of writing processes as they are.

    The SQLite engine (:class:`~lumos.events.SQLiteEventLog`, opt in) is one file in
    WAL mode that several processes may write at once; ``sqlite:///`` is followed by
    the path as written (``sqlite:///events.db`` relative, ``sqlite:////var/events.db``
    absolute).

    Examples
    --------
    >>> import tempfile
    >>> with open_event_log(tempfile.mkdtemp()) as log:
    ...     type(log).__name__, log.read(type="action").empty
    ('EventLog', True)
    """
    from lumos.events._sqlite import SQLiteEventLog, sqlite_path

    path = sqlite_path(target)
    if path is not None:
        return SQLiteEventLog(path, readonly=readonly, **kwargs)
    where = parse_target(target, what="event log")
    if where.is_redis:
        from lumos.events._redis import RedisEventLog

        return RedisEventLog(where.url, readonly=readonly, **kwargs)
    if worker and not readonly:
        from lumos.events._workers import WorkerEventLog

        return WorkerEventLog(where.path, **kwargs)
    return EventLog(where.path, readonly=readonly, **kwargs)


def read_events(source, *, name: str = "events", notify=None) -> pd.DataFrame:
    """Every event of ``source``: an event log (a folder, a Redis URL) or a file of events
    (.jsonl, .parquet, .csv); ``name`` names the source in an error (e.g. ``--offer-log``).

    Lines of a log that cannot be read are left out and quarantined; ``notify`` (a
    function of one string, default :func:`warnings.warn`) is told which and why.
    """
    if is_events_file(source, name=name):
        from lumos.data import read_table

        return read_table(source, what="events")
    with open_event_log(source, readonly=True, notify=notify) as log:
        return log.read()


def is_events_file(source, *, name: str = "events") -> bool:
    """Whether ``source`` is a file of events (else an event log: a folder or Redis).

    A path that is neither a folder nor a file is an error naming ``name``.
    """
    from lumos.events._sqlite import sqlite_path

    if sqlite_path(source) is not None:
        return False
    where = parse_target(source, what=name)
    if where.is_redis or where.path.is_dir():
        return False
    if where.path.is_file():
        return True
    raise DataValidationError(
        f"{name} {str(source)!r} does not exist: it is neither an event log folder nor a "
        "file; check the path.",
        code="file_not_found",
        file=str(source),
    )


def _where(fields: dict) -> dict[str, tuple | bool]:
    """Check :meth:`read`'s filter: each field of the funnel event → True (present) or values."""
    out = {}
    for field, want in fields.items():
        if field not in FIELDS:
            raise LumosUserError(
                f"read() filters on fields of the funnel event; {field!r} is not one "
                f"({', '.join(FIELDS)}).",
                code="bad_argument",
            )
        if want is True:
            out[field] = True
        elif isinstance(want, str):
            out[field] = (want,)
        elif isinstance(want, list | tuple | set | frozenset) and all(
            isinstance(v, str) for v in want
        ):
            out[field] = tuple(want)
        else:
            raise LumosUserError(
                f"read({field}=...) takes a string, a list of strings, or True (present); "
                f"got {want!r}.",
                code="bad_argument",
            )
    return out


def _select(frame: pd.DataFrame, where: dict) -> pd.DataFrame:
    """The rows of ``frame`` that pass every filter of ``where``, in order."""
    keep = pd.Series(True, index=frame.index)
    for field, want in where.items():
        keep &= frame[field].notna() if want is True else frame[field].isin(want)
    return frame[keep].reset_index(drop=True) if where else frame


def _patterns(where: dict) -> list[list[bytes]]:
    """Byte strings a line must hold one of, per filtered string field (a fast prefilter:
    the log's own JSON escapes quotes inside values, so a match is a key and its value)."""
    out = []
    for field, want in where.items():
        if field in _NUMBERS:
            continue
        if want is True:
            out.append([f'"{field}":"'.encode()])
        else:
            out.append([json.dumps({field: v}, separators=(",", ":"))[1:-1].encode() for v in want])
    return out


def _batch(events, horizon=None, skew=None) -> list[dict]:
    if not isinstance(events, list | tuple):
        raise LumosUserError(
            f"events must be a list of event objects; got {type(events).__name__}.",
            code="bad_argument",
        )
    now = time.time()  # one clock for the batch
    return [
        validate_event(e, row=i, where="events", now=now, horizon=horizon, skew=skew)
        for i, e in enumerate(events)
    ]


def _keep(data: bytes, patterns: list[list[bytes]]) -> bytes:
    """The lines of ``data`` that hold one of each list of ``patterns``."""
    if not patterns:
        return data
    return b"".join(
        line + b"\n"
        for line in data.splitlines()
        if all(any(p in line for p in any_of) for any_of in patterns)
    )


class EventLog:
    """The embedded durable event log: a folder of JSON-lines segments, fsync per batch.

    Parameters
    ----------
    folder : path-like
    segment_bytes : int, default=64 MiB
    fsync : bool, default=True
        Sync each batch to disk before :meth:`append` returns. Off only for tests
        of throughput without durability.
    readonly : bool, default=False
        Open to read only, beside the process writing (no lock taken; a line
        being written is not read until it is whole).
    horizon : float or datetime, optional
        The earliest ``ts`` :meth:`append` takes; default ``LIMITS["horizon"]``
        (2000-01-01 UTC).
    skew : float, optional
        The seconds a ``ts`` may run ahead of the clock; default ``LIMITS["skew"]``.
    notify : callable, optional
        Told, in one line, of lines the log could not read and moved to
        ``quarantine.jsonl``; default :func:`warnings.warn`.

    Attributes
    ----------
    quarantined : int
        The lines set aside as unreadable since the log was opened.
    bad_lines : list of BadLine
        Those lines: ``segment``, byte ``offset``, ``raw`` bytes and ``reason``.
    write_faults : int
        The disk faults met since the log was opened.

    Examples
    --------
    >>> import tempfile
    >>> log = EventLog(tempfile.mkdtemp())
    >>> e = {"event_id": "e1", "tracking_id": "t1", "type": "impression", "member_id": "m",
    ...      "item_id": "c", "ts": 1735787045}
    >>> log.append([e]), log.append([e]), len(log)
    (1, 0, 1)
    >>> log.close()
    """

    def __init__(
        self,
        folder,
        *,
        segment_bytes: int = 64 << 20,
        fsync: bool = True,
        readonly: bool = False,
        horizon=None,
        skew: float | None = None,
        notify=None,
    ):
        self.folder = Path(folder)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.readonly = readonly
        self.horizon, self.skew = horizon, skew
        self.notify = notifier(notify)
        self.quarantined = 0
        self.bad_lines: list[BadLine] = []
        self._seen: set[str] = set()
        self._mutex = threading.Lock()
        self._count = 0
        self._main: Series | None = None  # the series this process appends to
        if readonly:
            if not self.folder.is_dir():
                raise LumosUserError(
                    f"event log {str(self.folder)!r} does not exist; give the folder a "
                    "server writes (lumos serve --events).",
                    code="file_not_found",
                )
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = self._take_lock()
        try:
            self._start()
        except BaseException:
            self._lock.close()  # closing releases the writer's lock
            raise

    def _take_lock(self):
        """The writer's lock: this process alone writes the folder."""
        lock = try_lock(self.folder / "writer.lock")
        if lock is None:
            raise LumosUserError(
                f"event log {str(self.folder)!r} is open for writing in another "
                "process; one writer at a time (lumos serve --workers shares one log "
                "among its own processes).",
                code="locked",
            )
        return lock

    def _start(self) -> None:
        """Read what the folder holds (ids, counts; torn tails cut) and open the series."""
        found = []
        segments = self._segments()
        for i, path in enumerate(segments):
            last = i + 1 == len(segments) or series_of(segments[i + 1]) != series_of(path)
            found += self._scan(path, repair=last)
        self._main = Series(self.folder, segment_bytes=self.segment_bytes, fsync=self.fsync)
        self._main.open()
        try:
            self._tell(found)
        except BaseException:  # a notice that raises (warnings as errors) leaves no lock held
            self._main.close()
            raise

    def _segments(self) -> list[Path]:
        """Every series' segments: the log's own, then each worker's, each in order."""
        return sorted(p for p in self.folder.glob("segment-*.jsonl") if NAME.fullmatch(p.name))

    def _scan(self, path: Path, *, repair: bool) -> list[BadLine]:
        """Count a segment's events and remember their ids (as Arrow decodes them, so an id
        is the same string it was when appended); the lines it cannot read, set aside."""
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1  # a torn last line was never acknowledged
        torn = []
        if end < len(data):
            if repair:
                with open(path, "r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
            else:  # whole lines follow it: someone acknowledged them; keep the tail aside
                reason = "the segment ends mid-line, but it is not the last one"
                torn = [BadLine(path.name, end, data[end:], reason)]
        data = data[:end]
        table = None if torn else _lines.table(data)
        found = []
        if table is None:
            data, found = self._clean(path, data, torn)
            table = _lines.table(data)
        self._count += table.num_rows
        told = pc.not_equal(table.column("type"), "served")  # served ids are the server's own
        self._seen.update(table.column("event_id").filter(told).to_pylist())
        return found

    def _clean(self, path: Path, data: bytes, extra=()) -> tuple[bytes, list[BadLine]]:
        """``data`` (a segment's whole lines) without the lines it cannot read, and those
        lines, moved to ``quarantine.jsonl`` where no other process writes the log."""
        good, bad = _lines.split(data, path.name)
        bad += extra
        if not bad:
            return good, bad
        if not self.readonly:
            if not self._owns(path):  # another process appends to it: read around them
                return good, bad
            with self._mutex:
                return good, quarantine(self.folder, path, bad, reopen=self._reopen)
        try:
            lock = open(self.folder / "writer.lock", "a")
        except OSError:  # a folder this process may not write: read around the lines
            return good, bad
        with lock:  # closing it releases the lock
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a writer has the log; it moves them when it next opens
                return good, bad
            return good, quarantine(self.folder, path, bad)

    def _owns(self, path: Path) -> bool:
        """Whether this process alone may rewrite ``path``."""
        return True

    def _reopen(self, path: Path) -> None:
        """After ``path`` was rewritten: append to the new file, if it is the open segment."""
        if self._main is not None:
            self._main.reopen(path)

    def _tell(self, found: list[BadLine]) -> None:
        if found:
            self.quarantined += len(found)
            self.bad_lines += found
            self.notify(describe(str(self.folder), found))

    def _writable(self) -> None:
        if self.readonly:
            raise LumosUserError(
                f"event log {str(self.folder)!r} was opened read-only; open it without "
                "readonly=True to append.",
                code="read_only",
            )

    def append(self, events, *, validate: bool = True) -> int:
        """Validate, de-duplicate and durably append a batch; the number of new events.

        ``validate=False`` is for events a trusted caller built with every field
        already normalized (:func:`~lumos.events.validate_event`'s output shape).
        Safe to call from several threads.
        """
        self._writable()
        batch = _batch(events, self.horizon, self.skew) if validate else list(events)
        with self._mutex:
            return self._write(batch)

    def append_served(self, lines: list[str]) -> int:
        """Durably append ``served`` events as :func:`~lumos.events.served_lines` made them.

        The server minted their ids: no validation, no de-duplication. Safe to
        call from several threads; returns the number of events.
        """
        self._writable()
        if lines:
            with self._mutex:
                self._put(lines)
        return len(lines)

    def _write(self, batch) -> int:
        lines, ids = [], set()
        for event in batch:
            if event["type"] != "served":
                if event["event_id"] in self._seen or event["event_id"] in ids:
                    continue
                ids.add(event["event_id"])
            lines.append(json.dumps(event, separators=(",", ":")))
        if not lines:
            return 0
        self._put(lines)
        self._seen |= ids  # only once durable: a failed write can be retried
        return len(lines)

    def _put(self, lines: list[str], series: Series | None = None) -> None:
        """Write ``lines`` durably, or raise :class:`LogUnavailable` with the log as it was."""
        (series or self._main).put(lines, str(self.folder))
        self._count += len(lines)

    @property
    def write_faults(self) -> int:
        """The disk faults met since the log was opened: each batch refused with
        :class:`~lumos.errors.LogUnavailable`, and each new segment that could not be
        created (the log kept writing to the last one)."""
        return sum(s.faults for s in self._series())

    def _series(self) -> list[Series]:
        return [] if self._main is None else [self._main]

    def __len__(self) -> int:
        if self.readonly:
            return sum(self._lines(path).count(b"\n") for path in self._segments())
        return self._count

    @staticmethod
    def _lines(path: Path) -> bytes:
        data = path.read_bytes()
        return data[: data.rfind(b"\n") + 1]  # whole lines: one may be half written

    def read(self, *, contains: bytes | None = None, **where) -> pd.DataFrame:
        """The events in the log, in the order written (one column per field); the series
        of several processes (``lumos serve --workers``) are merged in order of ``ts``.

        Keyword filters keep the events whose field holds one of the values
        given (``action=("dismiss", "follow")``, ``type="action"``) or, with
        ``True``, any value (``cohort=True``); lines are filtered before they
        are parsed, so a filtered read of a large log is fast.
        ``contains`` (bytes a line must hold) is the older, raw form of the
        same filter.
        """
        where = _where(where)
        patterns = _patterns(where)
        if contains is not None:
            patterns.append([contains])
        segments = [(path, self._lines(path)) for path in self._segments()]
        table = _lines.table(b"".join(_keep(data, patterns) for _, data in segments))
        if table is None:  # a line Arrow cannot read: find it, set it aside, read the rest
            parts, found = [], []
            for path, data in segments:
                if _lines.table(data) is None:
                    data, bad = self._clean(path, data)
                    found += bad
                    if not self.readonly:  # appended since the log opened, and counted
                        self._count -= sum(b.moved for b in bad)
                parts.append(_keep(data, patterns))
            table = _lines.table(b"".join(parts))
            self._tell(found)
        frame = _select(_lines.frame(table), where)
        if len({series_of(path) for path, _ in segments}) > 1:  # workers' series: one log
            frame = frame.sort_values("ts", kind="stable", ignore_index=True)
        return frame

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return not self.readonly and self._main.closed

    def close(self) -> None:
        """Close the segments and release the writer's lock."""
        if not self.readonly and not self._main.closed:
            for series in self._series():
                series.close()
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
