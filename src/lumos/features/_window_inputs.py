"""The usage and cutoff tables of :func:`~._windows.window_features` as checked Arrow columns:
strings, months on the 1st, numbers — each error naming its table, row and column — and the
codes the NumPy engine matches rows by."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lumos._checks import require_columns
from lumos.errors import DataValidationError, LumosUserError


def _argument(name: str, value, hint: str, owner="The {!r} parameter of WindowFeatures"):
    return LumosUserError(f"{owner.format(name)} {hint}. Got {value!r}.", code="bad_argument")


def _table(data, name: str, required: list[str], decode: bool = True) -> pa.Table:
    """The required columns as an Arrow table, checked: strings, dates on the 1st, numbers.

    Dictionary-encoded strings stay encoded unless ``decode``: they are matched by their
    dictionaries, and decoding a large table costs more than the rest of the work.
    """
    if not isinstance(data, pd.DataFrame | pa.Table):
        raise _argument(
            name, type(data).__name__, "must be a pandas DataFrame or an Arrow table", owner="{}"
        )
    require_columns(data, required, source=f"{name} table", hint="add it.", file=name)
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data[required], preserve_index=False)
    return pa.table([_column(name, col, data[col], decode) for col in required], names=required)


def _distinct(a: pa.ChunkedArray) -> list[str]:
    found = pc.unique(a)
    return (found.dictionary_decode() if pa.types.is_dictionary(found.type) else found).to_pylist()


def _fail(name, row, col, msg, code="bad_value"):
    raise DataValidationError(
        f"{name} row {row}, column {col!r}: {msg}", code=code, file=name, row=int(row), column=col
    )


def _column(name: str, col: str, a: pa.ChunkedArray, decode: bool) -> pa.ChunkedArray:
    kind, types = a.type, pa.types
    keep = types.is_dictionary(kind) and not decode and col not in ("month", "cutoff", "value")
    if types.is_dictionary(kind):
        a, kind = (a, kind.value_type) if keep else (a.cast(kind.value_type), kind.value_type)
    if col == "value":
        if not (types.is_floating(kind) or types.is_integer(kind) or types.is_null(kind)):
            _fail(name, 0, col, f"must hold numbers; got type {kind}. Convert it to float.")
        return a.cast(pa.float64())
    if a.null_count or (keep and pc.any(pc.is_null(a)).as_py()):  # nulls in a dictionary too
        _fail(
            name,
            pc.index(pc.is_null(a), True).as_py(),
            col,
            "is empty; every row needs one (an unknown value is NaN in column 'value').",
        )
    if col not in ("month", "cutoff"):
        if not (types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind)):
            _fail(
                name, 0, col, f"must hold strings; got type {kind}. Convert it with .astype(str)."
            )
        return a
    if types.is_timestamp(kind) and kind.tz is None:
        ok = pc.and_(pc.equal(pc.floor_temporal(a, unit="day"), a), pc.equal(pc.day(a), 1))
    elif types.is_date(kind):
        ok = pc.equal(pc.day(a), 1)
    else:
        _fail(name, 0, col, f"must hold dates (datetime64 or date); got type {kind}.")
    if not pc.all(ok, min_count=0).as_py():
        i = pc.index(ok, False).as_py()
        _fail(
            name,
            i,
            col,
            f"{a[i].as_py()} is not the first day of a month; give monthly dates as the 1st.",
        )
    return a


def _entities(c: pa.Table, keys: list[str]) -> tuple[list[pa.Array], np.ndarray, np.ndarray]:
    """The cutoffs' values of each key, their entities' codes (distinct, sorted) and each row's."""
    code, values = np.zeros(len(c), dtype=np.int64), []
    for k in keys:  # in Arrow: no Python string per row
        found = c[k].combine_chunks().dictionary_encode()
        code = code * len(found.dictionary) + found.indices.to_numpy()
        values.append(found.dictionary.cast(pa.string()))
    if len(keys) == 1:  # every code is an entity already: no sort
        return values, np.arange(len(values[0])), code
    codes, ent = np.unique(code, return_inverse=True)
    return values, codes, ent


def _codes(a: pa.ChunkedArray, values: pa.Array, memo: dict | None = None) -> np.ndarray:
    """Each row's position in the distinct ``values``, -1 for a value not among them.

    ``memo``, kept across calls on slices of one column, keeps its dictionary's lookup.
    """
    if not pa.types.is_dictionary(a.type):
        found = pc.index_in(a, value_set=values.cast(a.type))
        return found.fill_null(-1).to_numpy().astype(np.int64, copy=False)
    codes, memo = [np.zeros(0, dtype=np.int64)], {} if memo is None else memo
    for d in a.chunks:  # chunks often share a dictionary: look it up once
        if "at" not in memo or not d.dictionary.equals(memo["dictionary"]):
            memo["dictionary"] = d.dictionary
            memo["at"] = _codes(pa.chunked_array([d.dictionary]), values)
        codes.append(memo["at"][d.indices.to_numpy()])
    return np.concatenate(codes)
