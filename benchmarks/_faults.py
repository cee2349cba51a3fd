"""The fault suite's parts: a real ``lumos serve`` on loopback under a steady client load, and
what the clients and the event log say afterwards.

* :class:`Server` — ``lumos serve`` in a child process, with Lumos from a given ``src``
  folder (today's, or an older commit's), optionally as a non-root user or with the hooks
  of :mod:`_serve_hooks`; restartable on the same port.
* :class:`Load` — two client threads: event batches with unique ids, each sent again with
  the same ids until acknowledged (every acknowledged id kept), and recommendation
  requests (every tracking id shown kept).
* :class:`Watch` — ``/readyz`` polled every 100 ms.
* :func:`until_normal` — how long until a recommendation and an event batch both succeed.
* :func:`audit` — the log read back: acknowledged ids lost or written twice, shown items
  without their served event.

:mod:`_fault_cases` builds the cases from these parts.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import http.client
import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN_SRC = HERE.parent / "src"
KEY = "fault-suite-key"
MEMBER = "m1"
RECS = f"/v1/members/{MEMBER}/recommendations?count=2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, method: str, path: str, body: bytes | None = None, conn=None):
    """``(status, body)`` of one request; status 0 when the server gave no answer. ``conn``
    (a one-item list) keeps a connection between calls."""
    held = conn if conn is not None else [None]
    if held[0] is None:
        held[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"} if body else {}
    try:
        held[0].request(method, path, body, headers)
        answer = held[0].getresponse()
        out = answer.status, answer.read()
    except (OSError, http.client.HTTPException):
        held[0].close()
        held[0] = None
        return 0, b""
    if conn is None:
        held[0].close()
    return out


def batch_body(ids: list[str]) -> bytes:
    """A ``POST /v1/events`` body of impressions with ``ids``, stamped 30 s ago."""
    ts = time.time() - 30
    events = [
        {
            "event_id": i,
            "tracking_id": "t",
            "type": "impression",
            "member_id": MEMBER,
            "item_id": "c1",
            "ts": ts,
        }
        for i in ids
    ]
    return json.dumps({"events": events}).encode()


def normal(status: int) -> bool:
    """Whether a status is the server answering as it should: a success, or a refusal on the
    request's own merits (4xx other than 429); not a 5xx, nor no answer at all."""
    return 200 <= status < 300 or (400 <= status < 500 and status != 429)


class Server:
    """``lumos serve --store STORE --events EVENTS`` with Lumos from ``src``, in a child.

    ``user`` (a name, e.g. ``nobody``) runs it as that user through ``setpriv``, keeping
    only the capability to read and search any file (so it can load Python from a folder
    only root may enter) — writes obey the folder's permissions as for any user.
    ``segment_bytes`` and ``clock_file`` are :mod:`_serve_hooks`' hooks; ``preexec`` runs in
    the child before it starts (resource limits); ``workers`` is ``--workers``. What the
    server prints goes to ``out``.
    """

    def __init__(
        self,
        src,
        store,
        events,
        out,
        *,
        user=None,
        segment_bytes=0,
        clock_file="",
        preexec=None,
        workers=1,
    ):
        self.src, self.out, self.preexec = Path(src), Path(out), preexec
        self.port = free_port()
        serve = [
            "serve",
            "--store",
            str(store),
            "--events",
            str(events),
            "--port",
            str(self.port),
            "--write-key-hash",
            hashlib.sha256(KEY.encode()).hexdigest(),
            "--flush-ms",
            "20",
            *(["--workers", str(workers)] if workers > 1 else []),
        ]
        if segment_bytes or clock_file:
            self.command = [
                sys.executable,
                str(HERE / "_serve_hooks.py"),
                str(segment_bytes),
                str(clock_file),
                *serve,
            ]
        else:
            self.command = [sys.executable, "-m", "lumos.cli", *serve]
        self.env = {**os.environ, "PYTHONPATH": str(self.src)}
        if user is not None:
            self.command = [*as_user(user), *self.command]
            self.env["HOME"] = str(Path(out).parent)
        self.proc = None

    def start(self) -> None:
        with open(self.out, "ab") as sink:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec,
            )

    def kill(self, sig=signal.SIGKILL) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            if self.wait(30) is None:
                self.proc.kill()
                self.proc.wait()

    def said(self, lines: int = 15) -> str:
        """The last ``lines`` of what the server printed."""
        return "\n".join(self.out.read_text(errors="replace").splitlines()[-lines:])


