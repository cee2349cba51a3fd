import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.features import BTYD_FEATURES, btyd_features
from lumos.features._btyd import bgnbd_chances, bgnbd_predict, fit_bgnbd

TRUE = {"r": 0.6, "alpha": 30.0, "a": 0.8, "b": 2.5}  # rate ~ Gamma(r, 1/alpha) per day


def _simulate(n: int, days: int, seed: int = 0) -> pd.DataFrame:
    """A BG/NBD purchase log: first purchases over the first half, then Poisson until death."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    death = rng.beta(TRUE["a"], TRUE["b"], n)
    t = rng.integers(0, days // 2, n).astype(float)
    alive, rows = np.ones(n, dtype=bool), [np.c_[np.arange(n), t]]
    while alive.any():
        t = t + rng.exponential(1 / np.maximum(rate, 1e-12))
        alive &= t < days
        rows.append(np.c_[np.flatnonzero(alive), t[alive]])
        alive &= rng.random(n) >= death  # dies after a repeat purchase with probability p
    ids, at = np.concatenate(rows).T
    start = pd.Timestamp("2024-01-01")
    return pd.DataFrame(
        {
            "account_id": [f"c{int(i)}" for i in ids],
            "date": start + pd.to_timedelta(np.floor(at), unit="D"),
        }
    )


def test_the_fit_recovers_simulated_parameters():
    log = _simulate(6000, 720)
    cutoff = pd.Timestamp("2024-01-01") + pd.Timedelta(days=720)
    day = log["date"].to_numpy("datetime64[D]").astype(np.int64)
    by = pd.DataFrame({"id": log["account_id"], "day": day}).drop_duplicates()
    g = by.groupby("id")["day"]
    end = np.datetime64(cutoff, "D").astype(np.int64) - 1
    x, tx, T = g.count() - 1, g.max() - g.min(), end - g.min()
    r, alpha, a, b = fit_bgnbd(x, tx, T)
    assert r == pytest.approx(TRUE["r"], rel=0.15)
    assert alpha == pytest.approx(TRUE["alpha"], rel=0.25)
    assert a == pytest.approx(TRUE["a"], rel=0.3)
    assert b == pytest.approx(TRUE["b"], rel=0.4)


def test_features_match_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    from lifetimes.utils import summary_data_from_transaction_data

    log = _simulate(3000, 540, seed=1)
    cutoff = pd.Timestamp("2025-01-01")
    s = summary_data_from_transaction_data(
        log[log["date"] < cutoff],
        "account_id",
        "date",
        observation_period_end=cutoff - pd.Timedelta(days=1),
        freq="D",
    )
    model = lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    rows = pd.DataFrame({"account_id": s.index, "cutoff": cutoff})
    got = btyd_features(log, rows, horizon_days=91)
    want = model.conditional_expected_number_of_purchases_up_to_time(
        91, s["frequency"], s["recency"], s["T"]
    )
    alive = model.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose(got["bgnbd_expected"], want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got["bgnbd_p_alive"], alive, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got["recency_over_age"], (s["T"] - s["recency"] + 1) / (s["T"] + 1))
    np.testing.assert_allclose(got["frequency_over_age"], s["frequency"] / (s["T"] + 1))
    # the chances use the same fit and each customer's purchase days in the 91 days before
    days = log[(log["date"] < cutoff) & (log["date"] >= cutoff - pd.Timedelta(days=91))]
    recent = days.drop_duplicates().groupby("account_id").size().reindex(s.index, fill_value=0)
    params = tuple(model.params_[["r", "alpha", "a", "b"]])
    none, more = bgnbd_chances(params, s["frequency"], s["recency"], s["T"], 91, recent)
    np.testing.assert_allclose(got["bgnbd_p_none"], none, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got["bgnbd_p_more"], more, rtol=1e-3, atol=1e-4)


def test_chances_of_a_new_customer_are_the_model_pmf_of_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    model = lifetimes.BetaGeoFitter()
    model.params_ = pd.Series(TRUE)
    params = tuple(TRUE.values())
    cumulative = 0.0
    for n in range(6):  # x = t_x = T = 0: the conditional distribution is P(X(t) = n)
        cumulative += model.probability_of_n_purchases_up_to_time(91, n)
        none, more = bgnbd_chances(params, [0], [0.0], [0.0], 91, [n])
        assert 1 - more[0] == pytest.approx(cumulative, rel=1e-9)
        assert none[0] == pytest.approx(model.probability_of_n_purchases_up_to_time(91, 0))


def test_chances_add_up_to_the_conditional_expectation_of_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    model = lifetimes.BetaGeoFitter()
    model.params_ = pd.Series(TRUE)
    x, tx, T = (
        np.array([0, 1, 5, 20.0]),
        np.array([0, 30, 200, 380.0]),
        np.array([100, 300, 400.0, 400]),
    )
    n = np.arange(400)  # E[X] = the sum over n >= 0 of P(X > n)
    each = (np.repeat(v, len(n)) for v in (x, tx, T))
    _, more = bgnbd_chances(tuple(TRUE.values()), *each, 91, np.tile(n, 4))
    want = model.conditional_expected_number_of_purchases_up_to_time(91, x, tx, T)
    np.testing.assert_allclose(more.reshape(4, len(n)).sum(1), want, rtol=1e-6)
    none, _ = bgnbd_chances(tuple(TRUE.values()), x, tx, T, 91, np.zeros(4))
    alive = model.conditional_probability_alive(x, tx, T)
    assert np.all(none >= 1 - alive)  # a dead customer buys nothing; a live one may not either


def test_chances_are_calibrated_on_a_simulated_book():
    log = _simulate(8000, 720, seed=5)
    cutoff = pd.Timestamp("2024-01-01") + pd.Timedelta(days=540)
    ids = log.loc[log["date"] < cutoff, "account_id"].unique()
    rows = pd.DataFrame({"account_id": ids, "cutoff": cutoff})
    got = btyd_features(log, rows, horizon_days=91)
    days = log.drop_duplicates()
    span = pd.Timedelta(days=91)
    after = days[(days["date"] >= cutoff) & (days["date"] < cutoff + span)]
    before = days[(days["date"] < cutoff) & (days["date"] >= cutoff - span)]
    n_after = after.groupby("account_id").size().reindex(ids, fill_value=0).to_numpy()
    n_before = before.groupby("account_id").size().reindex(ids, fill_value=0).to_numpy()
    more = n_after > n_before
    assert got["bgnbd_p_none"].mean() == pytest.approx((n_after == 0).mean(), abs=0.02)
    assert got["bgnbd_p_more"].mean() == pytest.approx(more.mean(), abs=0.02)
    # and they rank: the likeliest decile buys more far more often than the least likely
    decile = pd.qcut(got["bgnbd_p_more"].rank(method="first"), 10, labels=False).to_numpy()
    assert more[decile == 9].mean() > 3 * more[decile == 0].mean()


def test_nothing_at_or_after_a_cutoff_moves_its_features():
    log = _simulate(800, 540, seed=2)
    cutoffs = pd.to_datetime(["2024-06-01", "2024-11-01"])
    ids = log["account_id"].drop_duplicates().to_numpy()[:300]
    rows = pd.DataFrame({"account_id": np.repeat(ids, 2), "cutoff": np.tile(cutoffs, len(ids))})
    rows.index = rows.index * 3 + 7  # the index is kept
    base = btyd_features(log, rows)
    assert base.index.equals(rows.index)
    assert 0.5 < base.notna().all(axis=1).mean() < 1  # some accounts had not bought yet
    for cutoff in cutoffs:
        at = rows["cutoff"] == cutoff
        rng = np.random.default_rng(3)
        later = log.sample(2000, replace=True, random_state=4).assign(
            date=cutoff + pd.to_timedelta(rng.integers(0, 200, 2000), unit="D")
        )
        moved = pd.concat([log[log["date"] < cutoff], later, log[log["date"] >= cutoff][::2]])
        pd.testing.assert_frame_equal(btyd_features(moved, rows[at]), base[at])
    # and the features do move with the history before the cutoff
    earlier = log.assign(date=log["date"] - pd.Timedelta(days=30))
    assert not np.allclose(btyd_features(earlier, rows), base, equal_nan=True)


def test_an_account_without_purchases_before_the_cutoff_gets_nan():
    log = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "c", "c", "c"],
            "date": pd.to_datetime(
                ["2025-01-05", "2025-02-05", "2025-03-10", "2025-01-01", "2025-01-20", "2025-03-02"]
            ),
        }
    )
    rows = pd.DataFrame({"account_id": ["a", "b", "zz", "c"], "cutoff": pd.Timestamp("2025-03-01")})
    got = btyd_features(log, rows)
    assert list(got.columns) == list(BTYD_FEATURES)
    assert got.loc[[1, 2]].isna().all().all()
    assert got.loc[[0, 3]].notna().all().all()
    # a: first 2025-01-05, last 2025-02-05, age 2025-02-28 - 01-05 + 1 = 55 days
    assert got.loc[0, "recency_over_age"] == pytest.approx(24 / 55)
    assert got.loc[0, "frequency_over_age"] == pytest.approx(1 / 55)


def test_prediction_is_the_closed_form_at_a_known_point():
    # x = 0: P(alive) = 1 and E = (a + b - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t))^r
    #                                                   * 2F1(r, b; a + b - 1; t / (alpha + T + t)))
    r, alpha, a, b, T, t = 0.5, 10.0, 2.0, 3.0, 20.0, 30.0
    expected, alive = bgnbd_predict((r, alpha, a, b), [0], [0.0], [T], t)
    z = t / (alpha + T + t)
    series = sum(  # 2F1 by its series, which converges for |z| < 1
        np.prod([(r + i) * (b + i) / ((a + b - 1 + i) * (i + 1)) for i in range(k)]) * z**k
        for k in range(200)
    )
    want = (a + b - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** r * series)
    assert alive[0] == 1.0
    assert expected[0] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("horizon", [0, -5, 2.5, "91"])
def test_a_bad_horizon_is_refused(horizon):
    rows = pd.DataFrame({"account_id": ["a"], "cutoff": pd.Timestamp("2025-03-01")})
    log = pd.DataFrame({"account_id": ["a"], "date": pd.Timestamp("2025-01-01")})
    with pytest.raises(LumosUserError, match="horizon_days") as e:
        btyd_features(log, rows, horizon_days=horizon)
    assert e.value.code == "bad_argument"


def test_dates_that_are_not_dates_are_refused():
    rows = pd.DataFrame({"account_id": ["a"], "cutoff": pd.Timestamp("2025-03-01")})
    log = pd.DataFrame({"account_id": ["a"], "date": ["2025-01-01"]})
    with pytest.raises(DataValidationError, match="purchases column 'date'") as e:
        btyd_features(log, rows)
    assert e.value.code == "bad_value"
