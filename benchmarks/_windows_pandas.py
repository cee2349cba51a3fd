"""The anchor for window features: a straightforward pandas groupby/rolling version.

What a data scientist would write first: one dense monthly series per
(account, metric), pandas' own ``groupby().rolling()`` sums for each window
(slopes from rolling sums of t, t² and t·v), and the value read at each cutoff. Same definitions as
``lumos.features.window_features`` (account level, ``prev`` included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.features._windows import WindowFeatures, metric_identifier


def window_features_pandas(
    usage: pd.DataFrame, cutoffs: pd.DataFrame, spec: WindowFeatures, lead_months: int = 0
) -> pd.DataFrame:
    u = usage[usage["value"].notna()]
    u = u.assign(t=u["month"].dt.year * 12 + u["month"].dt.month - 1)
    monthly = u.groupby(["account_id", "metric", "t"])["value"].sum()
    end = cutoffs["cutoff"].dt.year * 12 + cutoffs["cutoff"].dt.month - 1 - lead_months - 1
    t_seen = monthly.index.get_level_values("t")
    pad = spec.lookback + max(spec.windows)
    months = np.arange(int(t_seen.min()) - pad, max(int(t_seen.max()), int(end.max())) + 1)
    pairs = monthly.index.droplevel("t").unique()
    full = pd.MultiIndex.from_tuples(
        [(a, m, t) for a, m in pairs for t in months], names=["account_id", "metric", "t"]
    )
    dense = monthly.reindex(full).to_frame("v")
    dense["n"] = dense["v"].notna().astype(float)
    t = dense.index.get_level_values("t").to_numpy(float) - months[0]  # small: no cancellation
    dense["t_obs"] = np.where(dense["n"] > 0, t, np.nan)
    dense["tv"] = t * dense["v"]
    dense["tt"] = dense["t_obs"] ** 2
    g = dense.groupby(level=["account_id", "metric"])
    cols = {}
    for w in spec.windows:

        def rolled(column: str, w: int = w) -> pd.Series:
            out = g[column].rolling(w, min_periods=1).sum()
            return out.droplevel([0, 1])

        s_sum, n = rolled("v").fillna(0.0), rolled("n")
        mean = s_sum / n.where(n > 0)
        last = g["v"].ffill(limit=w - 1)
        tv, st, stt = rolled("tv"), rolled("t_obs"), rolled("tt")
        sxx = stt - st**2 / n
        slope = ((tv - st * s_sum / n) / sxx).where((n >= 2) & (sxx > 0))
        prev_sum = s_sum.groupby(level=[0, 1]).shift(w)
        ratio = s_sum / prev_sum.where(prev_sum.abs() > 1e-9)
        found = {"sum": s_sum, "mean": mean, "last": last, "slope": slope, "ratio": ratio}
        for name in spec.aggregates:
            cols[(name, w, False)] = found[name]
        for name in spec.prev:
            prev = found[name].groupby(level=[0, 1]).shift(w)
            cols[(name, w, True)] = prev.fillna(0.0) if name == "sum" else prev
    table = pd.DataFrame(cols)
    # read each cutoff's row: the month just before cutoff − lead
    out = {}
    metrics = spec.metrics or sorted(usage["metric"].unique())
    for m in metrics:
        keys = pd.MultiIndex.from_arrays([cutoffs["account_id"], np.full(len(cutoffs), m), end])
        picked = table.reindex(keys)
        for name in spec.aggregates:
            for w in spec.windows:
                value = picked[(name, w, False)].to_numpy()
                out[f"{metric_identifier(m)}_{name}_{w}m"] = (
                    np.nan_to_num(value, nan=0.0) if name == "sum" else value
                )
            for w in spec.windows if name in spec.prev else ():
                value = picked[(name, w, True)].to_numpy()
                out[f"{metric_identifier(m)}_{name}_prev_{w}m"] = (
                    np.nan_to_num(value, nan=0.0) if name == "sum" else value
                )
    keys = cutoffs[["account_id", "cutoff"]].reset_index(drop=True)
    return pd.concat([keys, pd.DataFrame(out)], axis=1)
