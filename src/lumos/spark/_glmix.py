"""GLMix on Spark: the fixed effect by distributed gradients, random effects per entity group.

The same block coordinate descent as :class:`lumos.models.GLMix`, each
coordinate refitted with the other coordinates' scores as offsets, but the rows
stay on the executors:

* **Fixed effect.** The rows become NumPy blocks on the executors (one per
  Arrow batch, cached for the coordinate's fit); the model's solver runs on
  the driver and asks for sums over the rows, which the executors compute
  block by block and ``treeAggregate`` adds up: the loss, gradient and
  Hessian of each Newton step (``solver="newton"``, GLMix's default, a few
  steps for up to a few hundred features), or the loss and gradient of each
  L-BFGS evaluation (``solver="lbfgs"``, for more features).
* **Random effects.** Each entity keeps at most ``max_rows_per_entity`` rows
  (the local engine's sample: the smallest :func:`~lumos.models.solvers.sample_keys`),
  entities are packed into buckets of about ``bucket_rows`` rows, so one heavy
  entity fills a bucket of its own rather than a whole executor, and each bucket
  is fitted by ``groupBy(...).applyInPandas`` with the local engine's batched
  Newton (:func:`~lumos.models.solvers.fit_entities`).
* **Scores.** A coordinate's new scores are joined back to every row by entity
  id; rows of entities without a model score 0, as locally.

The result is a fitted :class:`~lumos.models.GLMix` on the driver, equal to the
local engine's fit of the same rows (coefficients within 1e-4; the tests
check it), which saves, loads and scores as any other.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import scipy.optimize
from sklearn.base import clone

from lumos._checks import check_number
from lumos.errors import DataValidationError, LumosUserError
from lumos.models import GLMix
from lumos.models.solvers import (
    feature_union,
    fit_entities,
    logistic_hessian,
    logistic_loss_grad,
)
from lumos.spark._frames import (
    check_columns,
    check_values,
    indexed,
    key_expr,
    label_classes,
    label_column,
    moments,
    spark_id_type,
)


def fit_glmix(
    frame,
    model: GLMix,
    *,
    label: str,
    sample_weight: str | None = None,
    bucket_rows: int = 100_000,
    depth: int = 2,
) -> GLMix:
    """Fit ``model``'s configuration on a Spark DataFrame; return a fitted copy.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        The random effects' id columns, every feature column and ``label``.
    model : GLMix
        An unfitted GLMix: its parameters are the configuration (``warm_start``
        and incremental refits stay on the local engine).
    label : str
        The binary label column.
    sample_weight : str, optional
        A column of non-negative row weights.
    bucket_rows : int, default=100_000
        Rows per random-effect bucket: the unit of work of one task.
    depth : int, default=2
        Depth of the gradients' ``treeAggregate``.

    Returns
    -------
    GLMix
        Fitted, with the coefficients of every entity collected on the driver.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if not isinstance(model, GLMix):
        raise LumosUserError(
            f"model must be a GLMix; got {type(model).__name__}.", code="bad_argument"
        )
    if model.warm_start:
        raise LumosUserError(
            "The Spark engine fits GLMix from zero; warm_start and prior refits run on the "
            "local engine (GLMix.fit / partial_fit).",
            code="bad_argument",
        )
    check_number("fit_glmix", "bucket_rows", bucket_rows, low=1, integer=True)
    check_number("fit_glmix", "depth", depth, low=1, integer=True)
    fixed, effects, l2, il2 = model._check_params()
    columns = feature_union(fixed, effects)
    extra = [] if sample_weight is None else [sample_weight]
    need = list(dict.fromkeys([label, *effects, *columns, *extra]))
    check_columns(frame, need, label, list(effects), sample_weight)
    if l2 == "auto":
        raise LumosUserError(
            'The Spark engine fits GLMix with explicit penalties; l2="auto" (the default) '
            "chooses them on the local engine. Pass l2 as a float or a dict per coordinate, "
            "e.g. the l2_ of a GLMix fitted locally on a sample.",
            code="bad_argument",
        )

    data, tagged = indexed(frame.select(*need))
    try:  # the checks read the indexed rows; the state below is built from them once
        classes = label_classes(data, label)
        y01 = label_column(data, label, classes)
        check_values(data, columns, sample_weight, list(effects))
        if model.standardize:
            mean, std = moments(data, columns)
        else:
            mean, std = np.zeros(len(columns)), np.ones(len(columns))
        pos = {c: j for j, c in enumerate(columns)}
        id_types = {}
        weight = F.lit(1.0) if sample_weight is None else F.col(sample_weight).cast("double")
        selected = [
            F.col("_row"),
            y01.alias("_y"),
            weight.alias("_w"),
            key_expr(F.col("_row"), model.random_state).alias("_key"),
        ]
        for k, col in enumerate(effects):
            id_types[col] = spark_id_type(frame.schema[col].dataType)
            selected.append(F.col(col).cast(id_types[col]).alias(f"_e{k}"))
        for j, c in enumerate(columns):
            scaled = (F.col(c).cast("double") - float(mean[j])) / float(std[j])
            selected.append(scaled.alias(f"_f{j}"))
        score_names = ["_s_fixed", *(f"_s{k}" for k in range(len(effects)))]
        state = data.select(*selected, *(F.lit(0.0).alias(s) for s in score_names))
        state = state.persist(StorageLevel.MEMORY_AND_DISK)
        n = state.count()
    finally:
        tagged.unpersist()
    if n == 0:
        state.unpersist()
        raise DataValidationError("frame has no rows; GLMix needs data.", code="empty")

    def swap(new):
        # a local checkpoint cuts the lineage: each coordinate's models are computed from the
        # state and joined back to it, so without one the plan would double at every update
        nonlocal state
        new = new.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        _release(state)
        state = new

    fixed_cols = [f"_f{pos[c]}" for c in fixed]
    fparams = np.zeros(len(fixed) + 1)
    fits = {}  # id column -> its models, a persisted Spark DataFrame
    loss = []
    try:
        for _ in range(model.passes):
            offset = _sum(F.col(s) for s in score_names[1:])
            fparams = _fit_fixed(
                state,
                fixed_cols,
                offset,
                l2["fixed_effect"],
                il2["fixed_effect"],
                fparams,
                model,
                depth,
                n,
            )
            swap(state.withColumn("_s_fixed", _dot(fixed_cols, fparams[:-1], fparams[-1])))
            for k, (col, feats) in enumerate(effects.items()):
                others = _sum(F.col(s) for s in score_names if s != f"_s{k}")
                pen = np.r_[il2[col], np.full(len(feats), l2[col])]
                fcols = [f"_f{pos[c]}" for c in feats]
                coefs = _fit_random(state, k, fcols, others, pen, model, bucket_rows, id_types[col])
                coefs = coefs.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
                if col in fits:
                    _release(fits[col])
                fits[col] = coefs
                names = _coef_names(len(fcols))
                joined = state.drop(f"_s{k}").join(coefs.drop("_rows"), on=f"_e{k}", how="left")
                score = F.coalesce(_dot(fcols, None, None, names=names), F.lit(0.0))
                swap(joined.withColumn(f"_s{k}", score).select(*state.columns))
            loss.append(_loss(state, score_names, fparams, fits, effects, l2, il2))
        tables = {col: t.toPandas() for col, t in fits.items()}
    finally:
        _release(state)
        for t in fits.values():
            _release(t)
    return _fitted(model, fixed, effects, columns, mean, std, fparams, tables, loss, classes)


