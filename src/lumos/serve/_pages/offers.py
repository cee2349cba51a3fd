"""The dashboard's Offers page: each arm's shows, conversions and posterior; candidate policies.

Its figures come from :meth:`OfferModel.arm_report` and
:meth:`OfferModel.compare` over the offer log the server was given. They are
computed in the background when the server starts (judging bootstraps, so it
takes a few seconds; meanwhile the page says so and reloads itself) and again
every ten minutes, as the log grows and the policy learns.
"""

from __future__ import annotations

import contextlib
import copy
import math

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from lumos._html import esc, fmt, intervals, scroller
from lumos.errors import LumosError
from lumos.serve._pages.shell import RELOAD, computing, empty, page
from lumos.serve._services import Lazy, services

ESTIMATOR_NAMES = {"ipw": "IPW", "snipw": "SNIPW", "dm": "DM", "dr": "DR", "switch-dr": "Switch-DR"}
POLICY_NAMES = {
    "model": "This model (as it decides now)",
    "greedy": "Greedy on the posterior mean",
    "uniform": "Uniform over the channel's arms",
    "no_offer": "Never offer",
    "logged": "The logging policy (observed)",
}
JUDGE = "dr"  # the estimator the plot shows and the summary ranks by

router = APIRouter()


@router.get("/offers", response_class=HTMLResponse, include_in_schema=False)
def offers_page(request: Request):
    body, status, waiting = offers_body(services(request).offer_page)
    return page("offers", "Offers", body, status=status, refresh=RELOAD if waiting else None)


def offer_figures(model, events, lock=None) -> dict:
    """The page's figures: a snapshot of the model (taken under ``lock``, so decisions served
    meanwhile are not held up), its arm report and candidate policies on ``events``."""
    with lock or contextlib.nullcontext():
        model = copy.deepcopy(model)  # also keeps the live policy's random draws untouched
    events = events() if callable(events) else events
    if events is None:
        events = []
    frame = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
    rounds, unknown = model.rounds(frame)
    every, _ = model.rounds(frame, now=math.inf)  # as if every window had closed
    out = {
        "model": model,
        "arms": model.arm_report(frame),
        "rounds": rounds,
        "unknown": unknown,
        "open": len(every) - len(rounds),
        "compare": None,
        "problem": None,
    }
    try:
        out["compare"] = model.compare(frame, n_bootstrap=500)
    except LumosError as exc:  # e.g. no closed round yet, or a round without a propensity
        out["problem"] = exc.message
    return out


def offers_body(figures: Lazy | None) -> tuple[str, int, bool]:
    """The page's HTML, its status, and whether its figures are still being computed."""
    if figures is None:
        return (
            empty(
                "No offer model is loaded. Start the server with --offers MODEL_FOLDER "
                "(lumos offers retrain) and --offer-log LOG (served offers and purchases)."
            ),
            200,
            False,
        )
    try:
        got = figures.peek()
    except LumosError as exc:
        return f'<p class="alert" role="alert">{esc(exc.message)}</p>', 422, False
    if got is None:  # the first figures are being computed in the background
        return computing(figures.name, "/offers"), 200, True
    model, rounds, arms = got["model"], got["rounds"], got["arms"]
    s = model.settings
    parts = []
    span = ""
    if len(rounds):
        first, last = (
            pd.Timestamp(t, unit="s").strftime("%Y-%m-%d")
            for t in (rounds["ts"].min(), rounds["ts"].max())
        )
        span = f" served {first} to {last}"
    waiting = got["open"]
    parts.append(
        f'<p class="muted">Model <strong>{esc(s.model_id)}</strong>: {esc(s.policy)} over '
        f"{len(model.arm_ids)} arms (product × creative × channel, and no offer). Judged on "
        f"{esc(figures.name)}: {len(rounds):,} closed rounds{span}; a round converts when a "
        f"{esc(' or '.join(s.conversions))} follows within {s.window_hours:g} h."
        + (
            f" {waiting:,} served offers are still inside their window and not counted yet."
            if waiting
            else ""
        )
        + (
            f" {got['unknown']:,} served offers name arms this model does not know."
            if got["unknown"]
            else ""
        )
        + "</p>"
    )
    parts.append(_policies(got))
    parts.append(_arms(arms, model))
    return "".join(parts), 200, False


