"""Lumos: explainable recommendations that say why, in plain sentences."""

from lumos.errors import DataValidationError, LumosError, LumosUserError

__version__ = "0.1.0"
__all__ = ["DataValidationError", "LumosError", "LumosUserError", "__version__"]
