"""The slice finder: planted slices found, equal to an exhaustive search, errors named."""

import itertools

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate import find_slices
from lumos.evaluate._slices import encode, row_losses


def world(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "industry": rng.choice(["Retail", "Software", "Finance", "Health"], n),
            "seniority": rng.choice(["junior", "senior", "lead"], n, p=[0.5, 0.35, 0.15]),
            "tenure": rng.exponential(12, n),
            "country": rng.choice(["US", "FR", "IN", None], n),
            "noise": rng.normal(size=n),
        }
    )
    p_true = 1 / (1 + np.exp(-(rng.normal(size=n))))
    y = rng.random(n) < p_true
    score = p_true.copy()
    bad = (df["industry"] == "Retail") & (df["tenure"] < 3)  # the model is wrong here
    score[bad] = 1 - score[bad]
    return df, y.astype(float), score, bad


def exhaustive(df, y, score, features, metric, max_order, min_size, bins=4):
    """Every slice of the lattice by pandas groupby, ranked as find_slices ranks them."""
    losses = row_losses(metric, y, score)
    codes, labels = encode(df, features, bins)
    frame = pd.DataFrame(codes, columns=features).assign(loss=losses)
    total, n, rows = losses.sum(), len(losses), []
    for order in range(1, max_order + 1):
        for fs in itertools.combinations(range(len(features)), order):
            cols = [features[f] for f in fs]
            g = frame.groupby(cols)["loss"].agg(["size", "sum"]).reset_index()
            g = g[g["size"] >= min_size]
            for row in g.itertuples(index=False):
                cell = tuple(int(v) for v in row[:order])
                size, s1 = row[order], row[order + 1]
                effect = s1 / size - (total - s1) / (n - size)
                text = " and ".join(labels[f][c] for f, c in zip(fs, cell, strict=True))
                rows.append((-effect, (fs, cell), text))
    rows.sort()
    return [text for _, _, text in rows]


def test_the_planted_slice_comes_first_and_is_significant():
    df, y, score, _ = world()
    found = find_slices(df.assign(y=y, p=score), "y", "p", max_order=2, min_support=0.01)
    top = found.table.iloc[0]
    assert top["slice"].startswith("industry = Retail and tenure in [")
    assert top["significant"] and top["p_adjusted"] < 1e-6
    assert top["low"] > 0 and top["effect"] > 0.3
    assert "noise" not in top["slice"]
    sentence = found.sentences()[0]
    assert sentence.startswith("Log loss is ") and "of rows" in sentence


@pytest.mark.parametrize("metric", ["log_loss", "error_rate", "squared_error", "calibration_gap"])
def test_equal_to_an_exhaustive_search_of_the_same_lattice(metric):
    df, y, score, _ = world(6000, seed=1)
    features = ["industry", "seniority", "tenure", "country", "noise"]
    found = find_slices(
        df, y, score, features, metric=metric, max_order=3, min_support=0.02, top_k=10
    )
    everything = exhaustive(df, y, score, features, metric, 3, int(np.ceil(0.02 * 6000)))
    assert found.table["slice"].tolist() == everything[:10]
    assert found.evaluated <= len(everything) and found.lattice_size >= len(everything)


def test_a_user_function_and_support_as_a_count():
    df, y, score, _ = world(3000, seed=2)

    def absolute_error(y_true, y_score):
        return np.abs(y_true - y_score)

    found = find_slices(
        df,
        y,
        score,
        ["industry", "tenure"],
        metric=absolute_error,
        min_support=100,
        max_order=2,
        top_k=3,
    )
    assert found.metric == "absolute_error" and (found.table["size"] >= 100).all()
    assert len(found.table) == 3


def test_bad_input_is_named():
    df, y, score, _ = world(500)
    with pytest.raises(
        DataValidationError,
        match=r"no column 'region'; name features to slice by among them\. Its columns: industry",
    ):
        find_slices(df, y, score, ["region"])
    with pytest.raises(DataValidationError, match="y_true: data has no column 'label'"):
        find_slices(df, "label", score)
    with pytest.raises(LumosUserError, match="y_score must have one value per row of data"):
        find_slices(df, y, score[:10], ["industry"])
    with pytest.raises(LumosUserError, match="metric must be one of log_loss"):
        find_slices(df, y, score, ["industry"], metric="auc_gap")
    with pytest.raises(LumosUserError, match="min_support must leave slices of 2 to 500 rows"):
        find_slices(df, y, score, ["industry"], min_support=0.0001)
    with pytest.raises(
        LumosUserError, match="'max_order' parameter of find_slices must be an int >= 1"
    ):
        find_slices(df, y, score, ["industry"], max_order=0)
    broken = score.copy()
    broken[7] = np.nan
    with pytest.raises(
        DataValidationError, match=r"row 7: label 1\.0 and score nan give no finite"
    ):
        find_slices(df, y, broken, ["industry"])


def test_a_condition_every_row_meets_is_not_a_slice():
    df, y, score, _ = world(2000)
    found = find_slices(
        df.assign(everyone="yes"), y, score, ["everyone", "industry"], max_order=2, min_support=0.05
    )
    assert "everyone = yes" not in found.table["slice"].tolist()
    assert np.isfinite(found.table[["effect", "low", "high"]].to_numpy()).all()


