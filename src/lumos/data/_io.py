"""Reading tables from files, and writing files so a failure leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from lumos.errors import DataValidationError

TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl"}


def read_table(path: str | os.PathLike, *, what: str = "data") -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines file into a DataFrame.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.parquet``/``.pq`` or ``.jsonl`` file.
    what : str, default="data"
        What the file holds, used in error messages ("data file", "scores table").

    Raises
    ------
    DataValidationError
        When the file is missing, has an unknown suffix or cannot be parsed;
        the message names the file.
    """
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataValidationError(
            f"{what} file {str(path)!r}: unknown format {path.suffix!r}; "
            f"use one of {', '.join(sorted(TABLE_SUFFIXES))}.",
            code="unknown_format",
            file=str(path),
        )
    if not path.is_file():
        raise DataValidationError(
            f"{what} file {str(path)!r} does not exist; check the path.",
            code="file_not_found",
            file=str(path),
        )
    try:
        if kind == "csv":
            return pd.read_csv(path)
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True)
    except Exception as exc:  # the parsers raise many types; name the file for the user
        raise DataValidationError(
            f"{what} file {str(path)!r} could not be read as {kind}: {exc}",
            code="unreadable_file",
            file=str(path),
        ) from exc


def read_tables(folder: str | os.PathLike, names, *, optional=()) -> dict[str, pd.DataFrame]:
    """Read the tables ``names`` from ``folder``, one file each: ``{name}.parquet`` or .csv.

    Any suffix :func:`read_table` reads will do. A missing table raises an
    error naming the folder and the file to add; a name in ``optional`` that
    has no file is left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataValidationError(
            f"tables folder {str(folder)!r} does not exist; check the path.",
            code="file_not_found",
            file=str(folder),
        )
    out = {}
    for name in names:
        found = [folder / f"{name}{suffix}" for suffix in TABLE_SUFFIXES]
        found = [p for p in found if p.is_file()]
        if len(found) > 1:
            raise DataValidationError(
                f"tables folder {str(folder)!r} holds {len(found)} files for table {name!r} "
                f"({', '.join(p.name for p in found)}); keep one.",
                code="ambiguous_table",
                file=str(folder),
            )
        if found:
            out[name] = read_table(found[0], what=f"{name} table")
        elif name not in optional:
            raise DataValidationError(
                f"tables folder {str(folder)!r} has no {name} table; add {name}.parquet "
                f"(or .csv, .jsonl).",
                code="missing_table",
                file=str(folder),
            )
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    Anything written to the yielded path appears at ``path`` in one step
    (``os.replace``) when the block exits cleanly. On an exception the
    temporary file is removed and an existing file at ``path`` is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` to ``path`` in the format its name says (.parquet, .csv, .jsonl), whole
    or not at all (:func:`atomic_path`); the index is not written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_table(pd.DataFrame({"a": [1]}), out)
    >>> read_table(out)["a"].tolist()
    [1]
    """
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataValidationError(
            f"output file {str(path)!r}: unknown format {path.suffix!r}; use one of "
            f"{', '.join(sorted(TABLE_SUFFIXES))}.",
            code="unknown_format",
            file=str(path),
        )
    with atomic_path(path) as tmp:
        if kind == "parquet":
            table.to_parquet(tmp, index=False)
        elif kind == "csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_json(tmp, orient="records", lines=True, date_format="iso")
    return path


def read_files(paths: dict) -> dict[str, pd.DataFrame | None]:
    """``{name: table}`` read from ``{name: path}`` (a path of None gives None)."""
    return {name: read_table(path, what=name) if path else None for name, path in paths.items()}


@contextlib.contextmanager
def naming_files(paths: dict):
    """Inside the block, an error about table ``name`` (``DataValidationError.file == name``)
    names its file ``paths[name]`` instead: a model fitted on tables read from files says
    which file is wrong.

    >>> with naming_files({"usage": "usage.csv"}):
    ...     raise DataValidationError("row 3: no month.", file="usage")
    Traceback (most recent call last):
    lumos.errors.DataValidationError: file 'usage.csv': row 3: no month.
    """
    try:
        yield
    except DataValidationError as exc:
        path = paths.get(exc.file) if exc.file else None
        if path is None:
            raise
        raise DataValidationError(
            f"file {str(path)!r}: {exc.message}",
            code=exc.code,
            file=str(path),
            row=exc.row,
            column=exc.column,
        ) from None
