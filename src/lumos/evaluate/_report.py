"""HTML reports of the modeler tools: plots as inline SVG, one sentence per finding, no network."""

from __future__ import annotations

import pandas as pd

from lumos._html import bars, bullets, document, esc, fmt, intervals, table
from lumos.evaluate._fairness import RATES
from lumos.evaluate._slices import _NAMES

#: How each fairness metric reads: its name in a table, and the kind of its numbers.
GROUP_METRICS = {
    "selection_rate": ("Selection rate", "pct"),
    "tpr": ("True-positive rate", "pct"),
    "fpr": ("False-positive rate", "pct"),
    "precision": ("Precision", "pct"),
    "calibration": ("Calibration (score − label)", "pts"),
    "auc": ("ROC-AUC", "3"),
}
#: The kind of a slice metric's values and of the difference of two of them.
_SLICE_KINDS = {"error_rate": ("pct", "pts"), "calibration_gap": ("pts", "pts")}


def slices_html(found, title: str = "Where the model under-performs") -> str:
    return document(title, slices_section(found))


def slices_section(found, level: int = 2) -> str:
    """The slice finder's findings: a summary, one sentence each, their effects plotted, a table."""
    t = found.table
    body = [
        f"<p>{found.n_rows:,} rows; overall {esc(found.metric)} "
        f"{found.overall:.4g}; {found.evaluated:,} slices scored of a lattice of "
        f"{found.lattice_size:,}.</p>"
    ]
    body.append(bullets(found.sentences()))
    if len(t):
        body.append(f"<h{level}>Effect per slice (95% interval)</h{level}>")
        body.append(
            intervals(
                t["slice"].tolist(),
                t["effect"].tolist(),
                t["low"].tolist(),
                t["high"].tolist(),
                title="effect per slice",
            )
        )
        shown, columns = _slices_table(found)
        body.append(table(shown, "slices", columns=columns))
    return "".join(body)


def _slices_table(found) -> tuple[pd.DataFrame, dict]:
    """The slice finder's table with its columns named and its numbers formatted by kind."""
    name = _NAMES.get(found.metric, found.metric)
    value, difference = _SLICE_KINDS.get(found.metric, ("3", "+3"))
    t = found.table
    shown = t.assign(
        interval=[
            f"{fmt(a, difference)} to {fmt(b, difference)}"
            for a, b in zip(t["low"], t["high"], strict=True)
        ]
    )
    return shown, {
        "slice": ("Slice", "text"),
        "size": ("Rows", "count"),
        "share": ("Share of rows", "pct"),
        "metric_slice": (f"{name} inside", value),
        "metric_rest": (f"{name} elsewhere", value),
        "effect": ("Effect", difference),
        "interval": ("95% interval", ""),
        "p_adjusted": ("p (adjusted)", "p"),
    }


def fairness_html(report, title: str = "Fairness gaps") -> str:
    return document(title, fairness_section(report))


def fairness_section(report, level: int = 2) -> str:
    """Fairness gaps: sentences, each attribute's metrics per group as bars, the gaps, tables."""
    body = [bullets(report.sentences())]
    m = report.metrics
    g = report.gaps
    if len(g):
        body.append(f"<h{level}>Largest gap per metric (95% interval)</h{level}>")
        labels = [
            f"{r.attribute}: {_metric_name(r.metric)} ({r.high_group} − {r.low_group})"
            for r in g.itertuples()
        ]
        body.append(
            intervals(
                labels,
                g["gap"].tolist(),
                g["low"].tolist(),
                g["high"].tolist(),
                title="largest gap per metric",
            )
        )
    for attribute, part in m.groupby("attribute", sort=False):
        body.append(f"<h{level}>{esc(str(attribute))}</h{level}>")
        for metric, (name, kind) in GROUP_METRICS.items():
            body.append(f"<p>{esc(name)}</p>")
            body.append(
                bars(
                    part["group"].astype(str).tolist(),
                    part[metric].tolist(),
                    title=f"{attribute}: {name}",
                    kind=kind,
                )
            )
        for (attr, group), found in report.slices.items():
            if attr == attribute and len(found.table):
                body.append(f"<p>Inside {esc(str(attr))} = {esc(str(group))}:</p>")
                body.append(bullets(found.sentences()))
    body.append(f"<h{level}>Largest gaps</h{level}>")
    shown, columns = _gaps_table(g)
    body.append(table(shown, "largest gaps", columns=columns))
    body.append(f"<h{level}>Per group</h{level}>")
    columns = {"attribute": ("Attribute", "text"), "group": ("Group", "text")}
    columns |= {"rows": ("Rows", "count")} | GROUP_METRICS
    body.append(table(m, "metrics per group", columns=columns))
    return "".join(body)


def _metric_name(metric: str) -> str:
    return GROUP_METRICS.get(metric, (metric,))[0]


def _gaps_table(g: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The largest gaps, each in its metric's units: points between rates, else 3 decimals."""
    kinds = ["pts" if m in RATES else "3" for m in g["metric"]]

    def each(column):
        return [fmt(v, k) for v, k in zip(g[column], kinds, strict=True)]

    shown = g.assign(
        metric=[_metric_name(m) for m in g["metric"]],
        gap=each("gap"),
        interval=[f"{a} to {b}" for a, b in zip(each("low"), each("high"), strict=True)],
    )
    return shown, {
        "attribute": ("Attribute", "text"),
        "metric": ("Metric", "text"),
        "high_group": ("Higher group", "text"),
        "low_group": ("Lower group", "text"),
        "gap": ("Gap", ""),
        "interval": ("95% interval", ""),
    }


def abtest_html(result, title: str = "A/B test") -> str:
    t = result.table
    body = [bullets(result.sentences())]
    if len(t):
        labels = [f"{r.metric} · {r.treatment}" for r in t.itertuples()]
        body.append("<h2>Lift over control (95% interval)</h2>")
        body.append(
            intervals(
                labels,
                t["lift"].tolist(),
                t["lift_low"].tolist(),
                t["lift_high"].tolist(),
                title="lift per metric",
            )
        )
        body.append(table(t, "lift per metric"))
    body.append(
        table(pd.DataFrame({"members": result.members}), "members per treatment", index=True)
    )
    return document(title, "".join(body))