def test_auc_slices_equal_scoring_every_slice_with_sklearn():
    from sklearn.metrics import roc_auc_score

    df, y, score, _ = world(3000, seed=3)
    features = ["industry", "seniority", "country"]
    found = find_slices(
        df, y, score, features, metric="auc", max_order=2, min_support=0.03, top_k=5
    )
    codes, labels = encode(df, features, 4)
    brute = []
    for order in (1, 2):
        for fs in itertools.combinations(range(3), order):
            keys = {tuple(r) for r in codes[:, fs]}
            for cell in keys:
                inside = np.all(codes[:, fs] == np.array(cell), axis=1)
                if inside.sum() < np.ceil(0.03 * 3000) or inside.all():
                    continue
                a_in = roc_auc_score(y[inside], score[inside])
                a_out = roc_auc_score(y[~inside], score[~inside])
                text = " and ".join(labels[f][c] for f, c in zip(fs, cell, strict=True))
                brute.append((a_out - a_in, text))
    brute.sort(key=lambda b: -b[0])
    assert found.table["slice"].tolist() == [t for _, t in brute[:5]]
    np.testing.assert_allclose(found.table["effect"], [e for e, _ in brute[:5]], atol=1e-9)
    assert found.table["slice"].iloc[0].startswith("industry = Retail")  # the planted pocket


def skewed_world(n=3000, seed=5):
    """Skewed categories, as real tables have, and a model badly wrong on every 'team' row."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "plan": rng.choice(["free", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "country": rng.choice(["US", "FR"], n, p=[0.9, 0.1]),
            "device": rng.choice(["web", "ios", "android"], n, p=[0.85, 0.1, 0.05]),
            "tenure": rng.exponential(12, n),
        }
    )
    p = 1 / (1 + np.exp(-8 * rng.normal(size=n)))
    y = (rng.random(n) < p).astype(float)
    wrong = (df["plan"] == "team").to_numpy()
    p[wrong] = 1 - p[wrong]
    return df, y, p


def sliceline_top(df, y, score, metric, alpha, k, min_sup):
    """The ``sliceline`` package's Slicefinder on the same encoded columns: texts and scores."""
    slicefinder = pytest.importorskip("sliceline.slicefinder")
    features = list(df.columns)
    codes, labels = encode(df, features, 4)
    found = slicefinder.Slicefinder(alpha=alpha, k=k, max_l=3, min_sup=min_sup, verbose=False)
    found.fit(codes, row_losses(metric, y, score))
    texts = [
        " and ".join(labels[f][int(c)] for f, c in enumerate(row) if c is not None)
        for row in found.top_slices_
    ]
    return texts, [s["slice_score"] for s in found.top_slices_statistics_]


@pytest.mark.parametrize(
    ("metric", "alpha", "duplicate"),
    [
        ("log_loss", 0.6, False),
        ("log_loss", 0.9, False),
        ("error_rate", 0.9, False),
        ("log_loss", 0.9, True),
    ],
)
def test_sliceline_score_returns_what_slicefinder_returns(metric, alpha, duplicate):
    df, y, score = skewed_world()
    if duplicate:  # a copy of a column: slices of equal scores, ordered as Slicefinder orders them
        df = df.assign(region=df["country"].map({"US": "NA", "FR": "EU"}))
    texts, scores = sliceline_top(df, y, score, metric, alpha, 8, 30)
    found = find_slices(
        df,
        y,
        score,
        list(df.columns),
        metric=metric,
        max_order=3,
        min_support=30,
        top_k=8,
        score="sliceline",
        sliceline_alpha=alpha,
    )
    assert len(found.table) >= 3 and found.score == "sliceline"
    assert found.table["slice"].tolist() == texts[: len(found.table)]
    assert len(found.table) == min(len(texts), 8)
    np.testing.assert_allclose(found.table["score"], scores[: len(found.table)], rtol=1e-9)
    assert found.table["slice"].iloc[0].startswith("plan = team")


def test_sliceline_score_by_hand():
    # 10 rows, losses 1 in 'b' (4 rows) and 0.5 in 'a' (6 rows): mean 0.7
    df = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 4})
    losses = np.array([0.5] * 6 + [1.0] * 4)
    found = find_slices(
        df,
        losses,
        np.zeros(10),
        ["g"],
        metric=lambda y, p: y,
        min_support=2,
        score="sliceline",
        sliceline_alpha=0.8,
    )
    # 0.8 · ((4 / 4) / 0.7 − 1) − 0.2 · (10 / 4 − 1) = 0.8 · 3/7 − 0.3
    assert found.table["slice"].tolist() == ["g = b"]
    assert found.table["score"].iloc[0] == pytest.approx(0.8 * 3 / 7 - 0.3)
    # 'a' scores 0.8 · (0.5 / 0.7 − 1) − 0.2 · (10 / 6 − 1) < 0: not a slice SliceLine keeps
    assert (
        "score"
        not in find_slices(
            df, losses, np.zeros(10), ["g"], metric=lambda y, p: y, min_support=2
        ).table.columns
    )


def test_sliceline_score_bad_arguments_are_named():
    df, y, score, _ = world(500)
    with pytest.raises(
        LumosUserError, match=r"score must be 'effect' .* or 'sliceline'.*got 'lift'"
    ):
        find_slices(df, y, score, ["industry"], score="lift")
    for bad in (0, 1.5, -0.1, "0.6"):
        with pytest.raises(
            LumosUserError, match=r"'sliceline_alpha' parameter of find_slices must be a float > 0"
        ):
            find_slices(df, y, score, ["industry"], score="sliceline", sliceline_alpha=bad)
    for metric in ("calibration_gap", "auc"):
        with pytest.raises(LumosUserError, match=f"metric '{metric}' has none"):
            find_slices(df, y, score, ["industry"], metric=metric, score="sliceline")
    with pytest.raises(LumosUserError, match=r"needs non-negative per-row losses; .* at row 0"):
        find_slices(df, y, score, ["industry"], metric=lambda t, p: t - p - 2, score="sliceline")
