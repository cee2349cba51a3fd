"""The shared offer state on both backends (a real SQLite file, a real redis-server): caps no
two processes can exceed, conversions counted once, one learner's snapshots, deaths survived."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lumos.bandits import NO_OFFER, OfferModel, open_offer_state
from lumos.bandits._offer_state import pack_decision
from lumos.data.demo import offers
from lumos.errors import LumosUserError

WORKERS = Path(__file__).with_name("offer_workers.py")
DAY = 86400.0


@pytest.fixture(params=["file", "redis"])
def target(request, tmp_path):
    """A fresh state's target on each backend (its own namespace on the shared redis-server)."""
    if request.param == "file":
        return str(tmp_path / "state.sqlite")
    return request.getfixturevalue("redis_url")


@pytest.fixture
def namespace():
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def state(target, namespace):
    state = open_offer_state(target, namespace=namespace)
    yield state
    state.close()


@pytest.fixture(scope="module")
def book():
    return offers(300, 2000, random_state=2)


@pytest.fixture
def folder(book, tmp_path, namespace):
    """A saved offer model whose model_id is the test's namespace (its Redis keys' too)."""
    settings = {"batch": 1, "cap_per_week": 2, "random_state": 0, "model_id": namespace}
    model = OfferModel(book.arms, book.members, settings)
    model.retrain(book.events)
    return model.save(tmp_path / "offers")


def test_a_reservation_counts_the_week_and_a_release_gives_the_slot_back(state):
    now = time.time()
    got = state.reserve(["t1", "t2", "t3"], ["m1"] * 3, ["email"] * 3, now=now, per_week=2)
    assert got.tolist() == [True, True, False]
    assert state.allowed(["m1", "m1"], ["email", "feed"], now=now, per_week=2).tolist() == [
        False,
        True,
    ]
    state.release(["t2"], ["m1"], ["email"])
    assert state.allowed(["m1"], ["email"], now=now, per_week=2).tolist() == [True]
    # offers from a log count once, however often they are told; a week later they are gone
    state.shown(["s1", "s1"], ["m2", "m2"], ["feed"] * 2, [now - DAY] * 2)
    assert state.allowed(["m2"], ["feed"], now=now, per_week=2).tolist() == [True]
    assert state.allowed(["m2"], ["feed"], now=now, per_week=1).tolist() == [False]
    assert state.allowed(["m2"], ["feed"], now=now + 6.5 * DAY, per_week=1).tolist() == [True]


def test_a_conversion_counts_once_and_a_closed_window_gives_reward_zero(state):
    now = time.time()
    context = np.arange(3.0)
    held = [pack_decision(i, now - i * 3600, context + i) for i in range(3)]
    state.hold(["t0", "t1", "t2"], held, [now - i * 3600 for i in range(3)])
    assert state.convert(["t0", "t0", "unknown"]) == 1
    assert state.convert(["t0"]) == 0  # posted again, or to another process: nothing
    assert state.tidy(now, window=1.5 * 3600) == 1  # t2's window closed; t1's is open
    waiting = state.waiting()
    assert waiting.arms.tolist() == [0, 2] and waiting.rewards.tolist() == [1.0, 0.0]
    np.testing.assert_array_equal(waiting.contexts, [context, context + 2])
    assert state.waiting(at_least=3) is None


def test_a_publish_from_a_stale_version_is_refused_and_learns_nothing(state):
    assert state.snapshot() == (0, None)
    assert state.adopt("layout", "d1", b"one") == (1, True)
    assert state.adopt("layout", "d1", b"one") == (1, False)  # another process, same folder
    state.hold(["t"], [pack_decision(0, time.time(), np.zeros(2))], [time.time()])
    state.convert(["t"])
    through = state.waiting().through
    assert state.publish(1, b"two", "d2", through) == 2
    assert state.publish(1, b"late", "d3", through) == 0  # learned from 1, but 2 is out
    assert state.snapshot() == (2, b"two") and state.waiting() is None
    assert state.adopt("layout", "d1", b"one") == (2, False)  # a snapshot it held: no change
    assert state.adopt("layout", "new", b"retrained") == (3, True)
    assert state.adopt("other arms", "d2", b"two") == (4, True)  # a new layout forgets history


