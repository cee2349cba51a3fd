"""The assignment hash: a salt and a unit id into two buckets of 10,000.

This function is the contract other languages reproduce, so it is spelled out
exactly::

    text    = f"{salt}:{unit_id}"                 # unit_id as text, see below
    digest  = SHA-256(text encoded as UTF-8)      # 32 bytes
    first   = int.from_bytes(digest[0:8], "big") % 10_000
    second  = int.from_bytes(digest[8:16], "big") % 10_000

A unit id is hashed as its text: a string as it is, an integer in plain
decimal (``42`` → ``"42"``, no sign for positives, no leading zeros). Floats and
booleans are refused, because ``7.0`` and ``True`` have no single obvious text.

An experiment uses ``first`` for its coverage ramp and ``second`` for its
variant; a layer uses ``first`` of its own salt to share units between its
experiments. The two halves of one SHA-256 digest are independent, so whether a
unit is covered tells nothing about its variant.
"""

from __future__ import annotations

import hashlib

import numpy as np

from lumos.errors import LumosUserError

BUCKETS = 10_000


def unit_text(unit_id) -> str:
    """The text a unit id is hashed as; refuses floats and booleans.

    Examples
    --------
    >>> unit_text(42), unit_text("m-42")
    ('42', 'm-42')
    """
    if isinstance(unit_id, str):
        return unit_id
    if isinstance(unit_id, bool | np.bool_) or not isinstance(unit_id, int | np.integer):
        raise LumosUserError(
            f"a unit id must be a string or an integer; got {unit_id!r} "
            f"({type(unit_id).__name__}). Convert it, e.g. int(x) or str(x).",
            code="bad_unit_id",
        )
    return str(int(unit_id))


def buckets(salt: str, unit_id) -> tuple[int, int]:
    """The two buckets (each in ``[0, 10000)``) of one unit under ``salt``.

    Parameters
    ----------
    salt : str
        The experiment's (or layer's) salt.
    unit_id : str or int
        The member or account id.

    Returns
    -------
    (int, int)
        ``first`` (coverage, layer share) and ``second`` (variant); see the module
        docstring for the exact definition.

    Examples
    --------
    >>> import hashlib
    >>> d = hashlib.sha256(b"course_ranker:42").digest()
    >>> buckets("course_ranker", 42) == (
    ...     int.from_bytes(d[:8], "big") % 10000, int.from_bytes(d[8:16], "big") % 10000)
    True
    """
    digest = hashlib.sha256(f"{salt}:{unit_text(unit_id)}".encode()).digest()
    return (
        int.from_bytes(digest[0:8], "big") % BUCKETS,
        int.from_bytes(digest[8:16], "big") % BUCKETS,
    )


def buckets_many(salt: str, texts: list[str]) -> np.ndarray:
    """Both buckets for many unit texts (from :func:`unit_texts`): an ``(n, 2)`` int array.

    Examples
    --------
    >>> buckets_many("course_ranker", ["42", "7"]).tolist() == [
    ...     list(buckets("course_ranker", 42)), list(buckets("course_ranker", 7))]
    True
    """
    if not texts:
        return np.zeros((0, 2), dtype=np.int64)
    prefix = hashlib.sha256(f"{salt}:".encode())

    def half(text: str) -> bytes:
        h = prefix.copy()
        h.update(text.encode())
        return h.digest()[:16]

    raw = np.frombuffer(b"".join([half(t) for t in texts]), dtype=">u8").reshape(-1, 2)
    return (raw % np.uint64(BUCKETS)).astype(np.int64)


def unit_texts(ids) -> list[str]:
    """The hashed texts of many unit ids (a list, array or Series of strings or integers).

    Examples
    --------
    >>> import numpy as np
    >>> unit_texts(np.array([3, 10])), unit_texts(["a", 5])
    (['3', '10'], ['a', '5'])
    """
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise LumosUserError(
            f"unit ids must be one-dimensional; got shape {arr.shape}.", code="bad_unit_id"
        )
    if arr.size == 0:
        return []
    if arr.dtype.kind in "iu":
        return arr.astype(str).tolist()
    if arr.dtype.kind in "UT":
        return arr.tolist()
    if arr.dtype.kind == "O":
        return [unit_text(u) for u in arr.tolist()]
    raise LumosUserError(
        f"unit ids must be strings or integers; got an array of {arr.dtype}. "
        "Convert them, e.g. ids.astype('int64') or ids.astype(str).",
        code="bad_unit_id",
    )
