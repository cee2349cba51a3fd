"""The fault suite's cases: each starts a real ``lumos serve`` on loopback under a steady
client load (:mod:`_faults`), causes one fault for real, takes it away, and returns what
the clients met and what the event log holds.

``run(name, src, work, quick=...)`` runs case ``name`` (one of :data:`CASES`) against the
Lumos in folder ``src``. The figures: ``lost`` and ``duplicated`` (acknowledged events
missing from the log, or in it more than once), ``server_errors`` (answers with a 5xx other
than 503), ``seconds_to_normal`` (from the fault's removal until a recommendation and an
event batch both succeed, the server not restarted; ``recovered`` 0 when that did not
happen within ``patience``), ``readyz_truthful`` (:func:`_faults.readyz_truth` over the
fault), and for SIGKILL and SIGTERM, which restart the server, ``restart_to_ready_s`` in
place of ``seconds_to_normal``.
"""

from __future__ import annotations

import os
import pwd
import random
import resource
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

from _faults import (
    Load,
    Redis,
    Server,
    Watch,
    audit,
    can_run_as,
    publish,
    readyz_truth,
    server_errors,
    until_normal,
)

SMALL_SEGMENT = 64 * 1024  # a new segment every few hundred ms under the load
#: seconds of load before the fault, the fault held, load after recovery; SIGKILLs
TIMES = {
    False: {"warm": 1.5, "hold": 2.5, "after": 1.0, "patience": 20.0, "kills": 20},
    True: {"warm": 1.0, "hold": 1.5, "after": 0.5, "patience": 10.0, "kills": 4},
}


class Fault:
    """One fault, caused with :meth:`inject`, held for :meth:`hold`, taken away with
    :meth:`remove`. :meth:`prepare` makes the store and the log; ``server`` holds
    :class:`~_faults.Server`'s keywords; ``details`` says how the fault was caused."""

    server: dict = {}  # noqa: RUF012 (replaced, never changed in place)

    def __init__(self, work: Path):
        self.work = work
        self.details: dict = {}

    def prepare(self) -> tuple[str, str]:
        publish(str(self.work / "store"))
        return str(self.work / "store"), str(self.work / "events")

    def inject(self, server: Server) -> None:
        raise NotImplementedError

    def hold(self, seconds: float) -> None:
        time.sleep(seconds)

    def remove(self, server: Server) -> None:
        pass

    def cleanup(self) -> None:
        pass


class DiskFull(Fault):
    """The log's disk fills up: a tmpfs of 64 MB filled by another file where this machine
    lets us mount one, else RLIMIT_FSIZE lowered on the server process to the size its
    segment has (writes past it fail with EFBIG, as on a full disk). Removed: the file
    deleted, or the limit lifted."""

    def prepare(self):
        store, _ = super().prepare()
        disk = self.work / "disk"
        disk.mkdir()
        mounted = os.geteuid() == 0 and shutil.which("mount") is not None
        if mounted:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True
            )
            mounted = done.returncode == 0
        self.disk = disk if mounted else None
        self.details = {"how": "tmpfs of 64 MB filled" if mounted else "RLIMIT_FSIZE"}
        if not mounted:
            self.server = {"preexec": ignore_sigxfsz}
        return store, str(disk / "events")

    def inject(self, server):
        if self.disk is not None:
            fill(self.disk / "filler")
        else:
            size = max(p.stat().st_size for p in (self.disk_events()).glob("segment-*.jsonl"))
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))

    def disk_events(self) -> Path:
        return self.work / "disk" / "events"

    def remove(self, server):
        if self.disk is not None:
            (self.disk / "filler").unlink()
        else:
            unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, unlimited)

    def cleanup(self):
        if self.disk is not None:
            subprocess.run(["umount", "-l", str(self.disk)], check=False)


