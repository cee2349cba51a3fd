"""Metrics and reports on models' predictions: propensity reports, the slice finder, fairness."""

from lumos.evaluate._fairness import FairnessReport, fairness_report
from lumos.evaluate._propensity import propensity_report
from lumos.evaluate._slices import METRICS, Slices, find_slices

__all__ = ["METRICS", "FairnessReport", "Slices", "fairness_report", "find_slices",
           "propensity_report"]  # fmt: skip
