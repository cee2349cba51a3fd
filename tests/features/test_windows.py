import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import suggest_design
from lumos.features._windows import WindowFeatures, metric_identifier, window_features

METRICS = ["logins", "seats_used", "searches"]
ALL_PREV = ("sum", "mean", "last", "slope")


def window_features_reference(usage, cutoffs, spec, lead_months=0):
    """The anchor: every feature of every cutoff row computed directly, one window at a time."""
    keys = spec.keys
    u = usage[usage["value"].notna()].copy()
    u["t"] = u["month"].dt.year * 12 + u["month"].dt.month - 1
    monthly = u.groupby([*keys, "metric", "t"])["value"].sum()  # observed values, over products
    series = {
        k: g.droplevel(list(range(len(keys) + 1)))
        for k, g in monthly.groupby(level=[*range(len(keys) + 1)])
    }
    metrics = spec.metrics or sorted(usage["metric"].unique())
    empty = pd.Series(dtype=float)

    def agg(name, x, before):
        if name == "sum":
            return float(x.sum())
        if name == "ratio":
            zero = abs(before.sum()) <= 1e-9 * before.abs().sum()  # 0, or 0 up to rounding
            return np.nan if zero else x.sum() / before.sum()
        if len(x) == 0 or (name == "slope" and len(x) < 2):
            return np.nan
        if name == "mean":
            return x.mean()
        if name == "last":
            return x.sort_index().iloc[-1]
        t = x.index.to_numpy(float) - x.index.to_numpy(float).mean()
        return float((t * (x.to_numpy() - x.mean())).sum() / (t * t).sum())

    rows = []
    for _, c in cutoffs.iterrows():
        end = c["cutoff"].year * 12 + c["cutoff"].month - 1 - lead_months  # first month left out
        row = {k: c[k] for k in [*keys, "cutoff"]}
        for m in metrics:
            key = (*(c[k] for k in keys), m)
            s = series.get(key if len(key) > 1 else key[0], empty)

            def part(a, b, s=s):  # months a <= t < b
                return s[(s.index >= a) & (s.index < b)]

            for name in spec.aggregates:
                for w in spec.windows:
                    cur, before = part(end - w, end), part(end - 2 * w, end - w)
                    row[f"{metric_identifier(m)}_{name}_{w}m"] = agg(name, cur, before)
                for w in spec.windows if name in spec.prev else ():
                    prev, before = part(end - 2 * w, end - w), part(end - 3 * w, end - 2 * w)
                    row[f"{metric_identifier(m)}_{name}_prev_{w}m"] = agg(name, prev, before)
        rows.append(row)
    return pd.DataFrame(rows)


def _usage(seed=0, accounts=4, months=30):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product(
        [
            [f"a{i}" for i in range(accounts)],
            ["p1", "p2"],
            pd.date_range("2023-01-01", periods=months, freq="MS"),
            METRICS,
        ],
        names=["account_id", "product", "month", "metric"],
    )
    u = idx.to_frame(index=False)
    u["value"] = rng.gamma(2.0, 10.0, len(u)).round(1)
    u.loc[rng.random(len(u)) < 0.1, "value"] = np.nan
    u.loc[rng.random(len(u)) < 0.05, "value"] = 0.0
    u.loc[rng.random(len(u)) < 0.02, "value"] = -3.5
    return u[rng.random(len(u)) >= 0.2].reset_index(drop=True)


def _cutoffs(level, seed=0):
    rng = np.random.default_rng(seed + 1)
    months = pd.date_range("2023-02-01", "2025-09-01", freq="MS")  # before, inside and after
    rows = [
        (f"a{i}", p, months[j])
        for i in range(5)
        for p in ("p1", "p2")
        for j in rng.choice(len(months), 5, replace=False)
    ]
    c = pd.DataFrame(rows, columns=["account_id", "product", "cutoff"])  # a4 has no usage
    return c if level == "product" else c.drop(columns="product")


