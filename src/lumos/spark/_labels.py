"""Renewal-window labels on Spark: the local engine's rules as one Spark SQL query."""

from __future__ import annotations

import itertools

from lumos._checks import check_number, require_columns
from lumos.errors import LumosUserError

_VIEWS = itertools.count()


def renewal_labels(
    contracts, *, level: str = "account", horizon="renewal", as_of=None, tolerance: float = 0.0
):
    """A Spark DataFrame of :func:`lumos.features.renewal_labels`'s rows, by Spark SQL.

    Cycles are the spans of ``new`` and ``renewal`` contracts; each cycle's
    cutoffs are the first days of the months strictly inside it; a row's
    quantity at a date sums the contracts with ``start <= date < end``, and
    its label compares the quantity at the cutoff and at the horizon (the
    renewal, or ``horizon`` months on) within ``tolerance``.
    """
    if level not in ("account", "product"):
        raise LumosUserError(
            f"level must be 'account' or 'product'. Got {level!r}.", code="bad_argument"
        )
    if horizon != "renewal" and not (isinstance(horizon, int) and horizon >= 1):
        raise LumosUserError(
            f"horizon must be 'renewal' or an int number of months >= 1. Got {horizon!r}.",
            code="bad_argument",
        )
    check_number("renewal_labels", "tolerance", tolerance)
    need = ["account_id", "product", "start", "end", "quantity", "kind"]
    hint = f"it needs {', '.join(need)}."
    require_columns(contracts, need, source="contracts table", hint=hint, file="contracts")
    keys = ["account_id"] if level == "account" else ["account_id", "product"]
    kc = ", ".join(keys)
    on = " AND ".join(f"q.{k} = r.{k}" for k in keys)
    view = f"lumos_contracts_{next(_VIEWS)}"
    contracts.createOrReplaceTempView(view)
    spark = contracts.sparkSession
    as_of_sql = (
        f"DATE '{str(as_of)[:10]}'"
        if as_of is not None
        else f"(SELECT MAX(CAST(start AS DATE)) FROM {view})"
    )
    until = "c.renewal" if horizon == "renewal" else f"add_months(c.cutoff, {int(horizon)})"
    return spark.sql(f"""
WITH k AS (
  SELECT {kc}, CAST(start AS DATE) AS start, CAST(`end` AS DATE) AS `end`,
         CAST(quantity AS DOUBLE) AS quantity, kind FROM {view}
), cycles AS (
  SELECT DISTINCT {kc}, start AS cycle_start, `end` AS renewal FROM k
  WHERE kind IN ('new', 'renewal')
), cuts AS (
  SELECT {kc}, cycle_start, renewal,
         explode(sequence(add_months(trunc(cycle_start, 'MM'), 1),
                          trunc(date_sub(renewal, 1), 'MM'), interval 1 month)) AS cutoff
  FROM cycles WHERE add_months(trunc(cycle_start, 'MM'), 1) <= trunc(date_sub(renewal, 1), 'MM')
), rows AS (
  SELECT c.*, {until} AS horizon FROM cuts AS c
), r AS (
  SELECT * FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY {kc}, cutoff, horizon
                                 ORDER BY cycle_start, renewal) AS dup
    FROM rows) WHERE dup = 1
), q AS (
  SELECT {", ".join(f"r.{k}" for k in keys)}, r.cycle_start, r.renewal, r.cutoff, r.horizon,
    COALESCE(SUM(CASE WHEN q.start <= r.cutoff AND r.cutoff < q.`end` THEN q.quantity END), 0)
      AS quantity,
    COALESCE(SUM(CASE WHEN q.start <= r.horizon AND r.horizon < q.`end` THEN q.quantity END), 0)
      AS quantity_at_horizon
  FROM r LEFT JOIN k AS q ON {on}
  GROUP BY {", ".join(f"r.{k}" for k in keys)}, r.cycle_start, r.renewal, r.cutoff, r.horizon
)
SELECT {kc}, CAST(cycle_start AS TIMESTAMP) AS cycle_start, CAST(renewal AS TIMESTAMP) AS renewal,
  CAST(cutoff AS TIMESTAMP) AS cutoff, CAST(horizon AS TIMESTAMP) AS horizon, quantity,
  quantity_at_horizon, ROUND(quantity_at_horizon - quantity, 9) AS change,
  CASE WHEN quantity_at_horizon - quantity > {float(tolerance)} THEN 'upsell'
       WHEN quantity_at_horizon - quantity < -{float(tolerance)} THEN 'churn'
       ELSE 'flat' END AS label,
  horizon <= {as_of_sql} AS closed
FROM q
""")
