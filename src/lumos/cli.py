"""The ``lumos`` command.

Errors the user can fix print one line, ``error [code]: message``, to standard
error and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from lumos.errors import LumosError


def _friendly(fn):
    """Turn Lumos's errors into one clear line and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LumosError as exc:
            click.echo(f"error [{exc.code}]: {exc.message}", err=True)
            sys.exit(2)

    return wrapper


_MODEL = click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="XGBoost .json/.ubj, LightGBM .txt, a scores table, or a pickle with --trust.",
)
_DATA = click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="A table holding the model's features (.csv, .parquet, .jsonl).",
)
_TRUST = click.option("--trust", is_flag=True, help="Allow loading a pickle/joblib model file.")


def _engine(help_text):
    """The ``--engine`` and ``--master`` options of a job that also runs on Spark."""

    def wrap(fn):
        fn = click.option(
            "--master", help="With --engine spark: the Spark master (default local[2])."
        )(fn)
        return click.option(
            "--engine",
            default="local",
            show_default=True,
            type=click.Choice(["local", "spark"]),
            help=f"spark: {help_text} (pip install 'lumos[spark]').",
        )(fn)

    return wrap


def _spark_out(out) -> None:
    """Spark writes a new .parquet folder: refuse any other name, or one that exists."""
    if Path(out).suffix.lower() != ".parquet":
        raise click.BadParameter("--engine spark writes a .parquet folder", param_hint="--out")
    if Path(out).exists():
        raise click.BadParameter(
            f"{out!r} exists; Spark writes a new folder (remove it or choose another)",
            param_hint="--out",
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lumos")
def main():
    """Lumos: explainable recommendations that say why, in plain sentences."""


@main.command()
@click.option(
    "--out",
    default="lumos-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write the demo's model, data, narratives and report to.",
)
@click.option(
    "--accounts",
    "n_accounts",
    default=2000,
    show_default=True,
    type=click.IntRange(50),
    help="Number of generated customer accounts.",
)
@click.option(
    "--months",
    default=36,
    show_default=True,
    type=click.IntRange(18),
    help="Months of generated history.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Stop after writing (for scripts and CI).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-browser", is_flag=True, help="Do not open the dashboard in a web browser.")
@_friendly
def demo(out, n_accounts, months, seed, no_serve, port, no_browser):
    """Run the main job on generated data, then serve what it computed."""
    from lumos.demo import run_demo

    done = run_demo(Path(out), n_accounts=n_accounts, months=months, seed=seed, echo=click.echo)
    if no_serve:
        return

    from lumos.cohorts import downstream_services

    p = done["paths"]
    # two first-pass rankers run as their own HTTP services, as they would in production
    with downstream_services(
        Path(out) / "cohorts",
        data=p["social_tables"],
        store=p["store"],
        tables={"courses": p["learning_tables"] / "courses.parquet"},
    ) as cohorts:
        app = _demo_app(Path(out), cohorts, Path(out) / "events")
        member = done["scores"]["account_id"].iloc[0]
        click.echo(
            f"\nServing on http://127.0.0.1:{port} — the dashboard at / (Accounts, "
            f"/learning?member=M000001, /network?member=U000001, /offers, /health); the API: "
            "/v1/members/M000001/recommendations,"
            f" /v1/members/U000001/cohorts, /v1/accounts/{member}/insights, POST "
            "/v1/members/om000001/offer?channel=email, /docs. Ctrl-C stops."
        )
        if not no_browser and _has_display():
            import threading
            import webbrowser

            threading.Timer(1.5, webbrowser.open, args=(f"http://127.0.0.1:{port}/",)).start()
        _run_server(app, "127.0.0.1", port)


def _has_display(environ=None, platform: str = sys.platform) -> bool:
    """Whether a graphical browser can open here: never a text browser on a bare terminal.

    >>> _has_display({}, "linux"), _has_display({"DISPLAY": ":0"}, "linux")
    (False, True)
    >>> _has_display({}, "darwin")
    True
    """
    import os

    environ = os.environ if environ is None else environ
    if platform in ("darwin", "win32"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def _demo_app(out: Path, cohorts, events):
    """The app `lumos demo` serves over what it wrote in ``out``; ``cohorts``: their config."""
    from lumos.demo import HEALTH_GROUPS

    return _app(
        str(out / "store"),
        str(out / "experiments.yaml"),
        "course_ranker",
        "glmix",
        str(events),
        str(out / "scores.parquet"),
        [],
        cohorts_config=str(cohorts),
        offers_folder=str(out / "offers"),
        offer_log=str(out / "offers_data" / "log_week_4"),
        model=str(out / "model"),
        health=(str(out / "course_health.parquet"), "label", "score", list(HEALTH_GROUPS)),
        courses=str(out / "learning" / "courses.parquet"),
    )


@main.group()
def explain():
    """Narrative explanations of a model's scores."""


@explain.command("run")
@_MODEL
@_DATA
@click.option(
    "--design",
    "design_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Insights design folder (features.csv, insights.csv, templates.yaml).",
)
@click.option("--id-column", required=True, help="The column that identifies rows.")
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="Output file: .jsonl, .csv, .parquet or .html (with --engine spark: a .parquet folder).",
)
@click.option(
    "--method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "shap", "tree_shap", "linear_shap", "lime", "klime"]),
)
@_engine("rows explained partition by partition on Spark")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1))
@click.option(
    "--direction",
    default="positive",
    show_default=True,
    type=click.Choice(["positive", "negative", "absolute"]),
)
@click.option(
    "--score-column",
    default="score",
    show_default=True,
    help="For a scores table: the column holding the model's score.",
)
@_TRUST
@click.option("--seed", default=0, show_default=True, type=int)
@_friendly
def explain_run(
    model_path,
    data_path,
    design_dir,
    id_column,
    out,
    method,
    top_k,
    direction,
    score_column,
    trust,
    seed,
    engine,
    master,
):
    """Explain every row of a table and write its narratives."""
    from rich.progress import Progress

    from lumos.data import read_table
    from lumos.explain import InsightsDesign, import_model
    from lumos.explain._export import FORMATS, export
    from lumos.explain._pipeline import explain_table

    if Path(out).suffix.lower() not in FORMATS:
        raise click.BadParameter(
            "use a .jsonl, .csv, .parquet or .html file name", param_hint="--out"
        )
    design = InsightsDesign.load(design_dir)
    model = import_model(model_path, trust=trust, score_column=score_column, id_column=id_column)
    if engine == "spark":
        return _explain_on_spark(
            model, design, data_path, id_column, out, method, top_k, direction, master
        )
    data = read_table(data_path, what="data")
    with Progress(transient=True, disable=len(data) < 50_000) as bar:
        task = bar.add_task("explaining", total=len(data))
        narratives, scores, used = explain_table(
            model,
            data,
            design,
            id_column=id_column,
            method=method,
            top_k=top_k,
            direction=direction,
            seed=seed,
            progress=lambda n: bar.advance(task, n),
            source=f"data file {data_path!r}",
        )
    export(narratives, out, scores=scores)
    click.echo(
        f"{len(scores):,} rows explained with {used}: {len(narratives):,} narratives "
        f"({narratives.attrs['skipped']:,} skipped for missing values) → {out}"
    )