@pytest.mark.parametrize("engine", ["numpy", "sql"])
@pytest.mark.parametrize("level", ["account", "product"])
@pytest.mark.parametrize("lead", [0, 2])
def test_features_match_the_reference(engine, level, lead):
    usage, cutoffs = _usage(), _cutoffs(level)
    spec = WindowFeatures(level=level, prev=ALL_PREV)
    got = window_features(usage, cutoffs, spec, lead_months=lead, engine=engine, dtype="float64")
    want = window_features_reference(usage, cutoffs, spec, lead)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got[want.columns[:3]], want[want.columns[:3]])
    feats = spec.names(METRICS)
    assert (got[feats].dtypes == np.float64).all()
    np.testing.assert_allclose(
        got[feats].to_numpy(), want[feats].to_numpy(float), rtol=1e-8, atol=1e-8
    )
    assert 0 < np.isnan(got[feats].to_numpy()).mean() < 0.5


@pytest.mark.parametrize("engine", ["numpy", "sql"])
def test_float32_features_are_the_float64_ones_rounded(engine):
    usage, cutoffs = _usage(), _cutoffs("account")
    spec = WindowFeatures(prev=ALL_PREV)
    feats = spec.names(METRICS)
    wide = window_features(usage, cutoffs, spec, engine=engine, dtype=np.float64)[feats]
    got = window_features(usage, cutoffs, spec, engine=engine)[feats]
    assert (got.dtypes == np.float32).all()
    want = wide.to_numpy().astype(np.float32)  # rounded once, from the float64 sums
    np.testing.assert_array_equal(np.isnan(got.to_numpy()), np.isnan(want))
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", ["float16", "int32", object, None, "double-ish"])
def test_a_dtype_other_than_float32_or_float64_is_refused(dtype):
    with pytest.raises(LumosUserError, match="dtype must be") as e:
        window_features(_usage(), _cutoffs("account"), WindowFeatures(), dtype=dtype)
    assert e.value.code == "bad_argument"