def as_user(name: str) -> list[str]:
    """The ``setpriv`` prefix that runs a command as user ``name`` (uid, gid, no groups),
    keeping only CAP_DAC_READ_SEARCH."""
    who = pwd.getpwnam(name)
    return [
        "setpriv",
        f"--reuid={who.pw_uid}",
        f"--regid={who.pw_gid}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
    ]


def can_run_as(name: str) -> str:
    """Why a server cannot be run as user ``name`` here ("" when it can)."""
    if os.geteuid() != 0:
        return ""  # already not root: permissions hold for this process's children
    try:
        pwd.getpwnam(name)
    except KeyError:
        return f"no user {name!r} on this machine"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    return ""


class Load:
    """A steady client load on ``port`` in two threads, until :meth:`finish`.

    Event batches of ``size`` new ids ``{tag}-{n}``: a batch that got a 5xx or no answer is
    sent again with the same ids until acknowledged (2xx); a 4xx is the server's refusal and
    final. Recommendation requests record the tracking ids they were shown. Every answer is
    kept in :attr:`outcomes` as ``(time, kind, status)``.
    """

    def __init__(self, port: int, tag: str, size: int = 20):
        self.port, self.tag, self.size = port, tag, size
        self.acked: set[str] = set()
        self.refused = 0  # events a 4xx refused
        self.unacked = 0  # events still unacknowledged when the load stopped
        self.shown: set[str] = set()
        self.outcomes: list[tuple[float, str, int]] = []
        self.ids = itertools.count()  # shared with the probes of until_normal
        self._stop, self._deadline = threading.Event(), None
        self._threads = [
            threading.Thread(target=self._run, args=(f,), daemon=True)
            for f in (self._events, self._recs)
        ]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def _run(self, loop) -> None:
        conn = [None]  # one keep-alive connection per thread, opened again after a failure
        try:
            loop(conn)
        finally:
            if conn[0] is not None:
                conn[0].close()

    def _events(self, conn) -> None:
        while not self._stop.is_set():
            ids = [f"{self.tag}-{next(self.ids)}" for _ in range(self.size)]
            while True:
                status, _ = call(self.port, "POST", "/v1/events", batch_body(ids), conn)
                self.outcomes.append((time.monotonic(), "events", status))
                if 200 <= status < 300:
                    self.acked.update(ids)
                    break
                if normal(status):
                    self.refused += len(ids)
                    break
                if self._deadline is not None and time.monotonic() > self._deadline:
                    self.unacked += len(ids)
                    return
                time.sleep(0.05)
            time.sleep(0.02)

    def _recs(self, conn) -> None:
        while not self._stop.is_set():
            status, body = call(self.port, "GET", RECS, conn=conn)
            self.outcomes.append((time.monotonic(), "recs", status))
            if status == 200:
                self.shown.update(item["tracking_id"] for item in json.loads(body)["items"])
            time.sleep(0.01 if status == 200 else 0.05)

    def finish(self, patience: float = 5.0) -> None:
        """Stop sending new batches; the batch under way gets ``patience`` seconds more."""
        self._deadline = time.monotonic() + patience
        self._stop.set()
        for t in self._threads:
            t.join()


class Watch:
    """``GET /readyz`` every 100 ms in a thread: :attr:`polls` holds ``(time, status)``."""

    def __init__(self, port: int):
        self.port, self.polls = port, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            status, _ = call(self.port, "GET", "/readyz")
            self.polls.append((time.monotonic(), status))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def until_normal(port: int, load: Load, since: float, timeout: float, proc=None) -> float | None:
    """Seconds from ``since`` (a monotonic time) until a recommendation request and an event
    batch (a new id, kept as acknowledged) both succeed, tried every 50 ms; None if not
    within ``timeout`` seconds of ``since``, or as soon as the process ``proc`` (if given)
    has exited."""
    while time.monotonic() < since + timeout:
        if proc is not None and proc.poll() is not None:
            return None
        recs, _ = call(port, "GET", RECS)
        load.outcomes.append((time.monotonic(), "recs", recs))
        probe = [f"{load.tag}-probe-{next(load.ids)}"]
        events, _ = call(port, "POST", "/v1/events", batch_body(probe))
        load.outcomes.append((time.monotonic(), "events", events))
        if 200 <= events < 300:
            load.acked.update(probe)
        if recs == 200 and 200 <= events < 300:
            return time.monotonic() - since
        time.sleep(0.05)
    return None


