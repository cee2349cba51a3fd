"""Offer matching: rounds from the funnel, caps, learning, off-policy judging, files."""

import numpy as np
import pandas as pd
import pytest

from lumos.bandits import NO_OFFER, FrequencyCap, OfferModel, OfferSettings
from lumos.data.demo import offers
from lumos.errors import DataValidationError, LumosUserError

HOUR = 3600.0


@pytest.fixture(scope="module")
def book():
    return offers(2000, 16_000, random_state=1)


def split(book, share=0.75):
    cut = book.events["ts"].quantile(share)
    return book.events[book.events["ts"] < cut], book.events[book.events["ts"] >= cut]


def true_value(model, book, rounds) -> float:
    """The conversion rate the model's policy would get on these requests, from the truth."""
    ctx = model.contexts(rounds["member_id"])
    target = model.policy.action_probabilities(
        ctx, model.arm_features, mask=model.mask(rounds["channel"])
    )
    rows = model._member_index.get_indexer(rounds["member_id"])
    truth = book.truth(np.arange(len(book.members)), np.arange(len(book.arms)))[rows]
    return float((target * truth).sum(axis=1).mean())


def test_a_policy_retrained_on_a_uniform_log_converts_far_more(book):
    train, _ = split(book)
    model = OfferModel(book.arms, book.members, {"policy": "lints", "random_state": 0})
    n = model.retrain(train)
    rounds, unknown = model.rounds(train)
    assert n == len(rounds) > 10_000 and unknown == 0
    logged = rounds["reward"].mean()
    assert true_value(model, book, rounds) > 3 * logged


def test_rounds_reward_conversions_in_the_window_and_wait_for_open_ones():
    arms = pd.DataFrame(
        {"arm_id": ["a/x/email"], "product": ["a"], "creative": ["x"], "channel": ["email"]}
    )
    model = OfferModel(arms, pd.DataFrame({"member_id": ["m1"], "f": [1.0]}), {"window_hours": 10})
    t0 = 1_767_225_600.0

    def served(t, ts, arm="a/x/email"):
        return {
            "event_id": f"s{t}",
            "tracking_id": t,
            "type": "served",
            "member_id": "m1",
            "item_id": arm,
            "item_type": "offer",
            "channel": "email",
            "propensity": 0.5,
            "ts": ts,
        }

    def bought(t, ts, action="purchase"):
        return {
            "event_id": f"p{t}",
            "tracking_id": t,
            "type": "action",
            "action": action,
            "member_id": "m1",
            "item_id": "a/x/email",
            "ts": ts,
        }

    events = [
        served("in", t0),
        bought("in", t0 + 2 * HOUR),  # converted in time: 1
        served("late", t0),
        bought("late", t0 + 11 * HOUR),  # after the window: 0
        served("none", t0),  # window passed without a purchase: 0
        served("click", t0),
        bought("click", t0 + HOUR, "click"),  # not a conversion: 0
        served("open", t0 + 20 * HOUR),  # window still open at "now": waits
        served("open2", t0 + 20 * HOUR),
        bought("open2", t0 + 21 * HOUR),  # converted, but the window is open: waits
        served("shut", t0 + 11 * HOUR),
        bought("shut", t0 + 12 * HOUR),  # converted, window closed: 1
        served("gone", t0, arm="retired"),  # an arm the model does not know
    ]
    rounds, unknown = model.rounds(events, now=t0 + 22 * HOUR)
    got = dict(zip(rounds["tracking_id"], rounds["reward"], strict=True))
    assert got == {"in": 1.0, "late": 0.0, "none": 0.0, "click": 0.0, "shut": 1.0}
    assert unknown == 1
    iso = [{**e, "ts": pd.Timestamp(e["ts"], unit="s", tz="UTC").isoformat()} for e in events]
    again, _ = model.rounds(iso, now=t0 + 22 * HOUR)
    assert dict(zip(again["tracking_id"], again["reward"], strict=True)) == got


def test_learning_in_mini_batches_equals_a_full_retrain(book):
    train, _ = split(book)
    batched = OfferModel(book.arms, book.members, {"batch": 300})
    full = OfferModel(book.arms, book.members)
    assert batched.learn(train) == full.retrain(train)
    np.testing.assert_allclose(batched.policy.precision, full.policy.precision)
    np.testing.assert_allclose(batched.policy.mean, full.policy.mean, atol=1e-9)


