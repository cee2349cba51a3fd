"""A generator's optional population table: checked once, the same way by every generator."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos._checks import check_number, require_columns
from lumos.errors import DataValidationError, LumosUserError


def given_table(
    table,
    n,
    *,
    default: int,
    owner: str,
    n_name: str,
    what: str,
    columns,
    low: int = 1,
) -> tuple[pd.DataFrame | None, int]:
    """``(table, n)``: the population table a generator was given (None: it makes its own
    ``n``, ``default`` when None), checked to have ``columns`` and distinct first-column
    ids, and the number of rows it makes.

    >>> given_table(None, None, default=30, owner="f", n_name="n_members", what="members",
    ...             columns=["member_id"])
    (None, 30)
    >>> given_table(pd.DataFrame({"member_id": ["a"]}), 2, default=30, owner="f",
    ...             n_name="n_members", what="members", columns=["member_id"])
    Traceback (most recent call last):
    lumos.errors.LumosUserError: f was given 1 members and n_members=2; give one or the other.
    """
    if table is None:
        n = default if n is None else n
        return None, int(check_number(owner, n_name, n, low=low, integer=True))
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    require_columns(
        table,
        columns,
        source=f"the {what} table given to {owner}",
        hint=f"give a population's {what} (lumos.data.demo.population)",
    )
    if n is not None and n != len(table):
        raise LumosUserError(
            f"{owner} was given {len(table)} {what} and {n_name}={n!r}; give one or the other.",
            code="bad_argument",
        )
    if len(table) < low:
        raise LumosUserError(
            f"{owner} needs at least {low} {what}; the table given has {len(table)}.",
            code="bad_argument",
        )
    ids = table[columns[0]].astype(str)
    repeated = ids.duplicated().to_numpy()
    if repeated.any():
        row = int(np.argmax(repeated))
        raise DataValidationError(
            f"the {what} table given to {owner}: row {row}, {columns[0]} {ids.iloc[row]!r} "
            "appears twice; ids must be distinct.",
            code="duplicate",
            row=row,
            column=columns[0],
        )
    return table.reset_index(drop=True), len(table)


def codes(values, known, *, owner: str, what: str, column: str) -> np.ndarray:
    """Each value's position in ``known``; a value outside it is a ``bad_value`` naming the
    row and what is known."""
    values = pd.Series(values).astype(object)
    at = pd.Index(list(known)).get_indexer(values)
    if (at < 0).any():
        row = int(np.argmax(at < 0))
        raise DataValidationError(
            f"the {what} table given to {owner}: row {row}, {column} {values.iloc[row]!r} is "
            f"not one it models ({', '.join(map(str, known))}).",
            code="bad_value",
            row=row,
            column=column,
        )
    return at
