"""The event log in one SQLite file (the standard library's), in WAL mode: an opt-in engine.

The same contract as :class:`~lumos.events.EventLog` — validate the whole batch
first, drop ``event_id`` repeats of client events, take ``served`` events every
time, acknowledge only once durable, and leave the log as it was when a batch
fails — with SQLite doing the work: one ``BEGIN IMMEDIATE`` transaction per
batch, ``synchronous=FULL`` (a sync of the WAL per commit), a unique index on
``event_id`` over client events (``ON CONFLICT DO NOTHING``), and a
``busy_timeout`` so that several processes can write one file at once.

One table keeps every event in the order written (``rowid``); the unique index
is partial (``WHERE type != 'served'``), so the ids the server mints for
``served`` events are never remembered nor checked, as on the disk log.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa

from lumos.errors import LogUnavailable, LumosUserError
from lumos.events import _lines
from lumos.events._event import _REQUIRED, FIELDS
from lumos.events._log import _batch, _where

SUFFIXES = (".sqlite", ".db")
SCHEME = "sqlite:///"
FILENAME = "events.sqlite"

_KIND = {"position": "INTEGER", "propensity": "REAL", "value": "REAL", "ts": "REAL"}
_COLUMNS = ", ".join(
    f"{f} {_KIND.get(f, 'TEXT')}{' NOT NULL' if f in _REQUIRED else ''}" for f in FIELDS
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, {_COLUMNS}) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS events_seen ON events (event_id) WHERE type != 'served';
"""
_INSERT = (
    f"INSERT INTO events ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))}) "
    "ON CONFLICT (event_id) WHERE type != 'served' DO NOTHING"
)
# The primary result codes that say the disk (or another writer) cannot take a batch now.
_FAULTS = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}


def sqlite_path(target) -> Path | None:
    """The file of an SQLite target (``sqlite:///path``, or a path ending in ``.sqlite`` or
    ``.db``), else None.

    ``sqlite:///`` is followed by the path as written: ``sqlite:///events.db`` is relative,
    ``sqlite:////var/lumos/events.db`` absolute (SQLAlchemy's form).

    Examples
    --------
    >>> sqlite_path("sqlite:///logs/events.db"), sqlite_path("logs/events.sqlite")
    (PosixPath('logs/events.db'), PosixPath('logs/events.sqlite'))
    >>> sqlite_path("logs/events") is None, sqlite_path("redis://localhost") is None
    (True, True)
    """
    if not isinstance(target, str | Path):
        return None
    text = str(target)
    if text.startswith(SCHEME):
        return Path(text[len(SCHEME) :])
    if "://" not in text and text.endswith(SUFFIXES):
        return Path(text)
    return None


