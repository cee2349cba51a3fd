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
    default=5000,
    show_default=True,
    type=click.IntRange(1),
    help="Number of generated customer accounts.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@_friendly
def demo(out, n_accounts, seed):
    """Run the main job on generated data: train, explain every account, write narratives."""
    from lumos.demo import run_demo

    run_demo(Path(out), n_accounts=n_accounts, seed=seed, echo=click.echo)


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
    type=click.Path(dir_okay=False),
    help="Output file: .jsonl, .csv, .parquet or .html.",
)
@click.option(
    "--method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "shap", "tree_shap", "linear_shap", "lime", "klime"]),
)
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


if __name__ == "__main__":  # pragma: no cover
    main()
