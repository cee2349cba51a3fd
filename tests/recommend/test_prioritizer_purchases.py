"""AccountPrioritizer with a purchases log: BG/NBD features, their reasons, save/load, no leak."""

import numpy as np
import pandas as pd
import pytest

from lumos.data.demo import saas
from lumos.errors import LumosUserError
from lumos.features import BTYD_FEATURES
from lumos.recommend import AccountPrioritizer

AS_OF = pd.Timestamp("2025-03-01")


@pytest.fixture(scope="module")
def book():
    """A small demo book and a purchases log driven by the same hidden health."""
    book = saas(200, months=30, random_state=3)
    health = book.health
    rng = np.random.default_rng(1)
    n = rng.poisson(0.4 * np.exp(health["health"].to_numpy()))  # healthy accounts buy more
    rows = health.loc[health.index.repeat(n)]
    days = pd.to_timedelta(rng.integers(0, 28, len(rows)), unit="D")
    purchases = pd.DataFrame(
        {"account_id": rows["account_id"].to_numpy(), "date": rows["month"].to_numpy() + days}
    )
    return book, purchases


@pytest.fixture(scope="module")
def fitted(book):
    book, purchases = book
    model = AccountPrioritizer(n_estimators=40, learning_rate=0.2, max_depth=3, n_jobs=2)
    return model.fit(book.contracts, book.usage, purchases=purchases, as_of=book.end)


def _score(model, book, **kw):
    book, purchases = book
    return model.score(book.contracts, book.usage, purchases=purchases, as_of=AS_OF, **kw)


def test_every_model_reads_the_purchase_features(fitted):
    assert fitted.uses_purchases_
    for name, names in fitted.feature_names_.items():
        assert set(BTYD_FEATURES) <= set(names), name
    features = fitted._drafts["account"].features.set_index("feature")
    assert (features.loc[list(BTYD_FEATURES), "category"] == "Purchases").all()
    assert features.loc["bgnbd_p_alive", "super_feature"] == "Chance still active"


def test_reasons_name_the_purchase_features(book, fitted):
    table, text = _score(fitted, book, narratives=True)
    said = text.loc[text["category"] == "Purchases", "text"]
    assert len(said) > 0 and (table["why_purchases"] != "").any()
    phrases = (
        "purchases expected in the next 3 months",
        "chance still active",
        "chance of no purchase in the next 3 months",
        "chance of buying more in the next 3 months than in the last 3",
        "of its time as a customer",
        "repeat purchases a month since its first",
    )
    for sentence in said:  # each reason is one of the purchase sentences, beside the peers
        assert any(p in sentence for p in phrases), sentence
        assert sentence.endswith(" accounts.")
    features = fitted.features(book[0].contracts, book[0].usage, purchases=book[1], as_of=AS_OF)
    row = features.set_index("account_id").loc[table["account_id"].iloc[0]]
    assert 0 <= row["bgnbd_p_alive"] <= 1 and row["bgnbd_expected"] >= 0


def test_save_and_load_keep_the_purchase_features(book, fitted, tmp_path):
    again = AccountPrioritizer.load(fitted.save(tmp_path / "model"))
    assert again.uses_purchases_ and again.feature_names_ == fitted.feature_names_
    pd.testing.assert_frame_equal(_score(fitted, book), _score(again, book))
    with pytest.raises(LumosUserError, match="fitted with purchases") as err:
        again.score(book[0].contracts, book[0].usage, as_of=AS_OF)
    assert err.value.code == "bad_argument"


def test_purchases_from_the_feature_cutoff_on_move_nothing(book, fitted):
    contracts, purchases = book[0].contracts, book[1]
    start = AS_OF - pd.DateOffset(months=fitted.lead_months)  # features read data before it
    late = purchases["date"] >= start
    extra = purchases.sample(300, random_state=0).assign(date=start + pd.Timedelta(days=3))
    moved = pd.concat([purchases[~late], extra], ignore_index=True)
    base = _score(fitted, book)
    again = fitted.score(contracts, book[0].usage, purchases=moved, as_of=AS_OF)
    pd.testing.assert_frame_equal(base, again)
    earlier = purchases.assign(date=purchases["date"] - pd.Timedelta(days=45))
    shifted = fitted.score(contracts, book[0].usage, purchases=earlier, as_of=AS_OF)
    assert not np.allclose(shifted["predicted_change"], base["predicted_change"])
