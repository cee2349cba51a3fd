"""Publish versions 1, 2, … into a store until killed: ``python _publisher.py KIND TARGET``.

Version k's every score is k + a fraction, so a reader can tell versions apart
by content as well as by the version field.
"""

import sys

from store_helpers import model_tables  # the directory is on PYTHONPATH

from lumos.store import LMDBStore, RedisStore, build_records


def main():
    kind, target, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    store = LMDBStore(target) if kind == "lmdb" else RedisStore(target, prefix=prefix)
    k = int(store.version.split("-")[1]) + 1
    print("ready", flush=True)
    while True:
        store.publish(build_records(model_tables(300, 3, 10, seed=k, offset=k), version=f"v-{k}"))
        k += 1


if __name__ == "__main__":
    main()
