"""Shared offer state: one set of frequency caps and one offer policy for many processes.

An :class:`OfferModel` serving from several processes (``lumos serve
--workers N``) or machines keeps what must be one — the offers each member was
shown, the decisions awaiting their reward, the rounds waiting to be learned and
the policy itself — in an :class:`OfferState`, opened by
:func:`open_offer_state` on one of two backends behind the same methods:

* a **file** (``offers/state.sqlite``): SQLite in WAL mode, every change one
  ``BEGIN IMMEDIATE`` transaction, so the processes of one machine take turns
  to write and a reader never waits;
* **Redis** (``redis://host:port/db``): every change one Lua script, atomic on
  the server, so processes on many machines share it; a cap's window is a
  sorted set per member and channel whose key expires a week after its last offer.

What it holds:

* **Caps** — offers shown, per member and channel, each under a token (the
  decision's tracking id). :meth:`OfferState.reserve` counts a member's offers in
  the last seven days and, under the cap, records one more, in one atomic step:
  two processes deciding for one member at once never both get the last slot.
* **Rounds** — decisions shown and awaiting their reward (:meth:`~OfferState.hold`),
  each with the context and arm it was decided on. A conversion moves its
  decision to the rounds waiting to be learned with reward 1
  (:meth:`~OfferState.convert`), and one whose window closed with reward 0
  (:meth:`~OfferState.tidy`): the move deletes the decision in the same step, so a
  conversion posted twice, or to two processes, counts once.
* **The policy** — the latest snapshot (the bytes of ``policy.npz``), its
  version, and the SHA-256 of every snapshot it has held.
  :meth:`~OfferState.publish` replaces it only when the caller learned from the
  version still current, and drops the rounds it learned in the same step.
* **The learner's lease** (:meth:`~OfferState.lock`): at most one process
  learns at a time; a lease that is not given back expires.

Ids, token and tracking: any text. Times are epoch seconds from the callers' clocks.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumos._targets import parse_target
from lumos.bandits._offer_rounds import WEEK
from lumos.errors import LumosUserError

FORMAT, VERSION = "lumos.offer-state", 1
_HEAD = struct.Struct("<id")  # a held decision: its arm and when it was shown, then its context


def pack_decision(arm: int, ts: float, context: np.ndarray) -> bytes:
    """A held decision as bytes: its arm, when it was shown and its context (float64)."""
    return _HEAD.pack(int(arm), float(ts)) + np.asarray(context, dtype="<f8").tobytes()


@dataclass(frozen=True)
class Waiting:
    """Rounds waiting to be learned, oldest first: each one's context, arm and reward;
    ``through`` marks the last, for :meth:`OfferState.publish`."""

    contexts: np.ndarray
    arms: np.ndarray
    rewards: np.ndarray
    through: int

    @classmethod
    def of(cls, rewards, decisions: list[bytes], through: int) -> Waiting:
        heads = [_HEAD.unpack_from(d) for d in decisions]
        contexts = [np.frombuffer(d, dtype="<f8", offset=_HEAD.size) for d in decisions]
        return cls(
            np.vstack(contexts) if contexts else np.zeros((0, 0)),
            np.array([h[0] for h in heads], dtype=np.int64),
            np.asarray(rewards, dtype=float),
            int(through),
        )


class OfferState:
    """What the processes serving one offer model share; see the module's text.

    Open one with :func:`open_offer_state`. Every method is one atomic step of
    the backend and safe to call from many threads.
    """

    target: str

    # -- caps -----------------------------------------------------------------------------------

    def reserve(self, tokens, members, channels, *, now: float, per_week: int) -> np.ndarray:
        """For each request, whether the member had fewer than ``per_week`` offers on the
        channel in the seven days before ``now`` — and if so, one more, recorded under its
        token at ``now``; all in one atomic step."""
        raise NotImplementedError

    def allowed(self, members, channels, *, now: float, per_week: int) -> np.ndarray:
        """Whether one more offer fits under each request's cap at ``now`` (nothing recorded)."""
        raise NotImplementedError

    def release(self, tokens, members, channels) -> None:
        """Give back reservations: the decisions turned out to be "no offer"."""
        raise NotImplementedError

    def shown(self, tokens, members, channels, ts) -> None:
        """Record offers shown (from a log, or decided without a reservation); a token
        already recorded is left as it is."""
        raise NotImplementedError

    # -- rounds ---------------------------------------------------------------------------------

    def hold(self, tracking_ids, decisions: list[bytes], ts) -> None:
        """Keep decisions shown until their reward is known (:func:`pack_decision` each)."""
        raise NotImplementedError

    def convert(self, tracking_ids) -> int:
        """Held decisions that converted become rounds of reward 1; how many (a tracking id
        not held — unknown, or converted already — counts nothing)."""
        raise NotImplementedError

    def tidy(self, now: float, window: float) -> int:
        """Held decisions shown ``window`` seconds or more before ``now`` become rounds of
        reward 0 (how many), and offers shown more than a week before ``now`` are forgotten."""
        raise NotImplementedError

    def waiting(self, at_least: int = 1, most: int = 100_000) -> Waiting | None:
        """The oldest ``most`` rounds waiting to be learned, or None when fewer than
        ``at_least`` wait."""
        raise NotImplementedError

    # -- the policy -----------------------------------------------------------------------------

    def current(self) -> int:
        """The version of the latest policy snapshot (0: none yet)."""
        raise NotImplementedError

    def snapshot(self) -> tuple[int, bytes | None]:
        """The latest policy snapshot and its version (``(0, None)``: none yet)."""
        raise NotImplementedError

    def adopt(self, layout: str, digest: str, blob: bytes) -> tuple[int, bool]:
        """Start from the policy ``blob`` (SHA-256 ``digest``) unless the state has held it.

        A policy the state has held (the same folder restarting, or a snapshot it
        saved) changes nothing. Any other is a new policy (``lumos offers retrain``
        wrote it): it becomes the next version, and the decisions held and the
        rounds waiting, which it was not trained with, are dropped (as a single
        server drops them on restart). A different ``layout`` (the arms, sizes and
        policy kind) also forgets the snapshots held. The caps are kept. Returns the
        current version and whether ``blob`` became it.
        """
        raise NotImplementedError

    def publish(self, expect: int, blob: bytes, digest: str, through: int) -> int:
        """Make ``blob`` the next version, if ``expect`` is still the current one, and drop
        the waiting rounds up to ``through`` (learned in it); the new version, or 0 (refused:
        another process published first, and this one's rounds still wait)."""
        raise NotImplementedError

    def lock(self, owner: str, seconds: float) -> bool:
        """Take (or keep) the learner's lease for ``seconds``; False while another holds it."""
        raise NotImplementedError

    def unlock(self, owner: str) -> None:
        """Give the lease back, if ``owner`` holds it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"


def open_offer_state(target, *, namespace: str = "offers") -> OfferState:
    """The shared offer state at ``target``: a SQLite file, or a Redis URL.

    Parameters
    ----------
    target : str or Path
        A file (made when missing; its folder must exist), e.g.
        ``"offers/state.sqlite"``, or ``redis://host:port/db``.
    namespace : str, default="offers"
        On Redis, what this model's keys begin with (``lumos:offers:{namespace}:``);
        the server passes the model's ``model_id``. A file holds one model.

    Raises
    ------
    LumosUserError
        ``bad_argument`` for a target that is neither (or a folder),
        ``file_not_found`` when the file's folder is missing, ``not_writable`` when it
        cannot be written, ``unreadable_file`` for a file that is not an offer state,
        ``state_unavailable`` when Redis does not answer.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> state = open_offer_state(pathlib.Path(tempfile.mkdtemp()) / "state.sqlite")
    >>> state.reserve(["t1", "t2"], ["m1", "m1"], ["email"] * 2, now=0.0, per_week=1).tolist()
    [True, False]
    >>> state.close()
    """
    parsed = parse_target(target, what="offer state")
    if parsed.is_redis:
        from lumos.bandits._offer_state_redis import RedisOfferState

        return RedisOfferState(parsed.url, namespace=namespace)
    return FileOfferState(parsed.path)


_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS shown (token TEXT PRIMARY KEY, member TEXT, channel TEXT, ts REAL);
CREATE INDEX IF NOT EXISTS shown_by_member ON shown (member, channel, ts);
CREATE TABLE IF NOT EXISTS held (tracking_id TEXT PRIMARY KEY, ts REAL, decision BLOB);
CREATE INDEX IF NOT EXISTS held_by_ts ON held (ts);
CREATE TABLE IF NOT EXISTS rounds (id INTEGER PRIMARY KEY AUTOINCREMENT, reward REAL,
    decision BLOB);
CREATE TABLE IF NOT EXISTS policy (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER,
    layout TEXT, digest TEXT, blob BLOB);
CREATE TABLE IF NOT EXISTS digests (digest TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS lease (one INTEGER PRIMARY KEY CHECK (one = 1), owner TEXT,
    until REAL);
"""
_IDS = "(SELECT value FROM json_each(?))"  # a list of ids passed as one JSON text