def _explain_on_spark(model, design, data_path, id_column, out, method, top_k, direction, master):
    from lumos.errors import DataValidationError
    from lumos.spark import explain, session

    _spark_out(out)
    suffix = Path(data_path).suffix.lower()
    if not Path(data_path).exists() or suffix not in (".parquet", ".csv"):
        raise DataValidationError(
            f"data file {data_path!r}: the Spark engine reads an existing .parquet file or folder, "
            "or a .csv file.",
            code="file_not_found" if not Path(data_path).exists() else "unknown_format",
            file=data_path,
        )
    spark = session(master)
    reader = spark.read
    frame = (
        reader.parquet(data_path)
        if suffix == ".parquet"
        else reader.csv(data_path, header=True, inferSchema=True)
    )
    narratives, _ = explain(
        frame, model, design, id_column=id_column, method=method, top_k=top_k, direction=direction
    )
    narratives.write.parquet(out)
    written = spark.read.parquet(out).count()
    click.echo(f"{frame.count():,} rows explained on Spark: {written:,} narratives → {out}")


@explain.command("suggest-design")
@_MODEL
@_DATA
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write features.csv, insights.csv and templates.yaml to.",
)
@click.option("--overwrite", is_flag=True, help="Replace a design already in --out.")
@_TRUST
@_friendly
def suggest_design_cmd(model_path, data_path, out, overwrite, trust):
    """Write a starting insights design for a model, to edit by hand."""
    from lumos.data import read_table
    from lumos.explain import import_model
    from lumos.explain._suggest import suggest_design

    model = import_model(model_path, trust=trust)
    data = read_table(data_path, what="data")
    design = suggest_design(model, data, out, overwrite=overwrite)
    click.echo(
        f"{len(design.features)} features in {design.features['super_feature'].nunique()} super "
        f"features and {design.features['ultra_feature'].nunique()} ultra features → {out}"
    )


