"""``lumos evaluate slices | fairness | abtest``: where a model under-performs, and whom."""

from __future__ import annotations

import click

from lumos.cli._common import events_option, friendly, split, warn, write_html


@click.group("evaluate")
def evaluate():
    """Modeler tools: where a model under-performs, fairness gaps, A/B tests."""


def predictions(fn):
    """The options of a predictions table: ``--data --label --score [--out]``."""
    options = [
        click.option(
            "--data",
            "data_path",
            required=True,
            type=click.Path(dir_okay=False),
            help="Predictions with their features (.parquet, .csv, .jsonl).",
        ),
        click.option("--label", required=True, help="The column of 0/1 labels."),
        click.option("--score", required=True, help="The column of predicted probabilities."),
        click.option("--out", type=click.Path(dir_okay=False), help="Write an HTML report here."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def read_predictions(data_path, label, score, columns=()):
    """The predictions file, checked to hold the label, score and ``columns``."""
    from lumos._checks import require_columns
    from lumos.data import read_table

    data = read_table(data_path, what="predictions")
    require_columns(
        data, [label, score, *columns], source=f"predictions file {data_path!r}", file=data_path
    )
    return data


@evaluate.command("slices")
@predictions
@click.option("--features", help="Comma-separated columns to slice by (default: all others).")
@click.option(
    "--metric",
    default="log_loss",
    show_default=True,
    type=click.Choice(["log_loss", "error_rate", "squared_error", "calibration_gap", "auc"]),
)
@click.option("--max-order", default=3, show_default=True, type=click.IntRange(1, 5))
@click.option(
    "--min-support", default=0.01, show_default=True, type=click.FloatRange(0, min_open=True)
)
@click.option("--top-k", default=10, show_default=True, type=click.IntRange(1))
@click.option(
    "--rank-by",
    default="effect",
    show_default=True,
    type=click.Choice(["effect", "sliceline"]),
    help="effect: the slice's mean loss minus the rest's; sliceline: SliceLine's score, "
    "which weighs a slice's size against its error (slices scoring above 0 only).",
)
@click.option(
    "--sliceline-alpha",
    default=0.6,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="With --rank-by sliceline: the weight of the error term against the size term.",
)
@friendly
def evaluate_slices(
    data_path,
    label,
    score,
    out,
    features,
    metric,
    max_order,
    min_support,
    top_k,
    rank_by,
    sliceline_alpha,
):
    """Find the slices of rows where the model does significantly worse than on the rest."""
    from lumos.evaluate import find_slices, slices_html

    features = split(features)
    data = read_predictions(data_path, label, score, features or ())
    found = find_slices(
        data,
        label,
        score,
        features,
        metric=metric,
        max_order=max_order,
        min_support=min_support,
        top_k=top_k,
        score=rank_by,
        sliceline_alpha=sliceline_alpha,
    )
    columns = ["slice", "share", "metric_slice", "metric_rest", "effect", "low", "high"]
    shown = found.table[[*columns, "p_adjusted", *(["score"] if rank_by == "sliceline" else [])]]
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for sentence in found.sentences()[:5]:
        click.echo(f"• {sentence}")
    write_html(out, slices_html(found))


@evaluate.command("fairness")
@predictions
@click.option("--groups", required=True, help="Comma-separated group columns (gender,age,…).")
@click.option("--threshold", default=0.5, show_default=True, type=float)
@click.option("--bootstrap", default=500, show_default=True, type=click.IntRange(0))
@friendly
def evaluate_fairness(data_path, label, score, out, groups, threshold, bootstrap):
    """Metrics per group, the largest gaps with intervals, and slices inside each group."""
    from lumos.evaluate import fairness_html, fairness_report

    groups = split(groups)
    data = read_predictions(data_path, label, score, groups)
    report = fairness_report(data, label, score, groups, threshold=threshold, n_bootstrap=bootstrap)
    click.echo(report.gaps.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for sentence in report.sentences()[:5]:
        click.echo(f"• {sentence}")
    write_html(out, fairness_html(report))


@evaluate.command("abtest")
@events_option(help="An event log folder, redis://…, or a file.")
@click.option("--control", help="The control treatment (default: the first by name).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write an HTML report here.")
@friendly
def evaluate_abtest(events, control, out):
    """Each treatment's lift over control on CTR, conversion and every action's rate."""
    from lumos.evaluate import abtest, abtest_html
    from lumos.events import read_events

    result = abtest(read_events(events, name="--events", notify=warn), control=control)
    columns = [
        "metric",
        "treatment",
        "control_value",
        "treatment_value",
        "lift",
        "lift_low",
        "lift_high",
        "p_value",
        "members",
    ]
    click.echo(result.table[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(
        f"members per treatment: {result.members.to_dict()} (SRM p = {result.srm_p_value:.3g})"
    )
    for warning in result.warnings:
        click.echo(f"! {warning}")
    write_html(out, abtest_html(result))
