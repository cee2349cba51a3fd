"""Offer models as folders: open one (or make it from its tables), and judge several on a log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lumos.bandits._offer_judging import CANDIDATES
from lumos.bandits._offers import OfferModel, OfferSettings
from lumos.bandits._ope import ESTIMATORS
from lumos.errors import LumosUserError


def open_offer_model(folder, *, arms=None, members=None, settings=None) -> OfferModel:
    """The offer model in ``folder``, with ``settings`` changed; or, given the ``arms`` and
    ``members`` tables (or their files), a new model of them.

    ``settings`` maps :class:`OfferSettings` fields to values (None leaves a field as
    it is): what ``lumos offers retrain --algorithm … --cap-per-week …`` changes.
    """
    from lumos.data import read_table

    chosen = {k: v for k, v in (settings or {}).items() if v is not None}
    if (Path(folder) / "offers.json").is_file() and arms is None and members is None:
        model = OfferModel.load(folder)
        if chosen:
            kept = {**model.settings.__dict__, **chosen}
            model = OfferModel(model.arms, model.members, OfferSettings(**kept))
        return model
    if arms is not None and members is not None:
        if not isinstance(arms, pd.DataFrame):
            arms = read_table(arms, what="arms")
        if not isinstance(members, pd.DataFrame):
            members = read_table(members, what="members")
        return OfferModel(arms, members, chosen)
    raise LumosUserError(
        f"{str(folder)!r} holds no offer model yet; give --arms and --members (arms=, "
        "members=) to make one.",
        code="file_not_found",
    )


def judge_models(
    folders,
    events,
    *,
    estimators=ESTIMATORS,
    candidates=("model",),
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Each offer model's conversion rate per round, estimated off-policy on ``events``.

    One row per (model folder, estimator) — and candidate policy, when
    ``candidates`` names more than the model itself (``greedy``, ``uniform``,
    ``no_offer``; :meth:`OfferModel.compare`).
    """
    names = list(estimators)
    unknown = [e for e in names if e not in ESTIMATORS]
    if unknown or not names:
        raise LumosUserError(
            f"unknown estimator {unknown[0] if unknown else ','.join(names)!r}; use "
            f"{', '.join(ESTIMATORS)}.",
            code="bad_argument",
        )
    chosen = list(candidates)
    wrong = [c for c in chosen if c not in CANDIDATES]
    if wrong or not chosen:
        raise LumosUserError(
            f"unknown candidate {wrong[0] if wrong else ','.join(chosen)!r}; use "
            f"{', '.join(CANDIDATES)}.",
            code="bad_argument",
        )
    tables = []
    for folder in folders:
        model = OfferModel.load(folder)
        judged = dict(estimators=names, n_bootstrap=n_bootstrap, random_state=random_state)
        if chosen == ["model"]:  # the model alone: one row per estimator
            table = model.evaluate(events, **judged)
        else:
            table = model.compare(events, candidates=chosen, **judged)
            table = table.rename_axis(["candidate", "estimator"])
        tables.append(table.assign(policy=str(folder)).set_index("policy", append=True))
    return pd.concat(tables).reorder_levels(["policy", *tables[0].index.names[:-1]])
