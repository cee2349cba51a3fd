"""TwoTower: a planted member × arm match recovered, embeddings, seeding, persistence, errors."""

import re

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from lumos.bandits._two_tower import TwoTower
from lumos.errors import DataValidationError, LumosUserError

torch = pytest.importorskip("torch")

D_MEMBER, D_ARM, N_ARMS, LATENT = 6, 5, 20, 4


def planted_world(seed=0):
    """Members' and arms' true latent vectors; conversion ``sigmoid(3 u·v - 2)``.

    ``u = tanh(M_m x)`` and ``v = M_a a``: the signal is all in the member × arm
    match, which a logistic regression on ``[member, arm]`` (no crosses) cannot
    express. Returns the arm features and a function logging ``n`` rows of
    fresh members, each shown a uniformly random arm.
    """
    rng = np.random.default_rng(seed)
    m_member = 1.5 * rng.normal(size=(LATENT, D_MEMBER)) / np.sqrt(D_MEMBER)
    m_arm = rng.normal(size=(LATENT, D_ARM)) / np.sqrt(D_ARM)
    arm_features = rng.normal(size=(N_ARMS, D_ARM))
    v = arm_features @ m_arm.T

    def log(n, n_members):
        member_features = rng.normal(size=(n_members, D_MEMBER))
        u = np.tanh(member_features @ m_member.T)
        members, arms = rng.integers(0, n_members, n), rng.integers(0, N_ARMS, n)
        p = expit(3 * (u[members] * v[arms]).sum(axis=1) - 2)
        return member_features, members, arms, rng.binomial(1, p), p

    return arm_features, log


@pytest.fixture(scope="module")
def planted():
    arm_features, log = planted_world(seed=0)
    train = log(20_000, 2_000)
    model = TwoTower(random_state=0).fit(train[0], arm_features, *train[1:4])
    return model, arm_features, train, log(5_000, 1_000)


def small(seed=0, n=300):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(50, 3)),
        rng.normal(size=(4, 2)),
        rng.integers(0, 50, n),
        rng.integers(0, 4, n),
        rng.integers(0, 2, n),
    )


def test_recovers_a_planted_match_that_a_linear_model_cannot_see(planted):
    model, arm_features, train, test = planted
    (x, m, a, y, _), (xt, mt, at, yt, p_true) = train, test
    auc = roc_auc_score(yt, model.predict_proba(xt, arm_features)[mt, at])

    linear = LogisticRegression(max_iter=1000).fit(np.hstack([x[m], arm_features[a]]), y)
    linear_auc = roc_auc_score(
        yt, linear.predict_proba(np.hstack([xt[mt], arm_features[at]]))[:, 1]
    )
    oracle_auc = roc_auc_score(yt, p_true)
    # on held-out rows of new members (seed 0): two-tower 0.92, logistic 0.68, truth 0.93;
    # over world/model seeds 0-11 two-tower stays within 0.011 of the truth and at least
    # 0.24 above the logistic regression
    assert auc > 0.75
    assert auc > linear_auc + 0.15
    assert auc > oracle_auc - 0.03
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_score_is_the_dot_product_of_the_embeddings(planted):
    model, arm_features, _, (xt, *_) = planted
    members, arms = model.member_embeddings(xt[:7]), model.arm_embeddings(arm_features)
    assert members.shape == (7, model.dim) and arms.shape == (N_ARMS, model.dim)
    scores = model.score(xt[:7], arm_features)
    assert scores.shape == (7, N_ARMS) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, members @ arms.T, rtol=1e-12)
    np.testing.assert_allclose(
        model.predict_proba(xt[:7], arm_features), expit(scores + model.bias_), rtol=1e-12
    )


def test_the_same_seed_gives_the_same_weights_and_leaves_torch_alone():
    data = small()
    state = torch.random.get_rng_state()
    first = TwoTower(8, 16, epochs=3, batch_size=64, random_state=7).fit(*data)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    second = TwoTower(8, 16, epochs=3, batch_size=64, random_state=7).fit(*data)
    other = TwoTower(8, 16, epochs=3, batch_size=64, random_state=8).fit(*data)
    for name, w in first.member_tower_.items():
        np.testing.assert_array_equal(w, second.member_tower_[name])
        np.testing.assert_array_equal(first.arm_tower_[name], second.arm_tower_[name])
    assert first.bias_ == second.bias_
    np.testing.assert_array_equal(first.score(*data[:2]), second.score(*data[:2]))
    assert not np.array_equal(first.score(*data[:2]), other.score(*data[:2]))


