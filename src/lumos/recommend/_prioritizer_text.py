"""The Account Prioritizer's words: its insights designs and a headline per scored row.

A design starts as :func:`~lumos.explain.suggest_design`'s draft of the model's
features (a level and a change per usage metric, rates as percentages, counts
with their noun), then:

* each feature falls in the category of where it comes from (Usage, Company,
  Contract);
* the contract reads as facts: "Renewal in 11 months.", "Month 2 of a
  12-month contract.", "Holds 2 of 3 products.", and its units as a level
  beside the other accounts: "29 units under contract, higher than 61% of
  accounts.";
* the purchase features (BG/NBD's) read as levels beside the other accounts:
  "1.4 purchases expected in the next 3 months, higher than 80% of
  accounts.", "91% chance still active, …".

The headline says what a row's predicted change means at its renewal: "Likely
to add about 320 units by the Mar 2026 renewal (of 789)".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.explain import SuggestedDesign
from lumos.recommend._prioritizer_features import feature_category

#: Contract feature → (insight type, its template, items beyond ``value``).
CONTRACT_TEMPLATES = {
    "units_under_contract": (
        "units_under_contract",
        {
            "kind": "level",
            "text": "{value} {units:units/units/unit} under contract, {context}.",
            "derive": {"units": "value - 1"},
        },
        {},
    ),
    "months_to_renewal": (
        "months_to_renewal",
        {
            "kind": "fact",
            "text": "Renewal in {value} {months:months/months/month}.",
            "derive": {"months": "value - 1"},
        },
        {},
    ),
    "months_into_cycle": (
        "month_of_contract",
        {
            "kind": "fact",
            "text": "Month {month} of a {length}-month contract.",
            "derive": {"month": "value + 1", "length": "value + to_renewal"},
        },
        {"to_renewal": "months_to_renewal"},
    ),
}


_BGNBD = "BG/NBD fitted on every account's purchases before the cutoff: "
#: Purchase feature → (super feature, insight type, its template, unit, description).
PURCHASE_TEMPLATES = {
    "bgnbd_expected": (
        "Expected purchases",
        "expected_purchases",
        "{value} purchases expected in the next 3 months, {context}.",
        "number",
        _BGNBD + "the purchases expected in the next 3 months.",
    ),
    "bgnbd_p_alive": (
        "Chance still active",
        "chance_active",
        "{value:pct} chance still active, {context}.",
        "rate",
        _BGNBD + "the chance the account still buys at all.",
    ),
    "bgnbd_p_none": (
        "Chance of no purchase",
        "chance_no_purchase",
        "{value:pct} chance of no purchase in the next 3 months, {context}.",
        "rate",
        _BGNBD + "the chance of no purchase in the next 3 months.",
    ),
    "bgnbd_p_more": (
        "Chance of buying more",
        "chance_buying_more",
        "{value:pct} chance of buying more in the next 3 months than in the last 3, {context}.",
        "rate",
        _BGNBD + "the chance of more purchases in the next 3 months than in the last 3.",
    ),
    "recency_over_age": (
        "Silence over time as a customer",
        "silence_share",
        "No purchase in the last {value:pct} of its time as a customer, {context}.",
        "rate",
        "Days since the last purchase over days since the first.",
    ),
    "frequency_over_age": (
        "Repeat purchase rate",
        "repeat_purchase_rate",
        "{per_month} repeat purchases a month since its first, {context}.",
        "number",
        "Repeat purchase days per day since the first purchase.",
    ),
}


def prioritizer_design(
    draft: SuggestedDesign, firmographic_names, products: list[str]
) -> SuggestedDesign:
    """The prioritizer's design of one model, from ``suggest_design``'s draft of its features."""
    features = draft.features.copy()
    features["category"] = [feature_category(f, firmographic_names) for f in features["feature"]]
    insights, templates = draft.insights.copy(), dict(draft.templates)
    contract = dict(CONTRACT_TEMPLATES)
    n = len(products)
    contract["products_held"] = (
        "products_held",
        {"kind": "fact", "text": f"Holds {{value}} of {n} product{'s' if n != 1 else ''}."},
        {},
    )
    for feature, (kind, template, extra) in contract.items():
        at = features["feature"] == feature
        if not at.any() or any(c not in set(features["feature"]) for c in extra.values()):
            continue
        sf = features.loc[at, "super_feature"].iloc[0]
        features.loc[at, ["insight", "unit"]] = [kind, "count"]
        features.loc[at, "noun"] = "units" if feature == "units_under_contract" else "months"
        if feature == "products_held":
            features.loc[at, "noun"] = "products"
        keep = insights["super_feature"] != sf
        rows = [(sf, kind, "value", feature)] + [(sf, kind, i, c) for i, c in extra.items()]
        insights = pd.concat(
            [insights[keep], pd.DataFrame(rows, columns=insights.columns)], ignore_index=True
        )
        templates[kind] = template
    for feature, (title, kind, text, unit, about) in PURCHASE_TEMPLATES.items():
        at = features["feature"] == feature
        if not at.any():
            continue
        old = features.loc[at, "super_feature"].iloc[0]
        features.loc[at, ["super_feature", "insight", "unit", "noun"]] = [title, kind, unit, ""]
        features.loc[at, "description"] = about
        features.loc[features["ultra_feature"] == old, "ultra_feature"] = title
        row = pd.DataFrame([(title, kind, "value", feature)], columns=insights.columns)
        insights = pd.concat([insights[insights["super_feature"] != old], row], ignore_index=True)
        templates[kind] = {"kind": "level", "text": text}
        if feature == "frequency_over_age":  # per day of age; said per month
            templates[kind]["derive"] = {"per_month": "value * 30"}
    used = set(insights["insight_type"])
    templates = {k: v for k, v in templates.items() if k == "settings" or k in used}
    return SuggestedDesign(features, insights, templates)


def renewal_headlines(change, units, renewal, classes) -> np.ndarray:
    """What each row's predicted change in units means at its renewal.

    >>> renewal_headlines([320.4, -12.2, 0.3], [789, 40, 29],
    ...                   pd.to_datetime(["2026-03-01"] * 3), ["upsell", "churn", "flat"]).tolist()
    ['Likely to add about 320 units by the Mar 2026 renewal (of 789)', 'At risk of losing about 12 units at the Mar 2026 renewal (of 40)', 'Likely to renew at about its 29 units in Mar 2026']
    """  # noqa: E501
    change = np.asarray(change, dtype=np.float64)
    units = np.asarray(units, dtype=np.float64)
    classes = np.asarray(classes, dtype=object)
    about = np.maximum(np.abs(np.round(change)), 1).astype(np.int64)
    when = pd.Series(pd.to_datetime(renewal)).dt.strftime("%b %Y").to_numpy(dtype=object)
    held = pd.Series(units).map("{:,.0f}".format).to_numpy(dtype=object)
    moved = pd.Series(about).map("{:,}".format).to_numpy(dtype=object)
    moved = moved + np.where(about == 1, " unit", " units")
    kept = held + np.where(units == 1, " unit", " units")
    return np.select(
        [classes == "upsell", classes == "churn"],
        [
            "Likely to add about " + moved + " by the " + when + " renewal (of " + held + ")",
            "At risk of losing about " + moved + " at the " + when + " renewal (of " + held + ")",
        ],
        "Likely to renew at about its " + kept + " in " + when,
    ).astype(object)
