"""``lumos serve``: the HTTP API and the dashboard over a store, an event log and files."""

from __future__ import annotations

import click

from lumos.cli._common import friendly, split


@click.command()
@click.option("--store", "target", required=True, help="An LMDB folder, or redis://host:port/db.")
@click.option(
    "--experiments",
    "config",
    type=click.Path(dir_okay=False),
    help="Experiments YAML choosing each member's model (with --experiment).",
)
@click.option("--experiment", help="The experiment whose variants' payloads name the models.")
@click.option(
    "--default-model",
    default="glmix",
    show_default=True,
    help="The model of members outside the experiment.",
)
@click.option("--events", help="An event log folder, or redis://host:port/db.")
@click.option(
    "--insights",
    type=click.Path(dir_okay=False),
    help="Account scores from `lumos propensity score` (.parquet, .csv, .jsonl).",
)
@click.option(
    "--course-skills",
    type=click.Path(dir_okay=False),
    help="A course_id, skill table: courses of skills a member just followed come first.",
)
@click.option(
    "--api-key-hash",
    "key_hashes",
    multiple=True,
    help="SHA-256 of an API key allowed to write (repeatable; also "
    "LUMOS_API_KEY_HASHES, comma-separated).",
)
@click.option(
    "--cohorts",
    "cohorts_config",
    type=click.Path(dir_okay=False),
    help="A cohorts YAML: first-pass rankers and how cohorts rank (/v1/members/{id}/cohorts).",
)
@click.option(
    "--offers",
    "offers_folder",
    type=click.Path(file_okay=False),
    help="An offer model folder (lumos offers retrain): POST /v1/members/{id}/offer.",
)
@click.option(
    "--offer-log",
    help="The dashboard's Offers page judges the offer model on this log (a folder, redis://…, "
    "or a .jsonl/.parquet/.csv file; default the --events log).",
)
@click.option(
    "--model",
    "model_folder",
    type=click.Path(file_okay=False),
    help="An account prioritizer folder (lumos propensity train): Model health shows its "
    "validation report.",
)
@click.option(
    "--health",
    "health_path",
    type=click.Path(dir_okay=False),
    help="Held-out predictions for the Model health page (.parquet, .csv, .jsonl): a 0/1 "
    "label, a probability, an optional model column, and columns to slice by.",
)
@click.option("--health-label", default="label", show_default=True, help="Its label column.")
@click.option("--health-score", default="score", show_default=True, help="Its score column.")
@click.option("--health-groups", help="Comma-separated columns whose groups' gaps are measured.")
@click.option(
    "--courses",
    "courses_path",
    type=click.Path(dir_okay=False),
    help="A course_id, title table: the Learning page shows titles.",
)
@click.option(
    "--read-keys", is_flag=True, help="Reads need an API key too (X-API-Key), not only writes."
)
@click.option(
    "--flush-ms",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0.1, 1000),
    help="Served events are written and synced together this often.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@friendly
def serve(
    target,
    config,
    experiment,
    default_model,
    events,
    insights,
    course_skills,
    key_hashes,
    cohorts_config,
    offers_folder,
    offer_log,
    model_folder,
    health_path,
    health_label,
    health_score,
    health_groups,
    courses_path,
    read_keys,
    flush_ms,
    host,
    port,
):
    """Serve recommendations, cohorts, offers and insights over HTTP, and the dashboard."""
    import os

    from lumos.serve import ServeConfig, app_from_config, run_server

    keys = [*key_hashes, *filter(None, os.environ.get("LUMOS_API_KEY_HASHES", "").split(","))]
    settings = ServeConfig(
        store=target,
        experiments=config,
        experiment=experiment,
        default_model=default_model,
        events=events,
        insights=insights,
        course_skills=course_skills,
        courses=courses_path,
        cohorts=cohorts_config,
        offers=offers_folder,
        offer_log=offer_log,
        prioritizer=model_folder,
        health=health_path,
        health_label=health_label,
        health_score=health_score,
        health_groups=split(health_groups) or (),
        api_key_hashes=keys,
        read_keys=read_keys,
        flush_ms=flush_ms,
    )
    app = app_from_config(settings)
    click.echo(
        f"Serving on http://{host}:{port} (the dashboard at /, OpenAPI at /docs); Ctrl-C stops."
    )
    run_server(app, host, port)