@main.group()
def propensity():
    """Account propensity: upsell and churn by renewal, per account and product."""


def _tables(contracts, usage, firmographics) -> dict:
    from lumos.data import read_table

    paths = {"contracts": contracts, "usage": usage, "firmographics": firmographics}
    return {k: read_table(v, what=k) if v else None for k, v in paths.items()}


def _run(paths: dict, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, naming the file of a table whose validation fails."""
    from lumos.errors import DataValidationError

    try:
        return fn(*args, **kwargs)
    except DataValidationError as exc:
        path = paths.get(exc.file) if exc.file else None
        if path is None:
            raise
        raise DataValidationError(
            f"file {path!r}: {exc.message}",
            code=exc.code,
            file=path,
            row=exc.row,
            column=exc.column,
        ) from None


_CONTRACTS = click.option(
    "--contracts",
    required=True,
    type=click.Path(dir_okay=False),
    help="The contracts table (.parquet, .csv, .jsonl).",
)
_USAGE = click.option(
    "--usage",
    required=True,
    type=click.Path(dir_okay=False),
    help="Monthly usage: account_id, product, month, metric, value.",
)
_FIRMO = click.option(
    "--firmographics",
    type=click.Path(dir_okay=False),
    help="Optional monthly firmographics: account_id, month, numbers.",
)


@propensity.command("train")
@_CONTRACTS
@_USAGE
@_FIRMO
@click.option(
    "--as-of", help="First day the tables do not cover (default: after the latest contract start)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the models, insights designs and validation report.",
)
@click.option("--overwrite", is_flag=True, help="Replace a model already in --out.")
@click.option("--lead-months", default=1, show_default=True, type=click.IntRange(0))
@click.option("--n-estimators", default=300, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@_friendly
def propensity_train(
    contracts, usage, firmographics, as_of, out, overwrite, lead_months, n_estimators, seed
):
    """Train account and per-product models of the change in units by renewal."""
    from lumos.recommend import AccountPrioritizer

    if Path(out).exists() and any(Path(out).iterdir()) and not overwrite:
        raise click.BadParameter(f"{out} is not empty; pass --overwrite", param_hint="--out")
    tables = _tables(contracts, usage, firmographics)
    paths = {"contracts": contracts, "usage": usage, "firmographics": firmographics}
    model = AccountPrioritizer(
        lead_months=lead_months, n_estimators=n_estimators, random_state=seed
    )
    _run(
        paths,
        model.fit,
        tables["contracts"],
        tables["usage"],
        firmographics=tables["firmographics"],
        as_of=_date(as_of, "--as-of"),
    )
    model.save(out, overwrite=overwrite)
    report = model.report_
    click.echo(f"Trained {len(model.models_)} models on data before {model.as_of_.date()} → {out}")
    for name, row in report.iterrows():
        figures = ", ".join(
            f"{k} {row[k]:.3f}"
            for k in ("upsell_roc_auc", "churn_roc_auc", "all_in_roc_auc")
            if k in row and row[k] == row[k]
        )
        click.echo(f"  {name:<20} validation rows {int(row['rows']):>6,}: {figures}")
    for name, why in model.skipped_.items():
        click.echo(f"  {name:<20} not trained: {why}")


@propensity.command("score")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="A folder written by `lumos propensity train`.",
)
@_CONTRACTS
@_USAGE
@_FIRMO
@click.option("--as-of", required=True, help="The scoring date, the 1st of a month.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output table: .parquet, .csv or .jsonl.",
)
@click.option("--top-k", default=None, type=click.IntRange(1), help="Narratives per row.")
@_friendly
def propensity_score(model_dir, contracts, usage, firmographics, as_of, out, top_k):
    """Score every account and product under contract on --as-of, with reasons."""
    from lumos.recommend import AccountPrioritizer

    _check_out(out)
    when = _date(as_of, "--as-of")
    model = AccountPrioritizer.load(model_dir)
    tables = _tables(contracts, usage, firmographics)
    paths = {"contracts": contracts, "usage": usage, "firmographics": firmographics}
    table = _run(
        paths,
        model.score,
        tables["contracts"],
        tables["usage"],
        firmographics=tables["firmographics"],
        as_of=when,
        top_k=top_k,
        last_month=True,
    )
    _write(table, out)
    classes = table["class"].value_counts()
    counts = ", ".join(f"{classes.get(c, 0):,} {c}" for c in ("upsell", "flat", "churn"))
    click.echo(f"{len(table):,} rows scored on {when.date()} ({counts}) → {out}")


@main.group()
def recommend():
    """Recommendations with reasons: courses for members."""


_LEARNING = ("members", "member_skills", "courses", "course_skills", "skills", "interactions")


@recommend.command("courses")
@click.option(
    "--tables",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    help=f"Folder of the tables {', '.join(_LEARNING)} (.parquet, .csv or .jsonl).",
)
@click.option("--as-of", required=True, help="Recommend as of this day (YYYY-MM-DD).")
@click.option(
    "--k", default=50, show_default=True, type=click.IntRange(1), help="Courses per member."
)
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
@click.option("--seed", default=0, show_default=True, type=int)
@_engine("the GLMix fitted and every member scored on Spark")
@_friendly
def recommend_courses(folder, as_of, k, members, scorer, out, seed, engine, master):
    """Top courses per member, each with its reason."""
    from lumos.data._io import read_tables
    from lumos.recommend import CourseRecommender

    _check_out(out)
    if engine == "spark":
        _spark_out(out)
        if members:
            raise click.BadParameter(
                "--engine spark scores every member; drop --member", param_hint="--member"
            )
    when = _date(as_of, "--as-of")
    t = read_tables(folder, _LEARNING)
    spark, fitter = _spark_fitter(engine, master)
    model = CourseRecommender(as_of=when, k=k, scorer=scorer, seed=seed, glmix_fitter=fitter)
    model.fit(*(t[name] for name in _LEARNING))
    if spark is not None:
        from lumos.spark import course_lists

        course_lists({scorer: model}, spark=spark).drop("model_id").write.parquet(out)
        table = spark.read.parquet(out).select("member_id", "reason").toPandas()
    else:
        table = model.recommend(list(members) or None)
        _write(table, out)
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
    help=f"Folder of the tables {', '.join(_LEARNING)}.",
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
@click.option("--k", default=50, show_default=True, type=click.IntRange(1))
@click.option(
    "--keep",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Versions kept for rollback.",
)
@_engine("the GLMix fitted and members scored on Spark, records written to Redis by the executors")
@_friendly
def recommend_publish(folder, as_of, target, models, config, experiment, k, keep, engine, master):
    """Score every member with each model and publish the lists into the store, versioned."""
    from lumos.data._io import read_tables
    from lumos.recommend import fit_course_models, publish_lists
    from lumos.store import COLD_START, open_store

    if engine == "spark" and not target.startswith(("redis://", "rediss://", "unix://")):
        raise click.BadParameter(
            "--engine spark publishes to Redis (every executor writes to it); give "
            "redis://host:port/db, or use --engine local for an LMDB folder",
            param_hint="--store",
        )
    router = _router(config, experiment, models.split(",")[0])
    t = read_tables(folder, _LEARNING)
    spark, fitter = _spark_fitter(engine, master)
    recs, cold = fit_course_models(
        tuple(t[n] for n in _LEARNING),
        as_of=_date(as_of, "--as-of"),
        models=models.split(","),
        k=k,
        glmix_fitter=fitter,
    )
    with open_store(target, keep=keep) as store:
        if spark is not None:
            from lumos.spark import publish_course_lists

            report = publish_course_lists(store, recs, cold_start=cold, router=router, spark=spark)
            version, members = report["version"], report["members"] - 1
        else:
            lists = {m: rec.recommend() for m, rec in recs.items()} | {COLD_START: cold}
            version = publish_lists(store, lists, router=router)
            members = len(set().union(*(set(lists[m]["member_id"]) for m in recs)))
        kept = store.versions()
    models = list(recs)
    click.echo(
        f"Published version {version} to {target}: {members:,} members, each with the list of "
        f"their treatment's model (of {', '.join(models)}), and the cold-start list; versions "
        f"kept: {', '.join(kept)}"
    )


def _spark_fitter(engine, master):
    """``(spark, glmix_fitter)`` for ``--engine spark``, ``(None, None)`` for the local engine."""
    if engine != "spark":
        return None, None
    from lumos.spark import glmix_fitter, session

    spark = session(master)
    return spark, glmix_fitter(spark)


def _router(config, experiment, default):
    from lumos.experiments import Experiments, ModelRouter

    if (config is None) != (experiment is None):
        raise click.BadParameter(
            "give --experiments and --experiment together", param_hint="--experiment"
        )
    return ModelRouter(Experiments.load(config) if config else None, experiment, default)


@main.command()
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
@click.option("--events", "sink", help="An event log folder, or redis://host:port/db.")
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
@_friendly
def serve(
    target,
    config,
    experiment,
    default_model,
    sink,
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
    """Serve recommendations, cohorts, account insights and events over HTTP, and the dashboard."""
    import os

    keys = [*key_hashes, *filter(None, os.environ.get("LUMOS_API_KEY_HASHES", "").split(","))]
    if read_keys and not keys:
        raise click.BadParameter(
            "reads need a key but no key is configured; give --api-key-hash or "
            "LUMOS_API_KEY_HASHES",
            param_hint="--read-keys",
        )
    app = _app(
        target,
        config,
        experiment,
        default_model,
        sink,
        insights,
        keys,
        course_skills,
        read_keys=read_keys,
        flush_ms=flush_ms,
        cohorts_config=cohorts_config,
        offers_folder=offers_folder,
        offer_log=offer_log,
        model=model_folder,
        health=(health_path, health_label, health_score, _split(health_groups) or [])
        if health_path
        else None,
        courses=courses_path,
    )
    click.echo(
        f"Serving on http://{host}:{port} (the dashboard at /, OpenAPI at /docs); Ctrl-C stops."
    )
    _run_server(app, host, port)


def _run_server(app, host: str, port: int) -> None:
    """uvicorn without what serving behind no proxy does not need (a few % of CPU)."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


def _app(
    target,
    config,
    experiment,
    default_model,
    sink,
    insights,
    key_hashes,
    course_skills=None,
    cohorts_config=None,
    offers_folder=None,
    offer_log=None,
    model=None,
    health=None,
    courses=None,
    **options,
):
    from lumos.data import read_table
    from lumos.errors import DataValidationError
    from lumos.events import EventLog, RedisEventLog
    from lumos.serve import create_app
    from lumos.store import open_store

    router = _router(config, experiment, default_model)
    events = None
    if sink:
        events = RedisEventLog(sink) if sink.startswith("redis") else EventLog(sink)
    table = None
    if insights:
        table = read_table(insights, what="insights")
        if "account_id" not in table.columns:
            raise DataValidationError(
                f"insights file {insights!r} has no column 'account_id'; give the table "
                "`lumos propensity score` writes.",
                code="missing_column",
                file=insights,
                column="account_id",
            )
        table = table.set_index("account_id")
    skills = None
    if course_skills:
        skills = read_table(course_skills, what="course skills")
        for column in ("course_id", "skill"):
            if column not in skills.columns:
                raise DataValidationError(
                    f"course skills file {course_skills!r} has no column {column!r}; give "
                    "course_id and skill (a name members follow).",
                    code="missing_column",
                    file=course_skills,
                    column=column,
                )
        skills = skills.astype({"course_id": str, "skill": str})
    redis = target.startswith(("redis://", "rediss://", "unix://"))
    store = open_store(target) if redis else open_store(target, readonly=True)
    cohorts = None
    if cohorts_config:
        from lumos.cohorts import CohortService, load_config

        cohorts = CohortService(
            load_config(cohorts_config), experiments=router.experiments, store=store
        )
    offer_model = None
    if offers_folder:
        from lumos.bandits import OfferModel

        offer_model = OfferModel.load(offers_folder)
    if offer_log is not None:
        if offer_model is None:
            raise click.BadParameter(
                "give --offers (the model to judge) too", param_hint="--offer-log"
            )
        _events_file(offer_log, "--offer-log")  # a wrong path fails now, not on first visit
        options |= {
            "offer_log": functools.partial(_read_events, offer_log, "--offer-log"),
            "offer_log_name": offer_log,
        }
    if model is not None:
        from lumos.recommend import AccountPrioritizer

        options["propensity_report"] = AccountPrioritizer.load(model).report_
    if health is not None:
        options |= _health(*health)
    if courses:
        titles = read_table(courses, what="courses")
        for column in ("course_id", "title"):
            if column not in titles.columns:
                raise DataValidationError(
                    f"courses file {courses!r} has no column {column!r}; give course_id and title.",
                    code="missing_column",
                    file=courses,
                    column=column,
                )
        options["course_titles"] = dict(
            zip(titles["course_id"].astype(str), titles["title"].astype(str), strict=True)
        )
    return create_app(
        offers=offer_model,
        cohorts=cohorts,
        store=store,
        treatment=router,
        events=events,
        insights=table,
        api_key_hashes=key_hashes,
        course_skills=skills,
        **options,
    )


def _health(path, label, score, groups) -> dict:
    """The Model health page's inputs: the predictions, checked now; their figures, later."""
    from lumos.data import read_table
    from lumos.evaluate import check_predictions, model_health

    data = read_table(path, what="predictions")
    check_predictions(data, label, score, groups, source=path)
    compute = functools.partial(model_health, data, label, score, groups=groups, source=path)
    return {"health": compute, "health_name": path}


@main.group()
def events():
    """Funnel events: convert them for older consumers."""


@events.command("convert")
@click.option(
    "--events", "sink", required=True, help="An event log folder, or redis://host:port/db."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="A folder: one table per legacy type (served, impression, click, …) and interactions.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default="parquet",
    show_default=True,
)
@click.option(
    "--item-type",
    default="course",
    show_default=True,
    help="The items the interactions table keeps ('all' for every type).",
)
@_friendly
def events_convert(sink, out, fmt, item_type):
    """Turn unified events into the per-type tables and the interactions table."""
    from lumos.events import by_type, to_interactions

    source = _event_source(sink)
    frame = source.read()
    tables = by_type(frame)
    tables["interactions"] = to_interactions(
        frame, item_type=None if item_type == "all" else item_type
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():  # each file whole or not at all
        _write(table, Path(out) / f"{name}.{fmt}")
    counts = ", ".join(f"{name} {len(t):,}" for name, t in tables.items())
    click.echo(f"{len(frame):,} events → {out}: {counts}")


def _check_out(out) -> None:
    if Path(out).suffix.lower() not in (".parquet", ".csv", ".jsonl"):
        raise click.BadParameter("use a .parquet, .csv or .jsonl file name", param_hint="--out")


def _write(table, out) -> None:
    """Write a table atomically in the format its file name says."""
    from lumos.data import atomic_path

    suffix = Path(out).suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_json(tmp, orient="records", lines=True, date_format="iso")


def _date(text, hint):
    import datetime

    import pandas as pd

    if text is None:
        return None
    try:
        return pd.Timestamp(datetime.date.fromisoformat(text))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date; use YYYY-MM-DD", param_hint=hint
        ) from None


@main.group()
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
@_friendly
def cohorts_fpr_service(config, cohort_id, delay_ms, host, port):
    """Serve one cohort's first-pass ranker over HTTP (what the `rest` plugin fetches)."""
    from lumos.cohorts import CohortService, fpr_service_app, load_config

    try:
        low, _, high = delay_ms.partition("-")
        delay = (float(low), float(high or low))
        if not 0 <= delay[0] <= delay[1] <= 60_000:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{delay_ms!r} is not LOW-HIGH milliseconds (e.g. 20-40)", param_hint="--delay-ms"
        ) from None
    parsed = load_config(config)
    if cohort_id not in parsed.cohorts:
        raise click.BadParameter(
            f"{cohort_id!r} is not a cohort of {config} ({', '.join(parsed.cohorts)})",
            param_hint="--cohort",
        )
    parsed.cohorts = {cohort_id: parsed.cohorts[cohort_id]}
    parsed.ranking.order = []
    service = CohortService(parsed)
    click.echo(f"Ranker {cohort_id!r} on http://{host}:{port}/v1/recommendations")
    _run_server(fpr_service_app(service, cohort_id, delay_ms=delay), host, port)


