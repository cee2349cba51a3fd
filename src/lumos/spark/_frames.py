"""The input of a Spark job: each row's position, checks that name the bad row, labels.

What :func:`~lumos.spark.fit_glmix` reads before it fits: a position per row
(0 to n-1 in the frame's own order, from partition sizes, no shuffle), the
column and value checks of the local engine with the same messages, the
label's classes as the local engine picks them, column moments, and the row
cap's sample keys computed in Spark SQL.
"""

from __future__ import annotations

import numpy as np

from lumos.errors import DataValidationError
from lumos.models.solvers import MIX, SAMPLE_MASK, binary_labels, seed_word


def key_expr(row, seed: int):
    """:func:`lumos.models.solvers.sample_keys` in Spark SQL: the same 32-bit keys."""
    from pyspark.sql import functions as F

    x = (row.bitwiseXOR(F.shiftright(row, 32)).bitwiseXOR(F.lit(seed_word(seed)))).bitwiseAND(
        F.lit(SAMPLE_MASK)
    )
    for _ in range(2):
        for mult in MIX:
            x = x.bitwiseXOR(F.shiftright(x, 16))
            x = (x * F.lit(mult)).bitwiseAND(F.lit(SAMPLE_MASK))
        x = x.bitwiseXOR(F.shiftright(x, 16))
    return x


def indexed(frame):
    """``frame`` with ``_row``: each row's position, 0 to n-1, in the frame's own order.

    Returns the indexed frame and the cached frame under it (to unpersist once read).
    """
    from pyspark.sql import functions as F

    tagged = frame.withColumn("_pid", F.spark_partition_id()).withColumn(
        "_mid", F.monotonically_increasing_id()
    )
    tagged = tagged.cache()
    counts = dict(tagged.groupBy("_pid").count().collect())
    parts = max(counts, default=-1) + 1
    sizes = np.array([counts.get(p, 0) for p in range(parts)], dtype=np.int64)
    starts = np.r_[0, np.cumsum(sizes)[:-1]] if parts else np.zeros(0, np.int64)
    start = (
        F.element_at(F.array(*(F.lit(int(s)) for s in starts)), F.col("_pid") + 1)
        if parts
        else F.lit(0)
    )
    # monotonically_increasing_id: the partition in the upper 31 bits, the record in the lower 33
    local = F.col("_mid") - F.shiftleft(F.col("_pid").cast("long"), 33)
    return tagged.withColumn("_row", (start + local).cast("long")).drop("_pid", "_mid"), tagged


def spark_id_type(kind) -> str:
    """Integer ids stay integers (long); anything else is compared as text, as locally."""
    from pyspark.sql.types import BooleanType, IntegralType

    return (
        "long" if isinstance(kind, IntegralType) and not isinstance(kind, BooleanType) else "string"
    )


def check_columns(frame, need, label, ids, weight):
    from pyspark.sql.types import BooleanType, NumericType

    for c in need:
        if c not in frame.columns:
            role = (
                "label"
                if c == label
                else "random-effect id"
                if c in ids
                else "sample weight"
                if c == weight
                else "feature"
            )
            raise DataValidationError(
                f"the Spark DataFrame has no {role} column {c!r}; its columns are "
                f"{', '.join(map(repr, frame.columns[:10]))}.",
                code="missing_column",
                column=c,
            )
    for c in need:
        if c in (label, *ids):
            continue
        kind = frame.schema[c].dataType
        if not isinstance(kind, NumericType | BooleanType):
            raise DataValidationError(
                f"column {c!r} is not numeric (Spark type {kind.simpleString()}); encode it first.",
                code="non_numeric_column",
                column=c,
            )


def check_values(data, columns, weight, ids):
    """Features finite, weights finite and >= 0, ids present; else name the first bad row."""
    from pyspark.sql import functions as F

    def bad_number(c):
        v = F.col(c).cast("double")
        return F.col(c).isNull() | F.isnan(v) | v.isin(float("inf"), float("-inf"))

    checks = [
        (c, bad_number(c), "feature", "fill or drop missing and infinite values first")
        for c in columns
    ]
    if weight is not None:
        checks.append(
            (
                weight,
                bad_number(weight) | (F.col(weight).cast("double") < 0),
                "sample weight",
                "weights must be finite and >= 0",
            )
        )
    checks += [(c, F.col(c).isNull(), "id", "every row needs an id") for c in ids]
    if not checks:
        return
    counts = data.agg(
        *(F.sum(cond.cast("long")).alias(f"c{i}") for i, (_, cond, _, _) in enumerate(checks))
    ).first()
    for i, (c, cond, role, fix) in enumerate(checks):
        if counts[f"c{i}"]:
            first = data.filter(cond).orderBy("_row").select("_row", c).first()
            raise DataValidationError(
                f"{role} column {c!r} row {first['_row']} holds "
                f"{'a missing value' if first[c] is None else repr(first[c])} "
                f"({counts[f'c{i}']:,} such rows); {fix}.",
                code="bad_value",
                row=int(first["_row"]),
                column=c,
            )


def label_classes(data, label) -> np.ndarray:
    """The label's classes, as the local engine reads them (at most 3 values are fetched)."""
    values = [r[0] for r in data.select(label).distinct().limit(3).collect() if r[0] is not None]
    return binary_labels(np.array(values), "GLMix")[1]


def label_column(data, label, classes):
    """The label as 0.0/1.0, the positive class chosen as the local engine chooses it."""
    from pyspark.sql import functions as F

    nulls = data.filter(F.col(label).isNull()).select("_row").first()
    if nulls is not None:
        raise DataValidationError(
            f"label column {label!r} row {nulls['_row']} is missing; every row needs a label.",
            code="bad_value",
            row=int(nulls["_row"]),
            column=label,
        )
    positive = classes[1].item() if hasattr(classes[1], "item") else classes[1]
    return (F.col(label) == F.lit(positive)).cast("double")


def moments(data, columns):
    from pyspark.sql import functions as F

    if not columns:
        return np.zeros(0), np.ones(0)
    row = data.agg(
        *(F.avg(F.col(c).cast("double")) for c in columns),
        *(F.stddev_pop(F.col(c).cast("double")) for c in columns),
    ).first()
    values = np.array(list(row), dtype=np.float64)
    mean, std = values[: len(columns)], values[len(columns) :]
    std[std == 0] = 1.0
    return mean, std
