"""GLMix's inputs, coerced and checked: column lists, the table, features and ids.

Each error names the column (and row) at fault and what to do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.errors import DataValidationError, LumosUserError


def column_names(value, what) -> list[str]:
    """A list of column names, or ``bad_argument`` naming the parameter ``what``."""
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise LumosUserError(
            f"The {what} parameter of GLMix must be a list of column names. Got {value!r}.",
            code="bad_argument",
        )
    return list(value)


def as_frame(df) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame or an Arrow table."""
    if hasattr(df, "to_pandas") and not isinstance(df, pd.DataFrame):  # Arrow table
        df = df.to_pandas()
    if not isinstance(df, pd.DataFrame):
        raise LumosUserError(
            f"GLMix takes a pandas DataFrame (or Arrow table) holding the id and feature "
            f"columns; got {type(df).__name__}.",
            code="bad_argument",
        )
    return df


def _require(df, column, role):
    if column not in df.columns:
        raise DataValidationError(
            f"df has no {role} column {column!r}; its columns are "
            f"{', '.join(map(repr, list(df.columns)[:10]))}{', …' if df.shape[1] > 10 else ''}.",
            code="missing_column",
            column=column,
        )


def feature_matrix(df, columns) -> np.ndarray:
    """The ``columns`` of ``df`` as a float matrix; each must be numeric and finite."""
    for c in columns:
        _require(df, c, "feature")
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])):
            raise DataValidationError(
                f"feature column {c!r} is not numeric (dtype {df[c].dtype}); encode it first.",
                code="non_numeric_column",
                column=c,
            )
    M = (
        df[columns].to_numpy(dtype=np.float64, na_value=np.nan)
        if columns
        else np.zeros((len(df), 0))
    )
    bad = ~np.isfinite(M)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataValidationError(
            f"feature column {columns[j]!r} row {df.index[i]!r} holds {float(M[i, j])!r}; "
            "fill or drop missing and infinite values first.",
            code="bad_value",
            row=int(i),
            column=columns[j],
        )
    return M


def entity_ids(df, column, *, fitting) -> np.ndarray:
    """An id column as int64 (integer ids) or str (anything else), the same at fit and predict."""
    _require(df, column, "random-effect id")
    s = df[column]
    if fitting and s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise DataValidationError(
            f"id column {column!r} row {df.index[i]!r} is missing; every row needs an id.",
            code="bad_value",
            row=i,
            column=column,
        )
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(np.int64)
    return s.astype(str).to_numpy(dtype=str)
