"""Funnel events on Redis Streams: the event log at scale, behind the same interface as
:class:`~lumos.events.EventLog`."""

from __future__ import annotations

import contextlib
import json
import os

import pandas as pd

from lumos.errors import LogUnavailable, LumosUserError
from lumos.events import _lines
from lumos.events._lines import BadLine
from lumos.events._log import _batch, _select, _where
from lumos.events._quarantine import notifier

_APPEND = """
local n = 0
for i, id in ipairs(ARGV) do
  if i % 2 == 1 then
    if id == '' or redis.call('SADD', KEYS[2], id) == 1 then
      redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
      n = n + 1
    end
  end
end
return n
"""
# Served events carry no id the set dedupes (it would grow by ten a request). A batch whose
# answer was lost is made safe to send again another way: the writer sends it again first,
# then what came since (ServedWriter does), with its first event id as ARGV[1]; each writer
# keeps its last batch's first event id and length, so the lines it wrote are skipped.
_APPEND_SERVED = """
local last = redis.call('GET', KEYS[2])
local done = 0
if last and ARGV[1] ~= '' then
  local first, n = string.match(last, '^(.*) (%d+)$')
  if first == ARGV[1] then done = math.min(tonumber(n), #ARGV - 2) end
end
for i = done + 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
end
redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. (#ARGV - 2), 'EX', 86400)
return #ARGV - 2 - done
"""
READ_BATCH = 10_000  # stream entries per XRANGE
SECONDS = 1.0  # to connect, and for an answer


class RedisEventLog:
    """Funnel events on a Redis Stream, idempotent by ``event_id`` (a set of seen ids).

    Each batch is one server-side script: every new event is added to the
    stream and its id to the set together, so a resent batch adds nothing.

    A Redis that is down, restarting or unreachable raises
    :class:`~lumos.errors.LogUnavailable` within about a second, counted in
    ``write_faults`` for a write; nothing is sent twice behind the caller's back (the
    caller sends the batch again, which the ids make safe), and the client reconnects by
    itself once Redis answers. An acknowledged event is as durable as Redis makes it:
    ``appendonly yes`` with ``appendfsync always`` for one that survives a crash.

    Parameters
    ----------
    url : str
        ``redis://host:port/db``.
    stream : str, default="lumos:events"
    readonly : bool, default=False
        Refuse appends (a process that only reads the stream).
    horizon, skew, notify
        As :class:`EventLog` takes them; an entry that cannot be read is left on the
        stream and out of what :meth:`read` gives.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = "lumos:events",
        readonly: bool = False,
        horizon=None,
        skew: float | None = None,
        notify=None,
    ):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url, self.stream, self.readonly = url, stream, readonly
        self.horizon, self.skew = horizon, skew
        self.notify = notifier(notify)
        self.quarantined = 0
        self.bad_lines: list[BadLine] = []
        self.write_faults = 0  # batches refused because Redis did not answer
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=SECONDS,
            socket_timeout=SECONDS,
            retry=Retry(NoBackoff(), 0),  # an answer lost is the caller's to send again
        )
        self._append = self._client.register_script(_APPEND)
        self._append_served = self._client.register_script(_APPEND_SERVED)
        self._k_served = f"{stream}:served:{os.urandom(8).hex()}"  # this writer's last batch
        self._unsure = None  # the first event id of a served batch whose answer was lost

    def _writable(self) -> None:
        if self.readonly:
            raise LumosUserError(
                f"event stream {self.stream!r} at {self.url!r} was opened read-only; open it "
                "without readonly=True to append.",
                code="read_only",
            )

    def append(self, events, *, validate: bool = True) -> int:
        """Validate, de-duplicate and append a batch; the number of new events."""
        self._writable()
        batch = _batch(events, self.horizon, self.skew) if validate else list(events)
        args = []
        for event in batch:  # an empty id: a served event, never de-duplicated
            seen_as = event["event_id"] if event["type"] != "served" else ""
            args += [seen_as, json.dumps(event, separators=(",", ":"))]
        if not args:
            return 0
        with self._reaching(f"the batch of {_events(len(batch))}", write=True):
            return int(self._append(keys=[self.stream, self.stream + ":ids"], args=args))

    def append_served(self, lines: list[str]) -> int:
        """Append ``served`` events as :func:`~lumos.events.served_lines` made them, in one trip.

        Returns the number of events written. After a batch whose answer was lost
        (:class:`~lumos.errors.LogUnavailable`), the next batch may start with it, followed
        by newer lines (as :class:`~lumos.serve._served.ServedWriter` sends them): the
        lines of it that Redis did write are not written twice.
        """
        self._writable()
        if not lines:
            return 0
        first = json.loads(lines[0])["event_id"]
        check = first if first == self._unsure else ""
        with self._reaching(f"the batch of {_events(len(lines), 'served ')}", write=True):
            self._unsure = first  # until Redis answers
            keys = [self.stream, self._k_served]
            written = int(self._append_served(keys=keys, args=[check, first, *lines]))
        self._unsure = None
        return written

    @contextlib.contextmanager
    def _reaching(self, what: str, *, write: bool = False):
        """Raise :class:`LogUnavailable` for a Redis that does not answer."""
        import redis

        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            retry = LogUnavailable.retry_after
            if write:
                self.write_faults += 1
                then = (
                    f"{what} may or may not have been written. Send it again (the same "
                    f"event_ids) in {retry} s: an event already written counts as a "
                    "duplicate, never twice."
                )
            else:
                then = f"{what} could not be read; try again in {retry} s."
            raise LogUnavailable(
                f"event stream {self.stream!r} at {self.url!r}: Redis did not answer ({exc}); "
                f"{then} The log reconnects by itself once Redis answers.",
                retry_after=retry,
            ) from exc

    def __len__(self) -> int:
        with self._reaching("its length"):
            return int(self._client.xlen(self.stream))

    def read(self, **where) -> pd.DataFrame:
        """The events on the stream, in order; filtered as :meth:`EventLog.read` filters."""
        where = _where(where)
        entries, start = [], "-"
        with self._reaching("the stream"):
            while got := self._client.xrange(self.stream, min=start, count=READ_BATCH):
                entries += got
                start = "(" + got[-1][0].decode()  # after the last one read
        data = b"".join(fields[b"e"] + b"\n" for _, fields in entries)
        table = _lines.table(data)
        if table is None:  # an entry Arrow cannot read: left on the stream, out of the frame
            data, found = _lines.split(data, self.stream)
            table = _lines.table(data)
            starts = dict(zip(_starts(entries), (e.decode() for e, _ in entries), strict=True))
            self.quarantined += len(found)
            self.bad_lines += found
            n = len(found)
            self.notify(
                f"event stream {self.stream!r} at {self.url!r}: {n} "
                + (
                    "entry could not be read and is left out of what is read (it stays"
                    if n == 1
                    else "entries could not be read and are left out of what is read (they stay"
                )
                + " on the stream): "
                + "; ".join(f"entry {starts[b.offset]}: {b.reason}" for b in found[:5])
                + (f"; and {n - 5} more" if n > 5 else "")
                + "."
            )
        return _select(_lines.frame(table), where)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    _closed = False

    def close(self) -> None:
        self._client.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _events(n: int, kind: str = "") -> str:
    return f"{n:,} {kind}event{'s' if n != 1 else ''}"


def _starts(entries) -> list[int]:
    """The byte offset of each entry's line in the stream's lines, joined."""
    out, at = [], 0
    for _, fields in entries:
        out.append(at)
        at += len(fields[b"e"]) + 1
    return out