def test_off_policy_estimates_cover_the_true_value_on_a_later_log(book):
    train, test = split(book)
    model = OfferModel(book.arms, book.members, {"random_state": 0})
    model.retrain(train)
    table = model.evaluate(test, n_bootstrap=300, draws=300)
    rounds, _ = model.rounds(test)
    truth = true_value(model, book, rounds)
    assert list(table.index) == ["ipw", "snipw", "dm", "dr", "switch-dr", "logged"]
    for estimator in ("ipw", "snipw", "dr"):
        low, high = table.loc[estimator, ["low", "high"]]
        assert low <= truth <= high, (estimator, low, truth, high)
    assert table.loc["logged", "value"] == pytest.approx(rounds["reward"].mean())
    assert (table["rounds"] == len(rounds)).all()


def test_candidate_policies_are_judged_side_by_side(book):
    train, test = split(book)
    model = OfferModel(book.arms, book.members, {"policy": "egreedy", "random_state": 0})
    model.retrain(train)
    table = model.compare(test, n_bootstrap=200)
    rounds, _ = model.rounds(test)
    assert list(table.index.unique("policy")) == [
        "model",
        "greedy",
        "uniform",
        "no_offer",
        "logged",
    ]
    # the log was written by a uniform policy: IPW of a uniform candidate is the logged rate
    assert table.loc[("uniform", "ipw"), "value"] == pytest.approx(rounds["reward"].mean())
    assert table.loc[("no_offer", "ipw"), "value"] == 0.0  # "no offer" never converts
    ctx = model.contexts(rounds["member_id"])
    greedy = model._candidate("greedy", ctx, model.mask(rounds["channel"]), 10)
    rows = model._member_index.get_indexer(rounds["member_id"])
    truth = book.truth(np.arange(len(book.members)), np.arange(len(book.arms)))[rows]
    true_greedy = float((greedy * truth).sum(axis=1).mean())
    low, high = table.loc[("greedy", "dr"), ["low", "high"]]
    assert low <= true_greedy <= high and true_greedy > 3 * rounds["reward"].mean()
    # one candidate's figures do not depend on which others are judged with it
    alone = model.compare(test, candidates="greedy", n_bootstrap=200)
    assert np.allclose(alone.loc["greedy"], table.loc["greedy"])
    with pytest.raises(LumosUserError, match="candidate policy 'best' is unknown; use model"):
        model.compare(test, candidates=["greedy", "best"])


def test_the_arm_report_counts_closed_rounds_and_reads_the_posterior(book):
    train, test = split(book)
    model = OfferModel(book.arms, book.members, {"policy": "lints", "nu": 0.5, "random_state": 0})
    model.retrain(train)
    report = model.arm_report(test)
    rounds, _ = model.rounds(test)
    assert list(report["arm_id"]) == list(model.arm_ids)
    assert report["shows"].sum() == len(rounds)
    assert report["conversions"].sum() == rounds["reward"].sum()
    top = report.set_index("arm_id").loc[model.arm_ids[rounds["arm"].mode()[0]]]
    mine = rounds[rounds["arm"] == rounds["arm"].mode()[0]]
    assert (top["shows"], top["conversions"]) == (len(mine), mine["reward"].sum())
    # linear: the score at the average member is the members' average score
    mean, _ = model.policy.mean_and_variance(
        model.contexts(book.members["member_id"]), model.arm_features
    )
    assert np.allclose(report["mean"], mean.mean(axis=0))
    assert (report["low"] < report["mean"]).all() and (report["mean"] < report["high"]).all()
    assert np.allclose(report["high"] - report["mean"], report["mean"] - report["low"])
    empty = model.arm_report(test.iloc[:0])
    assert (empty["shows"] == 0).all() and empty["rate"].isna().all()


def test_decisions_keep_to_the_channel_and_the_weekly_cap(book):
    model = OfferModel(book.arms, book.members, {"cap_per_week": 2, "nu": 5.0})
    members = book.members["member_id"].iloc[:50]
    d = model.decide(members, "email", now=0.0)
    assert set(d["channel"]) <= {"email", ""} and not d["capped"].any()
    assert ((d["propensity"] > 0) & (d["propensity"] <= 1)).all()
    for now in (10.0, 20.0):
        offered = model.decide(["om000001"] * 5, "feed", now=now)
        shown = offered[offered["arm_id"] != NO_OFFER].iloc[:1]
        model.served([f"t{now}"], shown, now=now)
    capped = model.decide(["om000001", "om000001"], ["feed", "email"], now=30.0)
    assert capped["arm_id"].tolist()[0] == NO_OFFER and capped["capped"].tolist() == [True, False]
    assert capped["propensity"].iloc[0] == 1.0
    later = model.decide(["om000001"], "feed", now=10.0 + 7 * 86400 + 1)
    assert not later["capped"].iloc[0]  # the first offer left the seven days
    with pytest.raises(LumosUserError, match="channel 'fax' has no offers; use one of email"):
        model.decide(["om000001"], "fax")


