"""Metrics and reports on models' predictions: the slice finder, fairness gaps, A/B analysis,
and a model's health on held-out predictions (all of them together)."""

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
from lumos.evaluate._slices import METRICS, Slices, find_slices

__all__ = [
    "METRICS",
    "ABTest",
    "FairnessReport",
    "ModelHealth",
    "Slices",
    "abtest",
    "binary_report",
    "check_predictions",
    "fairness_report",
    "find_slices",
    "model_health",
    "propensity_report",
    "reliability",
]
