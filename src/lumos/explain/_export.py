"""Narrative Exporter: narratives to JSON lines, CSV, Parquet and an HTML report.

Every writer is atomic: the file appears complete or not at all, and an
existing file is replaced only once the new one is fully written.

- JSONL: one line per explained row: ``{"id", "score", "narratives": [...],
  "summary": {category: text}}`` — ready for a CRM import or the online store.
- CSV and Parquet: the flat narratives table (one row per narrative), with
  ``row`` renamed to ``id`` and the row's ``score`` when given.
- HTML: a self-contained report, one card per row (id, labelled score,
  narratives by category), highest score first, searched by id and paged by
  a little inline script (without it every card shows); it needs no network.
  Given the score table the narratives explain (``table=``), each card is an
  account: its name, its figures each with its label (the page says what each
  means), its headline, its products, and the report filters by class and
  product.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._checks import require_columns
from lumos.data import atomic_path
from lumos.errors import LumosUserError
from lumos.explain._export_html import write_html
from lumos.explain._narrate import summarize

FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet", ".html": "html"}


def export(
    narratives: pd.DataFrame,
    path: str | os.PathLike,
    *,
    scores: pd.Series | None = None,
    format: str | None = None,
    title: str = "Lumos narratives",
    table: pd.DataFrame | None = None,
) -> Path:
    """Write narratives to ``path`` in the format its suffix names (or ``format``).

    Parameters
    ----------
    narratives : DataFrame
        The output of :func:`~lumos.explain.narrate`.
    path : path-like
        ``.jsonl``, ``.csv``, ``.parquet`` or ``.html``.
    scores : Series, optional
        The model's score per row, indexed by the same labels as ``narratives["row"]``.
    format : {"jsonl", "csv", "parquet", "html"}, optional
        Overrides the suffix.
    title : str
        The HTML report's title.
    table : DataFrame, optional
        For the HTML report: the account prioritizer's score table the
        narratives explain (``account_id, product, units, predicted_change,
        score, class, renewal``, and ``score_last_month``, ``account_name`` and
        ``headline`` when it has them). Cards are then its accounts, by
        predicted change in units, largest first; each shows the account's
        name, figures, headline and products. Other formats ignore it.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    kind = format or FORMATS.get(path.suffix.lower())
    if kind not in FORMATS.values():
        raise LumosUserError(
            f"Cannot tell the export format of {str(path)!r}; use a .jsonl, .csv, .parquet or "
            ".html file name, or pass format=.",
            code="unknown_format",
        )
    if scores is not None and not isinstance(scores, pd.Series):
        raise LumosUserError("scores must be a pandas Series indexed by row.", code="bad_argument")
    if scores is not None and not scores.index.is_unique:
        dup = scores.index[scores.index.duplicated()][0]
        raise LumosUserError(
            f"scores has row label {dup!r} more than once; rows need unique labels (pass "
            "id_column= to explain_table, or reset the index).",
            code="duplicate",
        )
    if table is not None:
        if not isinstance(table, pd.DataFrame):
            raise LumosUserError(
                f"table must be a pandas DataFrame (the score table). Got {type(table).__name__}.",
                code="bad_argument",
            )
        require_columns(
            table,
            ["account_id", "predicted_change"],
            source="table",
            hint="give the score table AccountPrioritizer.score returns",
        )
    writer = {"jsonl": _jsonl, "csv": _flat, "parquet": _flat, "html": _html}[kind]
    with atomic_path(path) as tmp:
        if kind in ("csv", "parquet"):
            writer(narratives, tmp, scores, kind)
        elif kind == "html":
            writer(narratives, tmp, scores, title, table)
        else:
            writer(narratives, tmp, scores)
    return path


def _score_of(scores: pd.Series | None, labels) -> list:
    if scores is None:
        return [None] * len(labels)
    return [None if pd.isna(v) else float(v) for v in scores.reindex(labels).to_numpy()]


def _records(narratives: pd.DataFrame, scores):
    """One dict per row: id, score, narratives and the per-category summary; every row of
    ``scores`` appears, a row without narratives with none."""
    summary = summarize(narratives)
    labels = narratives["row"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1], True])
    columns = [narratives[c].tolist() for c in ("rank", "category", "super_feature", "text")]
    importance = np.round(narratives["importance"].to_numpy(dtype=np.float64), 6).tolist()
    categories = list(summary.columns)
    joined = list(zip(*(summary[c].tolist() for c in categories), strict=True))
    ids = [v.item() if isinstance(v, np.generic) else v for v in summary.index]
    score_list = _score_of(scores, summary.index)
    for r, (a, b) in enumerate(itertools.pairwise(bounds)):
        yield {
            "id": ids[r],
            "score": score_list[r],
            "narratives": [
                {
                    "rank": columns[0][i],
                    "category": columns[1][i],
                    "super_feature": columns[2][i],
                    "importance": importance[i],
                    "text": columns[3][i],
                }
                for i in range(a, b)
            ],
            "summary": {c: t for c, t in zip(categories, joined[r], strict=True) if t},
        }
    if scores is not None:  # rows scored with no reason strong enough to state still appear
        told = set(summary.index)
        for label, score in zip(scores.index, _score_of(scores, scores.index), strict=True):
            if label not in told:
                label = label.item() if isinstance(label, np.generic) else label
                yield {"id": label, "score": score, "narratives": [], "summary": {}}


def _jsonl(narratives, tmp: Path, scores) -> None:
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in _records(narratives, scores):
            fh.write(json.dumps(record, ensure_ascii=False, default=str))
            fh.write("\n")


def _flat(narratives, tmp: Path, scores, kind: str) -> None:
    flat = narratives.rename(columns={"row": "id"})
    if scores is not None:
        flat.insert(1, "score", scores.reindex(flat["id"]).to_numpy())
    if kind == "csv":
        flat.to_csv(tmp, index=False)
    else:
        flat.to_parquet(tmp, index=False)


def _html(narratives, tmp: Path, scores, title: str, table=None) -> None:
    write_html(tmp, list(_records(narratives, scores)), narratives, scores, title, table)