class SQLiteEventLog:
    """The event log in one SQLite file, WAL mode, one transaction per batch (opt in).

    Parameters
    ----------
    path : path-like
        The database file (``….sqlite`` or ``….db``), or a folder to hold ``events.sqlite``.
    fsync : bool, default=True
        ``synchronous=FULL``: each batch is synced to disk before :meth:`append`
        returns. Off (``NORMAL``) only for tests of throughput without durability.
    readonly : bool, default=False
        Open to read only, beside the processes writing.
    horizon, skew
        As :class:`~lumos.events.EventLog`'s: the bounds of ``ts`` :meth:`append` takes.
    notify : callable, optional
        Taken for :class:`~lumos.events.EventLog`'s interface; SQLite holds no line to
        set aside, so nothing is ever told.
    busy_timeout : float, default=30
        The seconds a batch waits for another process's transaction to end.

    Attributes
    ----------
    write_faults : int
        The batches refused with :class:`~lumos.errors.LogUnavailable` since the log opened.
    quarantined : int
        Always 0 (kept for :class:`~lumos.events.EventLog`'s interface).

    Examples
    --------
    >>> import tempfile
    >>> log = SQLiteEventLog(tempfile.mkdtemp())
    >>> e = {"event_id": "e1", "tracking_id": "t1", "type": "impression", "member_id": "m",
    ...      "item_id": "c", "ts": 1735787045}
    >>> log.append([e]), log.append([e]), len(log)
    (1, 0, 1)
    >>> log.close()
    """

    def __init__(
        self,
        path,
        *,
        fsync: bool = True,
        readonly: bool = False,
        horizon=None,
        skew: float | None = None,
        notify=None,
        busy_timeout: float = 30.0,
    ):
        path = Path(path)
        self.path = path if path.suffix in SUFFIXES else path / FILENAME
        self.fsync, self.readonly = fsync, readonly
        self.horizon, self.skew = horizon, skew
        self.notify = notify
        self.quarantined = 0
        self.bad_lines: list = []
        self.write_faults = 0
        self._mutex = threading.Lock()
        if readonly:
            if not self.path.is_file():
                raise LumosUserError(
                    f"event log {str(self.path)!r} does not exist; give the SQLite file a "
                    "server writes (lumos serve --events).",
                    code="file_not_found",
                )
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._db = self._connect(uri, busy_timeout, uri=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect(str(self.path), busy_timeout)
        try:
            if self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
                raise LumosUserError(
                    f"event log {str(self.path)!r} cannot use SQLite's WAL mode (a network "
                    "file system?); put it on a local disk.",
                    code="bad_argument",
                )
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise self._fault(exc, None) from exc
        except BaseException:
            self._db.close()
            raise

    @staticmethod
    def _connect(where: str, busy_timeout: float, *, uri: bool = False) -> sqlite3.Connection:
        db = sqlite3.connect(
            where,
            uri=uri,
            timeout=busy_timeout,
            isolation_level=None,  # transactions are begun and ended here
            check_same_thread=False,  # the mutex keeps one thread at a time
        )
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        return db

    def _writable(self) -> None:
        if self.readonly:
            raise LumosUserError(
                f"event log {str(self.path)!r} was opened read-only; open it without "
                "readonly=True to append.",
                code="read_only",
            )

    def append(self, events, *, validate: bool = True) -> int:
        """Validate, de-duplicate and durably append a batch; the number of new events.

        ``validate=False`` is for events a trusted caller built with every field
        already normalized. Safe to call from several threads and processes.
        """
        self._writable()
        batch = _batch(events, self.horizon, self.skew) if validate else list(events)
        rows = [tuple(e.get(f) for f in FIELDS) for e in batch]
        return self._put(rows) if rows else 0

    def append_served(self, lines: list[str]) -> int:
        """Durably append ``served`` events as :func:`~lumos.events.served_lines` made them.

        The server minted their ids: no validation, no de-duplication. Returns the
        number of events.
        """
        self._writable()
        if not lines:
            return 0
        rows = [tuple(e.get(f) for f in FIELDS) for e in map(json.loads, lines)]
        self._put(rows)
        return len(rows)

    def _put(self, rows: list[tuple]) -> int:
        """Insert ``rows`` in one transaction; the rows inserted. On a fault the transaction
        is rolled back (nothing of the batch is in the file) and :class:`LogUnavailable`
        raised."""
        with self._mutex:
            db = self._db
            before = db.total_changes
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(_INSERT, rows)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:  # SQLite rolled back itself, or will on next begin
                        pass
                if isinstance(exc, sqlite3.DatabaseError) and _is_fault(exc):
                    raise self._fault(exc, len(rows)) from exc
                raise
            return db.total_changes - before

    def _fault(self, exc: sqlite3.Error, n: int | None) -> LogUnavailable:
        self.write_faults += n is not None
        what = (
            f"the batch of {n} event{'s' if n != 1 else ''} was not written (its transaction "
            "was rolled back)"
            if n is not None
            else "it could not be opened"
        )
        retry = LogUnavailable.retry_after
        return LogUnavailable(
            f"event log {str(self.path)!r} cannot write now ({exc}): {what}. Free space on "
            f"the disk (or make it writable) and send the batch again in {retry} s; the log "
            "goes on by itself.",
            retry_after=retry,
        )

    def __len__(self) -> int:
        with self._mutex:
            return self._db.execute("SELECT count(*) FROM events").fetchone()[0]

    def read(self, *, contains: bytes | None = None, **where) -> pd.DataFrame:
        """The events in the log, in the order written (one column per field), with
        :meth:`EventLog.read <lumos.events.EventLog.read>`'s filters and frame.

        ``contains`` keeps the events whose JSON line, as the disk log writes it,
        holds those bytes (each kept row is encoded to check: slow, kept for old callers).
        """
        where = _where(where)
        sql, args = f"SELECT {', '.join(FIELDS)} FROM events", []
        tests = []
        for field, want in where.items():
            if want is True:
                tests.append(f"{field} IS NOT NULL")
            else:
                tests.append(f"{field} IN ({', '.join('?' * len(want))})")
                args += want
        if tests:
            sql += " WHERE " + " AND ".join(tests)
        with self._mutex:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        if contains is not None:
            rows = [r for r in rows if contains in _line(r)]
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(FIELDS)
        table = pa.table(
            [pa.array(c, type=t) for c, t in zip(columns, _lines.SCHEMA.types, strict=True)],
            schema=_lines.SCHEMA,
        )
        return _lines.frame(table)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        try:
            self._db.total_changes  # noqa: B018 — raises once the connection is closed
        except sqlite3.ProgrammingError:
            return True
        return False

    def close(self) -> None:
        """Close the connection (the last one to close checkpoints the WAL into the file)."""
        with self._mutex:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_fault(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised by the module, not SQLite
        return False
    return code & 0xFF in _FAULTS


def _line(row: tuple) -> bytes:
    """The JSON line the disk log writes for a row (what ``contains`` looks in)."""
    return json.dumps(dict(zip(FIELDS, row, strict=True)), separators=(",", ":")).encode()