def test_engines_agree_and_the_sql_text_runs():
    usage, cutoffs = _usage(1), _cutoffs("account", 1)
    spec = WindowFeatures(METRICS[:2], windows=(2, 5), prev=ALL_PREV)
    fast = window_features(usage, cutoffs, spec, lead_months=1, dtype="float64")
    con = duckdb.connect()
    con.register("usage", usage)
    con.register("cutoffs", cutoffs)
    text = spec.sql(lead_months=1)
    ran = con.sql(text).df().sort_values(["account_id", "cutoff"], ignore_index=True)
    fast = fast.sort_values(["account_id", "cutoff"], ignore_index=True)
    assert list(ran.columns) == list(fast.columns)
    np.testing.assert_allclose(
        ran[spec.names()].to_numpy(float), fast[spec.names()], rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("engine", ["numpy", "sql"])
@pytest.mark.parametrize("lead", [0, 2])
def test_nothing_at_or_after_cutoff_minus_lead_moves_a_feature(engine, lead):
    usage = _usage(2)
    spec = WindowFeatures(METRICS, prev=ALL_PREV)
    rng = np.random.default_rng(3)
    for cutoff in pd.to_datetime(["2023-09-01", "2024-06-01", "2025-07-01"]):
        cut = pd.DataFrame({"account_id": ["a0", "a1", "a2"], "cutoff": cutoff})
        base = window_features(usage, cut, spec, lead_months=lead, engine=engine)
        edge = cutoff - pd.DateOffset(months=lead)
        later = usage["month"] >= edge
        changed = usage.copy()
        changed.loc[later, "value"] = rng.normal(100, 50, later.sum())
        changed.loc[later & (rng.random(len(usage)) < 0.2), "value"] = np.nan
        full = _usage(2, months=40)  # more rows at and after the edge, where none were
        extra = full[(full["month"] >= edge)].merge(
            changed, how="left", indicator=True, on=["account_id", "product", "month", "metric"]
        )
        extra = extra[extra["_merge"] == "left_only"].rename(columns={"value_x": "value"})
        changed = pd.concat([changed, extra[usage.columns]], ignore_index=True)
        assert len(changed) > len(usage)
        after = window_features(changed, cut, spec, lead_months=lead, engine=engine)
        pd.testing.assert_frame_equal(after, base, rtol=0, atol=1e-12)
        before = changed.copy()
        just = before["month"] == edge - pd.DateOffset(months=1)
        before.loc[just, "value"] = before.loc[just, "value"].fillna(0) + 7.0
        moved = window_features(before, cut, spec, lead_months=lead, engine=engine)
        feats = spec.names()
        assert (~np.isclose(moved[feats], base[feats], equal_nan=True)).sum() > 20


def test_hand_computed_window():
    months = pd.to_datetime(
        [
            "2025-01-01",
            "2025-02-01",
            "2025-03-01",
            "2025-04-01",
            "2025-06-01",
            "2025-06-01",
            "2025-07-01",
        ]
    )
    usage = pd.DataFrame(
        {
            "account_id": "a",
            "product": ["p"] * 5 + ["q", "p"],
            "month": months,
            "metric": "Searches / Seat",
            "value": [2.0, 4.0, np.nan, 5.0, 9.0, 1.0, 100.0],
        }
    )
    # current window Apr-Jun: Apr 5, May no row, Jun 9 + 1 = 10 (two products); July is the cutoff
    # previous window Jan-Mar: Jan 2, Feb 4, Mar unknown (NaN)
    spec = WindowFeatures(windows=(3,), prev=ALL_PREV)
    for lead, cutoff in ((0, "2025-07-01"), (1, "2025-08-01")):
        cut = pd.DataFrame({"account_id": ["a"], "cutoff": [pd.Timestamp(cutoff)]})
        for engine in ("numpy", "sql"):
            got = window_features(usage, cut, spec, lead_months=lead, engine=engine).iloc[0]
            name = "searches___seat"
            want = {
                "sum_3m": 15.0,
                "sum_prev_3m": 6.0,
                "mean_3m": 7.5,
                "mean_prev_3m": 3.0,
                "last_3m": 10.0,
                "last_prev_3m": 4.0,
                "slope_3m": 2.5,
                "slope_prev_3m": 2.0,
                "ratio_3m": 2.5,
            }
            assert list(got.index[2:]) == [f"{name}_{k}" for k in want]
            assert got[2:].to_dict() == pytest.approx({f"{name}_{k}": v for k, v in want.items()})
    early = pd.DataFrame({"account_id": ["a"], "cutoff": [pd.Timestamp("2025-02-01")]})
    got = window_features(usage, early, spec).iloc[0, 2:].astype(float)  # January only
    assert got[f"{name}_sum_3m"] == 2.0 and got[f"{name}_sum_prev_3m"] == 0.0
    assert np.isnan(got[[f"{name}_slope_3m", f"{name}_ratio_3m", f"{name}_mean_prev_3m"]]).all()


def test_names_and_suggested_narratives():
    assert metric_identifier("Searches / Seat") == "searches___seat"
    assert metric_identifier("3d views") == "m_3d_views"
    spec = WindowFeatures(["logins"], windows=(3, 12), aggregates=("sum", "mean"))
    assert spec.names() == [
        "logins_sum_3m",
        "logins_sum_12m",
        "logins_mean_3m",
        "logins_mean_12m",
        "logins_mean_prev_3m",
        "logins_mean_prev_12m",
    ]
    usage, cutoffs = _usage(4), _cutoffs("account", 4)
    X = window_features(usage, cutoffs, WindowFeatures(["logins"])).iloc[:, 2:]
    model = LinearRegression().fit(X.fillna(0), np.arange(len(X)))
    design = suggest_design(model, X)
    assert set(design.features["super_feature"]) == {"Logins"}  # one per metric
    ins = design.insights.set_index(["insight_type", "item"])["feature"]
    assert ins["average_3_months", "value"] == "logins_mean_3m"  # logins are not whole numbers
    assert ins["change_3_months", "prev_value"] == "logins_mean_prev_3m"
    assert ins["change_3_months", "current_value"] == "logins_mean_3m"
    speaks = design.features.groupby("insight")["feature"].agg(list).to_dict()
    assert sorted(speaks["change_3_months"]) == sorted(
        [f"logins_{a}_{w}m" for a in ("mean_prev", "slope", "ratio") for w in (3, 6, 9, 12)]
    )
    text = design.templates["change_3_months"]["text"]
    assert text == (
        "{super_feature} {change:rose/fell} from {prev_value} to "
        "{current_value} ({change:+pct}) in the last 3 months against the 3 "
        "before."
    )


def test_arrow_tables_and_dates():
    usage, cutoffs = _usage(5), _cutoffs("product", 5)
    spec = WindowFeatures(level="product", windows=(4,))
    want = window_features(usage, cutoffs, spec)
    as_dates = usage.assign(month=usage["month"].dt.date)
    got = window_features(pa.Table.from_pandas(as_dates), pa.Table.from_pandas(cutoffs), spec)
    np.testing.assert_array_equal(got[spec.names(METRICS)], want[spec.names(METRICS)])
    assert window_features(usage, cutoffs.iloc[:0], spec).shape == (0, 3 + 3 * 6)


@pytest.mark.parametrize("level", ["account", "product"])
def test_dictionary_encoded_usage(level):
    usage, cutoffs = _usage(7), _cutoffs(level, 7)
    spec = WindowFeatures(level=level, prev=ALL_PREV)
    want = window_features(usage, cutoffs, spec)
    cat = dict.fromkeys(["account_id", "product", "metric"], "category")
    table = pa.concat_tables(
        [
            pa.Table.from_pandas(part.astype(cat), preserve_index=False)
            for part in (usage[:300], usage[300:])
        ]
    )
    assert pa.types.is_dictionary(table["metric"].type) and table["metric"].num_chunks == 2
    for engine in ("numpy", "sql"):  # each chunk has its own dictionaries
        got = window_features(table, cutoffs, spec, engine=engine)
        pd.testing.assert_frame_equal(got, want, check_exact=engine == "numpy", rtol=1e-9)
    ids = pa.DictionaryArray.from_arrays(
        pa.array(np.arange(len(usage)) == 5, pa.int8()).cast(pa.int32()), pa.array(["a0", None])
    )
    with pytest.raises(DataValidationError) as e:  # a null in the dictionary is an empty id
        window_features(table.set_column(0, "account_id", ids), cutoffs, spec)
    assert (e.value.code, e.value.row, e.value.column) == ("bad_value", 5, "account_id")


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"windows": (3, 0)}, "windows"),
        ({"windows": (3, 3)}, "windows"),
        ({"aggregates": ("sum", "median")}, "aggregates"),
        ({"aggregates": ()}, "aggregates"),
        ({"level": "contract"}, "level"),
        ({"prev": ("ratio",)}, "prev"),
        ({"aggregates": ("sum",), "prev": ("mean",)}, "prev"),
        ({"metrics": "logins"}, "metrics"),
        ({"metrics": ["a b", "a-b"]}, "metrics"),
    ],
)
def test_bad_declarations(kwargs, word):
    with pytest.raises(LumosUserError, match=f"'{word}' parameter") as e:
        WindowFeatures(**kwargs)
    assert e.value.code == "bad_argument"


