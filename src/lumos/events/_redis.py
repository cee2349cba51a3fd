"""Funnel events on Redis Streams: the event log at scale, behind the same interface as
:class:`~lumos.events.EventLog`."""

from __future__ import annotations

import json

import pandas as pd

from lumos.errors import LumosUserError
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


class RedisEventLog:
    """Funnel events on a Redis Stream, idempotent by ``event_id`` (a set of seen ids).

    Each batch is one server-side script: every new event is added to the
    stream and its id to the set together, so a resent batch adds nothing.

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

        self.url, self.stream, self.readonly = url, stream, readonly
        self.horizon, self.skew = horizon, skew
        self.notify = notifier(notify)
        self.quarantined = 0
        self.bad_lines: list[BadLine] = []
        self._client = redis.Redis.from_url(url)
        self._append = self._client.register_script(_APPEND)

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
        return int(self._append(keys=[self.stream, self.stream + ":ids"], args=args))

    def append_served(self, lines: list[str]) -> int:
        """Append ``served`` events as :func:`~lumos.events.served_lines` made them, in one trip."""
        self._writable()
        if lines:
            with self._client.pipeline(transaction=False) as pipe:
                for line in lines:
                    pipe.xadd(self.stream, {"e": line})
                pipe.execute()
        return len(lines)

    def __len__(self) -> int:
        return int(self._client.xlen(self.stream))

    def read(self, **where) -> pd.DataFrame:
        """The events on the stream, in order; filtered as :meth:`EventLog.read` filters."""
        where = _where(where)
        entries = self._client.xrange(self.stream)
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


def _starts(entries) -> list[int]:
    """The byte offset of each entry's line in the stream's lines, joined."""
    out, at = [], 0
    for _, fields in entries:
        out.append(at)
        at += len(fields[b"e"]) + 1
    return out
