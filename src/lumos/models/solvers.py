"""The solver pieces the local engine shares with ``lumos.spark``.

:func:`lumos.spark.fit_glmix` fits the same model as
:class:`~lumos.models.GLMix` by calling these on each partition, so the two
engines give the same answers:

* :func:`logistic_loss_grad` and :func:`logistic_hessian`: the penalized
  logistic loss with offsets, its gradient and Hessian (the fixed effect);
* :func:`fit_entities`: batched Newton, one logistic regression per entity of a
  random effect, all solved together; :func:`feature_union` lists the feature
  columns of every coordinate once;
* :func:`sample_keys`, :func:`seed_word`, :data:`MIX` and :data:`SAMPLE_MASK`:
  the 32-bit keys that pick the rows the per-entity row cap keeps, which Spark
  SQL computes with the same arithmetic;
* :func:`binary_labels`: labels as 0/1 and the two classes, checked.

Examples
--------
>>> import numpy as np
>>> from lumos.models.solvers import feature_union, sample_keys
>>> feature_union(["age"], {"member_id": ["age", "clicks"]})
['age', 'clicks']
>>> sample_keys(np.arange(2, dtype=np.uint64), 0).tolist()
[1439940739, 2360472308]
"""

from lumos.models._entities import feature_union, fit_entities
from lumos.models._keys import MIX, SAMPLE_MASK, sample_keys, seed_word
from lumos.models._logistic import binary_labels, logistic_hessian, logistic_loss_grad

__all__ = [
    "MIX",
    "SAMPLE_MASK",
    "binary_labels",
    "feature_union",
    "fit_entities",
    "logistic_hessian",
    "logistic_loss_grad",
    "sample_keys",
    "seed_word",
]
