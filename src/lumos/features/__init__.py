"""Point-in-time features and labels: renewal-window labels, window aggregates."""

from lumos.features._activity import activity_labels
from lumos.features._labels import LABELS, renewal_labels

__all__ = ["LABELS", "activity_labels", "renewal_labels"]
