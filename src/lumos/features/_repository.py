"""Named, date-versioned entity features on disk, read point-in-time (see also Featurizer).

Layout of a :class:`FeatureRepository` (one Parquet file per entity kind and day)::

    root/
      member/
        2025-01-01.parquet     member_id, tenure, skills, …
        2025-01-02.parquet
      course/
        2025-01-01.parquet     course_id, duration, skills, …

An entity kind is a lowercase name (``member``, ``course``, ``account``, …)
whose id column is ``{entity}_id``. Each snapshot holds one row per id and its
named features: numbers (stored as float64, NaN for missing) or fixed-length
vectors such as skill embeddings (stored as Arrow ``fixed_size_list<double>``,
a list of floats whose length the schema records). A snapshot dated ``D`` is
the full state of that kind *as known at the start of day D* — a job that runs
after midnight writes what the previous days' data said — so rows dated ``D``
may use it without seeing their own day's outcome. Files are written
atomically: a reader sees the old snapshot or the new one, never half a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lumos._checks import require_columns
from lumos.data import atomic_path
from lumos.errors import DataValidationError, LumosUserError

_ENTITY = re.compile(r"[a-z][a-z0-9_]*")
_SNAPSHOT = re.compile(r"(\d{4}-\d{2}-\d{2})\.parquet")


def _day(value, where: str, name: str = "date") -> np.datetime64:
    """A calendar day: a snapshot's ``date`` must be one; an ``as_of`` time uses its day."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp) or (name == "date" and stamp != stamp.normalize()):
        raise LumosUserError(
            f"The {name!r} parameter of {where} must be a calendar date such as '2025-01-31'. "
            f"Got {value!r}.",
            code="bad_argument",
        )
    return np.datetime64(stamp.date(), "D")


def _shape(field: pa.Field) -> int:
    """0 for a number, k for a vector of k floats."""
    return field.type.list_size if pa.types.is_fixed_size_list(field.type) else 0


