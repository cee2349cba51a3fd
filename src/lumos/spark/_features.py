"""Window features on Spark: the same SQL declaration the local engine runs on DuckDB."""

from __future__ import annotations

import itertools

from lumos._checks import require_columns
from lumos.errors import LumosUserError
from lumos.features import WindowFeatures

_VIEWS = itertools.count()


def window_features(usage, cutoffs, spec: WindowFeatures, *, lead_months: int = 0, dtype="float32"):
    """A Spark DataFrame of ``spec``'s features at each cutoff, as the local engine computes them.

    ``usage`` (``account_id, product, month, metric, value``) and ``cutoffs``
    (the spec's keys and ``cutoff``) are Spark DataFrames; the query is
    :meth:`WindowFeatures.sql`, the one the local engine's ``engine="sql"``
    runs, so both engines read the same declaration. ``dtype`` is the feature
    columns' type as in the local engine: ``"float32"`` (Spark's ``float``,
    the default) or ``"float64"`` (``double``); sums are kept in ``double``
    either way and rounded once on output.
    """
    if not isinstance(spec, WindowFeatures):
        raise LumosUserError(f"spec must be a WindowFeatures; got {spec!r}.", code="bad_argument")
    kind = "float" if spec.output_dtype(dtype) == "float32" else "double"
    for name, frame, need in (
        ("usage", usage, ["account_id", "product", "month", "metric", "value"]),
        ("cutoffs", cutoffs, [*spec.keys, "cutoff"]),
    ):
        hint = f"it needs {', '.join(need)}."
        require_columns(frame, need, source=f"{name} table", hint=hint, file=name)
    spark = usage.sparkSession
    metrics = spec.metrics
    if metrics is None:
        metrics = sorted(r[0] for r in usage.select("metric").distinct().collect())
    n = next(_VIEWS)
    u, c = f"lumos_usage_{n}", f"lumos_cutoffs_{n}"
    usage.createOrReplaceTempView(u)
    cutoffs.createOrReplaceTempView(c)
    found = spark.sql(spec.sql(lead_months=lead_months, metrics=metrics, usage=u, cutoffs=c))
    names = set(spec.names(metrics))
    return found.select([found[n].cast(kind).alias(n) if n in names else n for n in found.columns])
