"""Suggest a starting Insights Design from a model's feature names and a data sample.

``suggest_design(model, data)`` drafts ``features.csv``, ``insights.csv`` and
``templates.yaml`` whose narratives pass :func:`~lumos.explain.audit` with no
edits, for a person to refine. The rules:

* **Metrics.** A name ending in a period suffix is split into stem and suffix
  (``searches_mean_3m``: stem ``searches``, the mean over the last 3 months;
  ``_prev``, ``_current``, ``_30d``, ``_last_month``, …: see
  ``_suggest_names``). Features sharing a stem are one super feature; a name
  with no suffix is its own stem.
* **Insight types.** Per metric a **level** — the current value or the
  current window's (its sum for a count, else its mean), stated beside the
  other rows: "Seat utilization averaged 96% over the last 3 months, higher
  than 88% of accounts." — and a **change** — the previous window against the
  current one: "Hires rose from 4 to 12 (+200%) in the last 3 months against
  the 3 before." ``features.csv``'s ``insight`` says which features each
  speaks for (current-window aggregates and the column itself: the level;
  slopes, ratios and previous windows: the change). A 0/1 column is a fact,
  "Has premium: yes." (``_suggest_insights`` has the details.)
* **Units.** ``rate`` (shares of 1 whose name says so — rate, share,
  utilization, ratio, … — printed as percentages), ``count`` (whole
  numbers, said with their noun, which agrees with the value: "12 hires in the
  last 3 months", "1 hire …"), ``money`` or ``number`` (flags too), in
  ``features.csv``'s ``unit`` and ``noun``.
* **Readable names.** The stem's words (``_`` and camelCase split) with
  abbreviations expanded (``num`` → "number of", ``avg``, ``pct``, …) and
  acronyms in capitals ("BMI", "ID"), with a capital first letter. A super
  feature of one windowed feature names its window: "Hires (last 12 months)".
* **Ultra features.** Super features are clustered by the Spearman
  correlation of their level's feature (ranks over each column's values,
  pairwise-complete rows, at most ``max_rows`` rows sampled with seed 0;
  constant columns correlate 0): average linkage on ``1 - |corr|``, cut at
  ``1 - corr_threshold``. A cluster is named after its first member in model
  feature order.
* **Category.** The family or prefix a stem shares with others once
  qualifiers (``mean``, ``worst``, ``error``, ``num``, ``has``, …) are set
  aside — "mean radius", "radius error" and "worst radius" are "Radius";
  ``s1`` … ``s6`` are "S1–S6"; ``usage_logins`` and ``usage_minutes`` are
  "Usage" — never a lone qualifier. A stem that shares nothing is its own
  category (all of them "Other" when more than ten share nothing).
* **Description.** What the feature names say: the unit, the windows and
  aggregates, what each insight states and from which features.
* **Settings.** ``peers`` (what a row is: "higher than 88% of accounts") and,
  when given, the ``segment`` column levels are compared within.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from lumos._checks import check_number, require_columns
from lumos.errors import DataValidationError, LumosUserError
from lumos.explain._model import ImportedModel, import_model, select_features
from lumos.explain._suggest_insights import plan
from lumos.explain._suggest_names import categories, parse, readable
from lumos.explain._templates import SETTINGS

FEATURE_COLUMNS = [
    "feature",
    "super_feature",
    "ultra_feature",
    "category",
    "description",
    "insight",
    "unit",
    "noun",
]


@dataclass(frozen=True, repr=False)
class SuggestedDesign:
    """A draft Insights Design: the three tables of an insights folder, in memory.

    Attributes
    ----------
    features : pandas.DataFrame
        ``feature, super_feature, ultra_feature, category, description, insight,
        unit, noun``.
    insights : pandas.DataFrame
        ``super_feature, insight_type, item, feature``.
    templates : dict
        ``settings`` (``peers``, and ``segment`` when given), then insight type →
        ``{"kind": ..., "text": ..., "derive": {name: expression}, ...}``.
    """

    features: pd.DataFrame
    insights: pd.DataFrame
    templates: dict

    def __repr__(self) -> str:
        f = self.features
        types = ", ".join(k for k in self.templates if k != SETTINGS)
        counts = [len(f), f["super_feature"].nunique(), f["ultra_feature"].nunique()]
        return "SuggestedDesign({} features, {} super, {} ultra; ".format(*counts) + types + ")"

    def write(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``features.csv``, ``insights.csv`` and ``templates.yaml`` into ``folder``.

        The files are written beside ``folder`` and moved into place only when all
        are complete. A non-empty folder is refused (code ``exists``) unless
        ``overwrite=True``, which replaces the three files and leaves any others.
        """
        folder = Path(folder).resolve()  # so "." has a parent to write beside
        filled = folder.exists() and (not folder.is_dir() or any(folder.iterdir()))
        if filled and (not overwrite or not folder.is_dir()):
            what = "already holds files" if folder.is_dir() else "is a file, not a folder"
            raise LumosUserError(
                f"{str(folder)!r} {what}; choose a new folder for the design, or pass "
                "overwrite=True to replace the design files in an existing folder.",
                code="exists",
            )
        texts = {
            "features.csv": self.features.to_csv(index=False, lineterminator="\n"),
            "insights.csv": self.insights.to_csv(index=False, lineterminator="\n"),
            "templates.yaml": yaml.safe_dump(self.templates, sort_keys=False, width=4096),
        }
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.tmp"
        tmp.mkdir()
        try:
            for name, text in texts.items():
                (tmp / name).write_text(text, encoding="utf-8")
            if folder.is_dir():  # move the complete files in; other files stay
                for name in texts:
                    os.replace(tmp / name, folder / name)
            else:  # the whole folder appears in one step
                os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder


