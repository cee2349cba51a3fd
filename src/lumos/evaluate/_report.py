"""HTML reports of the modeler tools: plots as inline SVG, one sentence per finding, no network."""

from __future__ import annotations

import html
import math

import pandas as pd

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
.scroll{overflow-x:auto}td,th{padding:.25rem .6rem;border-bottom:1px solid #dde}
th{text-align:left}li{margin:.3rem 0}svg text{font-size:11px;fill:#1d2330}
svg{max-width:100%;height:auto}
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><meta name='viewport' content='width=device-width'><style>{_STYLE}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _svg(title: str, width: int, height: int) -> str:
    """An SVG's opening tag; its viewBox lets a narrow page shrink it (``max-width: 100%``)."""
    return (
        f"<svg role='img' aria-label='{html.escape(title)}' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>"
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

    parts = [_svg(title, left + width + 20, rows * row_h + 30)]
    parts.append(
        f"<line x1='{x(0):.1f}' y1='0' x2='{x(0):.1f}' y2='{rows * row_h}' "
        "stroke='#999' stroke-dasharray='3'/>"
    )
    for i, (label, v, a, b) in enumerate(zip(labels, values, lows, highs, strict=True)):
        y = i * row_h + 12
        text = html.escape(label if len(label) < 52 else label[:50] + "…")
        parts.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end'>{text}</text>")
        if math.isfinite(a) and math.isfinite(b):
            parts.append(
                f"<line x1='{x(a):.1f}' y1='{y}' x2='{x(b):.1f}' y2='{y}' "
                "stroke='#3b6ea5' stroke-width='2'/>"
            )
        if math.isfinite(v):  # a missing figure draws nothing (an SVG "nan" is an error)
            parts.append(f"<circle cx='{x(v):.1f}' cy='{y}' r='4' fill='#c0392b'/>")
    parts.append(f"<text x='{left}' y='{rows * row_h + 22}'>{lo:.3g}</text>")
    parts.append(
        f"<text x='{left + width}' y='{rows * row_h + 22}' text-anchor='end'>{hi:.3g}</text></svg>"
    )
    return "".join(parts)


def _bars(labels, values, *, title: str) -> str:
    """Horizontal bars, one per group."""
    left, width, row_h = 160, 300, 20
    finite = [v for v in values if math.isfinite(v)] or [0.0]
    lo, hi = min(0.0, *finite), max(0.0, *finite)
    span = (hi - lo) or 1.0
    parts = [_svg(title, left + width + 70, len(labels) * row_h + 8)]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = i * row_h + 4
        parts.append(
            f"<text x='{left - 6}' y='{y + 12}' text-anchor='end'>{html.escape(str(label))}</text>"
        )
        if math.isfinite(v):
            x0 = left + (min(v, 0) - lo) / span * width
            w = abs(v) / span * width
            parts.append(f"<rect x='{x0:.1f}' y='{y}' width='{w:.1f}' height='14' fill='#3b6ea5'/>")
            parts.append(f"<text x='{x0 + w + 4:.1f}' y='{y + 12}'>{v:.3g}</text>")
    return "".join(parts) + "</svg>"


def calibration_plot(table: pd.DataFrame, *, title: str = "calibration") -> str:
    """Each bin's observed rate against its mean score, beside the diagonal of calibration."""
    size, pad = 260, 36
    top = max(0.05, *table["mean_score"], *table["observed"]) * 1.05

    def at(v):
        return pad + v / top * size

    parts = [_svg(title, size + pad + 12, size + pad + 12)]
    parts.append(f"<g transform='translate(0 {size + 2 * pad}) scale(1 -1)'>")
    parts.append(
        f"<rect x='{pad}' y='{pad}' width='{size}' height='{size}' fill='none' stroke='#d9dee7'/>"
    )
    parts.append(
        f"<line x1='{pad}' y1='{pad}' x2='{at(top)}' y2='{at(top)}' stroke='#999' "
        "stroke-dasharray='3'/>"
    )
    pairs = list(zip(table["mean_score"], table["observed"], strict=True))
    points = " ".join(f"{at(x):.1f},{at(y):.1f}" for x, y in pairs)
    parts.append(f"<polyline points='{points}' fill='none' stroke='#3b6ea5' stroke-width='2'/>")
    for x, y in pairs:
        parts.append(f"<circle cx='{at(x):.1f}' cy='{at(y):.1f}' r='3.5' fill='#c0392b'/>")
    parts.append("</g>")
    bottom = size + pad + 10
    parts.append(
        f"<text x='{pad}' y='{bottom}'>0</text><text x='{pad + size}' y='{bottom}' "
        f"text-anchor='end'>mean score {top:.2g}</text>"
    )
    parts.append(f"<text x='{pad - 4}' y='{pad + 8}' text-anchor='end'>{top:.2g}</text>")
    parts.append(f"<text x='{pad - 4}' y='{pad + 20}' text-anchor='end'>rate</text></svg>")
    return "".join(parts)


def slices_html(found, title: str = "Where the model under-performs") -> str:
    return _page(title, slices_section(found))


def slices_section(found, level: int = 2) -> str:
    """The slice finder's findings: a summary, one sentence each, their effects plotted, a table."""
    t = found.table
    body = [
        f"<p>{found.n_rows:,} rows; overall {html.escape(found.metric)} "
        f"{found.overall:.4g}; {found.evaluated:,} slices scored of a lattice of "
        f"{found.lattice_size:,}.</p>"
    ]
    body.append(_list(found.sentences()))
    if len(t):
        body.append(f"<h{level}>Effect per slice (95% interval)</h{level}>")
        body.append(
            _intervals(
                t["slice"].tolist(),
                t["effect"].tolist(),
                t["low"].tolist(),
                t["high"].tolist(),
                title="effect per slice",
            )
        )
        body.append(_table(t, "slices"))
    return "".join(body)


def fairness_html(report, title: str = "Fairness gaps") -> str:
    return _page(title, fairness_section(report))


def fairness_section(report, level: int = 2) -> str:
    """Fairness gaps: sentences, each attribute's metrics per group as bars, the gaps, tables."""
    body = [_list(report.sentences())]
    m = report.metrics
    g = report.gaps
    if len(g):
        body.append(f"<h{level}>Largest gap per metric (95% interval)</h{level}>")
        labels = [
            f"{r.attribute}: {r.metric} ({r.high_group} − {r.low_group})" for r in g.itertuples()
        ]
        body.append(
            _intervals(
                labels,
                g["gap"].tolist(),
                g["low"].tolist(),
                g["high"].tolist(),
                title="largest gap per metric",
            )
        )
    for attribute, part in m.groupby("attribute", sort=False):
        body.append(f"<h{level}>{html.escape(str(attribute))}</h{level}>")
        for metric in ("selection_rate", "tpr", "fpr", "precision", "calibration", "auc"):
            body.append(f"<p>{html.escape(metric)}</p>")
            body.append(
                _bars(part["group"].tolist(), part[metric].tolist(), title=f"{attribute}: {metric}")
            )
        for (attr, group), found in report.slices.items():
            if attr == attribute and len(found.table):
                body.append(f"<p>Inside {html.escape(str(attr))} = {html.escape(str(group))}:</p>")
                body.append(_list(found.sentences()))
    body.append(f"<h{level}>Largest gaps</h{level}>")
    body.append(_table(g, "largest gaps"))
    body.append(f"<h{level}>Per group</h{level}>")
    body.append(_table(m, "metrics per group"))
    return "".join(body)


def _list(sentences) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>"


def _table(frame: pd.DataFrame, label: str, *, index: bool = False) -> str:
    """A table that scrolls inside its box on a narrow page; the box takes keyboard focus."""
    return (
        f"<div class='scroll' tabindex='0' role='region' aria-label='{html.escape(label)}'>"
        + frame.to_html(index=index, float_format=lambda v: f"{v:.4g}", border=0, na_rep="—")
        + "</div>"
    )


def abtest_html(result, title: str = "A/B test") -> str:
    t = result.table
    body = [_list(result.sentences())]
    if len(t):
        labels = [f"{r.metric} · {r.treatment}" for r in t.itertuples()]
        body.append("<h2>Lift over control (95% interval)</h2>")
        body.append(
            _intervals(
                labels,
                t["lift"].tolist(),
                t["lift_low"].tolist(),
                t["lift_high"].tolist(),
                title="lift per metric",
            )
        )
        body.append(_table(t, "lift per metric"))
    body.append(
        _table(pd.DataFrame({"members": result.members}), "members per treatment", index=True)
    )
    return _page(title, "".join(body))
