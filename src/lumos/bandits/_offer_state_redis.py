"""The shared offer state on Redis: every change one Lua script, atomic on the server.

Keys, under ``lumos:offers:{namespace}:``:

* ``cap:{len(member)}:{member}:{channel}`` — a sorted set, token → when shown;
  the key expires a week after its newest offer (the window's TTL);
* ``held`` (a hash, tracking id → decision) and ``held:ts`` (a sorted set of
  their times) — decisions awaiting their reward;
* ``rounds`` — a list of rounds waiting to be learned, each its reward
  (``1`` or ``0``) then its decision; a publish trims the learned ones from
  its head, new ones are pushed at its tail;
* ``policy`` (a hash: ``version``, ``layout``, ``digest``, ``blob``) and
  ``digests`` (a set) — the latest snapshot and every one held;
* ``lease`` — the learner's lease, a key with a TTL.

The scripts name every key they touch, but a state's keys must live on one
Redis server (or its replicas), not a cluster: a reservation for a batch of
members touches several members' keys at once.
"""

from __future__ import annotations

import numpy as np
import redis

from lumos.bandits._offer_rounds import WEEK
from lumos.bandits._offer_state import OfferState, Waiting
from lumos.errors import LumosUserError

# ARGV: now, a week before now, the cap, a week (all as text: Lua's numbers print 14 digits)
_RESERVE = """
local cap, week = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
  out[i] = 0
  if redis.call('ZCARD', key) < cap then
    redis.call('ZADD', key, 'NX', ARGV[1], ARGV[4 + i])
    out[i] = 1
  end
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  if newest then redis.call('PEXPIREAT', key, math.ceil((newest + week) * 1000)) end
end
return out
"""
_SHOWN = """
local week = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'NX', ARGV[2 * i + 1], ARGV[2 * i])
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  redis.call('PEXPIREAT', key, math.ceil((newest + week) * 1000))
end
return #KEYS
"""
_RELEASE = """
for i, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[i]) end
return #KEYS
"""
# KEYS: held, held:ts, rounds; ARGV: the reward, then the tracking ids
_CONVERT = """
local n = 0
for i = 2, #ARGV do
  local decision = redis.call('HGET', KEYS[1], ARGV[i])
  if decision then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    redis.call('RPUSH', KEYS[3], ARGV[1] .. decision)
    n = n + 1
  end
end
return n
"""
# KEYS: held, held:ts, rounds; ARGV: shown before, the most to move
_EXPIRE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local decision = redis.call('HGET', KEYS[1], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if decision then redis.call('RPUSH', KEYS[3], '0' .. decision) end
end
return #ids
"""
# KEYS: policy, digests, held, held:ts, rounds; ARGV: layout, digest, blob
_ADOPT = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local layout = redis.call('HGET', KEYS[1], 'layout')
if layout == ARGV[1] and redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then
  return {version, 0}
end
if layout ~= ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[1], 'version', version + 1, 'layout', ARGV[1], 'digest', ARGV[2],
  'blob', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
return {version + 1, 1}
"""
# KEYS: policy, digests, rounds; ARGV: expected version, blob, digest, rounds learned
_PUBLISH = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version == 0 or version ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', version + 1, 'blob', ARGV[2], 'digest', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[3], tonumber(ARGV[4]), -1)
return version + 1
"""
_LOCK = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisOfferState(OfferState):
    """The shared offer state on Redis: the processes of many machines. See the module's
    text for its keys; ``namespace`` keeps one model's apart from another's."""

    def __init__(self, url: str, *, namespace: str = "offers"):
        self.target, self.namespace = url, str(namespace)
        try:
            self._r = redis.Redis.from_url(url)
            self._r.ping()
        except (redis.RedisError, ValueError) as exc:
            raise LumosUserError(
                f"offer state: cannot reach Redis at {url!r} ({exc}); start redis-server or "
                "fix the URL.",
                code="state_unavailable",
            ) from None
        p = f"lumos:offers:{self.namespace}:"
        self._cap = p + "cap:"
        self._held, self._held_ts, self._rounds = p + "held", p + "held:ts", p + "rounds"
        self._policy, self._digests, self._lease = p + "policy", p + "digests", p + "lease"
        script = self._r.register_script
        self._reserve, self._shown, self._release = map(script, (_RESERVE, _SHOWN, _RELEASE))
        self._convert, self._expire = script(_CONVERT), script(_EXPIRE)
        self._adopt, self._publish = script(_ADOPT), script(_PUBLISH)
        self._lock, self._unlock = script(_LOCK), script(_UNLOCK)

    def _keys(self, members, channels) -> list[str]:
        return [f"{self._cap}{len(str(m))}:{m}:{c}" for m, c in zip(members, channels, strict=True)]

    def _rounds_keys(self) -> list[str]:
        return [self._held, self._held_ts, self._rounds]

    # -- caps -----------------------------------------------------------------------------------

    def reserve(self, tokens, members, channels, *, now, per_week):
        tokens = [str(t) for t in tokens]
        if not tokens:
            return np.zeros(0, dtype=bool)
        got = self._reserve(
            self._keys(members, channels),
            [repr(float(now)), repr(float(now) - WEEK), int(per_week), repr(WEEK), *tokens],
        )
        return np.asarray(got, dtype=int) == 1

    def allowed(self, members, channels, *, now, per_week):
        pipe = self._r.pipeline(transaction=False)
        for key in self._keys(members, channels):
            pipe.zcount(key, f"({float(now) - WEEK!r}", "+inf")
        return np.asarray(pipe.execute(), dtype=int).reshape(-1) < per_week

    def release(self, tokens, members, channels):
        if len(tokens):
            self._release(self._keys(members, channels), [str(t) for t in tokens])

    def shown(self, tokens, members, channels, ts):
        tokens, ts = list(tokens), list(ts)
        keys = self._keys(members, channels)
        for start in range(0, len(keys), 1000):  # a script at a time holds Redis: keep it short
            part = slice(start, start + 1000)
            pairs = zip(tokens[part], ts[part], strict=True)
            args = [x for t, s in pairs for x in (str(t), repr(float(s)))]
            self._shown(keys[part], [repr(WEEK), *args])

    # -- rounds ---------------------------------------------------------------------------------

    def hold(self, tracking_ids, decisions, ts):
        pipe = self._r.pipeline(transaction=True)
        for tracking, decision, when in zip(tracking_ids, decisions, ts, strict=True):
            pipe.hset(self._held, str(tracking), decision)
            pipe.zadd(self._held_ts, {str(tracking): float(when)})
        pipe.execute()

    def convert(self, tracking_ids):
        tracking_ids = [str(t) for t in tracking_ids]
        if not tracking_ids:
            return 0
        return int(self._convert(self._rounds_keys(), ["1", *tracking_ids]))

    def tidy(self, now, window):
        moved = 0
        while True:  # in slices, so no one script holds Redis long
            n = int(self._expire(self._rounds_keys(), [repr(float(now) - window), 10_000]))
            moved += n
            if n < 10_000:
                return moved

    def waiting(self, at_least=1, most=100_000):
        if self._r.llen(self._rounds) < max(at_least, 1):
            return None
        rows = self._r.lrange(self._rounds, 0, most - 1)
        return Waiting.of([float(r[:1]) for r in rows], [r[1:] for r in rows], len(rows))

    # -- the policy -----------------------------------------------------------------------------

    def current(self):
        return int(self._r.hget(self._policy, "version") or 0)

    def snapshot(self):
        version, blob = self._r.hmget(self._policy, ["version", "blob"])
        return (int(version), bytes(blob)) if version is not None else (0, None)

    def adopt(self, layout, digest, blob):
        keys = [self._policy, self._digests, *self._rounds_keys()]
        version, adopted = self._adopt(keys, [layout, digest, blob])
        return int(version), bool(adopted)

    def publish(self, expect, blob, digest, through):
        keys = [self._policy, self._digests, self._rounds]
        return int(self._publish(keys, [int(expect), blob, digest, int(through)]))

    def lock(self, owner, seconds):
        return bool(self._lock([self._lease], [owner, max(1, int(seconds * 1000))]))

    def unlock(self, owner):
        self._unlock([self._lease], [owner])

    def close(self):
        self._r.close()
