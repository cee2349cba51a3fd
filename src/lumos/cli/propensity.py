"""``lumos propensity train | score``: upsell and churn by renewal, per account and product."""

from __future__ import annotations

from pathlib import Path

import click

from lumos.cli._common import SEED, check_out, friendly, parse_date, write_table


@click.group()
def propensity():
    """Account propensity: upsell and churn by renewal, per account and product."""


CONTRACTS = click.option(
    "--contracts",
    required=True,
    type=click.Path(dir_okay=False),
    help="The contracts table (.parquet, .csv, .jsonl).",
)
USAGE = click.option(
    "--usage",
    required=True,
    type=click.Path(dir_okay=False),
    help="Monthly usage: account_id, product, month, metric, value.",
)
FIRMOGRAPHICS = click.option(
    "--firmographics",
    type=click.Path(dir_okay=False),
    help="Optional monthly firmographics: account_id, month, numbers.",
)

PURCHASES = click.option(
    "--purchases",
    type=click.Path(dir_okay=False),
    help="Optional purchase log: account_id, date, one row per purchase (orders, add-ons, "
    "invoices); adds BG/NBD's expected purchases and chances to the features and reasons. "
    "A model trained with it scores with it.",
)


def files(contracts, usage, firmographics, purchases) -> dict:
    return {
        "contracts": contracts,
        "usage": usage,
        "firmographics": firmographics,
        "purchases": purchases,
    }


def purchase_log(table):
    """The purchases table with its dates read as dates (a date that is not one becomes empty,
    which the features refuse naming its row)."""
    import pandas as pd

    if table is None or "date" not in table or pd.api.types.is_datetime64_any_dtype(table["date"]):
        return table
    return table.assign(date=pd.to_datetime(table["date"], errors="coerce"))


@propensity.command("train")
@CONTRACTS
@USAGE
@FIRMOGRAPHICS
@PURCHASES
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
@SEED
@friendly
def propensity_train(
    contracts,
    usage,
    firmographics,
    purchases,
    as_of,
    out,
    overwrite,
    lead_months,
    n_estimators,
    random_state,
):
    """Train account and per-product models of the change in units by renewal."""
    from lumos.data import naming_files, read_files
    from lumos.recommend import AccountPrioritizer

    if Path(out).exists() and any(Path(out).iterdir()) and not overwrite:
        raise click.BadParameter(f"{out} is not empty; pass --overwrite", param_hint="--out")
    paths = files(contracts, usage, firmographics, purchases)
    tables = read_files(paths)
    model = AccountPrioritizer(
        lead_months=lead_months, n_estimators=n_estimators, random_state=random_state
    )
    with naming_files(paths):
        model.fit(
            tables["contracts"],
            tables["usage"],
            firmographics=tables["firmographics"],
            purchases=purchase_log(tables["purchases"]),
            as_of=parse_date(as_of, "--as-of"),
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
@CONTRACTS
@USAGE
@FIRMOGRAPHICS
@PURCHASES
@click.option("--as-of", required=True, help="The scoring date, the 1st of a month.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output table: .parquet, .csv or .jsonl.",
)
@click.option("--top-k", default=None, type=click.IntRange(1), help="Narratives per row.")
@friendly
def propensity_score(model_dir, contracts, usage, firmographics, purchases, as_of, out, top_k):
    """Score every account and product under contract on --as-of, with reasons; the rows by
    predicted change in units, largest first."""
    from lumos.data import naming_files, read_files
    from lumos.recommend import AccountPrioritizer

    check_out(out)
    when = parse_date(as_of, "--as-of")
    model = AccountPrioritizer.load(model_dir)
    paths = files(contracts, usage, firmographics, purchases)
    tables = read_files(paths)
    with naming_files(paths):
        table = model.score(
            tables["contracts"],
            tables["usage"],
            firmographics=tables["firmographics"],
            purchases=purchase_log(tables["purchases"]),
            as_of=when,
            top_k=top_k,
            last_month=True,
        )
    table = table.sort_values(  # the dashboard's and the report's order: the largest gain first
        ["predicted_change", "account_id", "product"],
        ascending=[False, True, True],
        na_position="first",  # an account's own row before its products' on a tie
        kind="stable",
        ignore_index=True,
    )
    write_table(table, out)
    classes = table["class"].value_counts()
    counts = ", ".join(f"{classes.get(c, 0):,} {c}" for c in ("upsell", "flat", "churn"))
    click.echo(f"{len(table):,} rows scored on {when.date()} ({counts}) → {out}")
    accounts = table[table["product"].isna()]
    if len(accounts):
        top = accounts.iloc[0]
        click.echo(
            f"Largest predicted change: account {top['account_id']}, {top['units']:,.0f} units, "
            f"{top['predicted_change']:+.1f} by {top['renewal']:%b %Y}."
        )
