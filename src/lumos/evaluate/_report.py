"""HTML reports of the modeler tools: plots as inline SVG, one sentence per finding, no network."""

from __future__ import annotations

import html
import math

import pandas as pd

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
td,th{padding:.25rem .6rem;border-bottom:1px solid #dde}
th{text-align:left}li{margin:.3rem 0}svg text{font-size:11px;fill:#1d2330}
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><meta name='viewport' content='width=device-width'><style>{_STYLE}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _intervals(labels, values, lows, highs, *, title: str) -> str:
    """A horizontal dot-and-interval plot, one row per label, zero marked."""
    rows = len(labels)
    left, width, row_h = 330, 380, 22
    finite = [v for v in (*lows, *highs, 0.0) if math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0

    def x(v):
        return left + (v - lo) / span * width

    parts = [f"<svg role='img' aria-label='{html.escape(title)}' width='{left + width + 20}' "
             f"height='{rows * row_h + 30}'>"]  # fmt: skip
    parts.append(f"<line x1='{x(0):.1f}' y1='0' x2='{x(0):.1f}' y2='{rows * row_h}' "
                 "stroke='#999' stroke-dasharray='3'/>")  # fmt: skip
    for i, (label, v, a, b) in enumerate(zip(labels, values, lows, highs, strict=True)):
        y = i * row_h + 12
        text = html.escape(label if len(label) < 52 else label[:50] + "…")
        parts.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end'>{text}</text>")
        if math.isfinite(a) and math.isfinite(b):
            parts.append(f"<line x1='{x(a):.1f}' y1='{y}' x2='{x(b):.1f}' y2='{y}' "
                         "stroke='#3b6ea5' stroke-width='2'/>")  # fmt: skip
        parts.append(f"<circle cx='{x(v):.1f}' cy='{y}' r='4' fill='#c0392b'/>")
    parts.append(f"<text x='{left}' y='{rows * row_h + 22}'>{lo:.3g}</text>")
    parts.append(f"<text x='{left + width}' y='{rows * row_h + 22}' text-anchor='end'>"
                 f"{hi:.3g}</text></svg>")  # fmt: skip
    return "".join(parts)


def _bars(labels, values, *, title: str) -> str:
    """Horizontal bars, one per group."""
    left, width, row_h = 160, 300, 20
    finite = [v for v in values if math.isfinite(v)] or [0.0]
    lo, hi = min(0.0, *finite), max(0.0, *finite)
    span = (hi - lo) or 1.0
    parts = [f"<svg role='img' aria-label='{html.escape(title)}' width='{left + width + 70}' "
             f"height='{len(labels) * row_h + 8}'>"]  # fmt: skip
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = i * row_h + 4
        parts.append(f"<text x='{left - 6}' y='{y + 12}' text-anchor='end'>"
                     f"{html.escape(str(label))}</text>")  # fmt: skip
        if math.isfinite(v):
            x0 = left + (min(v, 0) - lo) / span * width
            w = abs(v) / span * width
            parts.append(f"<rect x='{x0:.1f}' y='{y}' width='{w:.1f}' height='14' "
                         "fill='#3b6ea5'/>")  # fmt: skip
            parts.append(f"<text x='{x0 + w + 4:.1f}' y='{y + 12}'>{v:.3g}</text>")
    return "".join(parts) + "</svg>"


def slices_html(found, title: str = "Where the model under-performs") -> str:
    t = found.table
    body = [f"<p>{found.n_rows:,} rows; overall {html.escape(found.metric)} "
            f"{found.overall:.4g}; {found.evaluated:,} slices scored of a lattice of "
            f"{found.lattice_size:,}.</p>"]  # fmt: skip
    body.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in found.sentences()) + "</ul>")
    if len(t):
        body.append("<h2>Effect per slice (95% interval)</h2>")
        body.append(_intervals(t["slice"].tolist(), t["effect"].tolist(), t["low"].tolist(),
                               t["high"].tolist(), title="effect per slice"))  # fmt: skip
        body.append(t.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    return _page(title, "".join(body))


def fairness_html(report, title: str = "Fairness gaps") -> str:
    body = ["<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in report.sentences()) + "</ul>"]
    m = report.metrics
    for attribute, part in m.groupby("attribute", sort=False):
        body.append(f"<h2>{html.escape(str(attribute))}</h2>")
        for metric in ("selection_rate", "tpr", "fpr", "precision", "calibration", "auc"):
            body.append(f"<p>{html.escape(metric)}</p>")
            body.append(_bars(part["group"].tolist(), part[metric].tolist(), title=metric))
        for (attr, group), found in report.slices.items():
            if attr == attribute and len(found.table):
                body.append(f"<p>Inside {html.escape(str(attr))} = {html.escape(str(group))}:</p>")
                body.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>"
                                             for s in found.sentences()) + "</ul>")  # fmt: skip
    body.append("<h2>Largest gaps</h2>")
    body.append(report.gaps.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    body.append("<h2>Per group</h2>")
    body.append(m.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    return _page(title, "".join(body))


def abtest_html(result, title: str = "A/B test") -> str:
    t = result.table
    body = ["<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in result.sentences()) + "</ul>"]
    if len(t):
        labels = [f"{r.metric} · {r.treatment}" for r in t.itertuples()]
        body.append("<h2>Lift over control (95% interval)</h2>")
        body.append(_intervals(labels, t["lift"].tolist(), t["lift_low"].tolist(),
                               t["lift_high"].tolist(), title="lift per metric"))  # fmt: skip
        body.append(t.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    body.append(pd.DataFrame({"members": result.members}).to_html())
    return _page(title, "".join(body))
