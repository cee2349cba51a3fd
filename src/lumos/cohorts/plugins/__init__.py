"""The built-in first-pass ranker plugins (one module each; ``_graph`` is shared)."""
