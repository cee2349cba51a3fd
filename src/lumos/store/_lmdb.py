"""The embedded store: one LMDB environment, versions side by side under key prefixes."""

from __future__ import annotations

import itertools
import json
import os
import threading

import lmdb

from lumos.errors import LumosUserError
from lumos.store._base import Store
from lumos.store._build import Records

BATCH = 50_000  # records per write transaction while a version is written
_OPEN: dict[str, list] = {}  # real path → [env, meta db, data db, readonly, stores using it]
_OPEN_LOCK = threading.Lock()


class LMDBStore(Store):
    """Records in an LMDB environment on local disk: many reader processes, one writer.

    Every version lives under its own key prefix (a 4-byte sequence number) in
    one database; the ``meta`` database names the live version and the kept
    ones. A publish writes the new version's keys in a few transactions (no
    reader looks at them yet), then switches ``meta`` and deletes versions
    beyond ``keep`` in one write transaction; LMDB's snapshots make every read
    see one complete version.

    Parameters
    ----------
    path : path-like
        A directory; created when missing.
    keep : int, default=3
        How many versions stay for rollback, the live one included.
    map_size : int, default=2**36
        The most bytes the environment may grow to (a sparse file; not
        allocated up front).
    readonly : bool, default=False
        Open for reading only (a serving process).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from lumos.store import build_records
    >>> table = pd.DataFrame({"member_id": ["a"], "course_id": ["c1"], "score": [0.5]})
    >>> store = LMDBStore(tempfile.mkdtemp())
    >>> store.publish(build_records({"m1": table}, version="v1"))
    'v1'
    >>> store.get("a")["items"], store.get_many(["a", "zz"])[1], store.version
    (['c1'], None, 'v1')
    >>> store.close()
    """

    def __init__(self, path, *, keep: int = 3, map_size: int = 2**36, readonly: bool = False):
        super().__init__(keep=keep, readonly=readonly)
        self.path = os.fspath(path)
        if not readonly:
            os.makedirs(self.path, exist_ok=True)
        key = os.path.realpath(self.path)
        with _OPEN_LOCK:  # LMDB allows one environment per file and process: share it
            shared = _OPEN.get(key)
            if shared is not None and shared[3] and not readonly:
                raise LumosUserError(
                    f"the LMDB store at {self.path!r} is open read-only in this process; "
                    "open it for writing first, or close the reader.",
                    code="store_unavailable",
                )
            if shared is None:
                try:
                    env = lmdb.open(
                        self.path, map_size=map_size, max_dbs=2, readonly=readonly, readahead=False
                    )
                    meta = env.open_db(b"meta", create=not readonly)
                    data = env.open_db(b"data", create=not readonly)
                except lmdb.Error as exc:
                    raise LumosUserError(
                        f"Cannot open the LMDB store at {self.path!r}: {exc}",
                        code="store_unavailable",
                    ) from exc
                shared = _OPEN[key] = [env, meta, data, readonly, 0]
            shared[4] += 1
        self._key = key
        self._env, self._meta, self._data = shared[0], shared[1], shared[2]
        self._closed = False

    # meta: b"live" -> version, b"versions" -> JSON [[version, seq], ...] oldest first
    def _state(self, txn) -> tuple[str | None, list]:
        live = txn.get(b"live", db=self._meta)
        kept = txn.get(b"versions", db=self._meta)
        return (live.decode() if live else None), (json.loads(kept) if kept else [])

    def _live(self):
        with self._env.begin() as txn:
            return self._state(txn)[0]

    def versions(self) -> list[str]:
        """The kept versions, newest publish first."""
        with self._env.begin() as txn:
            return [v for v, _ in reversed(self._state(txn)[1])]

    def _read(self, ids):
        with self._env.begin(db=self._data, buffers=False) as txn:
            live, kept = self._state(txn)
            if live is None:
                return None, [None] * len(ids)
            prefix = dict(kept)[live].to_bytes(4, "big")
            get = txn.get
            return live, [get(prefix + m.encode()) for m in ids]

    def _publish(self, records: Records):
        env = self._env
        with env.begin(write=True) as txn:
            _, kept = self._state(txn)
            seq = max((s for _, s in kept), default=0) + 1
            self._delete_except(txn, {s for _, s in kept})  # left by a killed publish
        prefix = seq.to_bytes(4, "big")
        keys = [prefix + m.encode() for m in records.member_ids]
        pairs = list(zip(keys, records.values, strict=True))
        if any(a >= b for a, b in itertools.pairwise(keys)):
            pairs.sort()
        for start in range(0, len(pairs), BATCH):
            with env.begin(write=True, db=self._data) as txn:
                txn.cursor().putmulti(pairs[start : start + BATCH], append=True)
        with env.begin(write=True) as txn:
            _, kept = self._state(txn)
            order, _ = self._prune([v for v, _ in kept] + [records.version], records.version)
            seqs = dict([*kept, (records.version, seq)])
            txn.put(b"versions", json.dumps([[v, seqs[v]] for v in order]).encode(), db=self._meta)
            txn.put(b"live", records.version.encode(), db=self._meta)
            self._delete_except(txn, {seqs[v] for v in order})

    def _delete_except(self, txn, seqs: set[int]):
        """Delete every key whose version prefix is not in ``seqs``."""
        cursor = txn.cursor(db=self._data)
        found = cursor.first()
        while found:
            seq = int.from_bytes(cursor.key()[:4], "big")
            if seq in seqs:
                found = cursor.set_range((seq + 1).to_bytes(4, "big"))
                continue
            found = cursor.delete()
            while found and cursor.key()[:4] == seq.to_bytes(4, "big"):
                found = cursor.delete()

    def _switch(self, version):
        with self._env.begin(write=True) as txn:
            txn.put(b"live", version.encode(), db=self._meta)

    def close(self):
        """Close the store (the environment when no other store of this process shares it)."""
        with _OPEN_LOCK:
            if self._closed:
                return
            self._closed = True
            shared = _OPEN[self._key]
            shared[4] -= 1
            if shared[4] == 0:
                del _OPEN[self._key]
                self._env.close()
