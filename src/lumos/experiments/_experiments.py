"""Assigning units to experiments: one unit, or many at once.

For one experiment and one unit, in this order:

1. **Override** — a unit listed under ``overrides`` gets that variant, whatever
   the rest says (even across a layer; overrides are for QA and demos).
2. **Layer** — in a layer, the unit's layer bucket (``first`` of the layer's
   salt) must fall in the experiment's share of the layer.
3. **Targeting** — every rule must hold for the unit's attributes.
4. **Coverage** — the unit's coverage bucket (``first`` of the experiment's
   salt) must be below ``round(coverage * 100)``; raising coverage only adds
   buckets, so no assigned unit ever leaves.
5. **Variant** — the unit's variant bucket (``second`` of the experiment's
   salt, independent of ``first``) picks the variant whose range holds it.
   Variant ``i`` of ``k`` (config order) owns ``[floor(10000 * W_(i-1) / W),
   floor(10000 * W_i / W))``, with ``W_i`` the sum of the first ``i`` weights
   and ``W`` their total, computed exactly. Coverage changes never move a unit
   between variants.

See ``_hash.py`` for the hash itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from lumos.errors import LumosUserError
from lumos.experiments._config import UNITS, Experiment, Layer, parse_config, read_config
from lumos.experiments._hash import buckets, buckets_many, unit_text, unit_texts

EXAMPLE_CONFIG = Path(__file__).with_name("example.yaml")


class Experiments:
    """A checked set of experiments and layers, ready to assign units.

    Parameters
    ----------
    experiments : dict of str to Experiment
    layers : dict of str to Layer, optional
    source : str, optional
        Where the config came from, for messages.

    Examples
    --------
    >>> import pandas as pd
    >>> from lumos.experiments import EXAMPLE_CONFIG, Experiments
    >>> exps = Experiments.load(EXAMPLE_CONFIG)
    >>> list(exps)
    ['course_ranker', 'reason_copy', 'cohort_order', 'offer_ranker']
    >>> exps.assign(3, {"industry": "software", "seniority": 4})
    {'course_ranker': 'glmix_v2', 'cohort_order': 'skills_first'}
    >>> exps.assign("qa-1")["course_ranker"]          # a forced override
    'glmix_v2'
    >>> exps.treatment(3, {"industry": "software", "seniority": 4})["course_ranker"]
    {'models': ['course_glmix_v2']}
    >>> attrs = pd.DataFrame({"industry": ["software", "retail"], "seniority": [4, 5]})
    >>> exps.assign_many([3, 7], attrs)  # doctest: +NORMALIZE_WHITESPACE
              course_ranker reason_copy  cohort_order
    member_id
    3              glmix_v2         NaN  skills_first
    7                   NaN   narrative           NaN
    """

    def __init__(
        self,
        experiments: Mapping[str, Experiment],
        layers: Mapping[str, Layer] | None = None,
        source: str = "",
    ):
        self.experiments = dict(experiments)
        self.layers = dict(layers or {})
        self.source = source

    @classmethod
    def load(cls, path) -> Experiments:
        """Read and check a YAML config.

        Raises
        ------
        DataValidationError
            Naming the file, the line and the field of the first problem.
        """
        experiments, layers = read_config(path)
        return cls(experiments, layers, str(path))

    @classmethod
    def from_yaml(cls, text: str, source: str = "<string>") -> Experiments:
        """Like :meth:`load`, from YAML text; ``source`` names it in messages."""
        experiments, layers = parse_config(text, source)
        return cls(experiments, layers, source)

    def __getitem__(self, name: str) -> Experiment:
        try:
            return self.experiments[name]
        except KeyError:
            raise LumosUserError(
                f"no experiment is named {name!r}; known: {', '.join(self.experiments)}.",
                code="unknown_experiment",
            ) from None

    def __iter__(self):
        return iter(self.experiments)

    def __len__(self) -> int:
        return len(self.experiments)

    def __repr__(self) -> str:
        return f"Experiments({list(self.experiments)}, layers={list(self.layers)})"

    def _for_unit(self, unit: str) -> list[Experiment]:
        if unit not in UNITS:
            raise LumosUserError(
                f"unit must be one of {', '.join(UNITS)}; got {unit!r}.", code="bad_argument"
            )
        return [e for e in self.experiments.values() if e.unit == unit]

    # -- one unit --------------------------------------------------------------
    def assign(self, unit_id, attributes: Mapping | None = None, *, unit="member_id") -> dict:
        """The variant of one unit in each experiment of its unit type that it is in.

        Parameters
        ----------
        unit_id : str or int
        attributes : mapping, optional
            Attribute name → value for targeting; a missing attribute fails every
            comparison on it.
        unit : {"member_id", "account_id"}, default="member_id"
            Which experiments to consider.

        Returns
        -------
        dict of str to str
            Experiment → variant, in config order; experiments the unit is not in
            are left out.
        """
        text = unit_text(unit_id)
        attributes = attributes or {}
        layer_buckets: dict[str, int] = {}
        out = {}
        for exp in self._for_unit(unit):
            if text in exp.overrides:
                out[exp.name] = exp.overrides[text]
                continue
            if exp.layer is not None:
                if exp.layer not in layer_buckets:
                    layer_buckets[exp.layer] = buckets(self.layers[exp.layer].salt, text)[0]
                start, stop = exp.layer_range
                if not start <= layer_buckets[exp.layer] < stop:
                    continue
            if not all(rule.matches(attributes) for rule in exp.targeting):
                continue
            cover, variant = buckets(exp.salt, text)
            if cover < exp.covered_buckets:
                out[exp.name] = exp.variant_for_bucket(variant)
        return out

    def treatment(self, unit_id, attributes: Mapping | None = None, *, unit="member_id") -> dict:
        """The payloads of one unit's variants: experiment → payload (e.g. which models to serve).

        Examples
        --------
        >>> from lumos.experiments import EXAMPLE_CONFIG, Experiments
        >>> Experiments.load(EXAMPLE_CONFIG).treatment("acct-7", unit="account_id")
        {'offer_ranker': {'models': ['offer_gbm_v1', 'offer_gbm_v2'], 'blend': 0.5}}
        """
        return {
            name: self.experiments[name].payload(variant)
            for name, variant in self.assign(unit_id, attributes, unit=unit).items()
        }

    # -- many units -------------------------------------------------------------
    def assign_many(self, ids, attributes=None, *, unit="member_id") -> pd.DataFrame:
        """Assign many units at once; the same answers as :meth:`assign`, vectorized.

        Parameters
        ----------
        ids : array-like of str or int
        attributes : DataFrame, pyarrow Table or mapping of columns, optional
            One row per id, in the same order (the index is ignored).
        unit : {"member_id", "account_id"}, default="member_id"

        Returns
        -------
        DataFrame
            Indexed by ``ids``, one categorical column per experiment of that unit
            type: the variant, or NaN where the unit is not in the experiment.
        """
        texts = unit_texts(ids)
        n = len(texts)
        frame = _frame(attributes, n)
        layer_buckets: dict[str, np.ndarray] = {}
        columns = {}
        text_array = None
        for exp in self._for_unit(unit):
            eligible = np.ones(n, dtype=bool)
            if exp.layer is not None:
                if exp.layer not in layer_buckets:
                    layer_buckets[exp.layer] = buckets_many(self.layers[exp.layer].salt, texts)[
                        :, 0
                    ]
                start, stop = exp.layer_range
                lb = layer_buckets[exp.layer]
                eligible &= (lb >= start) & (lb < stop)
            for rule in exp.targeting:
                eligible &= rule.mask(frame)
            rows = np.flatnonzero(eligible)
            hashed = buckets_many(exp.salt, [texts[i] for i in rows])
            codes = np.full(n, -1, dtype=np.int64)
            covered = hashed[:, 0] < exp.covered_buckets
            codes[rows[covered]] = np.searchsorted(
                exp.variant_stops, hashed[covered, 1], side="right"
            )
            if exp.overrides:
                if text_array is None:
                    text_array = pd.Series(texts, dtype=object)
                forced = text_array.map(exp.overrides)
                hit = forced.notna().to_numpy()
                names = [v.name for v in exp.variants]
                codes[hit] = [names.index(v) for v in forced[hit]]
            columns[exp.name] = pd.Categorical.from_codes(
                codes, categories=[v.name for v in exp.variants]
            )
        return pd.DataFrame(columns, index=pd.Index(np.asarray(ids), name=unit))


def _frame(attributes, n: int) -> pd.DataFrame:
    if attributes is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    if hasattr(attributes, "to_pandas") and not isinstance(attributes, pd.DataFrame):
        attributes = attributes.to_pandas()
    elif isinstance(attributes, Mapping):
        attributes = pd.DataFrame(dict(attributes))
    if not isinstance(attributes, pd.DataFrame):
        raise LumosUserError(
            "attributes must be a DataFrame, a pyarrow Table or a mapping of columns; "
            f"got {type(attributes).__name__}.",
            code="bad_attributes",
        )
    if len(attributes) != n:
        raise LumosUserError(
            f"attributes has {len(attributes)} rows but there are {n} ids; give one row per "
            "id, in the same order.",
            code="bad_attributes",
        )
    return attributes.reset_index(drop=True)
