"""Metrics and reports on models' predictions: the slice finder, fairness gaps, A/B analysis,
and a model's health on held-out predictions (all of them together); their HTML reports."""

from lumos.evaluate._abtest import ABTest, abtest
from lumos.evaluate._fairness import FairnessReport, fairness_report
from lumos.evaluate._health import (
    ModelHealth,
    binary_report,
    check_predictions,
    model_health,
    reliability,
)
from lumos.evaluate._propensity import propensity_report
from lumos.evaluate._report import (
    abtest_html,
    fairness_html,
    fairness_section,
    slices_html,
    slices_section,
)
from lumos.evaluate._slices import METRICS, Slices, find_slices

__all__ = [
    "METRICS",
    "ABTest",
    "FairnessReport",
    "ModelHealth",
    "Slices",
    "abtest",
    "abtest_html",
    "binary_report",
    "check_predictions",
    "fairness_html",
    "fairness_report",
    "fairness_section",
    "find_slices",
    "model_health",
    "propensity_report",
    "reliability",
    "slices_html",
    "slices_section",
]
