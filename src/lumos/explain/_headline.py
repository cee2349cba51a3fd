"""A headline per row: one sentence that says what the score means, before the reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos._text import parse_template
from lumos.explain._format import check_spec, format_codes
from lumos.explain._templates import HEADLINE_FIELDS

#: The headline of a design without one of its own.
DEFAULT = "Scored {score}, {gap:higher than/lower than/the same as} the average of {typical}."


def headlines(scores, design=None, *, typical: float | None = None) -> pd.Series:
    """One sentence per row saying what its score means.

    Parameters
    ----------
    scores : Series
        Each row's score, by row label.
    design : InsightsDesign, optional
        Its ``settings.headline`` is the template (``{score}``, ``{typical}``,
        ``{gap}``: score minus typical); default :data:`DEFAULT`.
    typical : float, optional
        The score a row is compared with (default: the mean of ``scores``).
        Scores all within [0, 1] read as percentages where a field has no spec.

    Examples
    --------
    >>> headlines(pd.Series([0.82, 0.1], index=["a", "b"])).tolist()
    ['Scored 82%, higher than the average of 46%.', 'Scored 10%, lower than the average of 46%.']
    """
    scores = pd.Series(scores, dtype=np.float64)
    values = scores.to_numpy()
    typical = float(np.nanmean(values)) if typical is None else float(typical)
    template = getattr(getattr(design, "settings", None), "headline", None) or DEFAULT
    share = bool(len(values)) and np.nanmin(values) >= 0 and np.nanmax(values) <= 1
    arrays = {"score": values, "typical": np.full(len(values), typical), "gap": values - typical}
    parsed = parse_template(template, allowed=HEADLINE_FIELDS, check_spec=check_spec)
    pattern, columns = _escape(parsed.literals[0]), []
    for (name, spec), literal in zip(parsed.fields, parsed.literals[1:], strict=True):
        if spec == "" and share and name != "gap":
            spec = "pct"
        pattern += "{}" + _escape(literal)
        columns.append(format_codes(arrays[name], spec))
    texts = (
        map(pattern.format, *(t[c] for t, c in columns))
        if columns
        else [pattern.format()] * len(values)
    )
    return pd.Series(list(texts), index=scores.index, dtype=object, name="headline")


def _escape(text: str) -> str:
    """Literal text as it reads inside a ``str.format`` pattern."""
    return text.replace("{", "{{").replace("}", "}}")