def test_the_cap_is_rebuilt_from_the_log():
    shown = {
        "type": "served",
        "item_type": "offer",
        "item_id": "a",
        "member_id": "m",
        "channel": "email",
    }
    events = [{**shown, "ts": float(t), "tracking_id": str(t)} for t in (0, 10)]
    events.append({**events[0], "item_id": NO_OFFER, "ts": 20.0, "tracking_id": "n"})
    cap = FrequencyCap.from_events(2, events)
    assert not cap.allowed("m", "email", 30.0) and cap.allowed("m", "feed", 30.0)
    assert FrequencyCap.from_events(3, events).allowed("m", "email", 30.0)


def test_a_model_remembers_the_offers_a_log_shows(book):
    model = OfferModel(book.arms, book.members, {"cap_per_week": 2})
    offer = book.arms[book.arms["arm_id"] != NO_OFFER].iloc[0]
    arm, channel = offer["arm_id"], offer["channel"]
    shown = {"type": "served", "item_type": "offer", "item_id": arm, "channel": channel}
    member = book.members["member_id"].iloc[0]
    events = [{**shown, "member_id": member, "ts": t, "tracking_id": f"t{t}"} for t in (0.0, 9.0)]
    assert model.remember_shown(events) is model
    capped = model.decide([member, book.members["member_id"].iloc[1]], channel, now=30.0)
    assert capped["capped"].tolist() == [True, False]


def test_the_online_path_learns_conversions_and_expired_offers(book):
    model = OfferModel(book.arms, book.members, {"batch": 3, "window_hours": 1})
    d = model.decide(["om000001", "om000002", "om000003"], "email", now=0.0)
    model.served(["t1", "t2", "t3"], d, now=0.0)
    assert (
        model.observe([{"type": "action", "action": "purchase", "tracking_id": "t1"}], now=60.0)
        == 0
    )
    assert model.policy.n_updates == 0  # one round ready, the batch holds three
    assert model.observe([], now=2 * HOUR) == 3  # t2 and t3 expired: reward 0
    assert model.policy.n_updates == 3 and model.policy.b.any()


def test_saved_models_decide_alike_and_keep_their_settings(book, tmp_path):
    train, _ = split(book)
    model = OfferModel(book.arms, book.members, {"model_id": "offers-v2", "cap_per_week": 1})
    model.retrain(train)
    model.save(tmp_path / "m")
    loaded = OfferModel.load(tmp_path / "m")
    assert loaded.settings == model.settings and loaded.path == tmp_path / "m"
    members = book.members["member_id"].iloc[:30]
    pd.testing.assert_frame_equal(
        loaded.decide(members, "feed", now=0.0), model.decide(members, "feed", now=0.0)
    )


def test_neural_ts_offers_round_trip(book, tmp_path):
    pytest.importorskip("torch")
    train, _ = split(book, 0.3)
    model = OfferModel(book.arms, book.members, {"policy": "neuralts", "hidden": 16})
    model.retrain(train)
    model.save(tmp_path / "n")
    members = book.members["member_id"].iloc[:10]
    loaded = OfferModel.load(tmp_path / "n")
    pd.testing.assert_frame_equal(
        loaded.decide(members, "email", now=0.0), model.decide(members, "email", now=0.0)
    )


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        (
            pd.DataFrame({"arm_id": ["a"], "product": ["p"], "creative": ["c"]}),
            "needs column 'channel'",
        ),
        (
            pd.DataFrame(
                {
                    "arm_id": ["a", "a"],
                    "product": ["p", "q"],
                    "creative": ["c", "c"],
                    "channel": ["e", "e"],
                }
            ),
            "arms row 1: arm_id 'a' appears twice",
        ),
        (
            pd.DataFrame({"arm_id": ["a"], "product": ["p"], "creative": ["c"], "channel": [None]}),
            r"arms row 0 \(arm 'a'\) has no channel",
        ),
        (
            pd.DataFrame(
                {
                    "arm_id": ["a"],
                    "product": ["p"],
                    "creative": ["c"],
                    "channel": ["e"],
                    "price": ["cheap"],
                }
            ),
            "arms row 0, column 'price': 'cheap' is not a finite",
        ),
    ],
)
def test_bad_arms_are_named(arms, message):
    with pytest.raises(DataValidationError, match=message):
        OfferModel(arms, pd.DataFrame({"member_id": ["m"]}))


