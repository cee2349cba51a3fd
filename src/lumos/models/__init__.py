"""Estimators: gradient-boosted propensity models (more to come: skill affinity, GLMix)."""

from lumos.models._propensity import PropensityModel

__all__ = ["PropensityModel"]