def test_bad_tables():
    usage, cutoffs, spec = _usage(6), _cutoffs("account", 6), WindowFeatures()

    def fails(u, c, code, file, row=None, column=None, **kw):
        with pytest.raises(DataValidationError) as e:
            window_features(u, c, kw.pop("spec", spec), **kw)
        assert (e.value.code, e.value.file, e.value.row, e.value.column) == (
            code,
            file,
            row,
            column,
        )
        return e.value.message

    fails(usage.drop(columns="value"), cutoffs, "missing_column", "usage", column="value")
    fails(
        usage,
        cutoffs.rename(columns={"cutoff": "date"}),
        "missing_column",
        "cutoffs",
        column="cutoff",
    )
    fails(usage.assign(account_id=1), cutoffs, "bad_value", "usage", 0, "account_id")
    fails(usage.assign(value="x"), cutoffs, "bad_value", "usage", 0, "value")
    bad = usage.copy()
    bad.loc[7, "month"] = pd.Timestamp("2023-03-15")
    assert "2023-03-15" in fails(bad, cutoffs, "bad_value", "usage", 7, "month")
    bad = cutoffs.copy()
    bad.loc[3, "cutoff"] = pd.Timestamp("2024-01-01 12:00")
    fails(usage, bad, "bad_value", "cutoffs", 3, "cutoff")
    bad = usage.copy()
    bad.loc[5, "account_id"] = None
    fails(bad, cutoffs, "bad_value", "usage", 5, "account_id")
    dup = pd.concat([usage, usage.iloc[[40]]], ignore_index=True)
    assert "keep one" in fails(dup, cutoffs, "duplicate", "usage", len(usage), "metric")
    fails(
        dup,
        _cutoffs("product", 6),
        "duplicate",
        "usage",
        len(usage),
        "metric",
        spec=WindowFeatures(level="product"),
    )
    fails(
        usage,
        cutoffs,
        "missing_value",
        "usage",
        column="metric",
        spec=WindowFeatures(["logins", "logons"]),
    )
    for call, match in (
        (lambda: window_features(usage, cutoffs, spec, lead_months=-1), "lead"),
        (lambda: window_features(usage.to_dict(), cutoffs, spec), "DataFrame or"),
        (lambda: window_features(usage, cutoffs, spec, engine="spark"), "engine"),
        (lambda: spec.sql(), "pass metrics="),
    ):
        with pytest.raises(LumosUserError, match=match) as e:
            call()
        assert e.value.code == "bad_argument"