def suggest_design(
    model,
    data,
    out: str | os.PathLike | None = None,
    *,
    peers: str = "rows",
    segment: str | None = None,
    corr_threshold: float = 0.7,
    max_rows: int = 20000,
    overwrite: bool = False,
) -> SuggestedDesign:
    """Suggest a starting Insights Design for ``model`` from a sample of its data.

    Parameters
    ----------
    model : ImportedModel or model object
        The model (anything :func:`~lumos.explain.import_model` reads); only its
        feature names are used.
    data : pandas.DataFrame
        Rows holding at least the model's feature columns, e.g. training data.
    out : path-like, optional
        When given, also write the design into this folder (:meth:`SuggestedDesign.write`).
    peers : str, default="rows"
        What a row is, as its levels are compared: "higher than 88% of accounts".
    segment : str, optional
        A column of the rows narrated (in ``data`` too) whose groups a level is
        compared within: "higher than 88% of accounts in Software".
    corr_threshold : float, default=0.7
        Super features whose values correlate at least this much (absolute
        Spearman, average linkage) share an ultra feature. In ``(0, 1]``.
    max_rows : int, default=20000
        At most this many rows (sampled with seed 0) are used for correlations.
    overwrite : bool, default=False
        Allow writing into a non-empty ``out`` folder.

    Returns
    -------
    SuggestedDesign

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> hires = rng.poisson(4, (60, 6)).astype(float)
    >>> X = pd.DataFrame({"hires_sum_3m": hires[:, 3:].sum(1),
    ...                   "hires_mean_3m": hires[:, 3:].mean(1),
    ...                   "hires_mean_prev_3m": hires[:, :3].mean(1),
    ...                   "seat_utilization": rng.uniform(0.2, 1, 60),
    ...                   "has_premium": rng.integers(0, 2, 60)})
    >>> model = LinearRegression().fit(X, rng.normal(size=60))
    >>> design = suggest_design(model, X, peers="accounts")
    >>> list(design.templates)
    ['settings', 'count_hires_3_months', 'change_3_months_total', 'level', 'flag']
    >>> columns = ["feature", "super_feature", "insight", "unit"]
    >>> print(design.features[columns].to_string(index=False))
               feature    super_feature               insight   unit
          hires_sum_3m            Hires  count_hires_3_months  count
         hires_mean_3m            Hires  count_hires_3_months  count
    hires_mean_prev_3m            Hires change_3_months_total  count
      seat_utilization Seat utilization                 level   rate
           has_premium      Has premium                  flag number
    >>> design.templates["count_hires_3_months"]["text"]
    '{value} {one:hires/hires/hire} in the last 3 months, {context}.'
    """
    if not isinstance(model, ImportedModel):
        model = import_model(model)
    check_number("suggest_design", "corr_threshold", corr_threshold, strict=True, high=1)
    check_number("suggest_design", "max_rows", max_rows, low=2, integer=True)
    if not isinstance(data, pd.DataFrame):
        raise LumosUserError(
            "data must be a pandas DataFrame holding the model's feature columns "
            f"({', '.join(model.feature_names[:3])}, …). Got {type(data).__name__}.",
            code="bad_argument",
        )
    if not isinstance(peers, str) or not peers.strip():
        raise LumosUserError(
            f"peers must say what a row is, e.g. 'accounts'. Got {peers!r}.", code="bad_argument"
        )
    names = list(model.feature_names)
    X = select_features(data, names, where="data")
    if segment is not None:
        require_columns(data, [segment], source="data", hint="the segment column is compared in.")
    if len(X) == 0:
        msg = "data has no rows; pass a sample of the rows the model scores (e.g. training data)."
        raise DataValidationError(msg, code="empty")
    groups: dict[str, list] = {}
    for part in map(parse, names):
        groups.setdefault(part.stem.lower(), []).append(part)
    column = {name: j for j, name in enumerate(names)}
    supers, metrics, rows, leads = [], [], [], []
    for parts in groups.values():
        name = title = readable(parts[0].stem)
        if len(parts) == 1 and parts[0].period:
            title += f" ({parts[0].period})"
        if title in supers:
            title += f" ({parts[0].stem})"
        metric = plan(parts, title, lambda f: X[:, column[f]], name)
        supers.append(title)
        metrics.append(metric)
        leads.append(column[metric.lead])
        for insight in metric.insights:
            rows += [(title, insight.type, item, feature) for item, feature in insight.items]
    insights = pd.DataFrame(rows, columns=["super_feature", "insight_type", "item", "feature"])
    lead = X[:, leads]
    if len(lead) > max_rows:
        lead = lead[np.sort(np.random.default_rng(0).choice(len(lead), max_rows, replace=False))]
    labels = _clusters(_spearman(lead), corr_threshold)
    ultra = {label: supers[i] for i, label in reversed(list(enumerate(labels)))}
    cats = categories([parts[0].stem for parts in groups.values()])
    records = []
    for s, metric in enumerate(metrics):
        said = {f: i.type for i in metric.insights for f in i.speaks}
        consts = (supers[s], ultra[labels[s]], cats[s], metric.description)
        records += [(f, *consts, t, metric.unit, metric.noun) for f, t in said.items()]
    records.sort(key=lambda r: column[r[0]])
    settings = {"peers": peers.strip()}
    if segment is not None:
        settings["segment"] = segment
    templates = {SETTINGS: settings}
    for metric in metrics:
        for insight in metric.insights:
            templates.setdefault(insight.type, copy.deepcopy(insight.template))
    design = SuggestedDesign(pd.DataFrame(records, columns=FEATURE_COLUMNS), insights, templates)
    if out is not None:
        design.write(out, overwrite=overwrite)
    return design