@cohorts.command("fit-ranker")
@click.option("--events", "sink", required=True, help="An event log folder, or redis://…")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Cohorts YAML: member features from its data (connections, …).",
)
@click.option("--out", required=True, help="The weights file (.json) ranking.relevance names.")
@_friendly
def cohorts_fit_ranker(sink, config, out):
    """Fit the relevance second-pass ranker from served, impression and action events."""
    from lumos.cohorts import CohortService, RelevanceRanker, load_config
    from lumos.data import atomic_path

    source = _event_source(sink)
    events = source.read()
    members = None
    if config:
        parsed = load_config(config)
        parsed.ranking.relevance = None
        parsed.ranking.experiment = None
        service = CohortService(parsed)
        frame = _member_table(service.members)
        members = frame if len(frame.columns) > 1 else None
    model = RelevanceRanker.fit(events, members)
    with atomic_path(out) as tmp:
        model.save(tmp)
    click.echo(
        f"relevance ranker over {len(model.cohorts)} cohorts, "
        f"{len(model.member_features)} member features → {out}"
    )


def _event_source(sink: str):
    """An event log to read: a folder (beside its writer) or a Redis stream."""
    from lumos.events import EventLog, RedisEventLog

    return RedisEventLog(sink) if sink.startswith("redis") else EventLog(sink, readonly=True)