def _policies(got: dict) -> str:
    head = '<section aria-labelledby="policies"><h2 id="policies">Candidate policies</h2>'
    if got["compare"] is None:
        return head + f'<p class="alert" role="status">{esc(got["problem"])}</p></section>'
    table = got["compare"]
    estimators = [e for e in ESTIMATOR_NAMES if e in table.index.unique("estimator")]
    policies = [p for p in table.index.unique("policy") if p != "logged"]
    logged = table.loc[("logged", "logged")]
    best = max(policies, key=lambda p: table.loc[(p, JUDGE), "value"])
    b = table.loc[(best, JUDGE)]
    times = b["value"] / logged["value"] if logged["value"] > 0 else math.nan
    summary = (
        f"<p>Estimated off-policy on the same {int(logged['rounds']):,} rounds. By the doubly "
        f"robust estimate, the best is <strong>{esc(POLICY_NAMES[best].lower())}</strong>: a "
        f"conversion rate of {fmt(b['value'], 'rate')} (95% interval {fmt(b['low'], 'rate')} to "
        f"{fmt(b['high'], 'rate')})"
        + (
            f", {times:.1f}× the {fmt(logged['value'], 'rate')} the log's own policy converted."
            if math.isfinite(times)
            else "."
        )
        + "</p>"
    )
    labels = [POLICY_NAMES[p] for p in policies] + [POLICY_NAMES["logged"]]
    rows = [table.loc[(p, JUDGE)] for p in policies] + [logged]
    plot = intervals(
        labels,
        [r["value"] for r in rows],
        [r["low"] for r in rows],
        [r["high"] for r in rows],
        title="conversion rate per policy, DR, 95% interval",
        kind="pct",
    )
    th = "".join(f'<th scope="col" class="num">{ESTIMATOR_NAMES[e]}</th>' for e in estimators)
    body = []
    for p in policies:
        cells = "".join(
            f'<td class="num">{fmt(table.loc[(p, e), "value"], "rate")}<br><span class="muted">'
            f"{fmt(table.loc[(p, e), 'low'], 'rate')} – {fmt(table.loc[(p, e), 'high'], 'rate')}"
            "</span></td>"
            for e in estimators
        )
        body.append(
            f'<tr data-policy="{esc(p)}"><th scope="row">{esc(POLICY_NAMES[p])}</th>{cells}</tr>'
        )
    body.append(
        f'<tr data-policy="logged"><th scope="row">{POLICY_NAMES["logged"]}</th>'
        f'<td class="num" colspan="{len(estimators)}">{fmt(logged["value"], "rate")} '
        f'<span class="muted">({fmt(logged["low"], "rate")} – {fmt(logged["high"], "rate")})'
        "</span></td></tr>"
    )
    return (
        head + summary + f'<figure class="plot">{plot}<figcaption>Conversion rate per round, '
        "doubly robust estimate and 95% bootstrap interval.</figcaption></figure>"
        + scroller("candidate policies")
        + '<table class="book"><caption>Conversion rate per round by '
        "estimator (value, 95% interval)</caption>"
        f'<thead><tr><th scope="col">Policy</th>{th}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _breakable(arm_id: str) -> str:
    """An arm id that may wrap after each slash (``product/creative/channel``)."""
    return "/<wbr>".join(esc(part) for part in str(arm_id).split("/"))


def _arms(arms: pd.DataFrame, model) -> str:
    nu = getattr(model.policy, "nu", None)
    spread = f"ν = {nu:g} times the posterior's standard deviation" if nu else "the posterior"
    order = arms.sort_values("mean", ascending=False, kind="stable")
    rows = []
    for r in order.itertuples(index=False):
        rows.append(
            f'<tr data-arm="{esc(r.arm_id)}"><th scope="row">{_breakable(r.arm_id)}</th>'
            f"<td>{esc(r.product or '—')}</td><td>{esc(r.creative or '—')}</td>"
            f"<td>{esc(r.channel or 'any')}</td>"
            f'<td class="num">{r.shows:,}</td><td class="num">{r.conversions:,}</td>'
            f'<td class="num">{fmt(r.rate, "rate")}</td><td class="num">{fmt(r.mean, "rate")}</td>'
            f'<td class="num">{fmt(r.low, "rate")} – {fmt(r.high, "rate")}</td></tr>'
        )
    plot = intervals(
        *(order[c].tolist() for c in ("arm_id", "mean", "low", "high")),
        title="posterior conversion score per arm",
        kind="pct",
    )
    heads = (
        "Arm",
        "Product",
        "Creative",
        "Channel",
        "Shows",
        "Conversions",
        "Rate",
        "Posterior mean",
        "95% interval",
    )
    th = "".join(
        f'<th scope="col"{" class=num" if i >= 4 else ""}>{h}</th>' for i, h in enumerate(heads)
    )
    return (
        '<section aria-labelledby="arms"><h2 id="arms">Per arm</h2>'
        "<p>Shows and conversions count the closed rounds of the log. The posterior is the "
        "policy's belief about each arm's conversion score for the average member: its mean, "
        f"and the 95% interval of the spread it draws from ({esc(spread)}).</p>"
        + scroller("arms")
        + '<table class="book"><caption>Arms by posterior mean</caption>'
        f"<thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f'<figure class="plot">{plot}<figcaption>Posterior mean and 95% interval per arm, at '
        "the average member.</figcaption></figure></section>"
    )
