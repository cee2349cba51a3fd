"""Metrics and reports on models' predictions: the slice finder, fairness gaps, A/B analysis."""

from lumos.evaluate._abtest import ABTest, abtest
from lumos.evaluate._fairness import FairnessReport, fairness_report
from lumos.evaluate._propensity import propensity_report
from lumos.evaluate._slices import METRICS, Slices, find_slices

__all__ = ["METRICS", "ABTest", "FairnessReport", "Slices", "abtest", "fairness_report",
           "find_slices", "propensity_report"]  # fmt: skip