def _member_table(members: dict):
    """The numeric member attributes a cohort service holds, as a table."""
    import pandas as pd

    frame = pd.DataFrame.from_dict(members, orient="index")
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    return frame[numeric].rename_axis("member_id").reset_index()


@main.group()
def offers():
    """Offer matching: retrain a policy from the event log, judge it off-policy."""


_LOGS = click.option(
    "--logs",
    "logs",
    required=True,
    help="The funnel events: an event log folder, redis://…, or a .jsonl/.parquet/.csv file.",
)


def _read_events(logs: str, flag: str = "--logs"):
    from lumos.data import read_table

    if _events_file(logs, flag):
        return read_table(logs, what="events")
    return _event_source(logs).read()


def _events_file(logs: str, flag: str) -> bool:
    """Whether ``logs`` is a file of events (else a log folder or Redis); neither is an error."""
    from pathlib import Path

    if logs.startswith(("redis://", "rediss://", "unix://")) or Path(logs).is_dir():
        return False
    if Path(logs).is_file():
        return True
    from lumos.errors import DataValidationError

    raise DataValidationError(
        f"{flag} {logs!r} is neither an event log folder nor a file; check the path.",
        code="file_not_found",
        file=logs,
    )


@offers.command("retrain")
@_LOGS
@click.option(
    "--model",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    help="The offer model folder: retrained in place, or made with --arms and --members.",
)
@click.option("--arms", type=click.Path(dir_okay=False), help="arm_id, product, creative, channel.")
@click.option("--members", type=click.Path(dir_okay=False), help="member_id and numeric columns.")
@click.option(
    "--policy",
    type=click.Choice(["lints", "neuralts", "egreedy"]),
    help="For a new model (default lints); NeuralTS needs lumos[neural].",
)
@click.option("--two-tower", type=click.IntRange(0), help="Embedding size of a two-tower model.")
@click.option("--cap-per-week", type=click.IntRange(0), help="Offers per member and channel.")
@click.option("--model-id", help="The model_id its served events carry (default offers).")
@click.option("--seed", type=int, help="Seeds the policy.")
@_friendly
def offers_retrain(logs, folder, arms, members, policy, two_tower, cap_per_week, model_id, seed):
    """Refit an offer policy from scratch on every closed round of the log."""
    from pathlib import Path

    from lumos.bandits import OfferModel, OfferSettings
    from lumos.data import read_table

    chosen = {
        "policy": policy,
        "two_tower": two_tower,
        "cap_per_week": cap_per_week,
        "model_id": model_id,
        "seed": seed,
    }
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if (Path(folder) / "offers.json").is_file() and not (arms or members):
        model = OfferModel.load(folder)
        if chosen:
            settings = {**model.settings.__dict__, **chosen}
            model = OfferModel(model.arms, model.members, OfferSettings(**settings))
    elif arms and members:
        model = OfferModel(
            read_table(arms, what="arms"), read_table(members, what="members"), chosen
        )
    else:
        raise click.BadParameter(
            f"{folder!r} holds no offer model yet; give --arms and --members to make one",
            param_hint="--model",
        )
    events = _read_events(logs)
    rounds = model.retrain(events)
    model.save(folder)
    click.echo(
        f"Retrained {model.settings.policy} on {rounds:,} rounds "
        f"({len(model.arm_ids)} arms, {len(model.members):,} members) → {folder}"
    )


