"""The online store: compact records, LMDB (embedded) and Redis backends, versioned publish.

One record per member holds every model's list (:func:`build_records`,
:func:`decode_record`); a store publishes a version of them atomically and
keeps the last few for :meth:`~LMDBStore.rollback`.

Examples
--------
>>> import tempfile, pandas as pd
>>> from lumos.store import LMDBStore, build_records, ranked
>>> table = pd.DataFrame({"member_id": ["a", "a"], "course_id": ["c1", "c2"],
...                       "score": [0.75, 0.5], "reason": ["popular", "popular"],
...                       "reason_text": ["Popular", "Popular"]})
>>> with LMDBStore(tempfile.mkdtemp()) as store:
...     version = store.publish(build_records({"m1": table, "m2": table[::-1]}, version="v1"))
...     [row["item_id"] for row in ranked(store.get("a"), "m2")]
['c2', 'c1']
"""

from lumos.store._base import COLD_START, Store, open_store
from lumos.store._build import Records, build_records, check_version, new_version
from lumos.store._codec import decode_record, list_length, ranked
from lumos.store._lmdb import LMDBStore
from lumos.store._redis import RedisStore, write_records
from lumos.store._sizes import record_sizes

__all__ = [
    "COLD_START",
    "LMDBStore",
    "Records",
    "RedisStore",
    "Store",
    "build_records",
    "check_version",
    "decode_record",
    "list_length",
    "new_version",
    "open_store",
    "ranked",
    "record_sizes",
    "write_records",
]
