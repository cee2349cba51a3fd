"""The dashboard's Model health page: metrics, calibration, slices and gaps between groups.

It shows :func:`lumos.evaluate.model_health` of a table of held-out
predictions, drawn with the plots ``lumos evaluate`` writes. The figures are
computed in the background when the server starts (the slice finder and the
bootstrap take a few seconds; meanwhile the page says so and reloads itself)
and kept until the server restarts.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from lumos._html import bars, calibration_plot, esc, table
from lumos.errors import LumosError
from lumos.evaluate import fairness_section, slices_section
from lumos.serve._limits import ID
from lumos.serve._pages.shell import RELOAD, computing, empty, page
from lumos.serve._services import Lazy, services

#: Each column a table shows: its heading and the kind of its numbers (lumos._html.fmt).
METRIC_NAMES = {
    "model": ("Model", "text"),
    "rows": ("Rows", "count"),
    "base_rate": ("Base rate", "pct"),
    "mean_score": ("Mean score", "pct"),
    "roc_auc": ("ROC-AUC", "3"),
    "pr_auc": ("PR-AUC", "3"),
    "log_loss": ("Log loss", "3"),
    "brier": ("Brier score", "3"),
}


router = APIRouter()


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
def health_page(request: Request, model: str = Query("", max_length=ID)):
    s = services(request)
    body, status, waiting = health_body(s.health_page, model, s.propensity)
    return page("health", "Model health", body, status=status, refresh=RELOAD if waiting else None)


def health_body(figures: Lazy | None, chosen: str, propensity=None) -> tuple[str, int, bool]:
    """The page's HTML, its status, and whether its figures are still being computed, for
    model ``chosen`` (default: the table's first).

    ``propensity`` is an account prioritizer's validation report (``report_``),
    shown first when given.
    """
    top = "" if propensity is None else _propensity(propensity)
    if figures is None:
        if top:
            return top, 200, False
        return (
            empty(
                "No model reports are loaded. Start the server with --model "
                "PRIORITIZER_FOLDER (lumos propensity train) or --health PREDICTIONS "
                "(a label, a score, and the columns to slice and group by; "
                "--health-groups names the groups)."
            ),
            200,
            False,
        )
    try:
        health = figures.peek()
    except LumosError as exc:
        return top + f'<p class="alert" role="alert">{esc(exc.message)}</p>', 422, False
    if health is None:  # being computed in the background
        href = "/health" + (f"?{urlencode({'model': chosen})}" if chosen else "")
        return top + computing(figures.name, href), 200, True
    body, status = _predictions(health, figures.name, chosen)
    return top + body, status, False


PROPENSITY = {
    "model": ("Model", "text"),
    "rows": ("Rows", "count"),
    "mae": ("Mean absolute error (units)", "1"),
    "calibration_slope": ("Calibration slope", "2"),
    "upsell_roc_auc": ("Upsell ROC-AUC", "3"),
    "upsell_precision": ("Upsell precision", "pct"),
    "upsell_recall": ("Upsell recall", "pct"),
    "churn_roc_auc": ("Churn ROC-AUC", "3"),
    "churn_precision": ("Churn precision", "pct"),
    "churn_recall": ("Churn recall", "pct"),
    "all_in_roc_auc": ("All-in ROC-AUC", "3"),
}


def _propensity(report) -> str:
    """The account prioritizer's models, validated on renewal cutoffs later than training's."""
    shown = report.rename_axis("model").reset_index()
    columns = {c: named for c, named in PROPENSITY.items() if c in shown.columns}
    parts = [
        '<section aria-labelledby="propensity"><h2 id="propensity">Account propensity</h2>',
        "<p>Each model of the account prioritizer, judged on the renewal cutoffs after the "
        "ones it was trained on: how well its predicted change in units sorts the upsells "
        "and churns that followed. The mean absolute error is the average miss in units; a "
        "calibration slope of 1 means the predicted changes are as large as the real ones.</p>",
        table(shown, "account propensity validation", columns=columns),
        '<div class="plots">',
    ]
    for column in ("upsell_roc_auc", "churn_roc_auc"):
        if column in report.columns:
            values, what = report[column].dropna(), PROPENSITY[column][0] + " per model"
            plot = bars(values.index.tolist(), values.tolist(), title=what, kind="3")
            parts.append(f'<figure class="plot">{plot}<figcaption>{what}.</figcaption></figure>')
    return "".join(parts) + "</div></section>"


def _predictions(health, name: str, chosen: str) -> tuple[str, int]:
    models = list(health.metrics.index)
    status, problem = 200, ""
    if chosen and chosen not in models:
        problem = (
            f'<p class="alert" role="alert">No model {esc(repr(chosen))} in the '
            f"predictions; showing {esc(repr(models[0]))}. The models: "
            f"{esc(', '.join(models))}.</p>"
        )
        status, chosen = 404, ""
    chosen = chosen or models[0]
    links = " ".join(
        f'<a href="/health?{esc(urlencode({"model": m}))}"'
        f"{' aria-current=page' if m == chosen else ''}>{esc(m)}</a>"
        for m in models
    )
    m = health.metrics
    columns = {c: named for c, named in METRIC_NAMES.items() if c == "model" or c in m.columns}
    parts = [
        problem,
        '<section aria-labelledby="metrics"><h2 id="metrics">Held-out predictions</h2>',
        f'<p class="muted">From {esc(name)}: '
        f"{int(m['rows'].sum()):,} rows of {len(models)} model{'s' if len(models) > 1 else ''}."
        f"</p>",
        f'<nav class="pager" aria-label="Models">Model: {links}</nav>',
        table(m.rename_axis("model").reset_index(), "metrics per model", columns=columns),
        '<div class="plots"><figure class="plot">',
        bars(models, m["roc_auc"].tolist(), title="ROC-AUC per model", kind="3"),
        "<figcaption>ROC-AUC per model.</figcaption></figure>",
        '<figure class="plot">',
        calibration_plot(health.calibration[chosen], title=f"calibration of {chosen}"),
        f"<figcaption>Calibration of {esc(chosen)}: the observed rate of each tenth of the rows "
        "by score against their mean score; the dashed line is perfect calibration."
        "</figcaption></figure></div></section>",
        '<section aria-labelledby="slices">'
        f'<h2 id="slices">Where {esc(chosen)} under-performs</h2>',
    ]
    if chosen in health.slices:
        parts.append(slices_section(health.slices[chosen], level=3))
    else:
        parts.append(empty("No columns to slice by."))
    parts.append('</section><section aria-labelledby="gaps"><h2 id="gaps">Gaps between groups</h2>')
    if chosen in health.fairness:
        parts.append(
            "<p>A row counts as selected when its score is at least the base rate; gaps are "
            "between the groups of at least 30 rows, with 95% bootstrap intervals.</p>"
        )
        parts.append(fairness_section(health.fairness[chosen], level=3))
    else:
        parts.append(empty("No group columns were given (--health-groups industry,region)."))
    parts.append("</section>")
    return "".join(parts), status
