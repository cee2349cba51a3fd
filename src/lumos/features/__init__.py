"""Point-in-time features and labels: renewal-window labels, window aggregates."""

from lumos.features._activity import activity_labels
from lumos.features._labels import LABELS, quantity_at, renewal_labels
from lumos.features._windows import WindowFeatures, window_features

__all__ = [
    "LABELS",
    "WindowFeatures",
    "activity_labels",
    "quantity_at",
    "renewal_labels",
    "window_features",
]
