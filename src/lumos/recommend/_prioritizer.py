"""Account Prioritizer: who will add or drop units by renewal, per account and product, and why.

The whole monthly job over the book-of-business tables:

1. **Labels.** :func:`~lumos.features.renewal_labels` at every monthly cutoff
   inside each renewal cycle, for accounts and for each product; only rows
   whose renewal has passed (``closed``) train.
2. **Features** at each cutoff, strictly from data before ``cutoff −
   lead_months``: window features of usage (per product for product rows;
   for account rows, rates averaged over products and counts added up) and
   of firmographics, and the
   contract as it stands at the cutoff (units, months into the cycle and to
   renewal, products held); given a purchases log, BG/NBD's expected
   purchases, chances and P(alive) at each cutoff, which keep their meaning
   past the cutoffs trained on (:func:`~lumos.features.btyd_features`).
3. **Models.** A :class:`~lumos.models.PropensityModel` regressor of the change
   in units for accounts and one for each product, and a classifier of an
   all-in deal — an account that lacks a product holding every product at
   renewal — all with a time-based split.
4. **Scoring** at an as-of date: one row per account and per product it
   holds, with the predicted change, a score (the change relative to the
   units held), a class (upsell | flat | churn) and the top narratives of the
   prediction by category — an upsell by what pushes its change up, a churn
   risk by what pulls it down — from exact TreeSHAP and an insights design
   drafted from the feature names (:func:`~lumos.explain.suggest_design`,
   with the contract as facts: ``_prioritizer_text``), which
   :meth:`AccountPrioritizer.save` writes out for editing; and a headline per
   row saying what the change means at the renewal.

The features are assembled in ``_prioritizer_features``; the saved folder is
written and read by ``_prioritizer_io``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import average_precision_score, roc_auc_score

from lumos._checks import check_fitted, check_number
from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate import propensity_report
from lumos.explain import explain_table, import_model, suggest_design, summarize
from lumos.features import WindowFeatures, renewal_labels
from lumos.models import PropensityModel, classify_change
from lumos.recommend._prioritizer_features import (
    Tables,
    assemble_features,
    holdings,
    window_specs,
)
from lumos.recommend._prioritizer_io import insights_design, load_prioritizer, save_prioritizer
from lumos.recommend._prioritizer_text import prioritizer_design, renewal_headlines


class AccountPrioritizer(BaseEstimator):
    """Upsell and churn by renewal for every account and product, explained.

    Parameters
    ----------
    usage_features : WindowFeatures, optional
        Window features of the usage table (its ``level`` is set per model).
        Default: every metric × 3, 6, 12 months × sum, mean, slope, ratio, and
        the previous window's mean.
    firmographic_features : WindowFeatures, optional
        Window features of the firmographics columns (as metrics). Default:
        3 and 12 months × mean and ratio, and the previous window's mean.
    lead_months : int, default=1
        Months before each cutoff that no feature reads.
    tolerance : float, default=0.5
        Changes within ±tolerance units are ``flat`` (labels and predictions).
    n_estimators, max_depth, learning_rate, validation_cutoffs : see PropensityModel
    top_k : int, default=3
        Narratives per scored row.
    random_state : int, default=0
    n_jobs : int, optional

    Attributes
    ----------
    models_ : dict of str to PropensityModel
        ``"account"``, ``"product:{name}"`` per product, ``"all_in"``.
    designs_ : dict of str to InsightsDesign
        The insights design narrating each regression model.
    rate_metrics_ : list of str
        Usage metrics whose values all lie in [0, 1]: rates, averaged over an
        account's products (other metrics are added up).
    uses_purchases_ : bool
        Whether the models read purchase features (fitted with ``purchases``);
        :meth:`score` then needs the purchases log too.
    report_ : DataFrame
        Validation figures per model (later cutoffs than trained on).
    skipped_ : dict of str to str
        Models not trained, and why (a product with too little history).
    as_of_ : Timestamp
    """

    def __init__(
        self,
        *,
        usage_features: WindowFeatures | None = None,
        firmographic_features: WindowFeatures | None = None,
        lead_months: int = 1,
        tolerance: float = 0.5,
        n_estimators: int = 300,
        max_depth: int = 5,
        learning_rate: float = 0.05,
        validation_cutoffs: int = 3,
        top_k: int = 3,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.usage_features = usage_features
        self.firmographic_features = firmographic_features
        self.lead_months = lead_months
        self.tolerance = tolerance
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.validation_cutoffs = validation_cutoffs
        self.top_k = top_k
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- training ------------------------------------------------------------------------------

    def fit(
        self, contracts, usage, *, firmographics=None, purchases=None, as_of=None
    ) -> AccountPrioritizer:
        """Label, featurize and train every model on the rows whose renewal has passed.

        ``as_of`` is the first day the tables do not cover (default: the day
        after the latest contract start): a row trains only if its renewal came
        before it, so its outcome is in the contracts. ``purchases`` (optional:
        ``account_id``, ``date``, one row per purchase — orders, add-ons,
        invoices) adds the buy-till-you-die features of each account, and its
        narratives: "1.4 purchases expected in the next 3 months, …", "91%
        chance still active, …".
        """
        self._check()
        tables = Tables(contracts, usage, firmographics, purchases=purchases)
        self.uses_purchases_ = purchases is not None
        latest = tables.contracts["start"].max() + pd.Timedelta(days=1)
        self.as_of_ = pd.Timestamp(as_of if as_of is not None else latest)
        known = self.as_of_ - pd.Timedelta(days=1)  # renewals before as_of are in the data
        self.products_ = sorted(tables.contracts["product"].unique())
        values = tables.usage["value"]
        inside = values.isna() | values.between(0, 1)
        self.rate_metrics_ = sorted(
            set(tables.usage["metric"]) - set(tables.usage.loc[~inside, "metric"])
        )
        self.models_, self.designs_, self.skipped_, self.feature_names_ = {}, {}, {}, {}
        self._drafts, reports = {}, {}
        for level in ("account", "product"):
            labels = renewal_labels(
                tables.contracts, level=level, as_of=known, tolerance=self.tolerance
            )
            labels = labels[labels["closed"]].reset_index(drop=True)
            if level == "account" and labels.empty:
                raise DataValidationError(
                    f"contracts has no renewal before {self.as_of_.date()}, so nothing can be "
                    "learned; give at least one full cycle of history (and its renewal).",
                    code="too_little_history",
                    file="contracts",
                )
            X = self._features(tables, labels, level)
            groups = (
                {"account": labels.index}
                if level == "account"
                else {f"product:{p}": labels.index[labels["product"] == p] for p in self.products_}
            )
            for name, idx in groups.items():
                if labels.loc[idx, "cutoff"].nunique() <= self.validation_cutoffs or len(idx) < 50:
                    self.skipped_[name] = f"{len(idx)} labelled rows at too few cutoffs"
                    continue
                model = self._model("reg:squarederror").fit(
                    X.loc[idx], labels.loc[idx, "change"], cutoff=labels.loc[idx, "cutoff"]
                )
                self._keep(name, model, X.loc[idx])
                v = model.validation_
                reports[name] = propensity_report(
                    labels.loc[v["index"], "change"], v["prediction"], tolerance=self.tolerance
                ).loc["all"]
            if level == "account":
                self._fit_all_in(tables, labels, X, reports)
        self.report_ = pd.DataFrame(reports).T
        return self

    def _fit_all_in(self, tables, labels, X, reports) -> None:
        held_now, held_later = holdings(tables, self.products_, labels)
        lacking = held_now < len(self.products_)
        if len(self.products_) < 2 or lacking.sum() < 50:
            self.skipped_["all_in"] = "every account holds every product (or one product only)"
            return
        y = (held_later[lacking] == len(self.products_)).astype(np.float64)
        idx = labels.index[lacking]
        if y.sum() == 0:
            self.skipped_["all_in"] = "no account ever bought every product"
            return
        model = self._model("binary:logistic").fit(X.loc[idx], y, cutoff=labels.loc[idx, "cutoff"])
        self.models_["all_in"] = model
        self.feature_names_["all_in"] = list(X.columns)
        v = model.validation_
        truth = y[np.isin(idx, v["index"])]
        both = 0 < truth.sum() < len(truth)
        reports["all_in"] = pd.Series(
            {
                "rows": v["rows"],
                "all_in_rate": truth.mean(),
                "all_in_roc_auc": roc_auc_score(truth, v["prediction"]) if both else np.nan,
                "all_in_pr_auc": average_precision_score(truth, v["prediction"])
                if both
                else np.nan,
            }
        )

    def _model(self, objective: str) -> PropensityModel:
        return PropensityModel(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            validation_cutoffs=self.validation_cutoffs,
            tolerance=self.tolerance,
            objective=objective,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def _keep(self, name: str, model: PropensityModel, X: pd.DataFrame) -> None:
        self.models_[name] = model
        self.feature_names_[name] = list(X.columns)
        draft = suggest_design(import_model(model.booster_), X, peers="accounts")
        design = prioritizer_design(draft, self._firmo_names, self.products_)
        self._drafts[name] = design
        self.designs_[name] = insights_design(design)

    # -- features ------------------------------------------------------------------------------

    def _features(self, tables, rows: pd.DataFrame, level: str) -> pd.DataFrame:
        """The features of label-like ``rows``; remembers which are firmographic."""
        specs = window_specs(self.usage_features, self.firmographic_features, level, tables)
        X, self._firmo_names = assemble_features(
            tables,
            rows,
            level,
            specs,
            lead_months=self.lead_months,
            rate_metrics=self.rate_metrics_,
            products=self.products_,
        )
        return X

    # -- scoring -------------------------------------------------------------------------------

    def score(
        self,
        contracts,
        usage,
        *,
        firmographics=None,
        purchases=None,
        as_of,
        top_k=None,
        narratives: bool = False,
        last_month: bool = False,
    ):
        """Score every account and product under contract on ``as_of`` (the 1st of a month).

        ``purchases`` is needed, and only allowed, when the prioritizer was
        fitted with it; a ``why_purchases`` column then narrates it.

        Returns
        -------
        DataFrame
            One row per account (``product`` empty) and per product it holds:
            ``account_id, product, as_of, renewal, units, predicted_change,
            score`` (predicted change ÷ units), ``class`` (upsell | flat |
            churn), ``headline`` (what the change means at the renewal: "Likely to
            add about 320 units by the Mar 2026 renewal (of 789)"),
            ``all_in_probability`` (account rows lacking a product) and
            a ``why_{category}`` text column per narrative category
            (``why_usage``, ``why_company``, ``why_contract``); with
            ``last_month=True``, also ``score_last_month``: the row's score a
            month before ``as_of`` (empty where it was not under contract).
        DataFrame, when ``narratives=True``
            Also the narratives one per row (:func:`~lumos.explain.narrate`'s
            columns), ``row`` labelled ``account_id`` or ``account_id · product``.
        """
        when = self._when(as_of, purchases)
        tables = Tables(contracts, usage, firmographics, until=when, purchases=purchases)
        top_k = self.top_k if top_k is None else top_k
        out, long = [], []
        for level in ("account", "product"):
            rows, X = self._at(tables, when, level)
            if rows.empty:
                continue
            names = ["account"] if level == "account" else [f"product:{p}" for p in self.products_]
            for name in names:
                idx = (
                    rows.index
                    if level == "account"
                    else rows.index[rows["product"] == name.split(":", 1)[1]]
                )
                if name not in self.models_ or len(idx) == 0:
                    continue
                frame, text = self._score(name, rows.loc[idx], X.loc[idx], top_k)
                out.append(frame)
                long += text
                if level == "account" and "all_in" in self.models_:
                    held = holdings(tables, self.products_, rows.loc[idx])[0]
                    p = self.models_["all_in"].predict(X.loc[idx])
                    out[-1]["all_in_probability"] = np.where(held < len(self.products_), p, np.nan)
        if not out:
            raise DataValidationError(
                f"No account is under contract on {when.date()} (strictly inside a renewal "
                "cycle); check the as-of date against the contracts' start and end dates.",
                code="nothing_to_score",
                file="contracts",
            )
        table = pd.concat(out, ignore_index=True)
        why = [c for c in table.columns if c.startswith("why_")]
        table[why] = table[why].fillna("")
        first = [
            "account_id",
            "product",
            "as_of",
            "renewal",
            "units",
            "predicted_change",
            "score",
            "class",
            "headline",
            "all_in_probability",
        ]
        table = table.reindex(columns=[*first, *why])
        table = table.sort_values(["account_id", "product"], na_position="first", ignore_index=True)
        if last_month:
            table["score_last_month"] = self._last_month(
                contracts, usage, firmographics, purchases, when, top_k, table
            )
        if not narratives:
            return table
        return table, pd.concat(long, ignore_index=True)

    def _last_month(
        self, contracts, usage, firmographics, purchases, when, top_k, table
    ) -> np.ndarray:
        """Each row's score a month before ``when`` (NaN where there was none)."""
        keys = ["account_id", "product"]
        try:
            before = self.score(
                contracts,
                usage,
                firmographics=firmographics,
                purchases=purchases,
                as_of=when - pd.DateOffset(months=1),
                top_k=top_k,
            )
        except DataValidationError:  # nothing under contract a month before
            return np.full(len(table), np.nan)
        joined = table[keys].merge(before[[*keys, "score"]], on=keys, how="left")
        return joined["score"].to_numpy(np.float64)

    def features(
        self, contracts, usage, *, firmographics=None, purchases=None, as_of, level="account"
    ):
        """The rows :meth:`score` scores on ``as_of`` at ``level``, and their model features.

        Returns
        -------
        DataFrame
            ``account_id`` (and ``product``), ``cutoff``, ``renewal``,
            ``quantity``, then every feature column.
        """
        self._check_fitted()
        if level not in ("account", "product"):
            raise LumosUserError(
                f"level must be 'account' or 'product'. Got {level!r}.", code="bad_argument"
            )
        when = self._when(as_of, purchases)
        tables = Tables(contracts, usage, firmographics, until=when, purchases=purchases)
        rows, X = self._at(tables, when, level)
        keys = ["account_id", "product"] if level == "product" else ["account_id"]
        return pd.concat([rows[[*keys, "cutoff", "renewal", "quantity"]], X], axis=1)

    def _when(self, as_of, purchases) -> pd.Timestamp:
        self._check_fitted()
        if self.uses_purchases_ != (purchases is not None):
            raise LumosUserError(
                "This AccountPrioritizer was fitted "
                + (
                    "with purchases; pass the same purchases log (account_id, date) to score."
                    if self.uses_purchases_
                    else "without purchases; drop purchases= or refit with it."
                ),
                code="bad_argument",
            )
        when = pd.Timestamp(as_of)
        if when != when.to_period("M").to_timestamp():
            raise LumosUserError(
                f"as_of must be the first day of a month. Got {as_of!r}.", code="bad_argument"
            )
        return when

    def _at(self, tables, when: pd.Timestamp, level: str):
        """The rows under contract on ``when`` (as renewal labels would have them) and features."""
        rows = renewal_labels(tables.contracts, level=level, as_of=when)
        rows = rows[rows["cutoff"] == when].reset_index(drop=True)
        return rows, self._features(tables, rows, level) if len(rows) else pd.DataFrame()

    def _score(self, name: str, rows: pd.DataFrame, X: pd.DataFrame, top_k: int) -> pd.DataFrame:
        model = self.models_[name]
        X = X[self.feature_names_[name]].reset_index(drop=True)
        units = rows["quantity"].to_numpy(np.float64)
        change, tol = np.maximum(model.predict(X), -units), self.tolerance  # cannot drop below 0
        frame = pd.DataFrame(
            {
                "account_id": rows["account_id"].to_numpy(),
                "product": rows["product"].to_numpy() if "product" in rows else None,
                "as_of": rows["cutoff"].to_numpy(),
                "renewal": rows["renewal"].to_numpy(),
                "units": units,
                "predicted_change": change,
                "score": change / np.maximum(units, 1.0),
                "class": classify_change(change, tol),
            }
        )
        frame["headline"] = renewal_headlines(
            change, units, frame["renewal"], frame["class"].to_numpy()
        )
        imported, design = import_model(model.booster_), self.designs_[name]
        label = frame["account_id"].astype(str).to_numpy(dtype=object)
        if "product" in rows:
            label = label + " · " + frame["product"].astype(str).to_numpy(dtype=object)
        long = []
        for direction, mask in (("positive", change >= 0), ("negative", change < 0)):
            if not mask.any():
                continue
            text, _, _ = explain_table(
                imported,
                X[mask],
                design,
                method="tree_shap",
                top_k=top_k,
                direction=direction,
                reference=X,  # every row's levels beside all the accounts scored, not its class
                random_state=self.random_state,
            )
            cards = summarize(text, separator=" ")
            long.append(text.assign(row=label[text["row"].to_numpy(np.int64)]))  # X's rows
            for category in cards.columns:
                column = "why_" + category.lower().replace(" ", "_")
                if column not in frame:
                    frame[column] = ""
                frame.loc[cards.index, column] = cards[category].to_numpy()
        return frame, long

    # -- persistence ---------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the models (XGBoost JSON), designs and settings into ``folder``, atomically."""
        self._check_fitted()
        return save_prioritizer(self, folder, overwrite=overwrite)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> AccountPrioritizer:
        """Read a folder written by :meth:`save` (the designs may have been edited since)."""
        return load_prioritizer(cls, folder)

    def _check(self) -> None:
        for name in ("usage_features", "firmographic_features"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, WindowFeatures):
                raise LumosUserError(
                    f"The {name!r} parameter of AccountPrioritizer must be a "
                    f"WindowFeatures or None. Got {value!r}.",
                    code="bad_argument",
                )
        check_number("AccountPrioritizer", "top_k", self.top_k, low=1, integer=True)
        self._model("reg:squarederror")._check_params()

    def _check_fitted(self) -> None:
        check_fitted(self, "models_")