def _spearman(X: np.ndarray) -> np.ndarray:
    """Spearman correlations of the columns of ``X``, pairwise-complete; 0 where undefined."""
    R = pd.DataFrame(X).rank().to_numpy(dtype=np.float64)
    present = ~np.isnan(R)
    M = present.astype(np.float64)
    counts = M.sum(axis=0)
    means = np.divide(np.nansum(R, axis=0), counts, out=np.zeros_like(counts), where=counts > 0)
    Z = np.where(present, R - means, 0.0)
    n = M.T @ M
    sx = Z.T @ M  # sx[i, j]: sum of column i's ranks over rows where i and j are present
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = Z.T @ Z - sx * sx.T / n
        var = (Z * Z).T @ M - sx**2 / n
        corr = cov / np.sqrt(var * var.T)
    ok = (n >= 3) & (var > 1e-9) & (var.T > 1e-9)
    corr = np.clip(np.where(ok, corr, 0.0), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def _clusters(corr: np.ndarray, threshold: float) -> np.ndarray:
    if len(corr) < 2:
        return np.ones(len(corr), dtype=int)
    D = 1.0 - np.abs((corr + corr.T) / 2)
    np.fill_diagonal(D, 0.0)
    Z = linkage(squareform(np.clip(D, 0.0, 1.0), checks=False), method="average")
    return fcluster(Z, t=1.0 - threshold, criterion="distance")