def glmix_fitter(spark=None, *, label: str = "label", **kwargs):
    """A ``fitter(model, rows)`` that fits a GLMix on Spark (``CourseRecommender(glmix_fitter=)``).

    ``rows`` (a pandas DataFrame of training rows) become a Spark DataFrame;
    ``kwargs`` go to :func:`fit_glmix`.
    """
    from lumos.spark._session import session

    def fit(model: GLMix, rows: pd.DataFrame) -> GLMix:
        frame = (spark or session()).createDataFrame(rows)
        return fit_glmix(frame, model, label=label, **kwargs)

    return fit


# ---------------------------------------------------------------------- the fixed effect
def _fit_fixed(state, cols, offset, l2, il2, x0, model, depth, n):
    """The fixed effect: the model's solver on the driver, sums over the rows on the executors.

    ``solver="newton"`` (GLMix's default): each step's loss, gradient and
    Hessian are summed over the blocks by one ``treeAggregate``; the driver
    solves for the step and backtracks as the local Newton does. ``"lbfgs"``:
    L-BFGS on the driver, one ``treeAggregate`` of the loss and gradient per
    evaluation — for more features than a Hessian suits.
    """
    from pyspark import StorageLevel

    d = len(cols)
    packed = state.select(*cols, "_y", "_w", offset.alias("_o")).mapInPandas(_pack, "b binary")
    blocks = packed.rdd.map(_unpack).persist(StorageLevel.MEMORY_AND_DISK)
    pen = np.r_[np.full(d, l2), il2]

    def evaluate(params, hessian):
        size = 1 + (d + 1) + ((d + 1) ** 2 if hessian else 0)

        def add(acc, block):
            X, y, w, o = block[:, :d], block[:, d], block[:, d + 1], block[:, d + 2]
            value, grad = logistic_loss_grad(
                params, X, y, offset=o, sample_weight=w, l2=0.0, intercept_l2=0.0
            )
            out = np.r_[value, grad]
            if hessian:
                H = logistic_hessian(params, X, w, o, 0.0, 0.0, True)
                out = np.r_[out, H.ravel()]
            return acc + out

        total = blocks.treeAggregate(np.zeros(size), add, np.add, depth=depth)
        value = float(total[0]) + 0.5 * float(pen @ (params * params))
        grad = total[1 : d + 2] + pen * params
        if not hessian:
            return value, grad
        H = total[d + 2 :].reshape(d + 1, d + 1) + np.diag(pen)
        return value, grad, H

    try:
        if model.solver == "lbfgs":
            res = scipy.optimize.minimize(
                lambda v: evaluate(v, False),
                x0,
                jac=True,
                method="L-BFGS-B",
                # the loss is a sum over rows: the tolerance is per row, as locally
                options={
                    "maxiter": model.max_iter * 4,
                    "gtol": model.tol * max(1, n),
                    "ftol": 1e-12,
                },
            )
            return res.x
        return _newton(evaluate, np.array(x0, dtype=np.float64), model.max_iter * 4, model.tol)
    finally:
        blocks.unpersist()


