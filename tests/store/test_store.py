"""The store contract, run on each backend by the ``store`` fixture (LMDB and Redis)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_helpers import model_tables

from lumos.errors import DataValidationError, LumosUserError
from lumos.store import Records, build_records, decode_record, list_length, ranked, record_sizes


def test_round_trip(store):
    tables = model_tables()
    assert store.publish(build_records(tables, version="v1")) == "v1"
    record = store.get("M0003")
    assert record["version"] == "v1"
    assert set(record["models"]) == {"m1", "m2", "m3"}
    for model, table in tables.items():
        want = table[table.member_id == "M0003"]
        got = ranked(record, model)
        assert [g["item_id"] for g in got] == want["course_id"].tolist()
        assert [g["reason_text"] for g in got] == want["reason_text"].tolist()
        np.testing.assert_allclose([g["score"] for g in got], want["score"], rtol=1e-6)
    assert len(record["items"]) == len(set(record["items"]))
    assert len(record["reason_texts"]) == 3  # deduplicated per record
    raw = store.get("M0003", decode=False)
    assert decode_record(raw) == record


def test_get_many_unknown_and_before_publish(store):
    assert store.get("M0001") is None and store.version is None and store.versions() == []
    store.publish(build_records(model_tables(), version="v1"))
    got = store.get_many(["M0001", "nobody", "M0002"])
    assert got[1] is None and got[0]["version"] == got[2]["version"] == "v1"
    assert store.get_many([]) == []
    with pytest.raises(LumosUserError, match="list of member ids"):
        store.get_many("M0001")


def test_open_store_by_target_and_read_only(backend):
    from lumos.store import open_store

    name, target, open_ = backend
    with open_() as writer:
        writer.publish(build_records(model_tables(), version="v1"))
        where = {"prefix": writer.prefix} if name == "redis" else {}
    reader = open_store(target, readonly=True, **where)
    assert type(reader).__name__ == {"lmdb": "LMDBStore", "redis": "RedisStore"}[name]
    assert reader.get("M0003")["version"] == "v1" and reader.readonly
    for write in (
        lambda: reader.publish(build_records(model_tables(), version="v2")),
        lambda: reader.rollback("v1"),
    ):
        with pytest.raises(LumosUserError, match="opened read-only") as err:
            write()
        assert err.value.code == "read_only"
    assert reader.versions() == ["v1"]
    reader.close()
    with pytest.raises(LumosUserError, match="scheme 'http'") as err:
        open_store("http://example.com/store")
    assert err.value.code == "bad_argument"


def test_versions_rollback_and_pruning(backend):
    store = backend[2](keep=2)
    for k in (1, 2, 3):
        store.publish(build_records(model_tables(offset=k), version=f"v{k}"))
    assert store.versions() == ["v3", "v2"] and store.version == "v3"
    assert store.rollback() == "v2"
    assert store.get("M0000")["version"] == "v2"
    assert store.get("M0000")["scores"]["m1"][0] == pytest.approx(2.05)
    assert store.rollback("v3") == "v3" and store.get("M0000")["version"] == "v3"
    with pytest.raises(LumosUserError, match="'v1' is not in the store"):
        store.rollback("v1")  # pruned
    with pytest.raises(LumosUserError, match="already in the store"):
        store.publish(build_records(model_tables(), version="v3"))
    store.publish(build_records(model_tables(), version="v4"))
    assert store.versions() == ["v4", "v3"]
    store.close()
    reopened = backend[2](keep=2)
    assert reopened.version == "v4" and reopened.get("M0000")["version"] == "v4"
    reopened.close()


def test_publish_empty_set(store):
    store.publish(build_records(model_tables(), version="v1"))
    empty = build_records(model_tables(), version="v2", treatments={})
    assert len(empty) == 0
    store.publish(empty)
    assert store.version == "v2" and store.get_many(["M0000", "M0001"]) == [None, None]
    store.rollback("v1")
    assert store.get("M0000")["version"] == "v1"


def test_prefiltering(store):
    tables = model_tables(n_members=3)
    treat = {"M0000": {"m1"}, "M0001": {"m2", "m3"}}
    store.publish(build_records(tables, version="v1", treatments=treat))
    a, b, c = store.get_many(["M0000", "M0001", "M0002"])
    assert list(a["models"]) == ["m1"] and list(b["models"]) == ["m2", "m3"] and c is None
    a_items = tables["m1"].query("member_id == 'M0000'")["course_id"]
    assert a["items"] == a_items.tolist()  # only the used models' items
    by_call = build_records(tables, version="v1", treatments=lambda m: treat.get(m, "m1"))
    assert by_call.member_ids == ["M0000", "M0001", "M0002"]
    assert list(decode_record(by_call.values[2])["models"]) == ["m1"]
    with pytest.raises(LumosUserError, match="model 'm9', which has no table"):
        build_records(tables, treatments={"M0000": {"m9"}})


def test_bad_input(store):
    table = model_tables(n_members=2)["m1"]
    with pytest.raises(DataValidationError, match="model 'm1' has no column 'score'") as err:
        build_records({"m1": table.drop(columns="score")})
    assert err.value.code == "missing_column" and err.value.column == "score"
    bad = table.assign(score=table.score.where(table.index != 3, np.nan))
    with pytest.raises(DataValidationError, match=r"model 'm1' row 3.*'score'.*finite"):
        build_records({"m1": bad})
    bad = table.astype({"member_id": object})
    bad.loc[2, "member_id"] = None
    with pytest.raises(DataValidationError, match=r"row 2.*'member_id'.*None") as err:
        build_records({"m1": bad})
    assert err.value.code == "bad_value"
    with pytest.raises(DataValidationError, match=r"item 'C.*' appears twice") as err:
        build_records({"m1": pd.concat([table, table.iloc[:1]], ignore_index=True)})
    assert err.value.code == "duplicate"
    with pytest.raises(LumosUserError, match=r"version must be a str.*Got 'a b'"):
        build_records({"m1": table}, version="a b")
    with pytest.raises(LumosUserError, match="mapping"):
        build_records([table])
    with pytest.raises(LumosUserError, match="publish takes the Records"):
        store.publish({"M0000": b"x"})
    with pytest.raises(LumosUserError, match=r"'keep'.*>= 1. Got 0"):
        type(store).__init__(store.__class__.__new__(store.__class__), "x", keep=0)
    with pytest.raises(DataValidationError, match="not a Lumos record"):
        decode_record(b"hello")
    with pytest.raises(LumosUserError, match="pair up"):
        Records("v1", ["a"], [])
    assert store.version is None  # nothing half-written


def test_single_table_with_model_column():
    tables = model_tables(n_members=2)
    long = pd.concat([t.assign(model_id=m) for m, t in tables.items()], ignore_index=True)
    assert build_records(long, version="v1").values == build_records(tables, version="v1").values


def test_compact_is_smaller_than_one_record_per_member_and_model():
    tables = model_tables(n_members=30, n_models=5, k=20)
    sizes = record_sizes(tables)
    assert sizes["members"] == 30 and sizes["models"] == 5
    assert sizes["compact_bytes"] < sizes["per_pair_compact_bytes"]
    assert sizes["compact_bytes"] < sizes["per_pair_json_bytes"]


PUBLISHER = Path(__file__).with_name("_publisher.py")


def test_killed_publisher_never_shows_a_mix(backend):
    """SIGKILL a publishing process at random points; every read sees one whole version."""
    kind, target, opener = backend
    store = opener()
    store.publish(build_records(model_tables(300, 3, 10, seed=0, offset=0), version="v-0"))
    ids = [f"M{i:04d}" for i in range(300)]
    rng = random.Random(5)
    seen = set()
    env = {**os.environ, "PYTHONPATH": str(PUBLISHER.parent)}
    for _ in range(4):
        child = subprocess.Popen(
            [sys.executable, str(PUBLISHER), kind, target, getattr(store, "prefix", "")],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + rng.uniform(0.05, 1.5)
        while time.monotonic() < deadline:
            _check_one_version(store.get_many([*ids, "nobody"]), seen)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        _check_one_version(store.get_many([*ids, "nobody"]), seen)
        assert len(store.versions()) <= store.keep
    assert len(seen) > 1  # the publisher did switch versions under the reader
    store.publish(build_records(model_tables(300, 3, 10, seed=0, offset=9), version="v-9"))
    if kind == "redis":  # what killed publishes left half written is gone
        hashes = list(store._r.scan_iter(match=f"{store.prefix}:v:*", count=1000))
        assert len(hashes) == len(store.versions()) and not store._r.smembers(store._k_writing)
    store.close()


def _check_one_version(records, seen):
    assert records[-1] is None
    versions = {r["version"] for r in records[:-1]}
    assert len(versions) == 1, versions  # every member present, all of one version
    k = int(versions.pop().split("-")[1])
    for r in records[:-1]:
        assert all(int(s) == k for s in r["scores"]["m1"])  # content of version k
    seen.add(k)


def test_models_keep_their_names_whatever_the_order_of_the_tables():
    import pandas as pd

    from lumos.store import build_records, decode_record

    rows = pd.DataFrame({"member_id": ["m1"], "course_id": ["c1"], "score": [1.0]})
    other = pd.DataFrame({"member_id": ["m2"], "course_id": ["c9"], "score": [0.5]})
    records = build_records({"first": rows, "second": other}, version="v1")
    got = {
        m: decode_record(v)["models"]
        for m, v in zip(records.member_ids, records.values, strict=True)
    }
    assert got == {"m1": {"first": [0]}, "m2": {"second": [0]}}


def test_ranked_reads_one_model_or_a_page_from_the_stored_bytes(store):
    tables = model_tables()
    store.publish(build_records(tables, version="v1"))
    for member in ("M0000", "M0003", "M0007"):
        raw, record = store.get(member, decode=False), store.get(member)
        for model in (*tables, "not-a-model"):
            whole = ranked(record, model)
            assert ranked(raw, model) == whole
            assert list_length(raw, model) == list_length(record, model) == len(whole)
            for stop in (0, 1, 3, 1000):
                assert ranked(raw, model, stop=stop) == whole[:stop]
    with pytest.raises(DataValidationError, match="not a Lumos record"):
        ranked(b"JSON{}", "m1")


def test_get_many_reads_past_one_batch_from_one_version(store):
    store.publish(build_records(model_tables(), version="v1"))
    ids = ["M0001", *(f"nobody{i}" for i in range(2500)), "M0002"]
    got = store.get_many(ids)
    assert len(got) == len(ids) and got[0]["version"] == got[-1]["version"] == "v1"
    assert all(g is None for g in got[1:-1])


def test_a_redis_publish_written_by_other_processes(redis_url):
    from lumos.errors import LumosUserError
    from lumos.store import RedisStore, build_records
    from lumos.store._redis import write_records

    store = RedisStore(redis_url, prefix="parts")
    store._r.flushdb()
    store.publish(build_records(model_tables(20, 2, 5, seed=1), version="v1"))
    records = build_records(model_tables(20, 2, 5, seed=2), version="v2")
    key = store.begin("v2")
    half = len(records) // 2
    for part in (slice(0, half), slice(half, None)):  # two writers, each on its own connection
        write_records(redis_url, key, records.member_ids[part], records.values[part])
    assert store.version == "v1"  # nothing is live until the commit
    assert store.get(records.member_ids[0])["version"] == "v1"
    store.commit("v2")
    assert store.version == "v2" and store.versions() == ["v2", "v1"]
    assert store.get_many(records.member_ids, decode=False) == records.values
    with pytest.raises(LumosUserError, match="was not begun"):
        store.commit("v2")
    with pytest.raises(LumosUserError, match="already in the store"):
        store.begin("v1")
    # a publish that never commits is removed by the next begin
    left = store.begin("v3")
    write_records(store._r, left, records.member_ids[:3], records.values[:3])
    store.begin("v4")
    assert not store._r.exists(left) and store.version == "v2"
    store.close()
