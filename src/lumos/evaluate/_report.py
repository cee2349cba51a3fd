"""HTML reports of the modeler tools: plots as inline SVG, one sentence per finding, no network."""

from __future__ import annotations

import pandas as pd

from lumos._html import bars, bullets, document, esc, intervals, table


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
        body.append(table(t, "slices"))
    return "".join(body)


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
            f"{r.attribute}: {r.metric} ({r.high_group} − {r.low_group})" for r in g.itertuples()
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
        for metric in ("selection_rate", "tpr", "fpr", "precision", "calibration", "auc"):
            body.append(f"<p>{esc(metric)}</p>")
            body.append(
                bars(part["group"].tolist(), part[metric].tolist(), title=f"{attribute}: {metric}")
            )
        for (attr, group), found in report.slices.items():
            if attr == attribute and len(found.table):
                body.append(f"<p>Inside {esc(str(attr))} = {esc(str(group))}:</p>")
                body.append(bullets(found.sentences()))
    body.append(f"<h{level}>Largest gaps</h{level}>")
    body.append(table(g, "largest gaps"))
    body.append(f"<h{level}>Per group</h{level}>")
    body.append(table(m, "metrics per group"))
    return "".join(body)


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
