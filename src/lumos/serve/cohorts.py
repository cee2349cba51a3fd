"""Deprecated: the discovery cohorts moved to :mod:`lumos.cohorts` (``lumos.serve`` is only the
HTTP layer now). Its names keep working from here for a release, with a warning."""

import warnings

import lumos.cohorts as _moved

__all__ = list(_moved.__all__)


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"lumos.serve.cohorts.{name} is deprecated and will be removed; import it from "
        "lumos.cohorts instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_moved, name)
