"""The Redis event log under real faults: a redis-server killed with SIGKILL and started again
on its data (AOF, fsync before every answer), and answers lost by a proxy that lets the
append run and drops the connection before its answer. An acknowledged event is never lost;
a batch sent again after a lost answer is in the stream once."""

from __future__ import annotations

import pytest
from test_events import event

from lumos.events import LogUnavailable, RedisEventLog, served_lines
from redis_helpers import Proxy


def served(prefix: str, n: int) -> list[str]:
    return served_lines("m1", [(f"{prefix}{i}", "t", f"c{i}", i) for i in range(n)], ts=1735787045)


def test_acknowledged_events_survive_a_redis_crash(redis_server):
    log = RedisEventLog(redis_server.url)
    sent = [event(i) for i in range(300)]
    for start in range(0, 300, 100):
        assert log.append(sent[start : start + 100]) == 100
        assert log.append_served(served(f"s{start}-", 10)) == 10
    redis_server.kill()  # at once after the last answer
    with pytest.raises(LogUnavailable) as err:
        log.append([event(300)])
    assert err.value.code == "log_unavailable" and err.value.retry_after == 5
    assert redis_server.url in err.value.message and "Send it again" in err.value.message
    with pytest.raises(LogUnavailable, match="could not be read"):
        log.read()
    assert log.write_faults == 1
    redis_server.start()
    got = log.read()  # the same log object: it reconnected by itself
    assert sorted(got.loc[got["type"] == "impression", "event_id"]) == sorted(
        e["event_id"] for e in sent
    )
    assert (got["type"] == "served").sum() == 30
    assert log.append(sent[:100]) == 0  # the ids it had seen survived too
    assert log.append([event(300)]) == 1
    log.close()


def test_a_batch_whose_answer_was_lost_is_in_the_stream_once_when_sent_again(redis_server):
    proxy = Proxy(redis_server.port)
    log = RedisEventLog(proxy.url)
    batch = [event(i) for i in range(5)]
    assert log.append([event(9)]) == 1  # Redis has the script: the next append runs it
    proxy.cut(b'"e3"')
    with pytest.raises(LogUnavailable, match="may or may not have been written"):
        log.append(batch)  # it was: the answer was lost, and nothing sent it again unasked
    assert log.append(batch) == 0  # the client's retry: all duplicates
    assert log.read()["event_id"].tolist() == ["e9"] + [f"e{i}" for i in range(5)]
    assert proxy.cuts == 1 and log.write_faults == 1
    log.close()
    proxy.close()


def test_served_events_whose_answer_was_lost_are_in_the_stream_once(redis_server):
    proxy = Proxy(redis_server.port)
    log = RedisEventLog(proxy.url)
    first, since = served("a", 4), served("b", 3)
    assert log.append_served(served("z", 1)) == 1  # Redis has the script
    proxy.cut(b'"a2"')
    with pytest.raises(LogUnavailable):
        log.append_served(first)
    # what the served-events writer sends next: the batch that failed, then what came since
    assert log.append_served(first + since) == 3
    assert log.append_served(served("c", 2)) == 2
    want = ["z0"] + [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)] + ["c0", "c1"]
    assert log.read()["event_id"].tolist() == want
    assert proxy.cuts == 1
    log.close()
    proxy.close()
