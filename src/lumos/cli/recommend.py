"""``lumos recommend courses | publish``: courses for members, each with its reason."""

from __future__ import annotations

import click

from lumos.cli._common import (
    SEED,
    check_out,
    engine,
    friendly,
    parse_date,
    renamed,
    router,
    spark_out,
    spark_session,
    write_table,
)
from lumos.recommend import LEARNING_TABLES

TOP_K = renamed(
    "--top-k",
    "top_k",
    old=("--k",),
    default=50,
    show_default=True,
    type=click.IntRange(1),
    help="Courses per member.",
)


@click.group()
def recommend():
    """Recommendations with reasons: courses for members."""


@recommend.command("courses")
@click.option(
    "--tables",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    help=f"Folder of the tables {', '.join(LEARNING_TABLES)} (.parquet, .csv or .jsonl).",
)
@click.option("--as-of", required=True, help="Recommend as of this day (YYYY-MM-DD).")
@TOP_K
@click.option("--member", "members", multiple=True, help="Only these members (repeatable).")
@click.option(
    "--scorer",
    default="glmix",
    show_default=True,
    type=click.Choice(["glmix", "affinity"]),
    help="glmix: trained on the clicks before --as-of; affinity: cold start, no clicks needed.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output table: .parquet, .csv or .jsonl (with --engine spark: a .parquet folder).",
)
@SEED
@engine("the GLMix fitted and every member scored on Spark")
@friendly
def recommend_courses(folder, as_of, top_k, members, scorer, out, random_state, engine, master):
    """Top courses per member, each with its reason."""
    from lumos.data import read_tables
    from lumos.recommend import course_lists

    check_out(out)
    if engine == "spark":
        spark_out(out)
        if members:
            raise click.BadParameter(
                "--engine spark scores every member; drop --member", param_hint="--member"
            )
    when = parse_date(as_of, "--as-of")
    tables = read_tables(folder, LEARNING_TABLES)
    spark = spark_session(engine, master)
    lists = course_lists(
        tables,
        as_of=when,
        models=[scorer],
        top_k=top_k,
        random_state=random_state,
        members=list(members) or None,
        engine=engine,
        spark=spark,
    )
    if spark is not None:
        lists[scorer].write.parquet(out)
        table = spark.read.parquet(out).select("member_id", "reason").toPandas()
    else:
        table = lists[scorer]
        write_table(table, out)
    reasons = table["reason"].value_counts()
    top = ", ".join(f"{n:,} {r}" for r, n in reasons.head(4).items())
    click.echo(
        f"{len(table):,} recommendations for {table['member_id'].nunique():,} members "
        f"({top}, …) → {out}"
    )


@recommend.command("publish")
@click.option(
    "--tables",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    help=f"Folder of the tables {', '.join(LEARNING_TABLES)}.",
)
@click.option("--as-of", required=True, help="Recommend as of this day (YYYY-MM-DD).")
@click.option("--store", "target", required=True, help="An LMDB folder, or redis://host:port/db.")
@click.option(
    "--models",
    default="glmix,affinity",
    show_default=True,
    help="Comma-separated scorers to publish (glmix, affinity).",
)
@click.option(
    "--experiments",
    "config",
    type=click.Path(dir_okay=False),
    help="Experiments YAML; with --experiment, publish each member's treatment only.",
)
@click.option("--experiment", help="The experiment whose variants' payloads name the models.")
@TOP_K
@click.option(
    "--keep",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Versions kept for rollback.",
)
@engine("the GLMix fitted and members scored on Spark, records written to Redis by the executors")
@friendly
def recommend_publish(
    folder, as_of, target, models, config, experiment, top_k, keep, engine, master
):
    """Score every member with each model and publish the lists into the store, versioned."""
    from lumos.data import read_tables
    from lumos.recommend import publish_courses

    if engine == "spark":  # before a Spark session starts
        from lumos.spark.engine import redis_url

        redis_url(target)
    chosen = models.split(",")
    route = router(config, experiment, chosen[0])
    tables = read_tables(folder, LEARNING_TABLES)
    done = publish_courses(
        target,
        tables,
        as_of=parse_date(as_of, "--as-of"),
        models=chosen,
        top_k=top_k,
        router=route,
        keep=keep,
        engine=engine,
        spark=spark_session(engine, master),
    )
    click.echo(
        f"Published version {done['version']} to {target}: {done['members']:,} members, each "
        f"with the list of their treatment's model (of {', '.join(chosen)}), and the "
        f"cold-start list; versions kept: {', '.join(done['versions'])}"
    )
