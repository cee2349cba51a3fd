"""The store at scale: Redis, one hash per version and a pointer key switched in one step."""

from __future__ import annotations

import json

import redis

from lumos.errors import LumosUserError
from lumos.store._base import Store
from lumos.store._build import Records

BATCH = 5_000  # fields per HSET
SENTINEL = b""  # the field written last, in the switch: a version's hash is complete with it
READ_BATCH = 1_000  # member ids per read script
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

    A publish fills the new version's hash in pipelined ``HSET`` batches, then
    in one ``MULTI``/``EXEC`` marks it complete, points ``{prefix}:live`` at
    it, and deletes versions beyond ``keep`` (``UNLINK``). A read is one
    script, one round trip: the live version and ``HMGET`` of its members,
    atomic, so it never sees a version half gone. The script builds the hash
    key, so the store lives on one Redis server (or a replica), not a cluster.

    Parameters
    ----------
    url : str
        A Redis URL, e.g. ``"redis://localhost:6379/0"``.
    prefix : str, default="lumos"
        Namespace of this store's keys.
    keep : int, default=3
        How many versions stay for rollback, the live one included.

    Examples
    --------
    >>> store = RedisStore("redis://localhost:6379/0")  # doctest: +SKIP
    >>> store.get("M000001")  # doctest: +SKIP
    """

    def __init__(self, url: str, *, prefix: str = "lumos", keep: int = 3):
        super().__init__(keep=keep)
        self.url, self.prefix = url, prefix
        try:
            self._r = redis.Redis.from_url(url)
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

    def _live(self):
        live = self._r.get(self._k_live)
        return live.decode() if live else None

    def _order(self) -> list[str]:
        kept = self._r.get(self._k_versions)
        return json.loads(kept) if kept else []

    def versions(self) -> list[str]:
        """The kept versions, newest publish first."""
        return self._order()[::-1]

    def _read(self, ids):
        live, values = None, []
        for start in range(0, max(len(ids), 1), READ_BATCH):  # Lua's unpack has a limit
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
        r, order = self._r, self._order()
        known = {self._hash(v).encode() for v in order}
        orphans = [k for k in r.smembers(self._k_writing) if k not in known]
        if orphans:  # left by a killed publish
            r.unlink(*orphans)
            r.srem(self._k_writing, *orphans)
        key = self._hash(records.version)
        r.sadd(self._k_writing, key)  # no SCAN of the keyspace to find it again
        pipe = r.pipeline(transaction=False)
        ids, values = records.member_ids, records.values
        for start in range(0, len(ids), BATCH):
            chunk = dict(
                zip(ids[start : start + BATCH], values[start : start + BATCH], strict=True)
            )
            pipe.hset(key, mapping=chunk)
            if len(pipe) >= 20:
                pipe.execute()
        pipe.execute()
        kept, gone = self._prune([*order, records.version], records.version)
        with r.pipeline(transaction=True) as tx:
            tx.hset(key, SENTINEL, records.version)
            tx.set(self._k_versions, json.dumps(kept))
            tx.set(self._k_live, records.version)
            tx.srem(self._k_writing, key)
            if gone:
                tx.unlink(*[self._hash(v) for v in gone])
            tx.execute()

    def _switch(self, version):
        self._r.set(self._k_live, version)

    def close(self):
        """Close the connections."""
        self._r.close()