def test_accounts_with_more_than_64_products_are_summed_and_checked_for_repeats():
    """Repeats are told apart with a bit per product, 64 at a time: 70 products take two passes."""
    rng = np.random.default_rng(5)
    idx = pd.MultiIndex.from_product(
        [
            ["a0", "a1", "a2"],
            [f"p{p:02d}" for p in range(70)],
            pd.date_range("2024-01-01", periods=14, freq="MS"),
            ["logins"],
        ],
        names=["account_id", "product", "month", "metric"],
    )
    usage = idx.to_frame(index=False)
    usage["value"] = rng.normal(5.0, 3.0, len(usage)).round(1)
    usage.loc[rng.random(len(usage)) < 0.1, "value"] = np.nan
    usage = usage[rng.random(len(usage)) < 0.3].reset_index(drop=True)
    cutoffs = pd.DataFrame(
        {"account_id": ["a0", "a1", "a2", "a3"], "cutoff": [pd.Timestamp("2025-03-01")] * 4}
    )
    spec = WindowFeatures(windows=(3, 6), prev=ALL_PREV)
    got = window_features(usage, cutoffs, spec, dtype="float64")
    want = window_features_reference(usage, cutoffs, spec)
    names = spec.names(["logins"])
    np.testing.assert_allclose(got[names], want[names].astype(float), rtol=1e-9, atol=1e-9)
    late = usage.index[usage["product"] == "p66"][3]  # in the second pass
    dup = pd.concat([usage, usage.loc[[late]]], ignore_index=True)
    with pytest.raises(DataValidationError, match="product p66") as e:
        window_features(dup, cutoffs, spec)
    assert (e.value.code, e.value.row) == ("duplicate", len(usage))