@offers.command("evaluate")
@_LOGS
@click.option(
    "--policy",
    "folders",
    required=True,
    multiple=True,
    type=click.Path(file_okay=False),
    help="An offer model folder to judge (repeatable).",
)
@click.option(
    "--estimators",
    default="ipw,snipw,dm,dr,switch-dr",
    show_default=True,
    help="Comma-separated: ipw, snipw, dm, dr, switch-dr.",
)
@click.option(
    "--candidates",
    default="model",
    show_default=True,
    help="Comma-separated candidate policies of each model: model, greedy, uniform, no_offer.",
)
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(10))
@click.option("--seed", default=0, show_default=True, type=int)
@_friendly
def offers_evaluate(logs, folders, estimators, candidates, bootstrap, seed):
    """Estimate each policy's conversion rate on a log written by another policy."""
    import pandas as pd

    from lumos.bandits import ESTIMATORS, OfferModel
    from lumos.bandits._offers import CANDIDATES

    names = [e.strip() for e in estimators.split(",") if e.strip()]
    unknown = [e for e in names if e not in ESTIMATORS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown estimator {unknown[0] if unknown else estimators!r}; use "
            f"{', '.join(ESTIMATORS)}",
            param_hint="--estimators",
        )
    chosen = _split(candidates) or []
    wrong = [c for c in chosen if c not in CANDIDATES]
    if wrong or not chosen:
        raise click.BadParameter(
            f"unknown candidate {wrong[0] if wrong else candidates!r}; use {', '.join(CANDIDATES)}",
            param_hint="--candidates",
        )
    events = _read_events(logs)
    tables = []
    for folder in folders:
        model = OfferModel.load(folder)
        judged = dict(estimators=names, n_bootstrap=bootstrap, random_state=seed)
        if chosen == ["model"]:  # the model alone: one row per estimator
            table = model.evaluate(events, **judged)
        else:
            table = model.compare(events, candidates=chosen, **judged)
            table = table.rename_axis(["candidate", "estimator"])
        tables.append(table.assign(policy=folder).set_index("policy", append=True))
    table = pd.concat(tables).reorder_levels(["policy", *tables[0].index.names[:-1]])
    click.echo(f"conversion rate per round ({int(table['rounds'].iloc[0]):,} logged rounds):")
    shown = table.drop(columns="rounds")
    click.echo(shown.to_string(float_format=lambda x: f"{x:.4f}", sparsify=False))