def ignore_sigxfsz() -> None:  # in the server: a write past RLIMIT_FSIZE fails, not kills
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def fill(path: Path) -> None:
    """Write ``path`` until its disk has no room left."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            block = bytes(size)
            try:
                while True:
                    f.write(block)
            except OSError:
                pass


class ReadOnlyFolder(Fault):
    """The log's folder and its files made read-only (mode 555 and 444) under a server that
    is not root (root writes anyway): run as ``nobody`` when this process is root. Small
    segments, so the log needs a new file during the fault. Removed: modes 755 and 644."""

    def prepare(self):
        store, events = super().prepare()
        Path(events).mkdir()
        user = "nobody" if os.geteuid() == 0 else None
        if user is not None:
            who = pwd.getpwnam(user)
            for path in (self.work, *self.work.rglob("*")):
                os.chown(path, who.pw_uid, who.pw_gid)
        self.server = {"user": user, "segment_bytes": SMALL_SEGMENT}
        self.details = {
            "how": "chmod 555/444 of the log folder under a server that is not root",
            "segment_bytes": SMALL_SEGMENT,
        }
        return store, events

    def inject(self, server):
        self.details["server_uid"] = uid(server.proc.pid)
        folder = self.work / "events"
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)

    def remove(self, server):
        folder = self.work / "events"
        self.details["largest_segment_bytes"] = largest_segment(folder)
        folder.chmod(0o755)
        for path in folder.iterdir():
            path.chmod(0o644)


def uid(pid: int) -> int:
    """The real user id of process ``pid`` (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Uid:"))


def largest_segment(folder: Path) -> int:
    """The bytes of the log's largest segment: past ``SMALL_SEGMENT`` by what was written to
    it while no new one could be made."""
    return max((p.stat().st_size for p in folder.glob("segment-*.jsonl") if p.is_file()), default=0)


class SegmentFails(Fault):
    """The log's next segment cannot be created: a folder stands where its file would go
    (small segments, so the log needs it within the fault). Removed: the folder deleted."""

    server = {"segment_bytes": SMALL_SEGMENT}  # noqa: RUF012

    def inject(self, server):
        folder = self.work / "events"
        while True:
            last = max(int(p.stem.split("-")[1]) for p in folder.glob("segment-*.jsonl"))
            self.blocked = folder / f"segment-{last + 1:08d}.jsonl"
            try:
                self.blocked.mkdir()
                break
            except FileExistsError:  # the log moved on meanwhile: block the one after
                continue
        self.details = {
            "how": "a folder in the next segment's place",
            "segment_bytes": SMALL_SEGMENT,
        }

    def remove(self, server):
        self.details["largest_segment_bytes"] = largest_segment(self.work / "events")
        self.blocked.rmdir()


class ClockBack(Fault):
    """The server's wall clock jumps back an hour (:mod:`_serve_hooks`: ``time.time`` of the
    server process runs behind by the seconds in a file); the clients' clock does not, so
    their events, stamped 30 s ago, are an hour ahead of the server's clock. Removed: the
    clock right again."""

    JUMP = 3600

    def prepare(self):
        self.clock = self.work / "clock"
        self.server = {"clock_file": str(self.clock)}
        self.details = {
            "how": "time.time() of the server set back (a sitecustomize-like "
            "hook, _serve_hooks.py)",
            "jump_s": -self.JUMP,
        }
        return super().prepare()

    def inject(self, server):
        self.clock.write_text(str(self.JUMP))

    def remove(self, server):
        self.clock.write_text("0")


class RedisKilled(Fault):
    """The store and the log on a redis-server (append-only file, fsync always) that is
    killed with SIGKILL. Removed: started again on the same port and data."""

    def prepare(self):
        self.redis = Redis(self.work / "redis")
        self.redis.start()
        publish(self.redis.url)
        self.details = {"how": "redis-server SIGKILL, started again"}
        return self.redis.url, self.redis.url

    def inject(self, server):
        self.redis.kill()

    def remove(self, server):
        self.redis.start()

    def cleanup(self):
        self.redis.stop()


class RedisDropped(RedisKilled):
    """Redis drops every client connection (``CLIENT KILL TYPE normal``) five times, 0.3 s
    apart; Redis itself stays up."""

    def prepare(self):
        out = super().prepare()
        self.details = {"how": "CLIENT KILL TYPE normal, 5 times 0.3 s apart"}
        return out

    def inject(self, server):
        import redis

        self.client = redis.Redis.from_url(self.redis.url)
        self.client.client_kill_filter(_type="normal")

    def hold(self, seconds):
        for _ in range(4):
            time.sleep(0.3)
            self.client.client_kill_filter(_type="normal")

    def remove(self, server):
        self.client.close()


class WorkerKilled(Fault):
    """``lumos serve --workers 2``: one worker killed with SIGKILL while the other serves
    (the supervisor starts another). The log's own series and the killed worker's may hold
    a torn line, cut by the next writer; nothing acknowledged may be lost or written twice.
    Removed: nothing (the supervisor replaces the worker)."""

    server = {"workers": 2}  # noqa: RUF012

    def inject(self, server):
        victims = workers_of(server.proc.pid)
        if not victims:
            raise RuntimeError("no worker process to kill (is --workers supported?)")
        os.kill(victims[0], signal.SIGKILL)
        self.details = {"how": "SIGKILL of one of two worker processes", "workers": 2}


def workers_of(pid: int) -> list[int]:
    """The worker processes (multiprocessing's spawned children) under ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmd:
            out.append(int(entry))
    return out


STEADY = {
    "disk_full": DiskFull,
    "readonly_folder": ReadOnlyFolder,
    "segment_fails": SegmentFails,
    "clock_back": ClockBack,
    "redis_killed": RedisKilled,
    "redis_dropped": RedisDropped,
    "worker_killed": WorkerKilled,
}
CASES = (*STEADY, "sigkill", "sigterm")


def skipped(name: str) -> str:
    """Why case ``name`` cannot run on this machine ("" when it can)."""
    if name.startswith("redis") and shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    if name == "readonly_folder":
        return can_run_as("nobody")
    return ""


def run(name: str, src, work: Path, *, quick: bool) -> dict:
    """Case ``name`` against the Lumos in ``src``, in the empty folder ``work``."""
    work.mkdir(parents=True)
    if name in STEADY:
        return steady(STEADY[name](work), src, quick)
    return restarts(name, src, work, quick)


def started(src, store, events, work: Path, **kw):
    """A server, its load and its watch, once the server answers normally."""
    server = Server(src, store, events, work / "server.out", **kw)
    load = Load(server.port, "e")
    server.start()
    if until_normal(server.port, load, time.monotonic(), 120, server.proc) is None:
        server.stop()
        raise RuntimeError(f"lumos serve did not start:\n{server.said()}")
    return server, load.start(), Watch(server.port).start()


def figures(load, watch, log, windows, server) -> dict:
    load.finish()
    watch.stop()
    server.stop()
    return {
        **audit(log, load),
        "server_errors": server_errors(load, watch),
        **readyz_truth(load, watch, windows),
    }


def steady(fault: Fault, src, quick: bool) -> dict:
    """Load, the fault for ``hold`` seconds, its removal, load; the server never restarted."""
    t = TIMES[quick]
    begin = end = back = None
    try:
        store, events = fault.prepare()
        server, load, watch = started(src, store, events, fault.work, **fault.server)
        try:
            time.sleep(t["warm"])
            begin = time.monotonic()
            fault.inject(server)
            fault.hold(t["hold"])
            fault.remove(server)
            end = time.monotonic()
            back = until_normal(server.port, load, end, t["patience"])
            time.sleep(t["after"])
            alive = server.proc.poll() is None
        finally:
            out = figures(load, watch, events, [(begin, end)] if end else [], server)
    finally:
        fault.cleanup()
    return {
        **out,
        "seconds_to_normal": t["patience"] if back is None else back,
        "recovered": int(back is not None),
        "fault_s": end - begin,
        "server_alive": int(alive),
        **fault.details,
    }


def restarts(name: str, src, work: Path, quick: bool) -> dict:
    """SIGKILL at random moments (``kills`` times), or one SIGTERM, under load; the server
    started again at once each time."""
    t = TIMES[quick]
    publish(str(work / "store"))
    events = str(work / "events")
    server, load, watch = started(src, str(work / "store"), events, work)
    rng = random.Random(7)
    windows, ready, extra = [], [], {}
    try:
        for _ in range(t["kills"] if name == "sigkill" else 1):
            time.sleep(rng.uniform(0.2, 1.5) if name == "sigkill" else t["warm"])
            begin = time.monotonic()
            server.kill(signal.SIGKILL if name == "sigkill" else signal.SIGTERM)
            code = server.wait(60)
            if name == "sigterm":
                extra = {"exit_code": code, "shutdown_s": time.monotonic() - begin}
            server.start()
            again = time.monotonic()
            back = until_normal(server.port, load, again, 120)
            if back is None:
                raise RuntimeError(f"lumos serve did not start again:\n{server.said()}")
            ready.append(back)
            windows.append((begin, again + back))
        time.sleep(t["after"])
    finally:
        out = figures(load, watch, events, windows, server)
    return {
        **out,
        "restart_to_ready_s": statistics.median(ready),
        "restart_to_ready_max_s": max(ready),
        "restarts": len(ready),
        **extra,
    }
