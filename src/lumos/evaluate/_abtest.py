"""A/B analysis from the funnel: each treatment's lift over control, SRM check, power warning.

The unit is the member (experiments assign members). A member's treatment
is the one on their ``served`` events; impressions and actions join them by
tracking id. Per member: items served, impressions, and actions of each
type. Metrics:

* ``ctr`` — clicks per impression (per served item when no impressions were
  logged), a ratio of sums whose variance comes from the delta method over
  members;
* ``conversion`` — the share of members with a conversion action;
* ``<action>_rate`` — actions of that type per served item, for every action
  in the log.

Each treatment gets the absolute difference and the relative lift against
control with delta-method intervals and a two-sided z-test; a chi-square test
of the members per treatment against the expected split flags a sample-ratio
mismatch; a metric whose minimum detectable difference (at ``power``) is
larger than what was observed is flagged as underpowered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from lumos._checks import require_columns
from lumos.errors import LumosUserError


@dataclass
class ABTest:
    """The lift table, the sample-ratio check, and warnings."""

    table: pd.DataFrame
    members: pd.Series
    srm_p_value: float
    warnings: list = field(default_factory=list)

    def sentences(self) -> list[str]:
        out = []
        for r in self.table.itertuples():
            out.append(
                f"{r.metric} under {r.treatment}: {r.treatment_value:.4g} against "
                f"{r.control_value:.4g} for {r.control} ({r.lift:+.1%}, 95% interval "
                f"{r.lift_low:+.1%} to {r.lift_high:+.1%}; p = {r.p_value:.2g})."
            )
        return out + self.warnings


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """A ratio of sums over members and its delta-method variance."""
    n = len(num)
    mx, my = den.mean(), num.mean()
    if n < 2 or mx == 0:
        return np.nan, np.nan
    r = my / mx
    cov = np.cov(num, den, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * mx * mx)
    return float(r), float(max(var, 0.0))


def abtest(
    events,
    *,
    control: str | None = None,
    conversions=("purchase",),
    weights: dict | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> ABTest:
    """Every treatment against ``control`` on CTR, conversion and each action's rate.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for i in range(4000):
    ...     t = "B" if i % 2 else "A"
    ...     rows.append({"event_id": f"s{i}", "tracking_id": f"t{i}", "type": "served",
    ...                  "member_id": f"m{i}", "item_id": "c", "treatment": t, "ts": 1.7e9})
    ...     if rng.random() < (0.12 if t == "B" else 0.08):
    ...         rows.append({"event_id": f"a{i}", "tracking_id": f"t{i}", "type": "action",
    ...                      "action": "click", "member_id": f"m{i}", "item_id": "c", "ts": 1.7e9})
    >>> result = abtest(pd.DataFrame(rows), control="A")
    >>> row = result.table.set_index("metric").loc["ctr"]
    >>> row["treatment"], bool(row["p_value"] < 0.01), bool(result.srm_p_value > 0.01)
    ('B', True, True)
    """
    e = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
    require_columns(
        e,
        ("tracking_id", "type", "member_id"),
        source="the events table",
        hint="give funnel events.",
    )
    e = e.reindex(columns=[*e.columns, *[c for c in ("action", "treatment") if c not in e]])
    served = e[e["type"] == "served"]
    if served.empty or served["treatment"].isna().all():
        raise LumosUserError(
            "no served events with a treatment: the API records the member's variant on each "
            "served event; analyse a log it wrote.",
            code="empty",
        )
    arm_of = served.dropna(subset=["treatment"]).groupby("member_id")["treatment"].agg(set)
    mixed = arm_of[arm_of.map(len) > 1]
    notes = []
    if len(mixed):
        notes.append(f"{len(mixed)} members saw more than one treatment and are left out.")
    arm_of = arm_of[arm_of.map(len) == 1].map(lambda s: next(iter(s)))
    treatments = sorted(arm_of.unique())
    if control is None:
        control = treatments[0]
    if control not in treatments:
        raise LumosUserError(
            f"control {control!r} has no members; treatments in the log: {', '.join(treatments)}.",
            code="bad_argument",
        )
    members = arm_of.value_counts().reindex(treatments)
    expected = np.array([(weights or {}).get(t, 1.0) for t in treatments], dtype=float)
    expected = expected / expected.sum() * members.sum()
    srm = (
        float(stats.chisquare(members.to_numpy(), expected).pvalue) if len(treatments) > 1 else 1.0
    )
    if srm < 0.001:
        notes.append(
            f"Sample-ratio mismatch: members per treatment {members.to_dict()} are unlikely under "
            f"the expected split (chi-square p = {srm:.2g}); check assignment and logging "
            "before trusting any lift."
        )
    # per-member counts; impressions and actions inherit their tracking id's member
    owner = served.drop_duplicates("tracking_id").set_index("tracking_id")["member_id"]
    later = e[e["type"] != "served"]
    later = later.assign(member_id=later["tracking_id"].map(owner).fillna(later["member_id"]))
    per = pd.DataFrame(index=arm_of.index)
    per["served"] = served.groupby("member_id").size()
    per["impressions"] = later[later["type"] == "impression"].groupby("member_id").size()
    actions = later[later["type"] == "action"]
    kinds = sorted(actions["action"].dropna().unique())
    for kind in kinds:
        per[kind] = actions[actions["action"] == kind].groupby("member_id").size()
    per = per.fillna(0.0)
    per["treatment"] = arm_of
    metrics = {}
    if "click" in kinds:
        base = "impressions" if per["impressions"].sum() > 0 else "served"
        metrics["ctr"] = ("ratio", "click", base)
    conv = [c for c in conversions if c in kinds]
    if conv:
        metrics["conversion"] = ("share", conv, None)
    for kind in kinds:
        metrics[f"{kind}_rate"] = ("ratio", kind, "served")
    z = stats.norm.ppf(1 - alpha / 2)
    z_power = stats.norm.ppf(power)
    rows = []
    for name, (how, what, base) in metrics.items():
        values = {}
        for t in treatments:
            part = per[per["treatment"] == t]
            if how == "ratio":
                values[t] = _ratio(part[what].to_numpy(), part[base].to_numpy())
            else:
                hit = (part[what].sum(axis=1) > 0).to_numpy(dtype=float)
                values[t] = (hit.mean(), hit.var(ddof=1) / len(hit) if len(hit) > 1 else np.nan)
        c, var_c = values[control]
        for t in treatments:
            if t == control:
                continue
            v, var_t = values[t]
            diff, se = v - c, np.sqrt(var_t + var_c)
            p_value = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else np.nan
            lift = v / c - 1 if c else np.nan
            se_lift = np.sqrt(var_t / c**2 + v**2 * var_c / c**4) if c else np.nan
            mde = (z + z_power) * se
            rows.append(
                {
                    "metric": name,
                    "treatment": t,
                    "control": control,
                    "control_value": c,
                    "treatment_value": v,
                    "difference": diff,
                    "low": diff - z * se,
                    "high": diff + z * se,
                    "lift": lift,
                    "lift_low": lift - z * se_lift,
                    "lift_high": lift + z * se_lift,
                    "p_value": p_value,
                    "members": int(members[t]),
                    "control_members": int(members[control]),
                    "mde": mde,
                    "underpowered": bool(abs(diff) < mde),
                }
            )
            if abs(diff) < mde:
                notes.append(
                    f"{name} under {t} is underpowered: with these members only a difference of "
                    f"±{mde:.3g} ({mde / c:.1%} of control) would be detected at "
                    f"{power:.0%} power; the test saw {diff:+.3g}."
                    if c
                    else f"{name} under {t} is underpowered."
                )
    table = pd.DataFrame(rows)
    return ABTest(table, members, srm, notes)