class FeatureRepository:
    """Date-versioned feature snapshots of members, courses or any entity kind, as Parquet.

    Parameters
    ----------
    root : str or path
        The repository's folder (created on the first write). See the module
        docstring for the layout: ``root/{entity}/{YYYY-MM-DD}.parquet``.

    Examples
    --------
    >>> import tempfile
    >>> repo = FeatureRepository(tempfile.mkdtemp())
    >>> _ = repo.write("member", "2025-01-01", pd.DataFrame(
    ...     {"member_id": ["m1", "m2"], "tenure": [3, 5], "skills": [[1.0, 0.0], [0.5, 0.5]]}))
    >>> _ = repo.write("member", "2025-01-08", pd.DataFrame(
    ...     {"member_id": ["m1", "m2"], "tenure": [4, 6], "skills": [[1.0, 0.0], [0.0, 1.0]]}))
    >>> repo.names("member")
    ['tenure', 'skills']
    >>> repo.read("member", ["tenure"], as_of="2025-01-07")
      member_id  tenure
    0        m1     3.0
    1        m2     5.0
    """

    def __init__(self, root):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FeatureRepository({str(self.root)!r})"

    # -- layout -----------------------------------------------------------------------------

    def _folder(self, entity) -> Path:
        if not (isinstance(entity, str) and _ENTITY.fullmatch(entity)):
            raise LumosUserError(
                f"The 'entity' parameter must be a lowercase name such as 'member' or 'course'. "
                f"Got {entity!r}.",
                code="bad_argument",
            )
        return self.root / entity

    def _snapshots(self, entity) -> tuple[np.ndarray, list[Path]]:
        folder = self._folder(entity)
        found = sorted(
            (m.group(1), p)
            for p in (folder.iterdir() if folder.is_dir() else [])
            if (m := _SNAPSHOT.fullmatch(p.name))
        )
        return np.array([d for d, _ in found], dtype="datetime64[D]"), [p for _, p in found]

    def _at(self, entity, as_of, where) -> tuple[np.datetime64, Path]:
        days, paths = self._snapshots(entity)
        i = (
            len(days) - 1
            if as_of is None
            else np.searchsorted(days, _day(as_of, where, "as_of"), "right") - 1
        )
        if i < 0:
            when = "" if as_of is None else f" on or before {_day(as_of, where, 'as_of')}"
            first = f"; the first is {days[0]}" if len(days) else ""
            raise LumosUserError(
                f"{self} has no {entity} snapshot{when}{first}.", code="no_snapshot"
            )
        return days[i], paths[i]

    def entities(self) -> list[str]:
        """The entity kinds with at least one snapshot, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if _ENTITY.fullmatch(p.name) and len(self._snapshots(p.name)[1])
        )

    def dates(self, entity: str) -> list[pd.Timestamp]:
        """The days with a snapshot of ``entity``, oldest first."""
        return [pd.Timestamp(d) for d in self._snapshots(entity)[0]]

    def names(self, entity: str, as_of=None) -> list[str]:
        """Feature names of the latest ``entity`` snapshot on or before ``as_of`` (or latest)."""
        _, path = self._at(entity, as_of, "FeatureRepository.names")
        return [f.name for f in pq.read_schema(path) if f.name != f"{entity}_id"]

    def shapes(self, entity: str) -> dict[str, int]:
        """Every feature ever written for ``entity``: 0 for a number, k for a k-vector.

        Raises
        ------
        DataValidationError
            When two snapshots disagree on a feature's shape (naming both files).
        """
        shapes: dict[str, tuple[int, Path]] = {}
        for path in self._snapshots(entity)[1]:
            for field in pq.read_schema(path):
                if field.name == f"{entity}_id":
                    continue
                k, seen = _shape(field), shapes.get(field.name)
                if seen is not None and seen[0] != k:
                    raise DataValidationError(
                        f"{path}, column {field.name!r}: shape {k or 'number'} differs from "
                        f"{seen[0] or 'number'} in {seen[1].name}; rewrite one of them.",
                        code="inconsistent_feature",
                        file=str(path),
                        column=field.name,
                    )
                shapes.setdefault(field.name, (k, path))
        return {name: k for name, (k, _) in shapes.items()}

    # -- writing ----------------------------------------------------------------------------

    def write(self, entity: str, date, frame) -> Path:
        """Store ``frame`` as the ``entity`` snapshot of ``date``, atomically.

        Parameters
        ----------
        entity : str
            The entity kind, e.g. ``"member"``; ``frame`` needs its ``{entity}_id`` column.
        date : date-like
            The calendar day the snapshot describes (features known at its start).
        frame : DataFrame or pyarrow.Table
            One row per id; every other column is a feature: numbers (stored as
            float64) or vectors of numbers of one length per column (lists or
            arrays; stored as ``fixed_size_list<double>``).

        Returns
        -------
        Path
            The snapshot's file. Writing the same day again replaces it in one
            step; a failed write leaves the previous file as it was.

        Raises
        ------
        DataValidationError
            Naming the snapshot, row and column: a missing or repeated id, a
            non-numeric value, a vector of another length, a feature whose
            shape differs from earlier snapshots.
        """
        folder = self._folder(entity)
        day = _day(date, "FeatureRepository.write")
        where = f"{entity} features of {day}"
        if isinstance(frame, pa.Table):
            frame = frame.to_pandas()
        if not isinstance(frame, pd.DataFrame):
            raise LumosUserError(
                f"The 'frame' parameter of FeatureRepository.write must be a pandas DataFrame "
                f"or an Arrow table. Got {type(frame).__name__}.",
                code="bad_argument",
            )
        table = _to_arrow(frame.reset_index(drop=True), f"{entity}_id", where)
        known = self.shapes(entity)
        for field in table.schema:
            k = known.get(field.name)
            if field.name != f"{entity}_id" and k is not None and k != _shape(field):
                raise DataValidationError(
                    f"{where}, column {field.name!r}: shape {_shape(field) or 'number'} differs "
                    f"from {k or 'number'} in earlier snapshots; keep one shape per feature or "
                    f"use a new name.",
                    code="inconsistent_feature",
                    file=where,
                    column=field.name,
                )
        path = folder / f"{day}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path

    # -- reading ----------------------------------------------------------------------------

    def read(self, entity: str, names=None, as_of=None) -> pd.DataFrame:
        """The latest ``entity`` snapshot on or before ``as_of``, with the features ``names``.

        Parameters
        ----------
        entity : str
        names : list of str, optional
            Features to read; all of the snapshot's by default. A feature that
            other snapshots have but this one lacks reads as NaN.
        as_of : date-like, optional
            Point in time; the latest snapshot by default. Never a later one; a
            timestamp uses its calendar day's snapshot.

        Returns
        -------
        DataFrame
            ``{entity}_id`` and one column per feature (vectors as float64
            arrays); ``attrs["date"]`` is the snapshot's day.
        """
        day, path = self._at(entity, as_of, "FeatureRepository.read")
        names = self.names(entity, day) if names is None else self._check(entity, names)
        shapes = self.shapes(entity)
        idc = f"{entity}_id"
        ids, values = _load(path, idc, {n: shapes[n] for n in names})
        out = pd.DataFrame({idc: ids})
        for name in names:
            v = values[name]
            out[name] = list(v) if v.ndim == 2 else v
        out.attrs["date"] = pd.Timestamp(day)
        return out

    def _check(self, entity, names) -> list[str]:
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise LumosUserError(
                f"Feature names must be a list of strings. Got {names!r}.", code="bad_argument"
            )
        shapes = self.shapes(entity)
        unknown = [n for n in names if n not in shapes]
        if unknown:
            raise LumosUserError(
                f"Unknown {entity} feature {unknown[0]!r} in {self}; known: "
                f"{', '.join(shapes) or 'none (write a snapshot first)'}.",
                code="unknown_feature",
            )
        return list(names)

    def lookup(self, entity: str, ids, dates, names, *, missing: str = "nan") -> dict:
        """Features of many ``(id, date)`` pairs, each from the snapshot as of its own date.

        Each pair reads the latest snapshot on or before its date (never a
        later one) — a vectorized as-of join: one binary search of the
        snapshot days for all pairs, then one hash look-up of the ids per
        snapshot used.

        Parameters
        ----------
        entity : str
        ids : array-like of str
        dates : array-like of date-like
            Dates or timestamps; a timestamp uses its calendar day's snapshot.
        names : list of str
        missing : {"nan", "raise"}, default="nan"
            A pair with no snapshot on or before its date, or whose id that
            snapshot lacks, gets NaN features; or raise naming its row.

        Returns
        -------
        dict of str to ndarray
            Per name, shape ``(n,)`` for a number or ``(n, k)`` for a k-vector.

        Examples
        --------
        >>> import tempfile
        >>> repo = FeatureRepository(tempfile.mkdtemp())
        >>> for day, t in [("2025-01-01", 1), ("2025-01-03", 2)]:
        ...     _ = repo.write("course", day, pd.DataFrame({"course_id": ["c"], "t": [t]}))
        >>> repo.lookup("course", ["c", "c", "c", "x"],
        ...             ["2024-12-31", "2025-01-02", "2025-01-03 18:00", "2025-01-03"], ["t"])
        {'t': array([nan,  1.,  2., nan])}
        """
        if missing not in ("nan", "raise"):
            raise LumosUserError(
                f"The 'missing' parameter must be 'nan' or 'raise'. Got {missing!r}.",
                code="bad_argument",
            )
        names = self._check(entity, names)
        shapes = self.shapes(entity)
        ids = pd.Series(ids).astype(str).to_numpy(dtype=object)
        when = pd.to_datetime(pd.Series(dates), errors="coerce", format="ISO8601")
        if when.isna().any() or len(when) != len(ids):
            raise LumosUserError(
                f"The 'dates' parameter of FeatureRepository.lookup must hold one date per id "
                f"({len(ids)}); got {len(when)} with {int(when.isna().sum())} not dates.",
                code="bad_argument",
            )
        when = when.to_numpy("datetime64[D]")
        days, paths = self._snapshots(entity)
        snap = np.searchsorted(days, when, side="right") - 1
        out = {n: np.full((len(ids), shapes[n]) if shapes[n] else len(ids), np.nan) for n in names}
        found = np.zeros(len(ids), dtype=bool)
        order = np.argsort(snap, kind="stable")
        bounds = np.searchsorted(snap[order], np.arange(len(paths) + 1))
        for s in np.flatnonzero(np.diff(bounds)):  # one pass per snapshot used, not per row
            rows = order[bounds[s] : bounds[s + 1]]
            have, values = _load(paths[s], f"{entity}_id", {n: shapes[n] for n in names})
            at = pd.Index(have).get_indexer(ids[rows])
            hit = at >= 0
            found[rows[hit]] = True
            for name in names:
                out[name][rows[hit]] = values[name][at[hit]]
        if missing == "raise" and not found.all():
            i = int(np.argmin(found))
            why = (
                f"no {entity} snapshot is on or before {when[i]}"
                if snap[i] < 0
                else f"{entity} {ids[i]!r} is not in the snapshot of {days[snap[i]]}"
            )
            raise DataValidationError(
                f"rows row {i}, column '{entity}_id': {why}; write its features or use "
                f"missing='nan'.",
                code="unknown_id",
                file="rows",
                row=i,
                column=f"{entity}_id",
            )
        return out


def _load(path: Path, idc: str, shapes: dict[str, int]) -> tuple[np.ndarray, dict]:
    """Ids and the named features of one snapshot; features it lacks are NaN."""
    present = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=[idc, *(n for n in shapes if n in present)])
    n = table.num_rows
    values = {}
    for name, k in shapes.items():
        if name not in present:
            values[name] = np.full((n, k) if k else n, np.nan)
            continue
        column = table.column(name).combine_chunks()
        if _shape(table.schema.field(name)) != k:
            raise DataValidationError(
                f"{path}, column {name!r}: its shape differs from other snapshots'; rewrite it.",
                code="inconsistent_feature",
                file=str(path),
                column=name,
            )
        if k:
            values[name] = column.flatten().to_numpy(zero_copy_only=False).reshape(n, k)
        else:
            values[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    return table.column(idc).to_numpy(zero_copy_only=False).astype(object), values


def _to_arrow(frame: pd.DataFrame, idc: str, where: str) -> pa.Table:
    """Validate a snapshot frame and convert it: string ids, float64 numbers, fixed-size vectors."""

    def fail(row, column, message, code="bad_value"):
        at = f"row {row}, " if row is not None else ""
        raise DataValidationError(
            f"{where} {at}column {column!r}: {message}",
            code=code,
            file=where,
            row=row,
            column=column,
        )

    require_columns(frame, [idc], source=where, hint="add the ids.", file=where)
    ids = frame[idc]
    bad = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        fail(i, idc, f"is empty ({ids.iloc[i]!r}); every row needs an id.")
    ids = ids.astype(str)
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(dup.argmax())
        fail(i, idc, f"{ids.iloc[i]!r} appears twice; keep one row per id.", "duplicate")
    features = [c for c in frame.columns if c != idc]
    if not features:
        raise DataValidationError(
            f"{where} has only the id column; add at least one feature column.",
            code="missing_column",
            file=where,
        )
    arrays = {idc: pa.array(ids.to_numpy(dtype=object), type=pa.string())}
    for name in features:
        if not isinstance(name, str) or not name or name.endswith("_id"):
            fail(None, name, "a feature name must be a non-empty string not ending in '_id'.")
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            arrays[name] = pa.array(values, type=pa.float64())
            continue
        cells = col.to_numpy(dtype=object)
        vector = np.array([isinstance(c, list | tuple | np.ndarray) for c in cells])
        if not vector.all():
            i = int(np.argmin(vector))
            if not vector.any():  # a column of scalars of a non-numeric kind
                number = pd.to_numeric(col, errors="coerce")
                i = int((number.isna() & col.notna()).to_numpy().argmax())
            fail(i, name, f"{cells[i]!r} is not a number or a vector of numbers.")
        lengths = np.array([np.size(c) for c in cells])
        k = int(lengths[0]) if len(lengths) else 0
        if (lengths != k).any() or k == 0:
            i = int((lengths != k).argmax()) if k else 0
            message = f"a vector of length {lengths[i]}; all need one length >= 1 (row 0: {k})."
            fail(i, name, message)
        numeric = [_floats(c) for c in cells]
        if any(v is None for v in numeric):
            i = next(j for j, v in enumerate(numeric) if v is None)
            fail(i, name, f"{cells[i]!r} is not a vector of numbers.")
        flat = np.concatenate(numeric)
        arrays[name] = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float64()), k)
    return pa.table(arrays)


def _floats(cell) -> np.ndarray | None:
    try:
        return np.asarray(cell, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
