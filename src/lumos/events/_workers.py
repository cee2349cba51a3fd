"""One event log folder written by several processes at once: the workers of
``lumos serve --workers N``.

Each worker appends the served events it records to a series of its own
(``segment-w1-00000001.jsonl``, …), with nothing to share. The events clients
send go to the log's own series (``segment-00000001.jsonl``, …), one batch at a
time under a lock the workers share (``clients.lock``): before it writes, the
holder reads what the others appended since its last batch, so an ``event_id``
is de-duplicated across every worker — a batch resent to another worker is
still written once — and the holder learns of the others' events
(``on_others``). A worker that died mid-batch left at most a torn line, never
acknowledged, which the next holder cuts off; a batch that failed and could not be
cut back at once leaves ``clients.cut`` saying where, and no worker reads or writes
on until one has cut it there.

The workers hold ``writer.lock`` shared, so a lone writer (``EventLog``) and a
set of workers never write one folder at once; each claims a name (``w0``,
``w1``, …) with a lock of its own, which a worker restarted after a crash takes
again. Readers (:meth:`EventLog.read`, ``lumos report``, training) read every
series as one log, in order of ``ts``.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

from lumos.errors import LumosUserError
from lumos.events._log import EventLog
from lumos.events._series import Series, series_of, try_lock

#: The most workers one folder takes.
MAX_WORKERS = 256
#: Where a failed batch left bytes it could not take back: ``segment size`` to cut to.
CUT = "clients.cut"


class WorkerEventLog(EventLog):
    """One worker's view of an event log folder that several processes write.

    Takes :class:`EventLog`'s parameters, and ``on_others`` — called with the
    events (dicts) other workers' clients sent, as this worker reads them: at each of
    its own batches and every ``follow`` seconds (a thread of its own; 0 for none).

    Attributes
    ----------
    name : str
        The worker's name in the folder (``w0``, ``w1``, …): its served events' series.
    """

    def __init__(self, folder, *, on_others=None, follow: float = 0.5, **kwargs):
        if kwargs.get("readonly"):
            raise LumosUserError(
                "WorkerEventLog writes; open a log to read with open_event_log(readonly=True).",
                code="bad_argument",
            )
        self.on_others = on_others
        self.name = ""
        self._own: Series | None = None
        self._served = threading.Lock()  # served batches: this worker's own series
        self._stop = threading.Event()
        self._marked = False  # whether clients.cut says where this worker's failed batch began
        super().__init__(folder, **kwargs)
        self._follower = None
        if follow:
            self._follower = threading.Thread(
                target=self._follow, args=(follow,), daemon=True, name="event-log-follow"
            )
            self._follower.start()

    def _take_lock(self):
        lock = try_lock(self.folder / "writer.lock", fcntl.LOCK_SH)
        if lock is None:
            raise LumosUserError(
                f"event log {str(self.folder)!r} is open for writing in another process "
                "that does not share it; stop it, or serve with one process.",
                code="locked",
            )
        try:
            self._claim = self._claim_name()
        except BaseException:
            lock.close()
            raise
        return lock

    def _claim_name(self):
        for i in range(MAX_WORKERS):
            claim = try_lock(self.folder / f"worker-w{i}.lock")
            if claim is not None:
                self.name = f"w{i}"
                return claim
        raise LumosUserError(
            f"event log {str(self.folder)!r} has {MAX_WORKERS} workers writing it already; "
            "serve with fewer.",
            code="locked",
        )

    def _start(self) -> None:
        try:
            with self._holding(fcntl.LOCK_EX):  # torn tails are cut by the lock's holder only
                super()._start()
                self._own = Series(
                    self.folder, self.name, segment_bytes=self.segment_bytes, fsync=self.fsync
                )
                self._own.open()
        except BaseException:
            self._claim.close()
            raise

    def _scan(self, path: Path, *, repair: bool):
        mine = series_of(path) in ("", self.name)  # the others' served events: theirs to read
        return super()._scan(path, repair=repair) if mine else []

    def _holding(self, how: int):
        return _Flock(self.folder / "clients.lock", how)

    def _owns(self, path: Path) -> bool:
        return series_of(path) == self.name

    def _series(self) -> list[Series]:
        return [s for s in (self._main, self._own) if s is not None]

    def append_served(self, lines: list[str]) -> int:
        self._writable()
        if lines:
            with self._served:
                self._own.put(lines, str(self.folder))
        return len(lines)

    def _write(self, batch) -> int:
        with self._holding(fcntl.LOCK_EX):
            if not self._cut_marked():
                raise self._main.fault(None, len(batch), str(self.folder))
            self._catch_up()
            try:
                return super()._write(batch)
            finally:
                if self._main.dirty:  # a failed batch that could not be cut back: say where
                    self._mark()

    def _mark(self) -> None:
        """Leave ``clients.cut``: where the log's own series must be cut back (the end of the
        last acknowledged batch) before anyone reads or writes on."""
        main = self._main
        mark, temp = self.folder / CUT, self.folder / f"{CUT}.{self.name}"
        try:
            temp.write_text(f"{Path(main.file.name).name} {main.size}")
            os.replace(temp, mark)
        except OSError:  # the disk takes nothing now: tried again before the next batch
            return
        self._marked = True

    def _cut_marked(self) -> bool:
        """Cut the log's own series where ``clients.cut`` says (the caller holds
        ``clients.lock`` alone); whether it is clean now."""
        main, mark = self._main, self.folder / CUT
        if main.dirty and not self._marked:
            self._mark()
            if not self._marked:
                return False
        try:
            name, size = mark.read_text().split()
        except FileNotFoundError:
            name = None  # clean, or cut by another worker where this one marked it
        except (OSError, ValueError):
            return False
        if name is not None:
            try:
                with open(self.folder / name, "r+b") as f:
                    f.truncate(int(size))
                    os.fsync(f.fileno())
                mark.unlink()
            except OSError:
                return False
        if self._marked:  # this worker's failed batch is gone: nothing of it is left
            main.dirty = self._marked = False
        return True

    def _put(self, lines: list[str], series: Series | None = None) -> None:
        (series or self._main).put(lines, str(self.folder))

    def _catch_up(self) -> None:
        """Read what the other workers appended to the log's own series since this one last
        looked (the caller holds ``clients.lock``): remember their ids, tell ``on_others``."""
        main = self._main
        if main.dirty or (self.folder / CUT).exists():  # a failed batch's bytes are there:
            return  # read on once they are cut (a batch cuts them first, or is refused)
        paths = [p for p in main.paths() if Series.number_of(p) >= main.number]
        new = []
        for path in paths:
            start = main.size if Series.number_of(path) == main.number else 0
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
            end = data.rfind(b"\n") + 1
            if end < len(data) and path == paths[-1]:  # a worker died mid-batch: never acked
                with open(path, "r+b") as f:
                    f.truncate(start + end)
                    os.fsync(f.fileno())
            new.append(data[:end])
        if paths and Series.number_of(paths[-1]) != main.number:
            main.open(paths[-1])
        else:
            main.size += len(new[0]) if new else 0
        events = []
        for line in b"".join(new).splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:  # a line no one can read: read around it (see quarantine)
                continue
        if not events:
            return
        self._seen.update(e["event_id"] for e in events if e.get("type") != "served")
        if self.on_others is not None:
            self.on_others(events)

    def _follow(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                with self._mutex, self._holding(fcntl.LOCK_SH):
                    if self._main.closed:
                        return
                    self._catch_up()
            except Exception:  # the next round reads on (and every batch reads first)
                continue

    def __len__(self) -> int:
        return sum(self._lines(path).count(b"\n") for path in self._segments())

    def close(self) -> None:
        self._stop.set()
        if self._follower is not None and self._follower is not threading.current_thread():
            self._follower.join(5)
        with self._mutex:
            was_open = not self.closed
            super().close()
        if was_open:
            self._claim.close()


class _Flock:
    """``with``: hold ``path``'s lock (``fcntl.LOCK_EX`` or ``LOCK_SH``), waiting for it."""

    def __init__(self, path: Path, how: int):
        self.path, self.how = path, how

    def __enter__(self):
        self.file = open(self.path, "a")
        fcntl.flock(self.file, self.how)
        return self

    def __exit__(self, *exc):
        self.file.close()  # closing releases it
