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
th{text-align:left}.figures td,.figures th{text-align:right}.figures .text{text-align:left}
li{margin:.3rem 0}svg text{font-size:11px;fill:#1d2330}
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


def fmt(value, kind: str = "") -> str:
    """A number as its kind reads, or a dash when it is missing.

    ``count`` has thousands separators; ``pct`` is a percentage (a rate, a
    share) and ``+pct`` a signed one; ``rate`` a percentage that keeps two
    significant digits under 1% (a conversion rate of 0.46%); ``pts`` is a
    signed difference of two rates in percentage points; ``p`` a p-value; a
    digit is that many decimals (``3`` for AUC, log loss) and ``+3`` signs
    them; anything else is 3 significant digits.

    >>> fmt(12345, "count"), fmt(0.0423, "pct"), fmt(0.0123, "+pct"), fmt(-0.0123, "pts")
    ('12,345', '4.2%', '+1.2%', '-1.2 pts')
    >>> fmt(0.83512, "3"), fmt(2.5, "+1"), fmt(0.0004, "p"), fmt(0.0312, "p"), fmt(None, "pct")
    ('0.835', '+2.5', '<0.001', '0.031', '—')
    >>> fmt(0.0046, "rate"), fmt(0.031, "rate"), fmt(-0.000271, "rate"), fmt(0.25, "rate")
    ('0.46%', '3.1%', '-0.03%', '25.0%')
    """
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    v = float(value)
    if not math.isfinite(v):
        return "—"
    if kind == "count":
        return f"{round(v):,}"
    sign = "+" if kind.startswith("+") or kind == "pts" else ""
    if kind == "rate":
        digits = 2 if abs(v) < 0.01 else 1
        return f"{round(v * 100, digits) + 0.0:.{digits}f}%"
    if kind in ("pct", "+pct"):
        return f"{round(v * 100, 1) + 0.0:{sign}.1f}%"  # + 0.0: a -0.04% reads 0.0%, not -0.0%
    if kind == "pts":
        return f"{round(v * 100, 1) + 0.0:+.1f} pts"
    if kind == "p":
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    if kind.lstrip("+").isdigit():
        digits = int(kind.lstrip("+"))
        return f"{round(v, digits) + 0.0:{sign}.{digits}f}"
    return f"{v:.3g}"


def ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], int]:
    """About ``count`` round values spanning ``lo`` to ``hi`` (a step of 1, 2 or 5 × 10ⁿ) and
    the decimals that show the step.

    >>> ticks(-0.000271, 0.118)
    ([-0.05, 0.0, 0.05, 0.1, 0.15], 2)
    >>> ticks(0.0, 3.0)
    ([0.0, 1.0, 2.0, 3.0], 0)
    """
    span = (hi - lo) or abs(hi) or 1.0
    raw = span / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    values = [round(i * step, 12) + 0.0 for i in range(first, last + 1)]
    return values, max(0, -math.floor(math.log10(step) + 1e-9))


def tick_label(value: float, decimals: int, kind: str = "") -> str:
    """A tick's text: a percentage for ``pct`` (decimals of the fraction), else the number.

    >>> tick_label(0.04, 2, "pct"), tick_label(0.005, 3, "pct"), tick_label(-0.02, 2)
    ('4%', '0.5%', '-0.02')
    """
    if kind in ("pct", "+pct", "pts"):
        return f"{value * 100:.{max(0, decimals - 2)}f}%"
    return f"{value:.{decimals}f}"


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


