"""``lumos explain run | suggest-design``: narratives of a model's scores."""

from __future__ import annotations

from pathlib import Path

import click

from lumos.cli._common import DATA, MODEL, SEED, TRUST, engine, friendly, spark_out, spark_session


def lime_options(command):
    """``--lime-*``: LIME's settings, for ``--method lime``."""
    options = [
        click.option(
            "--lime-sampling",
            type=click.Choice(["quartile", "gaussian"]),
            help="quartile (lime's default): perturbations from the data's quartile bins; "
            "gaussian: normal noise around each row.  [default: quartile]",
        ),
        click.option(
            "--lime-samples",
            type=click.IntRange(2),
            help="Perturbations per row.  [default: 5000]",
        ),
        click.option(
            "--lime-features",
            type=click.IntRange(1),
            help="quartile only: features kept in each explanation.  [default: 10]",
        ),
        click.option(
            "--lime-selection",
            type=click.Choice(["auto", "highest_weights", "forward_selection", "none"]),
            help="quartile only: how those features are picked, as in lime.  [default: auto]",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def method_options(method: str, sampling, samples, features, selection) -> dict:
    """The ``--lime-*`` flags given, as :func:`lumos.explain.attribute`'s keywords."""
    given = {
        "--lime-sampling": ("sampling", sampling),
        "--lime-samples": ("num_samples", samples),
        "--lime-features": ("num_features", features),
        "--lime-selection": ("feature_selection", selection),
    }
    given = {flag: pair for flag, pair in given.items() if pair[1] is not None}
    if given and method != "lime":
        raise click.BadParameter(
            f"{', '.join(given)} set LIME's options; add --method lime (got {method}).",
            param_hint="--method",
        )
    return dict(given.values())


@click.group()
def explain():
    """Narrative explanations of a model's scores."""


@explain.command("run")
@MODEL
@DATA
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
@engine("rows explained partition by partition on Spark")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1))
@click.option(
    "--direction",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "positive", "negative", "absolute"]),
    help="Explain each row by what moves its score away from the average (auto), up, or down.",
)
@click.option(
    "--score-column",
    default="score",
    show_default=True,
    help="For a scores table: the column holding the model's score.",
)
@lime_options
@TRUST
@SEED
@click.option(
    "--strict", is_flag=True, help="Fail, writing nothing, if any narrative is incoherent."
)
@friendly
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
    random_state,
    strict,
    engine,
    master,
    lime_sampling,
    lime_samples,
    lime_features,
    lime_selection,
):
    """Explain every row of a table and write its narratives (audited: see explain audit)."""
    from lumos.errors import LumosUserError
    from lumos.explain import FORMATS, InsightsDesign, explain_table, export, import_model

    if Path(out).suffix.lower() not in FORMATS:
        raise click.BadParameter(
            "use a .jsonl, .csv, .parquet or .html file name", param_hint="--out"
        )
    if engine == "spark":
        spark_out(out)
    design = InsightsDesign.load(design_dir)
    model = import_model(model_path, trust=trust, score_column=score_column, id_column=id_column)
    job = dict(
        id_column=id_column,
        method=method,
        top_k=top_k,
        direction=direction,
        random_state=random_state,
        source=f"data file {data_path!r}",
        options=method_options(method, lime_sampling, lime_samples, lime_features, lime_selection),
    )
    if engine == "spark":
        from lumos.spark.engine import read_frame

        spark = spark_session(engine, master)
        frame = read_frame(spark, data_path, job["source"])
        narratives, _, _ = explain_table(model, frame, design, engine="spark", spark=spark, **job)
        narratives.write.parquet(out)
        written = spark.read.parquet(out).count()
        click.echo(f"{frame.count():,} rows explained on Spark: {written:,} narratives → {out}")
        return
    from rich.progress import Progress

    from lumos.data import read_table

    data = read_table(data_path, what="data")
    with Progress(transient=True, disable=len(data) < 50_000) as bar:
        task = bar.add_task("explaining", total=len(data))
        done = explain_table(
            model, data, design, progress=lambda n: bar.advance(task, n), audit=True, **job
        )
    narratives, scores, used = done
    if strict and done.audit.counts["incoherent"]:
        first = done.audit.failures.query("check == 'incoherent'").iloc[0]
        raise LumosUserError(
            f"{done.audit.counts['incoherent']:,} narratives are incoherent (row "
            f"{first['row']!r}: {first['text']!r}); nothing was written. See lumos explain audit.",
            code="incoherent",
        )
    export(narratives, out, scores=scores)
    click.echo(
        f"{len(scores):,} rows explained with {used}: {len(narratives):,} narratives "
        f"({narratives.attrs['skipped']:,} skipped for missing values, "
        f"{narratives.attrs['immaterial']:,} changes too small to be reasons) → {out}"
    )
    click.echo(done.audit.summary())


@explain.command("suggest-design")
@MODEL
@DATA
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write features.csv, insights.csv and templates.yaml to.",
)
@click.option(
    "--peers",
    default="rows",
    show_default=True,
    help="What a row is, as levels are compared: 'higher than 88%% of accounts'.",
)
@click.option("--segment", help="A column whose groups each level is compared within.")
@click.option("--overwrite", is_flag=True, help="Replace a design already in --out.")
@TRUST
@friendly
def suggest_design_cmd(model_path, data_path, out, peers, segment, overwrite, trust):
    """Write a starting insights design for a model, to edit by hand."""
    from lumos.data import read_table
    from lumos.explain import import_model, suggest_design

    model = import_model(model_path, trust=trust)
    data = read_table(data_path, what="data")
    design = suggest_design(model, data, out, peers=peers, segment=segment, overwrite=overwrite)
    click.echo(
        f"{len(design.features)} features in {design.features['super_feature'].nunique()} super "
        f"features and {design.features['ultra_feature'].nunique()} ultra features → {out}"
    )


@explain.command("audit")
@MODEL
@DATA
@click.option(
    "--design",
    "design_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Insights design folder (features.csv, insights.csv, templates.yaml).",
)
@click.option("--id-column", required=True, help="The column that identifies rows.")
@click.option(
    "--method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "shap", "tree_shap", "linear_shap", "lime", "klime"]),
)
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1))
@click.option(
    "--direction",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "positive", "negative", "absolute"]),
)
@click.option("--score-column", default="score", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Write the failures table (.csv, .parquet)."
)
@lime_options
@TRUST
@SEED
@friendly
def explain_audit(
    model_path,
    data_path,
    design_dir,
    id_column,
    method,
    top_k,
    direction,
    score_column,
    out,
    trust,
    random_state,
    lime_sampling,
    lime_samples,
    lime_features,
    lime_selection,
):
    """Check every narrative a design writes: coherent, material, in context, readable."""
    from lumos.cli._common import write_table
    from lumos.data import read_table
    from lumos.explain import InsightsDesign, explain_table, import_model

    design = InsightsDesign.load(design_dir)
    model = import_model(model_path, trust=trust, score_column=score_column, id_column=id_column)
    data = read_table(data_path, what="data")
    done = explain_table(
        model,
        data,
        design,
        id_column=id_column,
        method=method,
        top_k=top_k,
        direction=direction,
        random_state=random_state,
        source=f"data file {data_path!r}",
        audit=True,
        options=method_options(method, lime_sampling, lime_samples, lime_features, lime_selection),
    )
    failures = done.audit.failures
    if len(failures):
        shown = failures.groupby("check", sort=False).head(5)
        click.echo(
            shown[["row", "super_feature", "check", "reason", "text"]].to_string(index=False)
        )
    if out:
        write_table(failures, out)
    click.echo(done.audit.summary())