@main.group("evaluate")
def evaluate_group():
    """Modeler tools: where a model under-performs, fairness gaps, A/B tests."""


_PREDICTIONS = [
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


def _predictions(fn):
    for option in reversed(_PREDICTIONS):
        fn = option(fn)
    return fn


def _load_predictions(data_path, label, score, columns=()):
    from lumos.data import read_table
    from lumos.errors import DataValidationError

    data = read_table(data_path, what="predictions")
    for column in (label, score, *columns):
        if column not in data.columns:
            raise DataValidationError(
                f"predictions file {data_path!r} has no column {column!r}; it has "
                f"{', '.join(map(str, data.columns[:12]))}.",
                code="missing_column",
                file=data_path,
                column=column,
            )
    return data


def _split(text):
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _write_html(out, page: str) -> None:
    if out:
        from lumos.data._io import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
        click.echo(f"Report: {out}")


@evaluate_group.command("slices")
@_predictions
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
@_friendly
def evaluate_slices(data_path, label, score, out, features, metric, max_order, min_support, top_k):
    """Find the slices of rows where the model does significantly worse than on the rest."""
    from lumos.evaluate import find_slices
    from lumos.evaluate._report import slices_html

    features = _split(features)
    data = _load_predictions(data_path, label, score, features or ())
    found = find_slices(
        data,
        label,
        score,
        features,
        metric=metric,
        max_order=max_order,
        min_support=min_support,
        top_k=top_k,
    )
    shown = found.table[
        ["slice", "share", "metric_slice", "metric_rest", "effect", "low", "high", "p_adjusted"]
    ]
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for sentence in found.sentences()[:5]:
        click.echo(f"• {sentence}")
    _write_html(out, slices_html(found))


@evaluate_group.command("fairness")
@_predictions
@click.option("--groups", required=True, help="Comma-separated group columns (gender,age,…).")
@click.option("--threshold", default=0.5, show_default=True, type=float)
@click.option("--bootstrap", default=500, show_default=True, type=click.IntRange(0))
@_friendly
def evaluate_fairness(data_path, label, score, out, groups, threshold, bootstrap):
    """Metrics per group, the largest gaps with intervals, and slices inside each group."""
    from lumos.evaluate import fairness_report
    from lumos.evaluate._report import fairness_html

    groups = _split(groups)
    data = _load_predictions(data_path, label, score, groups)
    report = fairness_report(data, label, score, groups, threshold=threshold, n_bootstrap=bootstrap)
    click.echo(report.gaps.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for sentence in report.sentences()[:5]:
        click.echo(f"• {sentence}")
    _write_html(out, fairness_html(report))


@evaluate_group.command("abtest")
@click.option("--events", "sink", required=True, help="An event log folder, redis://…, or a file.")
@click.option("--control", help="The control treatment (default: the first by name).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write an HTML report here.")
@_friendly
def evaluate_abtest(sink, control, out):
    """Each treatment's lift over control on CTR, conversion and every action's rate."""
    from lumos.evaluate import abtest
    from lumos.evaluate._report import abtest_html

    result = abtest(_read_events(sink), control=control)
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
    _write_html(out, abtest_html(result))


@main.group()
def report():
    """Reports read from the event log."""


@report.command("funnel")
@click.option("--events", "sink", required=True, help="An event log folder, or redis://…")
@click.option(
    "--by",
    default="cohort",
    show_default=True,
    type=click.Choice(["cohort", "item_type", "channel"]),
)
@_friendly
def report_funnel(sink, by):
    """Served → impression → action rates per cohort (or item type, channel)."""
    from lumos.events import funnel

    source = _event_source(sink)
    table = funnel(source.read(), by=by)
    if table.empty:
        click.echo("no served events with a " + by)
        return
    click.echo(table.to_string(float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":  # pragma: no cover
    main()
