"""The same jobs on Apache Spark (``pip install 'lumos[spark]'``, Java 17+).

* :func:`session` — the active Spark session, or ``local[2]`` (its Python
  workers run this interpreter); :func:`worker_env_error` names a worker that
  cannot import Lumos.
* :func:`explain` — attributions and narratives partition by partition
  (``mapInPandas``), the model broadcast; the local engine's narratives, byte
  for byte.
* :func:`window_features` — 3/6/9/12-month window features, the local
  engine's own SQL declaration run by Spark SQL.
* :func:`fit_glmix` — GLMix: the fixed effect by the model's solver on the
  driver (Newton or L-BFGS) over sums of the rows' gradients (and Hessians)
  from ``treeAggregate``, random effects per bucket of entities
  (``applyInPandas``) with the other coordinates' scores as offsets; the
  local engine's coefficients within 1e-4. :func:`glmix_fitter` fits the
  course recommender's GLMix this way.
* :func:`course_lists`, :func:`publish_course_lists` — every member's course
  lists scored on the executors (the local engine's candidates, scores and
  reasons) and, to publish, their records written to Redis from the
  executors in parallel, then switched live in one step like a local publish.
* :func:`renewal_labels` — labels from overlapping windows inside each
  renewal cycle, the local engine's rules as one Spark SQL query.
"""

from lumos.spark._explain import explain
from lumos.spark._features import window_features
from lumos.spark._glmix import fit_glmix, glmix_fitter
from lumos.spark._labels import renewal_labels
from lumos.spark._recommend import course_lists, publish_course_lists
from lumos.spark._session import session, worker_env_error

__all__ = [
    "course_lists",
    "explain",
    "fit_glmix",
    "glmix_fitter",
    "publish_course_lists",
    "renewal_labels",
    "session",
    "window_features",
    "worker_env_error",
]
