"""The Redis store under real faults: a redis-server killed with SIGKILL and started again on
its data (AOF, fsync before every answer), and connections dropped mid-command by a proxy
that lets the command run and loses its answer. Reads fail fast with StoreUnavailable and
recover by themselves; a publish never leaves half a version live, and publishing again
finishes it."""

from __future__ import annotations

import pytest
from store_helpers import model_tables

from lumos.errors import StoreUnavailable
from lumos.store import RedisStore, build_records, write_records
from redis_helpers import Proxy, RedisServer


@pytest.fixture
def proxy(redis_server):
    proxy = Proxy(redis_server.port)
    yield proxy
    proxy.close()


def records(version: str, seed: int, members: int = 2000):
    return build_records(model_tables(members, 2, 5, seed=seed, offset=seed), version=version)


def served(store: RedisStore, published) -> bool:
    """Whether ``store`` serves exactly ``published``: every member's record, none other."""
    return store.get_many(published.member_ids, decode=False) == published.values


def test_reads_fail_fast_while_redis_is_down_and_recover_by_themselves(redis_server):
    v1 = records("v1", seed=1, members=50)
    with RedisStore(redis_server.url) as writer:
        writer.publish(v1)
    reader = RedisStore(redis_server.url, readonly=True)
    assert served(reader, v1)
    redis_server.kill()
    for read in (lambda: reader.get("M0001"), lambda: reader.version, reader.versions):
        with pytest.raises(StoreUnavailable) as err:
            read()
        assert err.value.code == "store_unavailable" and err.value.retry_after == 1
        assert redis_server.url in err.value.message and "Try again" in err.value.message
    assert reader.faults == 3
    redis_server.start()  # same port, same data: the published version survived
    assert reader.version == "v1" and served(reader, v1)  # no reopening
    reader.close()


def test_a_read_whose_answer_is_lost_is_read_again(redis_server, proxy):
    v1 = records("v1", seed=1, members=50)
    with RedisStore(redis_server.url) as writer:
        writer.publish(v1)
    reader = RedisStore(proxy.url, readonly=True)
    proxy.cut(b"M0007")  # the read of M0007 runs; its answer never comes back
    assert reader.get("M0007")["version"] == "v1"  # read again on a new connection
    assert proxy.cuts == 1 and reader.faults == 0
    reader.close()


def test_redis_killed_mid_publish_leaves_the_old_version_whole(redis_server, proxy):
    v1, v2 = records("v1", seed=1), records("v2", seed=2)
    writer = RedisStore(proxy.url)
    writer.publish(v1)
    proxy.cut(b"HSET", then=redis_server.kill)  # v2's first records written, then the crash
    with pytest.raises(StoreUnavailable) as err:
        writer.publish(v2)
    message = err.value.message
    assert err.value.code == "store_unavailable" and proxy.url in message
    assert "while version 'v2' was written" in message
    assert "the live version is unchanged" in message and "publish again" in message
    assert proxy.cuts == 1
    redis_server.start()
    reader = RedisStore(redis_server.url, readonly=True)
    assert reader.version == "v1" and served(reader, v1)  # the old version, all of it
    assert writer.publish(v2) == "v2"  # publishing again finishes it, on the same store
    assert reader.version == "v2" and served(reader, v2) and reader.versions() == ["v2", "v1"]
    hashes = list(writer._r.scan_iter(match="lumos:v:*"))
    assert len(hashes) == 2 and not writer._r.smembers(writer._k_writing)  # no half left
    writer.close()
    reader.close()


def test_answers_lost_mid_publish_are_sent_again_and_the_publish_completes(redis_server, proxy):
    writer = RedisStore(proxy.url)
    writer.publish(records("v1", seed=1, members=50))
    for version, marker in (("v2", b"HSET"), ("v3", b"EXEC")):  # writing, then the switch
        published = records(version, seed=int(version[1]))
        proxy.cut(marker)
        assert writer.publish(published) == version
        assert writer.version == version and served(writer, published)
    assert proxy.cuts == 2 and writer.faults == 0
    assert writer.versions() == ["v3", "v2", "v1"]
    writer.close()


def test_a_version_redis_lost_records_of_is_never_made_live(tmp_path):
    # an RDB snapshot taken half-way, then a crash: Redis comes back without the records it
    # acknowledged after the snapshot, and the writer goes on as if it had them
    with RedisServer(tmp_path / "redis", durable=False) as server:
        v1, v2 = records("v1", seed=1, members=50), records("v2", seed=2, members=50)
        writer = RedisStore(server.url)
        writer.publish(v1)
        key = writer.begin("v2")
        for part in (slice(0, 25), slice(25, 30), slice(30, 50)):
            write_records(writer._r, key, v2.member_ids[part], v2.values[part])
            if part.stop == 25:
                writer._r.save()
            elif part.stop == 30:
                server.restart()  # without the 5 records acknowledged since the snapshot
        with pytest.raises(StoreUnavailable, match=r"holds 45 of the 50 records .* unchanged"):
            writer.commit("v2", count=len(v2))
        assert writer.version == "v1" and served(writer, v1)
        assert writer.publish(v2) == "v2" and served(writer, v2)
        writer.close()