class FileOfferState(OfferState):
    """The shared offer state in one SQLite file (WAL): the processes of one machine.

    Every change is one ``BEGIN IMMEDIATE`` transaction — the write lock taken
    before the first read — so a cap's count and its reservation are one step no
    other process can come between. Commits are not synced one by one
    (``synchronous=NORMAL``): a crash of the machine may lose the last changes, a
    crash of a process loses nothing it committed.
    """

    def __init__(self, path):
        path = Path(path)
        self.target = str(path)
        if path.is_dir():
            raise LumosUserError(
                f"offer state {self.target!r} is a folder; give a file in it, e.g. "
                f"{str(path / 'state.sqlite')!r}.",
                code="bad_argument",
            )
        if not path.parent.is_dir():
            raise LumosUserError(
                f"offer state {self.target!r}: its folder {str(path.parent)!r} does not "
                "exist; create it or give another file.",
                code="file_not_found",
            )
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=60, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._cannot(exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._write() as db:
                for statement in _TABLES.split(";"):  # executescript would commit first
                    if statement.strip():
                        db.execute(statement)
                found = dict(db.execute("SELECT key, value FROM meta").fetchall())
                if not found:
                    db.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("format", FORMAT), ("version", str(VERSION))],
                    )
                elif found.get("format") != FORMAT or found.get("version") != str(VERSION):
                    raise sqlite3.DatabaseError(
                        f"it holds {found.get('format')!r} version {found.get('version')!r}"
                    )
        except sqlite3.Error as exc:
            self._db.close()
            raise self._cannot(exc) from None

    def _cannot(self, exc) -> LumosUserError:
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            return LumosUserError(
                f"offer state {self.target!r} cannot be opened for writing ({exc}); give a "
                "file in a folder the server may write.",
                code="not_writable",
            )
        return LumosUserError(
            f"{self.target!r} is not a Lumos offer state ({exc}); give a new file, or delete "
            "this one if it is an old state (the caps and the rounds waiting are lost).",
            code="unreadable_file",
        )

    @contextlib.contextmanager
    def _write(self):
        """One transaction that holds the write lock from its first read."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args=()):
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- caps -----------------------------------------------------------------------------------

    def reserve(self, tokens, members, channels, *, now, per_week):
        out = np.zeros(len(tokens), dtype=bool)
        requests = enumerate(zip(tokens, members, channels, strict=True))
        with self._write() as db:
            for i, (token, member, channel) in requests:
                (n,) = db.execute(
                    "SELECT count(*) FROM shown WHERE member = ? AND channel = ? AND ts > ?",
                    (member, channel, now - WEEK),
                ).fetchone()
                if n < per_week:
                    db.execute(
                        "INSERT OR IGNORE INTO shown VALUES (?, ?, ?, ?)",
                        (token, member, channel, now),
                    )
                    out[i] = True
        return out

    def allowed(self, members, channels, *, now, per_week):
        counts = [
            self._read(
                "SELECT count(*) FROM shown WHERE member = ? AND channel = ? AND ts > ?",
                (member, channel, now - WEEK),
            )[0][0]
            for member, channel in zip(members, channels, strict=True)
        ]
        return np.asarray(counts, dtype=int).reshape(-1) < per_week

    def release(self, tokens, members, channels):
        with self._write() as db:
            db.execute(f"DELETE FROM shown WHERE token IN {_IDS}", (_json(tokens),))

    def shown(self, tokens, members, channels, ts):
        rows = zip(
            map(str, tokens), map(str, members), map(str, channels), map(float, ts), strict=True
        )
        with self._write() as db:
            db.executemany("INSERT OR IGNORE INTO shown VALUES (?, ?, ?, ?)", rows)

    # -- rounds ---------------------------------------------------------------------------------

    def hold(self, tracking_ids, decisions, ts):
        rows = zip(map(str, tracking_ids), map(float, ts), decisions, strict=True)
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO held VALUES (?, ?, ?)", rows)

    def _move(self, db, where: str, args, reward: float) -> int:
        db.execute(
            f"INSERT INTO rounds (reward, decision) SELECT ?, decision FROM held WHERE {where} "
            "ORDER BY ts",
            (reward, *args),
        )
        return db.execute(f"DELETE FROM held WHERE {where}", args).rowcount

    def convert(self, tracking_ids):
        tracking_ids = [str(t) for t in tracking_ids]
        if not tracking_ids:
            return 0
        with self._write() as db:
            return self._move(db, f"tracking_id IN {_IDS}", (_json(tracking_ids),), 1.0)

    def tidy(self, now, window):
        with self._write() as db:
            db.execute("DELETE FROM shown WHERE ts <= ?", (now - WEEK,))
            return self._move(db, "ts <= ?", (now - window,), 0.0)

    def waiting(self, at_least=1, most=100_000):
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM rounds").fetchone()
            if n < max(at_least, 1):
                return None
            rows = self._db.execute(
                "SELECT id, reward, decision FROM rounds ORDER BY id LIMIT ?", (most,)
            ).fetchall()
        return Waiting.of([r[1] for r in rows], [r[2] for r in rows], rows[-1][0])

    # -- the policy -----------------------------------------------------------------------------

    def current(self):
        rows = self._read("SELECT version FROM policy")
        return rows[0][0] if rows else 0

    def snapshot(self):
        rows = self._read("SELECT version, blob FROM policy")
        return (rows[0][0], bytes(rows[0][1])) if rows else (0, None)

    def adopt(self, layout, digest, blob):
        with self._write() as db:
            row = db.execute("SELECT version, layout FROM policy").fetchone()
            version, held = row if row else (0, None)
            known = db.execute("SELECT 1 FROM digests WHERE digest = ?", (digest,)).fetchone()
            if held == layout and known:
                return version, False
            if held != layout:
                db.execute("DELETE FROM digests")
            db.execute("DELETE FROM held")
            db.execute("DELETE FROM rounds")
            db.execute(
                "INSERT OR REPLACE INTO policy VALUES (1, ?, ?, ?, ?)",
                (version + 1, layout, digest, blob),
            )
            db.execute("INSERT OR IGNORE INTO digests VALUES (?)", (digest,))
            return version + 1, True

    def publish(self, expect, blob, digest, through):
        with self._write() as db:
            row = db.execute("SELECT version FROM policy").fetchone()
            if row is None or row[0] != expect:
                return 0
            db.execute(
                "UPDATE policy SET version = ?, digest = ?, blob = ?", (expect + 1, digest, blob)
            )
            db.execute("INSERT OR IGNORE INTO digests VALUES (?)", (digest,))
            db.execute("DELETE FROM rounds WHERE id <= ?", (through,))
            return expect + 1

    def lock(self, owner, seconds):
        with self._write() as db:
            row = db.execute("SELECT owner, until FROM lease").fetchone()
            now = time.time()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            db.execute("INSERT OR REPLACE INTO lease VALUES (1, ?, ?)", (owner, now + seconds))
            return True

    def unlock(self, owner):
        with self._write() as db:
            db.execute("DELETE FROM lease WHERE owner = ?", (owner,))

    def close(self):
        with self._lock:
            self._db.close()


def _json(ids) -> str:
    return json.dumps([str(i) for i in ids])
