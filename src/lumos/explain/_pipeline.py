"""The whole explanation job on a table: attributions → narratives, in chunks, on this machine
or on Spark."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lumos._checks import renamed, require_columns
from lumos._engines import check_engine, spark_job
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain._attributions import attribute, resolve_method, scores_of
from lumos.explain._audit import Audit
from lumos.explain._audit import audit as audit_narratives
from lumos.explain._design import InsightsDesign
from lumos.explain._model import ImportedModel, select_features
from lumos.explain._narrate import narrate


@dataclass(frozen=True)
class Explained:
    """What :func:`explain_table` returns, on either engine; it unpacks as
    ``narratives, scores, method``."""

    narratives: object  #: the narratives (a pandas or Spark DataFrame)
    scores: object  #: the model's score per row (a Series by id, or a Spark id, score frame)
    method: str  #: the attribution method used
    audit: Audit | None = None  #: the narratives' audit, with ``audit=True``

    def __iter__(self):
        return iter((self.narratives, self.scores, self.method))


def explain_table(
    model: ImportedModel,
    data,
    design: InsightsDesign,
    *,
    id_column: str | None = None,
    method: str = "auto",
    top_k: int = 5,
    direction: str = "auto",
    chunk_size: int = 20_000,
    random_state: int = 0,
    progress: Callable[[int], None] | None = None,
    source: str = "data",
    engine: str = "local",
    spark=None,
    reference=None,
    audit: bool = False,
    seed: int | None = None,
    options: dict | None = None,
) -> Explained:
    """Explain and narrate every row of ``data``.

    Rows are processed in chunks of ``chunk_size`` (all at once for ``klime``,
    which fits on the whole table), calling ``progress(rows_done)`` after each;
    every chunk's levels are compared with all of ``data`` (or ``reference``).

    With ``engine="spark"``, ``data`` is a Spark DataFrame (or the path of a
    .parquet or .csv file Spark reads), ``id_column`` is required, rows are
    explained partition by partition on the executors (``spark``: the session,
    default the active one or ``local[2]``), and the narratives and scores
    come back as lazy Spark DataFrames holding exactly the local engine's
    values. Only exact TreeSHAP splits into partitions.

    ``options`` go to the attribution method, as :func:`~lumos.explain.attribute`'s
    keywords (e.g. ``{"sampling": "gaussian"}`` or ``{"num_features": 5}`` for ``lime``).

    Returns
    -------
    Explained
        ``narratives`` (as :func:`~lumos.explain.narrate` returns, over all
        rows), ``scores`` (the model's score per row: a probability for
        classifiers) and ``method`` (the attribution method used); with
        ``audit=True`` (local engine), the narratives' :class:`~lumos.explain.Audit`
        against the attributions of each chunk.
    """
    random_state = renamed(
        random_state, seed, old="seed", new="random_state", owner="explain_table"
    )
    options = dict(options or {})
    if check_engine(engine) == "spark":
        if options:
            raise LumosUserError(
                f"The Spark engine runs exact TreeSHAP, which takes no options; got "
                f"{', '.join(sorted(options))}. Drop them, or use engine='local'.",
                code="bad_argument",
            )
        return spark_job("explain_table")(
            model,
            data,
            design,
            id_column=id_column,
            method=method,
            top_k=top_k,
            direction=direction,
            random_state=random_state,
            source=source,
            spark=spark,
        )
    if id_column is not None:
        require_columns(
            data,
            [id_column],
            source=source,
            hint="name the column that identifies rows.",
            file=source,
        )
        ids = data[id_column]
        dup = ids.duplicated().to_numpy()
        if dup.any():
            i = int(dup.argmax())
            raise DataValidationError(
                f"{source} row {i}: id {ids.iloc[i]!r} in column {id_column!r} appears twice; "
                "ids must be unique.",
                code="duplicate",
                file=source,
                row=i,
                column=id_column,
            )
        data = data.set_index(id_column)
    select_features(data, model.feature_names, where=source)
    if len(data) == 0:
        raise DataValidationError(f"{source} has no rows to explain.", code="empty", file=source)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise LumosUserError(
            f"chunk_size must be an int >= 1. Got {chunk_size!r}.", code="bad_argument"
        )
    resolved = resolve_method(model, method)
    if resolved == "klime":
        chunk_size = len(data)
    parts, scores, used, skipped, immaterial, checked = [], [], resolved, 0, 0, None
    # methods that read a background take the whole table, so chunking changes nothing
    background = data if resolved in ("lime", "linear_shap") else None
    reference = data if reference is None else reference  # levels compare with every row
    for start in range(0, len(data), chunk_size):
        chunk = data.iloc[start : start + chunk_size]
        attr = attribute(
            model,
            chunk,
            method=resolved,
            random_state=random_state,
            background=background,
            **options,
        )
        nar = narrate(chunk, attr, design, top_k=top_k, direction=direction, reference=reference)
        skipped += nar.attrs["skipped"]
        immaterial += nar.attrs["immaterial"]
        if audit:
            found = audit_narratives(nar, attr, design, data=chunk)
            checked = found if checked is None else checked + found
        parts.append(nar)
        scores.append(pd.Series(_score(model, chunk, attr), index=chunk.index))
        used = attr.method
        if progress is not None:
            progress(len(chunk))
    narratives = pd.concat(parts, ignore_index=True)
    narratives.attrs = {**parts[0].attrs, "skipped": skipped, "immaterial": immaterial}
    return Explained(narratives, pd.concat(scores), used, checked)


def _score(model: ImportedModel, chunk: pd.DataFrame, attr) -> np.ndarray:
    if model.kind == "scores":
        return scores_of(model, chunk)
    space = "probability" if model.task in ("binary", "multiclass") else "margin"
    out = model.predict(chunk, output=space)
    if out.ndim == 2:
        target = attr.target if attr.target is not None else np.argmax(out, axis=1)
        out = out[np.arange(len(out)), target]
    return out
