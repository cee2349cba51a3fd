"""Which model serves a unit: an experiment's variant payload ``{models: [model_id, …]}``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lumos.errors import LumosUserError
from lumos.experiments._experiments import Experiments


class ModelRouter:
    """The model each member is served, by the variant of one experiment.

    A member in the experiment gets the first model of their variant's payload
    (``payload: {models: [course_glmix_v2]}``); a member outside it (coverage,
    targeting, another experiment of its layer) gets ``default``.

    Parameters
    ----------
    experiments : Experiments or None
        None serves ``default`` to everyone.
    experiment : str, optional
        The experiment that chooses the model.
    default : str
        The model of members outside the experiment.

    Examples
    --------
    >>> from lumos.experiments import EXAMPLE_CONFIG
    >>> router = ModelRouter(Experiments.load(EXAMPLE_CONFIG), "course_ranker", "course_glmix_v1")
    >>> router("qa-1")
    ('course_ranker:glmix_v2', 'course_glmix_v2')
    """

    def __init__(self, experiments: Experiments | None, experiment: str | None, default: str):
        if experiments is not None:
            if experiment not in experiments.experiments:
                names = ", ".join(experiments.experiments)
                raise LumosUserError(
                    f"experiment {experiment!r} is not in the config (it has {names}).",
                    code="unknown_experiment",
                )
            for variant in experiments[experiment].variants:
                models = experiments[experiment].payload(variant.name).get("models")
                if not models or not all(isinstance(m, str) for m in models):
                    raise LumosUserError(
                        f"variant {variant.name!r} of experiment {experiment!r} has no payload "
                        "'models: [model_id, …]'; say which model it serves.",
                        code="bad_payload",
                    )
        self.experiments, self.experiment, self.default = experiments, experiment, default

    def __call__(self, member_id: str, attributes=None) -> tuple[str, str]:
        """``(treatment, model_id)`` of one member; ``("default", default)`` outside."""
        if self.experiments is None:
            return "default", self.default
        variant = self.experiments.assign(member_id, attributes).get(self.experiment)
        if variant is None:
            return "default", self.default
        model = self.experiments[self.experiment].payload(variant)["models"][0]
        return f"{self.experiment}:{variant}", model

    def models(self, member_ids, attributes=None) -> dict[str, set[str]]:
        """Member → the set of models it may be served (for publishing only those lists)."""
        ids = np.asarray(member_ids, dtype=object)
        if self.experiments is None:
            return {m: {self.default} for m in ids}
        variant = self.experiments.assign_many(ids, attributes)[self.experiment]
        first = {
            v.name: self.experiments[self.experiment].payload(v.name)["models"][0]
            for v in self.experiments[self.experiment].variants
        }
        chosen = pd.Series(variant.astype(object)).map(first).fillna(self.default)
        return dict(zip(ids, ({m} for m in chosen.to_numpy()), strict=True))
