"""A dict that keeps at most ``size`` entries, forgetting the least recently used: the
bound on every per-member or per-caller table a long-running server keeps."""

from __future__ import annotations

from collections import OrderedDict


class LRU(OrderedDict):
    """At most ``size`` entries; reading with :meth:`touch` or writing an entry makes it
    the most recent, and a write past the bound forgets the least recent.

    >>> seen = LRU(2)
    >>> seen["a"] = 1; seen["b"] = 2; _ = seen.touch("a"); seen["c"] = 3
    >>> list(seen), seen.dropped
    (['a', 'c'], 1)
    """

    def __init__(self, size: int):
        super().__init__()
        if int(size) < 1:
            raise ValueError(f"an LRU holds at least 1 entry; got size={size!r}")
        self.size = int(size)
        self.dropped = 0  # entries forgotten to stay within the bound

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
            self.dropped += 1

    def touch(self, key, default=None):
        """The value of ``key`` (made the most recent), or ``default`` without storing it."""
        if key in self:
            self.move_to_end(key)
            return super().__getitem__(key)
        return default