def readyz_truth(load: Load, watch: Watch, windows, lag: float = 0.5) -> dict:
    """Whether ``/readyz`` told the truth in ``windows`` (``(start, end)`` monotonic times).

    The truth at a moment is what the clients met: ready when the latest event batch and
    the latest recommendation request were both answered as they should (:func:`normal`).
    A poll is judged where that truth held still from ``lag`` s before it to 0.2 s after
    (``/readyz`` learns of a fault at the next write) and both answers were under 1 s old.
    ``/readyz`` says "ready" with a 200 and "not ready" with a 503 or no answer (a server
    that is down); any other answer (a 500) is the truth neither way.
    """
    answers = {}  # kind → (times, whether each answer was normal), in time order
    for when, kind, status in sorted(load.outcomes):
        answers.setdefault(kind, ([], []))
        answers[kind][0].append(when)
        answers[kind][1].append(normal(status))

    def truth_at(t: float):
        latest = []
        for times, ok in answers.values():
            i = bisect.bisect_right(times, t) - 1
            if i < 0 or times[i] < t - 1:
                return None
            latest.append(ok[i])
        return all(latest) if len(latest) == 2 else None

    judged = agreed = 0
    seen = collections.Counter()
    for when, status in watch.polls:
        if not any(a <= when <= b for a, b in windows):
            continue
        seen[str(status)] += 1
        steps = {truth_at(when + d / 10) for d in range(-int(lag * 10), 3)}
        if len(steps) != 1 or None in steps:
            continue
        judged += 1
        said = {200: True, 503: False, 0: False}.get(status)  # a 500 says neither
        agreed += said == steps.pop()
    return {
        "readyz_truthful": int(judged > 0 and agreed == judged),
        "readyz_polls_judged": judged,
        "readyz_polls_agreed": agreed,
        "readyz_answers": dict(seen),  # status → polls during the fault (0: no answer)
    }


def server_errors(load: Load, watch: Watch) -> int:
    """Answers with a 5xx other than 503, to the clients and to ``/readyz``."""
    statuses = [s for _, _, s in load.outcomes] + [s for _, s in watch.polls]
    return sum(1 for s in statuses if s >= 500 and s != 503)


def audit(target, load: Load) -> dict:
    """The log at ``target`` read back against what the clients were told."""
    from lumos.events import read_events

    told = []
    frame = read_events(str(target), notify=told.append)
    sent = frame[frame["type"] != "served"]["event_id"].value_counts()
    served = frame[frame["type"] == "served"]
    return {
        "lost": len(load.acked - set(sent.index)),
        "duplicated": int((sent[sent.index.isin(load.acked)] > 1).sum()),
        "acknowledged": len(load.acked),
        "refused_4xx": load.refused,
        "unacknowledged_at_end": load.unacked,
        "served_shown": len(load.shown),
        "served_missing": len(load.shown - set(served["tracking_id"])),
        "served_duplicated": int(served["event_id"].duplicated().sum()),
        "quarantined_lines": len(told),
    }


def publish(store_target: str) -> None:
    """Member m1's two courses and a cold-start list, published to ``store_target``."""
    import pandas as pd

    from lumos.store import COLD_START, build_records, open_store

    table = pd.DataFrame(
        {
            "member_id": [MEMBER, MEMBER, COLD_START],
            "course_id": ["c1", "c2", "p"],
            "score": [0.9, 0.5, 1.0],
            "reason": "skill",
            "reason_text": "Because of 'Python'",
        }
    )
    with open_store(store_target) as store:
        store.publish(
            build_records(
                {
                    "glmix": table[table["member_id"] == MEMBER],
                    COLD_START: table[table["member_id"] == COLD_START],
                }
            )
        )


class Redis:
    """A redis-server on a loopback port that keeps what it acknowledged (append-only file,
    synced before each answer), so it can be killed and started again on the same data."""

    def __init__(self, folder: Path):
        self.folder, self.port = Path(folder), free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1)
        for _ in range(500):  # until it answers, its append-only file read
            try:
                client.ping()
                client.close()
                return
            except redis.RedisError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