def _newton(evaluate, x, max_iter, tol):
    """The local engine's Newton with an Armijo backtracking line search, one job a step."""
    loss, grad, H = evaluate(x, True)
    for _ in range(max_iter):
        step = np.linalg.solve(H, -grad)
        t, slope = 1.0, float(grad @ step)
        for _ in range(30):
            cand = x + t * step
            new_loss, new_grad, new_H = evaluate(cand, True)
            if new_loss <= loss + 1e-4 * t * slope:
                break
            t *= 0.5
        x, loss, grad, H = cand, new_loss, new_grad, new_H
        if np.max(np.abs(t * step)) < tol:
            break
    return x


def _pack(batches):
    """Each Arrow batch of a partition as one ``.npy`` blob (rows × columns, float64)."""
    for batch in batches:
        if len(batch) == 0:
            continue
        buf = io.BytesIO()
        np.save(buf, batch.to_numpy(dtype=np.float64), allow_pickle=False)
        yield pd.DataFrame({"b": [buf.getvalue()]})


def _unpack(row) -> np.ndarray:
    return np.load(io.BytesIO(bytes(row[0])), allow_pickle=False)


# ---------------------------------------------------------------------- random effects
def _fit_random(state, k, fcols, others, pen, model, bucket_rows, id_type):
    """One random effect's models: capped rows, buckets of entities, batched Newton per bucket."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    e = f"_e{k}"
    rows = state.select(e, "_row", "_key", *fcols, "_y", "_w", others.alias("_o"))
    by_entity = Window.partitionBy(e)
    rows = rows.withColumn("_n", F.count(F.lit(1)).over(by_entity))
    rows = rows.filter(F.col("_n") >= model.min_rows)
    if model.max_rows_per_entity is not None:
        rank = F.row_number().over(by_entity.orderBy("_key", "_row"))
        rows = rows.withColumn("_rank", rank).filter(F.col("_rank") <= model.max_rows_per_entity)
    sizes = rows.groupBy(e).count()

    def pack(batches):
        from pyspark import TaskContext

        base, filled = TaskContext.get().partitionId() << 32, 0
        for batch in batches:
            bucket, filled = bucket_ids(batch["count"].to_numpy(), bucket_rows, filled)
            yield pd.DataFrame({e: batch[e], "_bucket": base + bucket})

    buckets = sizes.mapInPandas(pack, f"{e} {id_type}, _bucket long")
    d = len(fcols)
    names = _coef_names(d)
    schema = ", ".join([f"{e} {id_type}", "_rows long", *(f"{c} double" for c in names)])
    max_iter, tol = model.max_iter, model.tol

    def fit_bucket(pdf: pd.DataFrame) -> pd.DataFrame:
        # the local engine's order: by entity, then the sample key (ties: the row)
        pdf = pdf.sort_values([e, "_key", "_row"], kind="stable")
        codes, ids = pd.factorize(pdf[e], sort=True)
        n_ent = len(ids)
        X = np.column_stack([np.ones(len(pdf)), pdf[fcols].to_numpy(np.float64)])
        zeros = np.zeros((n_ent, d + 1))
        beta = fit_entities(
            X,
            pdf["_y"].to_numpy(np.float64),
            pdf["_w"].to_numpy(np.float64),
            pdf["_o"].to_numpy(np.float64),
            codes,
            n_ent,
            zeros,
            zeros,
            pen,
            max_iter=max_iter,
            tol=tol,
        )
        out = pd.DataFrame(beta, columns=names)
        out.insert(0, "_rows", np.bincount(codes, minlength=n_ent).astype(np.int64))
        out.insert(0, e, np.asarray(ids))
        return out

    grouped = rows.join(buckets, on=e).groupBy("_bucket")
    return grouped.applyInPandas(fit_bucket, schema)


def bucket_ids(counts: np.ndarray, bucket_rows: int, filled: int = 0):
    """Pack entities of ``counts`` rows, in order, into buckets of about ``bucket_rows`` rows.

    An entity's bucket is the multiple of ``bucket_rows`` that the rows before
    it reach, so a bucket holds at most ``bucket_rows`` rows of the entities
    that start in it plus the rest of its last entity: a heavy entity fills
    buckets of its own. ``filled`` carries the rows already packed (from an
    earlier batch); returns ``(bucket of each entity, filled after them)``.

    Examples
    --------
    >>> bucket_ids(np.array([3, 3, 9, 1, 2]), 5)
    (array([0, 0, 1, 3, 3]), 18)
    """
    counts = np.asarray(counts, dtype=np.int64)
    before = filled + np.cumsum(counts) - counts
    return before // bucket_rows, int(filled + counts.sum())


def _release(frame) -> None:
    """Free a locally checkpointed DataFrame's blocks (its ``unpersist`` leaves them)."""
    try:
        frame._jdf.queryExecution().logical().rdd().unpersist(False)
    except Exception:  # not a checkpoint (the first state is persisted): unpersist it
        frame.unpersist()


