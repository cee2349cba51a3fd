"""Narrative explanations: model importer, attributions, insights design, narratives, exporters.

The pipeline of LinkedIn's CrystalCandle, in the open::

    model = import_model(booster)                  # Model Importer
    attr = attribute(model, X, method="auto")      # Model Interpreter
    design = InsightsDesign.load("insights/")      # feature hierarchy + templates
    text = narrate(X, attr, design, top_k=5)       # Narrative Generator
    export(text, "narratives.jsonl", scores=...)   # Narrative Exporter
"""

from lumos.explain._attributions import Attributions, attribute, resolve_method
from lumos.explain._audit import Audit, audit
from lumos.explain._design import InsightsDesign, Template
from lumos.explain._export import FORMATS, export
from lumos.explain._headline import headlines
from lumos.explain._model import ImportedModel, import_model
from lumos.explain._narrate import narrate, summarize
from lumos.explain._pipeline import Explained, explain_table
from lumos.explain._reasons import REASONS, CourseReasons, carousels, inverted_rank
from lumos.explain._suggest import SuggestedDesign, suggest_design

__all__ = [
    "FORMATS",
    "REASONS",
    "Attributions",
    "Audit",
    "CourseReasons",
    "Explained",
    "ImportedModel",
    "InsightsDesign",
    "SuggestedDesign",
    "Template",
    "attribute",
    "audit",
    "carousels",
    "explain_table",
    "export",
    "headlines",
    "import_model",
    "inverted_rank",
    "narrate",
    "resolve_method",
    "suggest_design",
    "summarize",
]
