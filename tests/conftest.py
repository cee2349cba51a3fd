"""Shared fixtures: a small hand-built insights design and models on generated data."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FEATURES = """\
feature,super_feature,ultra_feature,category
a_prev,Alpha,U1,Usage
a,Alpha,U1,Usage
b,Beta,U1,Usage
c,Gamma,U2,Growth
d,Delta,U3,Growth
"""
INSIGHTS = """\
super_feature,insight_type,item,feature
Alpha,value_change,prev_value,a_prev
Alpha,value_change,current_value,a
Beta,current_value,value,b
Gamma,current_value,value,c
Delta,flag,value,d
"""
TEMPLATES = """\
value_change:
  text: "{super_feature} changed from {prev_value} to {current_value} ({pct:+pct})."
  derive:
    pct: (current_value - prev_value) / prev_value
current_value:
  text: "{super_feature} is {value}."
flag:
  text: "{super_feature}: {value:yesno}."
"""


def write_design(folder: Path, features=FEATURES, insights=INSIGHTS, templates=TEMPLATES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "features.csv").write_text(textwrap.dedent(features))
    (folder / "insights.csv").write_text(textwrap.dedent(insights))
    (folder / "templates.yaml").write_text(textwrap.dedent(templates))
    return folder


@pytest.fixture
def design_dir(tmp_path) -> Path:
    return write_design(tmp_path / "design")


@pytest.fixture(scope="session")
def tabular():
    """A 600 × 6 regression/classification table with missing values."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(600, 6)), columns=[f"x{i}" for i in range(6)])
    X.loc[rng.random(600) < 0.1, "x2"] = np.nan
    margin = 1.5 * X["x0"] - X["x1"] + 0.5 * X["x2"].fillna(0) * X["x3"]
    y = (margin + rng.normal(0, 0.5, 600) > 0).astype(int)
    return X, y, margin
