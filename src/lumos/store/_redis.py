"""The store at scale: Redis, one hash per version and a pointer key switched in one step."""

from __future__ import annotations

import contextlib
import json

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lumos.errors import LumosUserError, StoreUnavailable
from lumos.store._base import Store
from lumos.store._build import Records, check_version

BATCH = 5_000  # fields per HSET
SENTINEL = b""  # the field written last, in the switch: a version's hash is complete with it
READ_BATCH = 1_000  # member ids per read script
CONNECT_SECONDS = 1.0  # to connect, and for a serving process's read to answer
WRITE_SECONDS = 10.0  # for a publishing process's batch of writes to answer
# One round trip, atomic: the live version and its members' records. The hash
# key is built in the script, so this store needs one Redis (not a cluster).
_GET = """
local live = redis.call('GET', KEYS[1])
if not live then return {false} end
if #ARGV == 0 then return {live} end
return {live, redis.call('HMGET', KEYS[2] .. live, unpack(ARGV))}
"""


class RedisStore(Store):
    """Records in Redis: ``{prefix}:v:{version}`` hashes, member id → record.

    A publish fills the new version's hash in pipelined ``HSET`` batches
    (:meth:`begin` and :func:`write_records`, which many processes may run at
    once), then in one ``MULTI``/``EXEC`` (:meth:`commit`) marks it complete,
    points ``{prefix}:live`` at it, and deletes versions beyond ``keep``
    (``UNLINK``). A read is one script, one round trip: the live version and
    ``HMGET`` of its members, atomic, so it never sees a version half gone.
    The script builds the hash key, so the store lives on one Redis server (or
    a replica), not a cluster.

    A Redis that is down, restarting or unreachable raises
    :class:`~lumos.errors.StoreUnavailable` within about a second (a read-only store;
    ten for a batch of writes), counted in ``faults``; every command is safe to run
    twice, so a connection dropped mid-command is tried once more on a new one, and the
    store reconnects by itself once Redis is back. A publish that fails leaves the
    live version as it was; publishing again finishes it.

    Parameters
    ----------
    url : str
        A Redis URL, e.g. ``"redis://localhost:6379/0"``.
    prefix : str, default="lumos"
        Namespace of this store's keys.
    keep : int, default=3
        How many versions stay for rollback, the live one included.
    readonly : bool, default=False
        Refuse to publish or roll back (a serving process).

    Examples
    --------
    >>> store = RedisStore("redis://localhost:6379/0")  # doctest: +SKIP
    >>> store.get("M000001")  # doctest: +SKIP
    """

    def __init__(self, url: str, *, prefix: str = "lumos", keep: int = 3, readonly: bool = False):
        super().__init__(keep=keep, readonly=readonly)
        self.url, self.prefix = url, prefix
        self.faults = 0  # commands that failed for want of Redis
        try:
            self._r = connect(url, CONNECT_SECONDS if readonly else WRITE_SECONDS)
            self._r.ping()
        except (redis.RedisError, ValueError) as exc:
            raise LumosUserError(
                f"Cannot reach Redis at {url!r}: {exc}; start redis-server or fix the URL.",
                code="store_unavailable",
            ) from exc
        self._k_live, self._k_versions = f"{prefix}:live", f"{prefix}:versions"
        self._k_writing = f"{prefix}:writing"  # hashes being written, to clean if killed
        self._get = self._r.register_script(_GET)

    def _hash(self, version: str) -> str:
        return f"{self.prefix}:v:{version}"

    @contextlib.contextmanager
    def _reaching(self, doing: str, then: str):
        """Raise :class:`StoreUnavailable` (saying what was being done and what to do) for a
        Redis that does not answer."""
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.faults += 1
            raise StoreUnavailable(
                f"Redis at {self.url!r} did not answer {doing} ({exc}); {then}"
            ) from exc

    def _reading(self):
        return self._reaching(
            "a read of the store",
            "it is down, restarting or unreachable. Try again in a second: the store "
            "reconnects by itself once Redis answers.",
        )

    def _live(self):
        with self._reading():
            live = self._r.get(self._k_live)
        return live.decode() if live else None

    def _order(self) -> list[str]:
        kept = self._r.get(self._k_versions)
        return json.loads(kept) if kept else []

    def versions(self) -> list[str]:
        """The kept versions, newest publish first."""
        with self._reading():
            return self._order()[::-1]

    def _read(self, ids):
        live, values = None, []
        for start in range(0, max(len(ids), 1), READ_BATCH):  # Lua's unpack has a limit
            with self._reading():
                got = self._get(
                    keys=[self._k_live, self._hash("")], args=ids[start : start + READ_BATCH]
                )
            if got[0] is None:
                return None, [None] * len(ids)
            if live is not None and got[0].decode() != live:  # a publish between batches
                return self._read(ids)
            live = got[0].decode()
            values += got[1] if len(got) > 1 else []
        return live, values

    def _publish(self, records: Records):
        key = self.begin(records.version)
        with self._writing(records.version):
            write_records(self._r, key, records.member_ids, records.values)
        self.commit(records.version, count=len(records.member_ids))

    def _writing(self, version: str):
        return self._reaching(
            f"while version {version!r} was written",
            "the live version is unchanged. Start redis-server (or wait until it answers) "
            "and publish again: the half-written version is removed first.",
        )

    def begin(self, version: str) -> str:
        """Start a publish that other processes write: return the new version's hash key.

        Writers fill the key with :func:`write_records` (from as many processes
        as there are, e.g. Spark executors); :meth:`commit` then switches to the
        version in one step. Until then readers see the live version; a publish
        that never commits is removed by the next ``begin``.
        """
        self._writable("publish")
        check_version(version)
        with self._writing(version):
            return self._begin(version)

    def _begin(self, version: str) -> str:
        r, order = self._r, self._order()
        if version in order:
            raise LumosUserError(
                f"Version {version!r} is already in the store; publish a new version.",
                code="version_exists",
            )
        known = {self._hash(v).encode() for v in order}
        orphans = [k for k in r.smembers(self._k_writing) if k not in known]
        if orphans:  # left by a killed publish
            r.unlink(*orphans)
            r.srem(self._k_writing, *orphans)
        key = self._hash(version)
        r.sadd(self._k_writing, key)  # no SCAN of the keyspace to find it again
        return key

    def commit(self, version: str, *, count: int | None = None) -> str:
        """Mark a begun version complete, make it live and prune old versions, atomically.

        With ``count`` (the records written), a version that holds another number is
        refused and the live version left as it is: a Redis that lost writes it had
        acknowledged (restarted without ``appendonly yes``) never serves half a version.
        """
        with self._reaching(
            f"while version {version!r} was switched live",
            f"it is live only if Redis made the switch before it stopped answering. Once "
            f"Redis answers, publish again: it finishes the publish, or says {version!r} "
            "is already in the store (it is live).",
        ):
            return self._commit(version, count)

    def _commit(self, version: str, count: int | None) -> str:
        r, order = self._r, self._order()
        key = self._hash(version)
        if not r.sismember(self._k_writing, key):
            raise LumosUserError(
                f"Version {version!r} was not begun in this store (or was committed or cleaned "
                "since, or Redis lost it in a restart); call begin first.",
                code="unknown_version",
            )
        held = r.hlen(key) if count is not None else None
        if held is not None and held != count:
            raise StoreUnavailable(
                f"Redis at {self.url!r} holds {held:,} of the {count:,} records written to "
                f"version {version!r}: it lost writes it had acknowledged (a restart without "
                "'appendonly yes' and 'appendfsync always'?). The live version is unchanged; "
                "publish again."
            )
        kept, gone = self._prune([*order, version], version)
        with r.pipeline(transaction=True) as tx:
            tx.hset(key, SENTINEL, version)
            tx.set(self._k_versions, json.dumps(kept))
            tx.set(self._k_live, version)
            tx.srem(self._k_writing, key)
            if gone:
                tx.unlink(*[self._hash(v) for v in gone])
            tx.execute()
        return version

    def _switch(self, version):
        with self._reaching(
            f"while version {version!r} was made live again",
            "start redis-server (or wait until it answers) and roll back again.",
        ):
            self._r.set(self._k_live, version)

    def close(self):
        """Close the connections."""
        self._r.close()


def write_records(client, key: str, member_ids, values) -> int:
    """``HSET`` records into a begun version's hash in pipelined batches; return the count.

    ``client`` is a ``redis.Redis`` (or a URL, for a process of its own). Writing
    a member twice writes the same bytes, so a retried writer is harmless.
    """
    own = isinstance(client, str)
    r = connect(client, WRITE_SECONDS) if own else client
    try:
        pipe = r.pipeline(transaction=False)
        for start in range(0, len(member_ids), BATCH):
            chunk = dict(
                zip(member_ids[start : start + BATCH], values[start : start + BATCH], strict=True)
            )
            pipe.hset(key, mapping=chunk)
            if len(pipe) >= 20:
                pipe.execute()
        pipe.execute()
    finally:
        if own:
            r.close()
    return len(member_ids)


def connect(url: str, seconds: float) -> redis.Redis:
    """A client of ``url`` that fails fast instead of hanging: a second to connect,
    ``seconds`` for an answer, and one retry at once on a dropped connection (a store's
    commands are all safe to run twice). Its pool reconnects by itself."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_SECONDS,
        socket_timeout=seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )
