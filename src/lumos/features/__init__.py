"""Point-in-time features and labels: renewal-window labels, window aggregates, BG/NBD.

Also click and watch-time labels from interactions, and a repository of named,
date-versioned entity features with a featurizer that joins them as of each row's date.
"""

from lumos.features._activity import activity_labels
from lumos.features._btyd import BTYD_FEATURES, bgnbd_chances, btyd_features
from lumos.features._engagement import click_labels, watch_labels
from lumos.features._featurizer import Featurizer
from lumos.features._labels import LABELS, quantity_at, renewal_labels
from lumos.features._repository import FeatureRepository
from lumos.features._windows import WindowFeatures, window_features

__all__ = [
    "BTYD_FEATURES",
    "LABELS",
    "FeatureRepository",
    "Featurizer",
    "WindowFeatures",
    "activity_labels",
    "bgnbd_chances",
    "btyd_features",
    "click_labels",
    "quantity_at",
    "renewal_labels",
    "watch_labels",
    "window_features",
]
