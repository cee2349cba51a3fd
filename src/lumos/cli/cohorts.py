"""``lumos cohorts fpr-service | fit-ranker``: a first-pass ranker as a service; the relevance
second-pass ranker fitted from the funnel."""

from __future__ import annotations

import click

from lumos.cli._common import events_option, friendly


@click.group()
def cohorts():
    """Discovery cohorts: run a first-pass ranker as a service, fit the relevance ranker."""


@cohorts.command("fpr-service")
@click.option("--config", required=True, type=click.Path(dir_okay=False), help="Cohorts YAML.")
@click.option("--cohort", "cohort_id", required=True, help="The cohort whose ranker to serve.")
@click.option(
    "--delay-ms",
    default="0",
    show_default=True,
    help="A random wait per request, LOW-HIGH milliseconds (a downstream's own latency).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8101, show_default=True, type=click.IntRange(1, 65535))
@friendly
def cohorts_fpr_service(config, cohort_id, delay_ms, host, port):
    """Serve one cohort's first-pass ranker over HTTP (what the `rest` plugin fetches)."""
    from lumos.cohorts import ranker_service
    from lumos.serve import run_server

    try:
        low, _, high = delay_ms.partition("-")
        delay = (float(low), float(high or low))
        if not 0 <= delay[0] <= delay[1] <= 60_000:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{delay_ms!r} is not LOW-HIGH milliseconds (e.g. 20-40)", param_hint="--delay-ms"
        ) from None
    app = ranker_service(config, cohort_id, delay_ms=delay)
    click.echo(f"Ranker {cohort_id!r} on http://{host}:{port}/v1/recommendations")
    run_server(app, host, port)


@cohorts.command("fit-ranker")
@events_option(help="An event log folder, redis://…, or a .jsonl/.parquet/.csv file.")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Cohorts YAML: member features from its data (connections, …).",
)
@click.option("--out", required=True, help="The weights file (.json) ranking.relevance names.")
@friendly
def cohorts_fit_ranker(events, config, out):
    """Fit the relevance second-pass ranker from served, impression and action events."""
    from lumos.cohorts import RelevanceRanker, member_features
    from lumos.data import atomic_path
    from lumos.events import read_events

    members = member_features(config) if config else None
    model = RelevanceRanker.fit(read_events(events, name="--events"), members)
    with atomic_path(out) as tmp:
        model.save(tmp)
    click.echo(
        f"relevance ranker over {len(model.cohorts)} cohorts, "
        f"{len(model.member_features)} member features → {out}"
    )