def table(frame, label: str, *, index: bool = False, columns: dict | None = None) -> str:
    """A DataFrame as a table that scrolls inside its box on a narrow page.

    ``columns`` maps the columns to show, in order, to their heading and the
    kind of their numbers (:func:`fmt`; ``text`` for words, which may wrap).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"model": ["a"], "rows": [1234], "roc_auc": [0.83456]})
    >>> html = table(frame, "t", columns={"model": ("Model", "text"), "rows": ("Rows", "count"),
    ...                                   "roc_auc": ("ROC-AUC", "3")})
    >>> "<th scope='col'>ROC-AUC</th>" in html, "<td>1,234</td><td>0.835</td>" in html
    (True, True)
    """
    if columns is None:
        cells = frame.to_html(index=index, float_format=lambda v: f"{v:.4g}", border=0, na_rep="—")
        return scroller(label) + cells + "</div>"
    heads = "".join(
        f"<th scope='col'{' class=text' if kind == 'text' else ''}>{esc(head)}</th>"
        for head, kind in columns.values()
    )
    rows = []
    for values in zip(*(frame[c].tolist() for c in columns), strict=True):
        cells = []
        for value, (_, kind) in zip(values, columns.values(), strict=True):
            if kind == "text":
                cells.append(f"<td class='text'>{esc('—' if _missing(value) else value)}</td>")
            else:
                cells.append(f"<td>{esc(fmt(None if _missing(value) else value, kind))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        scroller(label) + f"<table class='dataframe figures'><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _missing(value) -> bool:
    """None, NaN, NaT or pandas' NA."""
    try:
        return value is None or bool(value != value)
    except TypeError:  # pandas' NA has no truth value
        return True


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


def intervals(labels, values, lows, highs, *, title: str, kind: str = "") -> str:
    """A horizontal dot-and-interval plot, one row per label, zero marked, on an axis of round
    ticks read as ``kind`` (``pct``: percentages).

    >>> plot = intervals(["a", "b"], [0.5, float("nan")], [0.2, 0.1], [0.7, 0.9], title="t")
    >>> plot.count("<circle"), "nan" in plot
    (1, False)
    >>> ">-0.05<" in intervals(["a"], [0.05], [-0.000271], [0.118], title="t")
    True
    >>> ">15%<" in intervals(["a"], [0.05], [-0.000271], [0.118], title="t", kind="pct")
    True
    """
    rows = len(labels)
    left, width, row_h = 330, 380, 22
    finite = [v for v in (*lows, *highs, *values, 0.0) if math.isfinite(v)]
    marks, decimals = ticks(min(finite), max(finite), 6)
    lo, hi = marks[0], marks[-1]
    span = (hi - lo) or 1.0

    def x(v):
        return left + (v - lo) / span * width

    bottom = rows * row_h
    parts = [svg(title, left + width + 24, bottom + 30)]
    for mark in marks:
        at = f"{x(mark):.1f}"
        line = "stroke='#999' stroke-dasharray='3'" if mark == 0 else "stroke='#e3e7ee'"
        parts.append(
            f"<line x1='{at}' y1='0' x2='{at}' y2='{bottom + 4}' {line}/>"
            f"<text x='{at}' y='{bottom + 18}' text-anchor='middle'>"
            f"{tick_label(mark, decimals, kind)}</text>"
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
    return "".join(parts) + "</svg>"


def bars(labels, values, *, title: str, kind: str = "") -> str:
    """Horizontal bars, one per label, each with its value written as ``kind`` (:func:`fmt`).

    >>> bars(["x", "y"], [0.25, float("nan")], title="t").count("<rect")
    1
    >>> ">25.0%<" in bars(["x"], [0.25], title="t", kind="pct")
    True
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
            parts.append(f"<text x='{x0 + w + 4:.1f}' y='{y + 12}'>{esc(fmt(v, kind))}</text>")
    return "".join(parts) + "</svg>"


def calibration_plot(frame, *, title: str = "calibration") -> str:
    """Each bin's observed rate (``observed``) against its ``mean_score``, beside the diagonal;
    both axes in percent."""
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
        f"text-anchor='end'>mean score {top:.0%}</text>"
    )
    parts.append(f"<text x='{pad - 4}' y='{pad + 8}' text-anchor='end'>{top:.0%}</text>")
    parts.append(f"<text x='{pad - 4}' y='{pad + 20}' text-anchor='end'>rate</text></svg>")
    return "".join(parts)