def test_bad_members_settings_and_logs_are_named(book, tmp_path):
    with pytest.raises(DataValidationError, match="members row 1, column 'f': 'x'"):
        OfferModel(book.arms, pd.DataFrame({"member_id": ["a", "b"], "f": [1, "x"]}))
    with pytest.raises(DataValidationError, match="member_id 'a' appears twice"):
        OfferModel(book.arms, pd.DataFrame({"member_id": ["a", "a"]}))
    for settings, message in (
        ({"policy": "ucb"}, "'policy' must be one of lints, neuralts, egreedy; got 'ucb'"),
        ({"cap_per_week": -1}, "'cap_per_week' parameter of OfferSettings must be an int >= 0"),
        ({"window_hours": 0}, "'window_hours' parameter of OfferSettings must be a float > 0"),
        ({"conversions": "purchase"}, "'conversions' must be a list"),
    ):
        with pytest.raises(LumosUserError, match=message):
            OfferSettings(**settings)
    model = OfferModel(book.arms, book.members)
    served = book.events[book.events["type"] == "served"].head(50).copy()
    with pytest.raises(DataValidationError, match="event row 3: ts 'yesterday' is not a time"):
        model.rounds(
            served.assign(ts=served["ts"].astype(object).where(np.arange(50) != 3, "yesterday"))
        )
    broken = served.assign(propensity=np.where(np.arange(50) == 7, np.nan, 0.0625))
    with pytest.raises(DataValidationError, match="propensity nan; off-policy evaluation"):
        model.evaluate(broken, now=served["ts"].max() + 100 * HOUR)
    with pytest.raises(LumosUserError, match="no closed offer rounds"):
        model.evaluate(served, now=served["ts"].min())
    with pytest.raises(DataValidationError, match="is not an offer model"):
        OfferModel.load(tmp_path)
    (tmp_path / "offers.json").write_text("{not json")
    with pytest.raises(DataValidationError, match=r"offers\.json is not JSON"):
        OfferModel.load(tmp_path)


def test_a_two_tower_model_joins_the_features_and_scores_the_match(book, tmp_path):
    pytest.importorskip("torch")
    train, test = split(book)
    model = OfferModel(book.arms, book.members, {"two_tower": 4, "random_state": 0})
    model.retrain(train)
    assert model.arm_features.shape[1] == model._arm_base.shape[1] + 4
    d = model.decide(book.members["member_id"].iloc[:20], "email", now=0.0)
    assert np.isfinite(d["match"]).all()
    rounds, _ = model.rounds(test)
    offered = rounds[rounds["arm"] > 0]
    rows = model._member_index.get_indexer(offered["member_id"])
    scores = model.two_tower.score(model._member_x[rows], model._arm_base)
    match = scores[np.arange(len(offered)), offered["arm"]]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(offered["reward"], match) > 0.7  # held-out conversions rank high
    model.save(tmp_path / "tt")
    loaded = OfferModel.load(tmp_path / "tt")
    members = book.members["member_id"].iloc[:10]
    pd.testing.assert_frame_equal(
        loaded.decide(members, "feed", now=0.0), model.decide(members, "feed", now=0.0)
    )


def test_seed_is_the_older_name_of_random_state(book, tmp_path):
    with pytest.warns(DeprecationWarning, match="OfferSettings's 'seed' is now 'random_state'"):
        settings = OfferSettings(seed=4)
    assert settings == OfferSettings(random_state=4)
    with pytest.warns(DeprecationWarning, match="'seed' is now 'random_state'"):
        assert settings.seed == 4
    with pytest.warns(DeprecationWarning, match="'seed' is now 'random_state'"):
        model = OfferModel(book.arms, book.members, {"policy": "egreedy", "seed": 4})
    assert model.settings.random_state == 4
    # an offers.json saved before the rename, with "seed" in its settings, still loads
    import json

    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "offers.json").read_text())
    assert "seed" not in meta["settings"]
    meta["settings"]["seed"] = meta["settings"].pop("random_state")
    (tmp_path / "m" / "offers.json").write_text(json.dumps(meta))
    assert OfferModel.load(tmp_path / "m").settings == model.settings
