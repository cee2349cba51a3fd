"""Attributions and narratives on Spark: the model broadcast, rows explained partition by partition.

Each partition of the input becomes pandas batches (``mapInPandas``) and
runs the local engine's own :func:`~lumos.explain.explain_table`
on them, so a row's narratives are the local engine's, byte for byte: exact
attributions of a row depend on that row alone. Methods that read the whole
table (LIME's and linear SHAP's background, K-LIME's clusters) are not
partition-local and stay on the local engine.
"""

from __future__ import annotations

import pandas as pd

from lumos._checks import require_columns
from lumos.errors import LumosUserError
from lumos.explain import ImportedModel, InsightsDesign, explain_table, resolve_method

PARTITION_LOCAL = ("tree_shap",)


def explain(
    frame,
    model: ImportedModel,
    design: InsightsDesign,
    *,
    id_column: str,
    method: str = "auto",
    top_k: int = 5,
    direction: str = "auto",
):
    """A Spark DataFrame of narratives (the local engine's columns) and each row's score.

    ``frame`` is a Spark DataFrame with ``id_column`` and the model's features.
    Returns ``(narratives, scores)``: two Spark DataFrames, lazily computed.
    The columns a level is compared on (:meth:`InsightsDesign.reference_columns`)
    are collected once and broadcast, so every partition compares with all rows,
    as the local engine does.
    """
    resolved = resolve_method(model, method)
    if resolved not in PARTITION_LOCAL:
        raise LumosUserError(
            f"method {resolved!r} reads the whole table, so it does not split into partitions; "
            "run it on the local engine, or use method='tree_shap'.",
            code="bad_method",
        )
    require_columns(
        frame,
        [id_column],
        source="the Spark DataFrame",
        hint="name the column that identifies rows.",
    )
    spark = frame.sparkSession
    wanted = [c for c in design.reference_columns() if c in frame.columns]
    reference = frame.select(*wanted).toPandas() if wanted else None
    shipped = spark.sparkContext.broadcast((model, design, reference))
    # the output schema: the local engine's own columns, from one row
    sample = frame.limit(1).toPandas()
    local, _, _ = explain_table(
        model,
        sample,
        design,
        id_column=id_column,
        method=resolved,
        top_k=top_k,
        direction=direction,
        reference=reference,
    )
    schema = _schema(spark, local)

    def narrate_batches(batches):
        model_, design_, reference_ = shipped.value
        for batch in batches:
            if len(batch) == 0:
                continue
            narratives, _, _ = explain_table(
                model_,
                batch,
                design_,
                id_column=id_column,
                method=resolved,
                top_k=top_k,
                direction=direction,
                reference=reference_,
            )
            yield narratives

    def score_batches(batches):
        model_, design_, _ = shipped.value
        for batch in batches:
            if len(batch) == 0:
                continue
            _, scores, _ = explain_table(
                model_,
                batch,
                design_,
                id_column=id_column,
                method=resolved,
                top_k=1,
                direction=direction,
            )
            yield pd.DataFrame({id_column: scores.index.astype(str), "score": scores.to_numpy()})

    narratives = frame.mapInPandas(narrate_batches, schema)
    scores = frame.mapInPandas(score_batches, f"`{id_column}` string, score double")
    return narratives, scores


def _schema(spark, sample: pd.DataFrame):
    """The Spark schema of the local engine's narrative frame."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    fields = []
    for name in sample.columns:
        kind = sample[name].dtype
        if pd.api.types.is_integer_dtype(kind):
            fields.append(pa.field(name, pa.int64()))
        elif pd.api.types.is_float_dtype(kind):
            fields.append(pa.field(name, pa.float64()))
        elif pd.api.types.is_bool_dtype(kind):
            fields.append(pa.field(name, pa.bool_()))
        else:
            fields.append(pa.field(name, pa.string()))
    return from_arrow_schema(pa.schema(fields))