def test_one_learner_holds_the_lease_until_it_gives_it_back_or_it_expires(state):
    assert state.lock("a", 0.3) and not state.lock("b", 0.3) and state.lock("a", 0.3)
    state.unlock("b")  # not b's to give back
    assert not state.lock("b", 0.3)
    state.unlock("a")
    assert state.lock("b", 0.3)
    time.sleep(0.4)
    assert state.lock("a", 10)


def test_a_shared_model_decides_learns_and_saves_the_latest_policy(folder, target, book):
    a = OfferModel.load(folder).share(target, interval=0)
    b = OfferModel.load(folder).share(target, interval=0)
    assert a.policy_version == b.policy_version == 1  # b found a's policy: it adopted none
    members = book.members["member_id"].iloc[:5].tolist()
    tracking = [f"t{i}" for i in range(5)]
    decided = a.decide(members, "email", tracking_ids=tracking)
    assert (decided["policy_version"] == 1).all()
    a.served(tracking, decided)
    before = a.policy.n_updates
    b.observe([{"type": "action", "action": "purchase", "tracking_id": t} for t in tracking[:2]])
    assert b.policy_version == 2 and b.policy.n_updates == before + 2
    assert (a.decide(members, "email")["policy_version"] == 2).all()
    assert a.policy.n_updates == before + 2
    a.save(folder)  # the latest snapshot, whoever saves it
    assert OfferModel.load(folder).policy.n_updates == before + 2
    again = OfferModel.load(folder).share(target)  # a restart: the state knows this policy
    assert again.policy_version == 2
    for model in (a, b, again):
        model.shared.close()


def test_a_shared_neural_policy_moves_whole_between_processes(book, target, namespace, tmp_path):
    torch = pytest.importorskip("torch")
    settings = {"policy": "neuralts", "hidden": 8, "batch": 2, "model_id": namespace}
    OfferModel(book.arms, book.members, settings).save(tmp_path / "neural")
    a = OfferModel.load(tmp_path / "neural").share(target, interval=0)
    b = OfferModel.load(tmp_path / "neural").share(target, interval=0)
    members = book.members["member_id"].iloc[:4].tolist()
    tracking = ["n1", "n2", "n3", "n4"]
    a.served(tracking, a.decide(members, "feed", tracking_ids=tracking))
    assert b.observe([{"type": "action", "action": "purchase", "tracking_id": "n1"}]) == 0
    assert b.observe([{"type": "action", "action": "purchase", "tracking_id": "n2"}]) == 2
    a.decide(members[:1], "feed")  # a takes the network b trained
    assert a.policy_version == b.policy_version == 2 and a.policy.n_updates == 2
    for (name, mine), theirs in zip(
        a.policy.network.named_parameters(), b.policy.network.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs), name
    with pytest.raises(LumosUserError, match="one id per member"):
        a.decide(members, "feed", tracking_ids=["x"])
    a.shared.close()
    b.shared.close()


def run(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKERS), *map(str, args)], env=os.environ)


def wait_for(path: Path, procs, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert all(p.poll() is None for p in procs), "a worker exited early"
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.01)


