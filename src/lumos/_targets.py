"""Where a store or an event log lives, parsed once: a Redis URL or a folder (or a file).

``open_store`` and ``open_event_log`` both take such a target, and so does
every command's ``--store`` / ``--events``; the rule for what counts as Redis
is written here alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lumos.errors import LumosUserError

#: The URL schemes redis-py connects to: TCP, TLS and a Unix socket.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Target:
    """A parsed target: ``kind`` is ``"redis"`` (``url`` set) or ``"path"`` (``path`` set)."""

    kind: str
    url: str | None = None
    path: Path | None = None

    @property
    def is_redis(self) -> bool:
        return self.kind == "redis"

    def __str__(self) -> str:
        return self.url if self.is_redis else str(self.path)


def parse_target(target, *, what: str = "target") -> Target:
    """A :class:`Target` for a Redis URL (``redis://``, ``rediss://``, ``unix://``) or a path.

    Examples
    --------
    >>> parse_target("redis://localhost:6379/0").is_redis
    True
    >>> parse_target("lumos-demo/store")
    Target(kind='path', url=None, path=PosixPath('lumos-demo/store'))
    >>> parse_target("")
    Traceback (most recent call last):
    lumos.errors.LumosUserError: The target is empty; give a folder or a redis://host:port/db URL.
    """
    if isinstance(target, Target):
        return target
    if not isinstance(target, str | Path):
        raise LumosUserError(
            f"The {what} must be a folder or a redis:// URL (a str or a Path). "
            f"Got {type(target).__name__}.",
            code="bad_argument",
        )
    text = str(target)
    if not text:
        raise LumosUserError(
            f"The {what} is empty; give a folder or a redis://host:port/db URL.",
            code="bad_argument",
        )
    if is_redis(text):
        return Target("redis", url=text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise LumosUserError(
            f"The {what} {text!r} has the scheme {scheme!r}; use a folder, or a Redis URL "
            f"({', '.join(REDIS_SCHEMES)}).",
            code="bad_argument",
        )
    return Target("path", path=Path(text))


def is_redis(target) -> bool:
    """Whether ``target`` is a Redis URL.

    >>> is_redis("rediss://cache:6380/1"), is_redis("unix:///run/redis.sock"), is_redis("redis")
    (True, True, False)
    """
    return isinstance(target, str) and target.startswith(REDIS_SCHEMES)
