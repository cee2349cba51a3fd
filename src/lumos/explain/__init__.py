"""Narrative explanations: model importer, attributions, insights design, narratives, exporters."""

from lumos.explain._attributions import Attributions, attribute
from lumos.explain._model import ImportedModel, import_model

__all__ = ["Attributions", "ImportedModel", "attribute", "import_model"]
