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
    "--read-key-hash",
    "read_hashes",
    multiple=True,
    help="SHA-256 of a read key: recommendations, cohorts, insights, the dashboard, metrics, "
    "docs (repeatable; also LUMOS_READ_KEY_HASHES, comma-separated). Without one, reads are "
    "open and the server binds to loopback only.",
)
@click.option(
    "--decide-key-hash",
    "decide_hashes",
    multiple=True,
    help="SHA-256 of a decide key: offer decisions (repeatable; also LUMOS_DECIDE_KEY_HASHES).",
)
@click.option(
    "--write-key-hash",
    "write_hashes",
    multiple=True,
    help="SHA-256 of a write key: events (repeatable; also LUMOS_WRITE_KEY_HASHES).",
)
@click.option(
    "--keys-file",
    type=click.Path(dir_okay=False),
    help="YAML of key digests per scope (read: [...], decide: [...], write: [...]), read "
    "again when it changes: rotate keys without a restart.",
)
@click.option(
    "--api-key-hash",
    "key_hashes",
    multiple=True,
    help="SHA-256 of a key that may write and decide (repeatable; also "
    "LUMOS_API_KEY_HASHES); with --read-keys, read too.",
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
    "--offer-state",
    help="Where the processes serving --offers share one policy and one set of caps: a SQLite "
    "file, or redis://host:port/db for many machines (with --workers, default the events' "
    "Redis, else state.sqlite in the --offers folder).",
)
@click.option(
    "--offer-state-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds between a process's looks for a newer shared offer policy.",
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
@click.option("--read-keys", is_flag=True, help="The --api-key-hash keys are read keys too.")
@click.option(
    "--max-events-body",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1024, 100_000_000),
    help="The most bytes a POST /v1/events body may hold.",
)
@click.option(
    "--events-horizon",
    help="The earliest ts an event may carry (ISO 8601; default 2000-01-01).",
)
@click.option(
    "--events-skew",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0, 86_400),
    help="Seconds an event's ts may run ahead of the server's clock.",
)
@click.option(
    "--session-hours",
    default=8.0,
    show_default=True,
    type=click.FloatRange(0.01, 720),
    help="How long a dashboard sign-in lasts.",
)
@click.option(
    "--insecure-public",
    is_flag=True,
    help="Serve on a non-loopback --host with no read key (reads open to anyone).",
)
@click.option(
    "--flush-ms",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0.1, 1000),
    help="Served events are written and synced together this often.",
)
@click.option(
    "--grace",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, 600),
    help="On SIGTERM or Ctrl-C, seconds requests under way get to finish before it stops.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving the port (one per core is a good start); they share the event "
    "log, and a worker that dies is started again.",
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
    read_hashes,
    decide_hashes,
    write_hashes,
    keys_file,
    key_hashes,
    cohorts_config,
    offers_folder,
    offer_state,
    offer_state_interval,
    offer_log,
    model_folder,
    health_path,
    health_label,
    health_score,
    health_groups,
    courses_path,
    read_keys,
    max_events_body,
    events_horizon,
    events_skew,
    session_hours,
    insecure_public,
    flush_ms,
    grace,
    workers,
    host,
    port,
):
    """Serve recommendations, cohorts, offers and insights over HTTP, and the dashboard.

    Three scopes guard it, each with its own keys (give their SHA-256 digests;
    the keys travel in the X-API-Key header): read (recommendations, cohorts,
    insights, the dashboard, /metrics, /docs), decide (offer decisions) and
    write (events). Without read keys, reads are open and the server binds to
    loopback only unless --insecure-public; decisions and events always need
    their key.
    """
    import os

    from lumos.serve import (
        ServeConfig,
        app_from_config,
        check_binding,
        check_config,
        check_port,
        is_loopback,
        run_server,
        run_workers,
    )

    def given(flags, env):
        return (*flags, *filter(None, os.environ.get(env, "").split(",")))

    keys = given(key_hashes, "LUMOS_API_KEY_HASHES")
    if not is_loopback(host) and not insecure_public:  # refuse before the minutes of loading
        check_early(host, read_hashes, keys if read_keys else (), keys_file)
    check_port(host, port)
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
        offer_state=offer_state,
        offer_state_interval=offer_state_interval,
        offer_log=offer_log,
        prioritizer=model_folder,
        health=health_path,
        health_label=health_label,
        health_score=health_score,
        health_groups=split(health_groups) or (),
        read_key_hashes=given(read_hashes, "LUMOS_READ_KEY_HASHES"),
        decide_key_hashes=given(decide_hashes, "LUMOS_DECIDE_KEY_HASHES"),
        write_key_hashes=given(write_hashes, "LUMOS_WRITE_KEY_HASHES"),
        keys_file=keys_file,
        api_key_hashes=keys,
        read_keys=read_keys,
        events_body=max_events_body,
        events_horizon=events_horizon,
        events_skew=events_skew,
        session_hours=session_hours,
        flush_ms=flush_ms,
        workers=workers,
    )
    app = app_from_config(settings) if workers == 1 else check_config(settings)
    said = check_binding(host, app, insecure_public=insecure_public)
    click.echo(
        f"Serving on http://{host}:{port} (the dashboard at /, the API's reference at /docs); "
        "Ctrl-C stops."
    )
    for line in said:
        click.echo(f"  {line}")
    if workers > 1:
        click.echo(f"  {workers} worker processes.")
        run_workers(settings, host, port, grace=grace)
    else:
        run_server(app, host, port, grace=grace)


def check_early(host, read_hashes, legacy_read, keys_file) -> None:
    """Refuse a public bind with open reads at once, before the server loads anything."""
    import os

    from lumos.serve import open_to_all, read_keys_file

    reads = [*read_hashes, *legacy_read]
    reads += [h for h in os.environ.get("LUMOS_READ_KEY_HASHES", "").split(",") if h]
    if keys_file is not None:
        reads += read_keys_file(keys_file)["read"]
    if not reads:
        raise open_to_all(host)
