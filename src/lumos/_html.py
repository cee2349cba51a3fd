"""HTML and SVG primitives the reports, the HTML exporter and the dashboard share.

Everything here returns a string of markup that needs no network: values are
escaped, tables scroll in boxes that take keyboard focus, and plots are inline
SVG with a ``viewBox`` so a narrow page shrinks them. A missing figure draws
nothing (an SVG attribute of ``nan`` is an error in a browser).
"""

from __future__ import annotations

import html
import math

#: The style of a standalone report (``lumos evaluate --out``); the dashboard has its own sheet.
REPORT_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
.scroll{overflow-x:auto}td,th{padding:.25rem .6rem;border-bottom:1px solid #dde}
th{text-align:left}li{margin:.3rem 0}svg text{font-size:11px;fill:#1d2330}
svg{max-width:100%;height:auto}
"""


def esc(value) -> str:
    """``value`` as text safe inside an element or a quoted attribute.

    >>> esc('<a href="x">')
    '&lt;a href=&quot;x&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def num(value, digits: int, *, signed: bool = False) -> str:
    """A number with ``digits`` decimals, or a dash when it is missing.

    >>> num(0.1234, 2), num(3, 1, signed=True), num(None, 2), num(float("nan"), 2)
    ('0.12', '+3.0', '—', '—')
    """
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):{'+' if signed else ''}.{digits}f}"


def document(title: str, body: str, *, style: str = REPORT_STYLE) -> str:
    """A standalone HTML page: the title as its heading, ``body`` under it, its own style."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}"
        f"</title><meta name='viewport' content='width=device-width'><style>{style}</style>"
        f"</head><body><h1>{esc(title)}</h1>{body}</body></html>"
    )


def scroller(label: str) -> str:
    """The opening of a box a wide table scrolls in; the box takes keyboard focus."""
    return f'<div class="scroll" tabindex="0" role="region" aria-label="{esc(label)}">'


def table(frame, label: str, *, index: bool = False) -> str:
    """A DataFrame as a table that scrolls inside its box on a narrow page."""
    cells = frame.to_html(index=index, float_format=lambda v: f"{v:.4g}", border=0, na_rep="—")
    return scroller(label) + cells + "</div>"


def bullets(sentences) -> str:
    """A list of sentences.

    >>> bullets(["a < b"])
    '<ul><li>a &lt; b</li></ul>'
    """
    return "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in sentences) + "</ul>"


def svg(title: str, width: int, height: int) -> str:
    """An SVG's opening tag; its viewBox lets a narrow page shrink it (``max-width: 100%``)."""
    return (
        f"<svg role='img' aria-label='{esc(title)}' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>"
    )


def intervals(labels, values, lows, highs, *, title: str) -> str:
    """A horizontal dot-and-interval plot, one row per label, zero marked.

    >>> plot = intervals(["a", "b"], [0.5, float("nan")], [0.2, 0.1], [0.7, 0.9], title="t")
    >>> plot.count("<circle"), "nan" in plot
    (1, False)
    """
    rows = len(labels)
    left, width, row_h = 330, 380, 22
    finite = [v for v in (*lows, *highs, 0.0) if math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0

    def x(v):
        return left + (v - lo) / span * width

    parts = [svg(title, left + width + 20, rows * row_h + 30)]
    parts.append(
        f"<line x1='{x(0):.1f}' y1='0' x2='{x(0):.1f}' y2='{rows * row_h}' "
        "stroke='#999' stroke-dasharray='3'/>"
    )
    for i, (label, v, a, b) in enumerate(zip(labels, values, lows, highs, strict=True)):
        y = i * row_h + 12
        text = esc(label if len(label) < 52 else label[:50] + "…")
        parts.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end'>{text}</text>")
        if math.isfinite(a) and math.isfinite(b):
            parts.append(
                f"<line x1='{x(a):.1f}' y1='{y}' x2='{x(b):.1f}' y2='{y}' "
                "stroke='#3b6ea5' stroke-width='2'/>"
            )
        if math.isfinite(v):
            parts.append(f"<circle cx='{x(v):.1f}' cy='{y}' r='4' fill='#c0392b'/>")
    parts.append(f"<text x='{left}' y='{rows * row_h + 22}'>{lo:.3g}</text>")
    parts.append(
        f"<text x='{left + width}' y='{rows * row_h + 22}' text-anchor='end'>{hi:.3g}</text></svg>"
    )
    return "".join(parts)


def bars(labels, values, *, title: str) -> str:
    """Horizontal bars, one per label, each with its value.

    >>> bars(["x", "y"], [0.25, float("nan")], title="t").count("<rect")
    1
    """
    left, width, row_h = 160, 300, 20
    finite = [v for v in values if math.isfinite(v)] or [0.0]
    lo, hi = min(0.0, *finite), max(0.0, *finite)
    span = (hi - lo) or 1.0
    parts = [svg(title, left + width + 70, len(labels) * row_h + 8)]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = i * row_h + 4
        parts.append(f"<text x='{left - 6}' y='{y + 12}' text-anchor='end'>{esc(label)}</text>")
        if math.isfinite(v):
            x0 = left + (min(v, 0) - lo) / span * width
            w = abs(v) / span * width
            parts.append(f"<rect x='{x0:.1f}' y='{y}' width='{w:.1f}' height='14' fill='#3b6ea5'/>")
            parts.append(f"<text x='{x0 + w + 4:.1f}' y='{y + 12}'>{v:.3g}</text>")
    return "".join(parts) + "</svg>"


def calibration_plot(frame, *, title: str = "calibration") -> str:
    """Each bin's observed rate (``observed``) against its ``mean_score``, beside the diagonal."""
    size, pad = 260, 36
    top = max(0.05, *frame["mean_score"], *frame["observed"]) * 1.05

    def at(v):
        return pad + v / top * size

    parts = [svg(title, size + pad + 12, size + pad + 12)]
    parts.append(f"<g transform='translate(0 {size + 2 * pad}) scale(1 -1)'>")
    parts.append(
        f"<rect x='{pad}' y='{pad}' width='{size}' height='{size}' fill='none' stroke='#d9dee7'/>"
    )
    parts.append(
        f"<line x1='{pad}' y1='{pad}' x2='{at(top)}' y2='{at(top)}' stroke='#999' "
        "stroke-dasharray='3'/>"
    )
    pairs = list(zip(frame["mean_score"], frame["observed"], strict=True))
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
