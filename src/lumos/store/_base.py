"""What every store backend shares: argument checks, decoding and the version list."""

from __future__ import annotations

from collections.abc import Iterable

from lumos._targets import parse_target
from lumos.errors import LumosUserError
from lumos.store._build import Records, check_version
from lumos.store._codec import decode_record

COLD_START = "cold_start"  # the member id (and model id) of the list for members without one


def open_store(target, **kwargs) -> Store:
    """A Redis store for a Redis URL (``redis://``, ``rediss://``, ``unix://``), else the
    LMDB store in the folder ``target``; ``kwargs`` go to the backend.

    :func:`lumos.events.open_event_log` takes the same targets.
    """
    where = parse_target(target, what="store")
    if where.is_redis:
        from lumos.store._redis import RedisStore

        return RedisStore(where.url, **kwargs)
    from lumos.store._lmdb import LMDBStore

    return LMDBStore(where.path, **kwargs)


class Store:
    """The interface of a store: ``get``, ``get_many``, ``publish``, ``versions``, ``rollback``.

    Backends implement ``_read(ids) -> (version, [bytes or None])`` and the
    writes; reads always come from one complete version.
    """

    def __init__(self, *, keep: int = 3, readonly: bool = False):
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise LumosUserError(
                f"The 'keep' parameter of {type(self).__name__} must be an int >= 1. Got {keep!r}.",
                code="bad_argument",
            )
        self.keep, self.readonly = keep, readonly

    def _writable(self, what: str) -> None:
        if self.readonly:
            raise LumosUserError(
                f"This {type(self).__name__} was opened read-only; open it without "
                f"readonly=True to {what}.",
                code="read_only",
            )

    def get(self, member_id: str, *, decode: bool = True):
        """The record of ``member_id`` in the live version, or None when it has none."""
        return self.get_many([member_id], decode=decode)[0]

    def get_many(self, member_ids: Iterable[str], *, decode: bool = True) -> list:
        """Records of ``member_ids`` in order, None for unknown ids, all from one version.

        With ``decode=False`` the stored bytes are returned as they are.
        """
        if isinstance(member_ids, str | bytes):
            raise LumosUserError(
                f"get_many takes a list of member ids, not one id. Got {member_ids!r}; "
                "use get for one member.",
                code="bad_argument",
            )
        ids = list(member_ids)
        for m in ids:
            if not isinstance(m, str):
                raise LumosUserError(
                    f"Member ids must be str. Got {m!r} ({type(m).__name__}).",
                    code="bad_argument",
                )
        _, values = self._read(ids)
        if not decode:
            return values
        return [None if v is None else decode_record(v) for v in values]

    @property
    def version(self) -> str | None:
        """The live version, or None before the first publish."""
        return self._live()

    def publish(self, records: Records) -> str:
        """Write ``records`` as a new version beside the live one, then switch to it in one step.

        Versions beyond the newest ``keep`` are deleted. Returns the version.
        Readers see the old version until the switch and the new one after it,
        never a mix; a publish killed half-way leaves the live version as it
        was (the next publish removes the half-written one).
        """
        self._writable("publish")
        if not isinstance(records, Records):
            raise LumosUserError(
                f"publish takes the Records of build_records. Got {type(records).__name__}.",
                code="bad_argument",
            )
        if records.version in self.versions():
            raise LumosUserError(
                f"Version {records.version!r} is already in the store; build the records "
                "with a new version.",
                code="version_exists",
            )
        self._publish(records)
        return records.version

    def rollback(self, version: str | None = None) -> str:
        """Make a kept ``version`` live again (default: the one published before the live one)."""
        self._writable("roll back")
        kept = self.versions()
        if version is None:
            live = self._live()
            older = kept[kept.index(live) + 1 :] if live in kept else []
            if not older:
                raise LumosUserError(
                    f"No version older than the live one ({live!r}) is kept; nothing to roll "
                    "back to.",
                    code="no_version",
                )
            version = older[0]
        check_version(version)
        if version not in kept:
            raise LumosUserError(
                f"Version {version!r} is not in the store; the kept versions are {kept}.",
                code="unknown_version",
            )
        self._switch(version)
        return version

    def _prune(self, order: list[str], live: str) -> tuple[list[str], list[str]]:
        """Split the versions (oldest first) into those kept and those to delete."""
        kept = order[-self.keep :]
        if live not in kept:
            kept = [live, *order[-(self.keep - 1) :]] if self.keep > 1 else [live]
        return [v for v in order if v in kept], [v for v in order if v not in kept]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
