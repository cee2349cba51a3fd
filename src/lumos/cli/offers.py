"""``lumos offers retrain | evaluate``: an offer policy refitted from the event log, and judged
off-policy on a log another policy wrote."""

from __future__ import annotations

import click

from lumos.cli._common import SEED, events_option, friendly, renamed, split, warn


@click.group()
def offers():
    """Offer matching: retrain a policy from the event log, judge it off-policy."""


@offers.command("retrain")
@events_option()
@click.option(
    "--model",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    help="The offer model folder: retrained in place, or made with --arms and --members.",
)
@click.option("--arms", type=click.Path(dir_okay=False), help="arm_id, product, creative, channel.")
@click.option("--members", type=click.Path(dir_okay=False), help="member_id and numeric columns.")
@renamed(
    "--algorithm",
    "algorithm",
    old=("--policy",),
    type=click.Choice(["lints", "neuralts", "egreedy"]),
    help="The policy's algorithm, for a new model (default lints); NeuralTS needs lumos[neural].",
)
@click.option("--two-tower", type=click.IntRange(0), help="Embedding size of a two-tower model.")
@click.option("--cap-per-week", type=click.IntRange(0), help="Offers per member and channel.")
@click.option("--model-id", help="The model_id its served events carry (default offers).")
@renamed("--random-state", "random_state", old=("--seed",), type=int, help="Seeds the policy.")
@friendly
def offers_retrain(
    events, folder, arms, members, algorithm, two_tower, cap_per_week, model_id, random_state
):
    """Refit an offer policy from scratch on every closed round of the log."""
    from lumos.bandits import open_offer_model
    from lumos.events import read_events

    chosen = {
        "policy": algorithm,
        "two_tower": two_tower,
        "cap_per_week": cap_per_week,
        "model_id": model_id,
        "random_state": random_state,
    }
    model = open_offer_model(folder, arms=arms, members=members, settings=chosen)
    rounds = model.retrain(read_events(events, name="--events", notify=warn))
    model.save(folder)
    click.echo(
        f"Retrained {model.settings.policy} on {rounds:,} rounds "
        f"({len(model.arm_ids)} arms, {len(model.members):,} members) → {folder}"
    )


@offers.command("evaluate")
@events_option()
@renamed(
    "--model",
    "folders",
    old=("--policy",),
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
@SEED
@friendly
def offers_evaluate(events, folders, estimators, candidates, bootstrap, random_state):
    """Estimate each policy's conversion rate on a log written by another policy."""
    from lumos.bandits import judge_models
    from lumos.events import read_events

    table = judge_models(
        folders,
        read_events(events, name="--events", notify=warn),
        estimators=split(estimators) or [],
        candidates=split(candidates) or [],
        n_bootstrap=bootstrap,
        random_state=random_state,
    )
    click.echo(f"conversion rate per round ({int(table['rounds'].iloc[0]):,} logged rounds):")
    shown = table.drop(columns="rounds")
    click.echo(shown.to_string(float_format=lambda x: f"{x:.4f}", sparsify=False))
