"""A/B analysis from funnel events: lifts with intervals, SRM, power, errors."""

import numpy as np
import pandas as pd
import pytest

from lumos.errors import DataValidationError, LumosUserError
from lumos.evaluate import abtest


def funnel(n=6000, split=(1, 1, 1), seed=0):
    rng = np.random.default_rng(seed)
    arms = np.array(["control", "bigger", "same"])
    who = rng.choice(3, n, p=np.array(split) / sum(split))
    click_p = np.array([0.10, 0.13, 0.10])[who]
    buy_p = np.array([0.02, 0.03, 0.02])[who]
    rows = []
    for i in range(n):
        for k in range(3):  # three items served to each member, each seen
            t = f"t{i}-{k}"
            base = {"tracking_id": t, "member_id": f"m{i}", "item_id": f"c{k}", "ts": 1.7e9}
            rows.append({**base, "event_id": f"s{t}", "type": "served", "treatment": arms[who[i]]})
            rows.append({**base, "event_id": f"i{t}", "type": "impression"})
            if rng.random() < click_p[i]:
                rows.append({**base, "event_id": f"c{t}", "type": "action", "action": "click"})
        if rng.random() < buy_p[i]:
            rows.append(
                {
                    "tracking_id": f"t{i}-0",
                    "member_id": f"m{i}",
                    "item_id": "c0",
                    "ts": 1.7e9,
                    "event_id": f"p{i}",
                    "type": "action",
                    "action": "purchase",
                }
            )
    return pd.DataFrame(rows)


def test_lifts_intervals_and_the_null_arm():
    result = abtest(funnel(), control="control")
    t = result.table.set_index(["metric", "treatment"])
    bigger = t.loc[("ctr", "bigger")]
    assert bigger["lift"] == pytest.approx(0.3, abs=0.12) and bigger["lift_low"] > 0
    assert bigger["p_value"] < 1e-4 and not bigger["underpowered"]
    same = t.loc[("ctr", "same")]
    assert same["p_value"] > 0.001 and same["lift_low"] < same["lift"] < same["lift_high"]
    assert {"ctr", "conversion", "click_rate", "purchase_rate"} <= set(result.table["metric"])
    assert result.srm_p_value > 0.001
    assert any(s.startswith("ctr under bigger:") for s in result.sentences())


def test_sample_ratio_mismatch_and_underpowered_metrics_are_flagged():
    result = abtest(funnel(3000, split=(1, 1.4, 1)), control="control")
    assert result.srm_p_value < 0.001
    assert any(w.startswith("Sample-ratio mismatch") for w in result.warnings)
    assert any("conversion under same is underpowered" in w for w in result.warnings)


def test_members_in_two_treatments_are_left_out_and_errors_named():
    events = funnel(300)
    first = events[(events["type"] == "served") & (events["treatment"] == "control")].iloc[[0]]
    mixed = pd.concat([events, first.assign(event_id="dup", tracking_id="x", treatment="bigger")])
    result = abtest(mixed, control="control")
    assert any("more than one treatment" in w for w in result.warnings)
    with pytest.raises(LumosUserError, match="control 'nobody' has no members"):
        abtest(events, control="nobody")
    with pytest.raises(LumosUserError, match="no served events with a treatment"):
        abtest(events.drop(columns="treatment"))
    with pytest.raises(DataValidationError, match="events table has no column 'tracking_id'"):
        abtest(events.drop(columns="tracking_id"))