def test_save_and_load_round_trip(tmp_path):
    data = small()
    model = TwoTower(4, 8, epochs=2, lr=0.02, random_state=1).fit(*data)
    path = model.save(tmp_path / "match.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["match.npz"]  # no temporary file left
    loaded = TwoTower.load(path)
    np.testing.assert_array_equal(loaded.score(*data[:2]), model.score(*data[:2]))
    np.testing.assert_array_equal(loaded.predict_proba(*data[:2]), model.predict_proba(*data[:2]))
    np.testing.assert_array_equal(loaded.loss_curve_, model.loss_curve_)
    assert (loaded.dim, loaded.hidden, loaded.lr, loaded.random_state) == (4, 8, 0.02, 1)


def test_loading_a_bad_file_names_it(tmp_path):
    with pytest.raises(DataValidationError, match=re.escape("missing.npz' does not exist")) as info:
        TwoTower.load(tmp_path / "missing.npz")
    assert info.value.code == "file_not_found"
    (tmp_path / "notes.npz").write_text("not a model")
    with pytest.raises(
        DataValidationError, match=re.escape("notes.npz' is not a saved Lumos two-tower")
    ):
        TwoTower.load(tmp_path / "notes.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(
        DataValidationError, match=re.escape("plain.npz' is not a saved Lumos two-tower")
    ):
        TwoTower.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "policy.npz", meta=np.array('{"format": "lumos.policy", "version": 1}'))
    with pytest.raises(
        DataValidationError, match=re.escape("policy.npz' holds format 'lumos.policy'")
    ):
        TwoTower.load(tmp_path / "policy.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({0: np.zeros(50)}, r"member_features must be a non-empty 2-D array .* shape \(50,\)"),
        ({1: np.full((4, 2), np.nan)}, "arm_features must be finite numbers; got nan at row 0"),
        ({2: np.r_[np.zeros(299, int), 50]}, "members must index rows 0..49 .* got 50 at position"),
        ({3: np.zeros(10, int)}, r"arms must be a 1-D array of length 300 .* shape \(10,\)"),
        ({3: np.zeros(300)}, "arms must hold integer row indices .* dtype float64"),
        ({4: np.r_[np.zeros(299), 2]}, "converted must hold 0 and 1 only; got 2.0 at row 299"),
        ({4: np.zeros(299)}, r"converted must be a 1-D array of length 300 .* shape \(299,\)"),
    ],
)
def test_bad_inputs_are_named(change, message):
    data = list(small())
    for i, value in change.items():
        data[i] = value
    with pytest.raises(LumosUserError, match=message):
        TwoTower(epochs=1, random_state=0).fit(*data)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dim": 0}, r"'dim' parameter .* int >= 1\. Got 0"),
        ({"lr": -1.0}, r"'lr' .* > 0\. Got -1\.0"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(LumosUserError, match=message) as info:
        TwoTower(**params).fit(*small())
    assert info.value.code == "bad_argument"


def test_an_unfitted_model_says_call_fit_first(tmp_path):
    member_features, arm_features, *_ = small()
    for call in (
        lambda m: m.score(member_features, arm_features),
        lambda m: m.predict_proba(member_features, arm_features),
        lambda m: m.member_embeddings(member_features),
        lambda m: m.save(tmp_path / "model.npz"),
    ):
        with pytest.raises(LumosUserError, match="call fit first") as info:
            call(TwoTower())
        assert info.value.code == "not_fitted"
    assert not (tmp_path / "model.npz").exists()


def test_features_must_match_the_widths_seen_in_fit():
    data = small()
    model = TwoTower(epochs=1, random_state=0).fit(*data)
    with pytest.raises(LumosUserError, match=r"arm_features must have 2 columns, .* \(4, 3\)"):
        model.score(data[0], np.zeros((4, 3)))
    with pytest.raises(LumosUserError, match="member_features must be finite"):
        model.predict_proba(np.full((2, 3), np.inf), data[1])


def test_seed_is_the_older_name_of_random_state(tmp_path):
    data = small()
    with pytest.warns(DeprecationWarning, match="TwoTower's 'seed' is now 'random_state'"):
        old = TwoTower(4, 8, epochs=2, seed=3)
    new = TwoTower(4, 8, epochs=2, random_state=3)
    np.testing.assert_array_equal(old.fit(*data).score(*data[:2]), new.fit(*data).score(*data[:2]))
    with pytest.warns(DeprecationWarning, match="'seed' is now 'random_state'"):
        assert old.seed == 3
    # a file saved before the rename, with "seed" in its header, still loads
    import json

    path = new.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["seed"] = meta.pop("random_state")
    np.savez(tmp_path / "old.npz", **arrays, meta=np.array(json.dumps(meta)))
    assert TwoTower.load(tmp_path / "old.npz").random_state == 3
