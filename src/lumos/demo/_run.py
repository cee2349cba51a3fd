"""The main job, ``lumos demo``: every system on one generated population, with reasons.

It generates one population — members who work at customer accounts — and a
book of SaaS business of those accounts (contracts, monthly usage,
firmographics), trains the Account Prioritizer on renewal-window labels and
window features, and scores every account and product in the last month of
data with its reasons. The members learn on a generated learning platform,
which recommends them courses, each with its reason, and judges the course
model on the last two weeks' clicks; they meet in a generated network, whose
discovery cohorts the second-pass ranker orders; they get offers, which LinTS
learns to make from a uniform policy's log. It writes everything a user needs
to look at it or rerun it with ``lumos propensity train | score``, ``lumos
explain run``, ``lumos recommend courses`` and ``lumos offers``, and names one
member and one account to try everywhere (``try.json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from lumos._checks import renamed
from lumos.data import atomic_path
from lumos.data.demo import learning, population, saas
from lumos.demo._try import candidates, first_with_cohorts, save_try
from lumos.experiments import Experiments, ModelRouter
from lumos.explain import carousels, export
from lumos.recommend import AccountPrioritizer, CourseRecommender, course_lists, publish_lists
from lumos.store import LMDBStore

MEMBERS = 3000  # the population: the learning platform's, the network's and the offers' members


def run_demo(
    out: Path,
    *,
    n_accounts: int = 2000,
    months: int = 36,
    random_state: int = 0,
    echo: Callable[[str], None] = print,
    seed: int | None = None,
) -> dict:
    """Run the demo into folder ``out`` and return what it wrote and measured.

    Returns ``seconds``, ``paths``, ``report`` (the prioritizer's validation),
    ``scores``, and the ``member`` and ``account`` to try: a member with a course
    list of their own, discovery cohorts and offers, and the account they work at,
    which has scores and narratives.
    """
    seed = renamed(random_state, seed, old="seed", new="random_state", owner="run_demo")
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pop = population(MEMBERS, n_accounts, random_state=seed)
    book = saas(months=months, random_state=seed, accounts=pop.accounts)
    tables = {"contracts": book.contracts, "usage": book.usage, "firmographics": book.firmographics}
    paths = {name: out / "tables" / f"{name}.parquet" for name in tables}
    for name, table in tables.items():
        paths[name].parent.mkdir(exist_ok=True)
        with atomic_path(paths[name]) as tmp:
            table.to_parquet(tmp, index=False)

    model = AccountPrioritizer(n_estimators=150, learning_rate=0.1, random_state=seed)
    model.fit(book.contracts, book.usage, firmographics=book.firmographics, as_of=book.end)
    as_of = book.end - pd.DateOffset(months=1)  # the last month of data
    args = (book.contracts, book.usage)
    scores, text = model.score(  # last month's scores too: the dashboard's change column
        *args, firmographics=book.firmographics, as_of=as_of, narratives=True, last_month=True
    )
    features = model.features(*args, firmographics=book.firmographics, as_of=as_of)
    names = pop.accounts.set_index("account_id")["name"]
    scores.insert(1, "account_name", scores["account_id"].map(names))
    scores = in_rank_order(scores)

    paths |= {
        "model": out / "model",
        "scores": out / "scores.parquet",
        "scores_csv": out / "scores.csv",
        "features": out / "features.parquet",
        "narratives": out / "narratives.jsonl",
        "report": out / "report.html",
    }
    model.save(paths["model"], overwrite=True)
    with atomic_path(paths["scores"]) as tmp:
        scores.to_parquet(tmp, index=False)
    with atomic_path(paths["scores_csv"]) as tmp:
        scores.to_csv(tmp, index=False)
    with atomic_path(paths["features"]) as tmp:
        features.drop(columns=["cutoff", "renewal", "quantity"]).to_parquet(tmp, index=False)
    accounts = scores[scores["product"].isna()].set_index("account_id")
    mine = text[text["row"].isin(accounts.index)]
    change = accounts["predicted_change"]  # the report lists the biggest upsell first
    export(mine, paths["narratives"], scores=change)
    export(  # the accounts' names, figures and products on each card
        mine,
        paths["report"],
        scores=change,
        title=f"Lumos demo: account propensity on {as_of:%b %-d, %Y}",
        table=scores,
    )
    report = model.report_
    echo(
        f"Population: {len(pop.members):,} members working at "
        f"{pop.members['account_id'].nunique():,} of {n_accounts:,} customer accounts; the same "
        "people learn, network and get offers below."
    )
    echo(
        f"Book: {n_accounts:,} accounts, {len(book.contracts):,} contracts, "
        f"{len(book.usage):,} usage rows over {months} months."
    )
    echo(
        f"Trained {len(model.models_)} models on renewals before {model.as_of_:%Y-%m-%d}; "
        "validated on later cutoffs:"
    )
    for name, row in report.iterrows():
        if name == "all_in":
            echo(f"  {name:<18} all-in deal ROC-AUC {row['all_in_roc_auc']:.3f}")
        else:
            echo(
                f"  {name:<18} upsell ROC-AUC {row['upsell_roc_auc']:.3f}, "
                f"churn ROC-AUC {row['churn_roc_auc']:.3f}"
            )
    counts = accounts["class"].value_counts()
    echo(
        f"\nScored {len(scores):,} accounts and products on {as_of:%Y-%m-%d}: "
        + ", ".join(f"{counts.get(c, 0):,} {c}" for c in ("upsell", "flat", "churn"))
        + " (accounts)."
    )
    for title, rows in (
        ("Top upsell", accounts.nlargest(2, "predicted_change")),
        ("Top churn risk", accounts.nsmallest(2, "predicted_change")),
    ):
        for account, row in rows.iterrows():
            echo(
                f"\n{title}: {account} ({names[account]}), {row['units']:,.0f} units, predicted "
                f"change {row['predicted_change']:+.1f} units by {row['renewal']:%b %Y}"
            )
            for line in text.loc[text["row"] == account, "text"]:
                echo(f"  • {line}")

    courses = _courses(out, pop.members, seed=seed)
    paths |= courses["paths"]
    network = _network(out, paths["store"], pop.members, seed=seed)
    paths |= network["paths"]
    fit = candidates(pop.members, scores["account_id"], courses["lists"], courses["router"])
    member, page = _first_with_cohorts(network["service"], fit)
    who = pop.members.set_index("member_id").loc[member]
    account = who["account_id"]
    _say_courses(courses, member, echo)
    _say_network(network, member, page, echo)
    paths |= _offers(out, pop.members, member, seed=seed, echo=echo)
    paths["try"] = save_try(out, member, account)
    elapsed = time.perf_counter() - started
    echo("")
    for name, path in paths.items():
        echo(f"{name:>15}: {path}")
    echo(
        f"\nTry member {member} ({who['name']}, {who['title']} at {who['company']}) and their "
        f"account {account} on the dashboard and in the API."
    )
    echo(f"Done in {elapsed:.1f} s. Open {paths['report']} in a browser.")
    return {
        "seconds": elapsed,
        "paths": paths,
        "report": report,
        "scores": scores,
        "member": member,
        "account": account,
    }


def in_rank_order(scores: pd.DataFrame) -> pd.DataFrame:
    """A score table in the order every page lists it: by predicted change in units, largest
    first (as ``lumos propensity score`` writes it)."""
    return scores.sort_values(
        ["predicted_change", "account_id", "product"],
        ascending=[False, True, True],
        na_position="first",  # an account's own row before its products' on a tie
        kind="stable",
        ignore_index=True,
    )


def _courses(out: Path, members: pd.DataFrame, *, seed: int) -> dict:
    """Course recommendations with reasons on a generated learning platform of ``members``;
    both models' lists published, and the GLMix judged on held-out clicks."""
    book = learning(n_courses=600, days=60, random_state=seed, members=members)
    folder = out / "learning"
    folder.mkdir(exist_ok=True)
    for name, table in book.tables.items():
        with atomic_path(folder / f"{name}.parquet") as tmp:
            table.to_parquet(tmp, index=False)
    model = CourseRecommender(as_of=book.end, top_k=20, scorer="glmix", random_state=seed)
    model.fit(book.tables)
    recs = model.recommend()
    path = out / "course_recommendations.parquet"
    with atomic_path(path) as tmp:
        recs.to_parquet(tmp, index=False)
    # publish both models' lists (half the members on each) and the cold-start list
    experiments = out / "experiments.yaml"
    with atomic_path(experiments) as tmp:
        tmp.write_text(_EXPERIMENTS)
    lists = {
        "glmix": recs,
        **course_lists(
            book.tables, as_of=book.end, models=["affinity"], top_k=20, random_state=seed
        ),
    }
    router = ModelRouter(Experiments.load(experiments), "course_ranker", default="glmix")
    store = out / "store"
    with LMDBStore(store) as s:
        version = publish_lists(s, lists, router=router)
    health = out / "course_health.parquet"
    table = _held_out(book, days=14, seed=seed)
    with atomic_path(health) as tmp:
        table.to_parquet(tmp, index=False)
    auc = table.groupby("model", sort=False)[["label", "score"]].apply(
        lambda t: roc_auc_score(t["label"], t["score"])
    )
    return {
        "book": book,
        "glmix": model.glmix_,
        "recs": recs,
        "lists": lists,
        "router": router,
        "version": version,
        "auc": auc,
        "judged": len(table) // len(auc),
        "paths": {
            "learning_tables": folder,
            "courses": path,
            "experiments": experiments,
            "store": store,
            "health": health,
        },
    }


def _say_courses(courses: dict, member: str, echo) -> None:
    book, recs, glmix = courses["book"], courses["recs"], courses["glmix"]
    who = book.members.set_index("member_id").loc[member]
    echo(
        f"\nCourses: a GLMix (global + {len(glmix.entity_ids_['member_id']):,} per-member + "
        f"{len(glmix.entity_ids_['course_id']):,} per-course models) trained on the clicks, then "
        f"{len(recs):,} recommendations for {recs['member_id'].nunique():,} members, each with "
        f"a reason. For {member} ({who['title']}, {who['industry']}, {who['company']}):"
    )
    _, model = courses["router"](member)
    lists = courses["lists"][model]
    mine = carousels(lists[lists["member_id"] == member], per_carousel=2)
    titles = book.courses.set_index("course_id")["title"]
    for text, rows in mine.groupby("carousel", sort=True):
        echo(f"  {rows['reason_text'].iloc[0]}: " + "; ".join(titles[rows["course_id"]]))
        if text >= 4:
            break
    echo(
        f"Published store version {courses['version']}: each member's list from the model of "
        f"their experiment variant (glmix or affinity; {member}'s is {model}), and a "
        "cold-start list."
    )
    auc = courses["auc"]
    echo(
        f"Model health: a GLMix trained on all but the last 14 days, judged on their "
        f"{courses['judged']:,} impressions: ROC-AUC {auc['glmix']:.3f} (its global model "
        f"alone: {auc['global']:.3f}). The dashboard's Model health page shows its slices and "
        "gaps between groups of members."
    )


HEALTH_GROUPS = ("industry", "region", "seniority")  # the demo's Model health groups


def _held_out(book, *, days: int, seed: int) -> pd.DataFrame:
    """The course GLMix and its global model alone, trained before the last ``days`` days,
    scored on the impressions of those days, with who saw what: Model health's table."""
    cut = book.end - pd.Timedelta(days=days)
    model = CourseRecommender(as_of=cut, scorer="glmix", random_state=seed).fit(book.tables)
    table = model.click_predictions(book.interactions, start=cut, end=book.end)
    members = book.members.set_index("member_id").loc[table["member_id"], list(HEALTH_GROUPS)]
    courses = book.courses.set_index("course_id").loc[table["course_id"]]
    return table.drop(columns="timestamp").assign(
        **{g: members[g].to_numpy() for g in HEALTH_GROUPS},
        category=courses["category"].to_numpy(),
        difficulty=courses["difficulty"].to_numpy(),
    )


def _network(out: Path, store: Path, members: pd.DataFrame, *, seed: int) -> dict:
    """Discovery cohorts on a generated social network of ``members``: the service over it."""
    from lumos.cohorts import CohortService, load_config, write_demo_configs
    from lumos.data.demo import social

    book = social(random_state=seed, members=members)
    folder = out / "social"
    folder.mkdir(exist_ok=True)
    for name, table in book.tables.items():
        with atomic_path(folder / f"{name}.parquet") as tmp:
            table.to_parquet(tmp, index=False)
    courses = {"courses": out / "learning" / "courses.parquet"}  # names for course items
    config, downstream = write_demo_configs(
        out / "cohorts", data=folder, store=store, tables=courses
    )
    return {
        "book": book,
        "service": CohortService(load_config(config)),
        "paths": {"social_tables": folder, "cohorts": config, "downstream": downstream},
    }


def _first_with_cohorts(service, members: list[str]) -> tuple[str, dict]:
    """The member to try and their page (:func:`first_with_cohorts`); the service closed."""
    import asyncio

    async def choose():
        try:
            return await first_with_cohorts(service, members)
        finally:
            await service.aclose()

    try:
        return asyncio.run(choose())
    finally:
        service.close()


def _say_network(network: dict, member: str, page: dict, echo) -> None:
    book, service = network["book"], network["service"]
    who = book.members.set_index("member_id").loc[member]
    echo(
        f"\nDiscovery: {len(service.rankers)} first-pass rankers over a network of "
        f"{len(book.members):,} members, fetched together and ordered by the second-pass "
        f"ranker. {who['name']} ({member}, {who['title']} at {who['company']}) sees:"
    )
    for cohort in page["cohorts"]:
        names = ", ".join(str(i["name"]) for i in cohort["items"][:2])
        echo(f"  {cohort['header']}: {names}")


def _offers(out: Path, members: pd.DataFrame, member: str, *, seed: int, echo) -> dict:
    """Offer matching for ``members``: LinTS learned from a uniform policy's log, judged
    off-policy; ``member``'s decision on email."""
    import shutil

    import numpy as np

    from lumos.bandits import OfferModel
    from lumos.data.demo import offers
    from lumos.events import EventLog

    book = offers(n_requests=40_000, random_state=seed, members=members)
    folder = out / "offers_data"
    folder.mkdir(exist_ok=True)
    with atomic_path(folder / "arms.csv") as tmp:
        book.arms.to_csv(tmp, index=False)
    with atomic_path(folder / "members.parquet") as tmp:
        book.members.to_parquet(tmp, index=False)
    cut = book.events["ts"].min() + 21 * 86400  # three weeks to learn from, one to judge on
    logs = {"train": folder / "log_weeks_1-3", "test": folder / "log_week_4"}
    for name, part in (("train", book.events["ts"] < cut), ("test", book.events["ts"] >= cut)):
        shutil.rmtree(logs[name], ignore_errors=True)  # the demo's own log of an earlier run
        with EventLog(logs[name], fsync=False) as log:
            log.append(book.events[part].to_dict("records"))
    train = EventLog(logs["train"], readonly=True).read()
    test = EventLog(logs["test"], readonly=True).read()
    model = OfferModel(book.arms, book.members, {"policy": "lints", "random_state": seed})
    rounds = model.retrain(train)
    model.save(out / "offers")
    table = model.evaluate(test, random_state=seed)
    judged, _ = model.rounds(test)  # the policy's true rate on those requests, from the truth
    target = model.policy.action_probabilities(
        model.contexts(judged["member_id"]), model.arm_features, mask=model.mask(judged["channel"])
    )
    rows = model._member_index.get_indexer(judged["member_id"])
    truth = book.truth(rows, np.arange(len(book.arms)))
    true_rate = float((target * truth).sum(axis=1).mean())
    echo(
        f"\nOffers: LinTS learned from {rounds:,} rounds of a uniform-random policy "
        f"({len(book.arms)} arms: 5 products × 3 creatives × 3 channels, and no offer) to "
        f"the same {len(book.members):,} members. On the fourth week's {len(judged):,} rounds "
        "its conversion rate is estimated at:"
    )
    for name in ("ipw", "snipw", "dr"):
        v = table.loc[name]
        echo(f"  {name.upper():>5} {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]")
    echo(
        f"  (the simulator's truth: {true_rate:.3f}; the uniform policy converted "
        f"{table.loc['logged', 'value']:.3f})"
    )
    d = model.decide([member], "email").iloc[0]
    echo(f"  {member} on email now: {d['arm_id']} (propensity {d['propensity']:.2f})")
    return {"offers": out / "offers", "offer_logs": folder}


_EXPERIMENTS = """\
# The demo's experiment: half the members see GLMix's list, half the cold-start affinity's.
experiments:
  course_ranker:
    unit: member_id
    coverage: 100
    variants:
      glmix: {weight: 1, payload: {models: [glmix]}}
      affinity: {weight: 1, payload: {models: [affinity]}}
"""