def test_two_processes_racing_for_the_same_members_never_exceed_the_cap(
    folder, target, book, tmp_path
):
    members = book.members["member_id"].iloc[:12].tolist()
    OfferModel.load(folder).share(target).shared.close()  # the state holds the policy
    go = tmp_path / "go"
    outs = [tmp_path / f"shown-{i}.txt" for i in range(2)]
    procs = [run("decide", folder, target, out, go, ",".join(members), "feed", 15) for out in outs]
    try:
        for out in outs:
            wait_for(Path(f"{out}.ready"), procs)
        go.touch()  # both start deciding at once
        for p in procs:
            assert p.wait(timeout=300) == 0
    finally:
        for p in procs:
            p.kill()
    lines = [line.split() for out in outs for line in out.read_text().splitlines()]
    per_member = Counter(member for member, _, _ in lines)
    assert max(per_member.values()) <= 2  # the cap: 2 a week, across both processes
    assert sum(per_member.values()) == 2 * len(members)  # and each member reached it
    assert all(arm.endswith("/feed") and arm != NO_OFFER for _, _, arm in lines)
    by_process = [Counter(line.split()[0] for line in out.read_text().splitlines()) for out in outs]
    assert all(by_process), "one process got every offer: the race did not happen"


def test_a_learner_killed_while_learning_leaves_every_round_to_the_next(folder, target, tmp_path):
    model = OfferModel.load(folder).share(target, interval=0)
    state, version, before = model.shared.state, model.policy_version, model.policy.n_updates
    n = 1000  # a round at a time (batch 1); the learner stalls after its 10th
    now = time.time()
    context = model.contexts(["om000001"])[0]
    tracking = [f"k{i}" for i in range(n)]
    state.hold(tracking, [pack_decision(i % 3, now, context) for i in range(n)], [now] * n)
    assert state.convert(tracking) == n
    ready = tmp_path / "ready"
    lease = 4.0
    learner = run("learn", folder, target, ready, lease)
    try:
        wait_for(ready, [learner])  # it holds the lease and is mid-learning
        assert learner.poll() is None, "the learner finished before it was killed"
    finally:
        learner.send_signal(signal.SIGKILL)
        learner.wait()
    assert state.current() == version  # it published nothing
    assert len(state.waiting().arms) == n  # and every round still waits
    assert model.shared.learn() == 0  # its lease still stands ...
    time.sleep(lease)
    assert model.shared.learn() == n  # ... until it expires: the next learner learns each once
    assert model.policy_version == version + 1 and model.policy.n_updates == before + n
    assert state.waiting() is None
    assert OfferModel.load(folder).share(state).policy.n_updates == before + n
    if not target.startswith("redis"):
        import sqlite3

        with sqlite3.connect(target) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    model.shared.close()


@pytest.mark.parametrize(
    "target, code",
    [
        ("ftp://example/state", "bad_argument"),
        ("", "bad_argument"),
        ("{tmp}", "bad_argument"),  # a folder
        ("{tmp}/missing/state.sqlite", "file_not_found"),
        ("{tmp}/junk.sqlite", "unreadable_file"),
        ("redis://127.0.0.1:1/0", "state_unavailable"),
    ],
)
def test_a_bad_target_is_named_with_a_code(target, code, tmp_path):
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all, " * 100)
    with pytest.raises(LumosUserError) as caught:
        open_offer_state(target.replace("{tmp}", str(tmp_path)))
    assert caught.value.code == code
    assert caught.value.message


def test_a_state_of_another_kind_is_refused(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "other.sqlite") as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('format', 'something.else')")
    with pytest.raises(LumosUserError, match="not a Lumos offer state") as caught:
        open_offer_state(tmp_path / "other.sqlite")
    assert caught.value.code == "unreadable_file"


def test_rounds_of_a_model_include_those_its_shared_versions_decided(book):
    model = OfferModel(book.arms, book.members)
    arm = model.arm_ids[1]

    def served(tracking, model_id):
        return {"event_id": f"e{tracking}", "tracking_id": tracking, "type": "served",
                "member_id": "om000001", "item_id": arm, "item_type": "offer",
                "model_id": model_id, "propensity": 0.5, "ts": 0.0}  # fmt: skip

    log = [served("a", "offers"), served("b", "offers@v17"), served("c", "offers2"),
           served("d", None)]  # fmt: skip
    rounds, _ = model.rounds(log, now=1e9, model_id="offers")
    assert rounds["tracking_id"].tolist() == ["a", "b"]
