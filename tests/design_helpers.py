"""The small hand-built insights design the explain tests share."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