def _coef_names(d: int) -> list[str]:
    return [f"_b{j}" for j in range(d + 1)]


# ---------------------------------------------------------------------- helpers
def _sum(cols):
    from pyspark.sql import functions as F

    out = F.lit(0.0)
    for c in cols:
        out = out + c
    return out


def _dot(cols, coef, intercept, *, names=None):
    """``intercept + Σ cols·coef`` as a Spark column (coefficients as literals or columns)."""
    from pyspark.sql import functions as F

    if names is not None:  # the intercept and coefficients are columns _b0, _b1, …
        out = F.col(names[0])
        for c, b in zip(cols, names[1:], strict=True):
            out = out + F.col(c) * F.col(b)
        return out
    out = F.lit(float(intercept))
    for c, b in zip(cols, coef, strict=True):
        out = out + F.col(c) * F.lit(float(b))
    return out


def _loss(state, score_names, fparams, fits, effects, l2, il2) -> float:
    """The penalized training loss (the local engine's ``loss_``)."""
    from pyspark.sql import functions as F

    z = _sum(F.col(s) for s in score_names)
    softplus = F.greatest(z, F.lit(0.0)) + F.log1p(F.exp(-F.abs(z)))
    value = float(state.agg(F.sum(F.col("_w") * (softplus - F.col("_y") * z))).first()[0])
    value += 0.5 * (
        l2["fixed_effect"] * float(fparams[:-1] @ fparams[:-1])
        + il2["fixed_effect"] * float(fparams[-1] ** 2)
    )
    for col, table in fits.items():
        names = _coef_names(len(effects[col]))
        squares = table.agg(
            F.sum(F.col(names[0]) ** 2), _sum(F.sum(F.col(b) ** 2) for b in names[1:])
        ).first()
        value += 0.5 * (il2[col] * float(squares[0] or 0.0) + l2[col] * float(squares[1] or 0.0))
    return value


def _fitted(model, fixed, effects, columns, mean, std, fparams, fits, loss, classes) -> GLMix:
    out = clone(model)
    out.classes_ = classes
    out.l2_, out.intercept_l2_ = model._check_params()[2:]
    out.fixed_effect_, out.random_effects_ = fixed, effects
    out.feature_columns_ = columns
    out.scale_mean_, out.scale_std_ = mean, std
    out.coef_ = fparams[:-1].reshape(1, -1)
    out.intercept_ = fparams[-1:].copy()
    out.entity_ids_, out.entity_coef_, out.entity_intercept_, out.entity_rows_ = {}, {}, {}, {}
    for k, col in enumerate(effects):
        table = fits[col]
        key = table[f"_e{k}"]
        ids = (
            key.to_numpy(np.int64)
            if pd.api.types.is_integer_dtype(key)
            else key.astype(str).to_numpy(dtype=str)
        )
        order = np.argsort(ids, kind="stable")
        beta = table[_coef_names(len(effects[col]))].to_numpy(np.float64)[order]
        out.entity_ids_[col] = ids[order]
        out.entity_intercept_[col] = beta[:, 0].copy()
        out.entity_coef_[col] = beta[:, 1:].copy()
        out.entity_rows_[col] = table["_rows"].to_numpy(np.int64)[order]
    out.loss_ = loss
    return out
