"""The same jobs on Apache Spark (``pip install 'lumos[spark]'``, Java 17+).

* :func:`session` — the active Spark session, or ``local[2]``.
* :func:`explain` — attributions and narratives partition by partition
  (``mapInPandas``), the model broadcast; the local engine's narratives, byte
  for byte.
"""

from lumos.spark._explain import explain
from lumos.spark._session import session

__all__ = ["explain", "session"]
