"""Narrative explanations: model importer, attributions, insights design, narratives, exporters."""

from lumos.explain._attributions import Attributions, attribute
from lumos.explain._design import InsightsDesign, Template
from lumos.explain._model import ImportedModel, import_model
from lumos.explain._narrate import narrate, summarize

__all__ = [
    "Attributions",
    "ImportedModel",
    "InsightsDesign",
    "Template",
    "attribute",
    "import_model",
    "narrate",
    "summarize",
]
