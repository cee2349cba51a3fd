"""A real redis-server to break: started on a fixed port with a data folder, killed with SIGKILL
and started again on the same port and folder; and a proxy that drops a connection at a
chosen request. For the tests, and for any benchmark that measures faults."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    """Whether a redis-server on ``port`` answers PING (not merely listens: it may be
    loading its data)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port`` (a free one by default), its data in ``folder``.

    ``durable=True`` appends every write to the AOF and fsyncs it before acknowledging it
    (``appendonly yes``, ``appendfsync always``): what Lumos needs for "acknowledged" to
    mean "survives a crash". ``durable=False`` persists nothing (for tests that never
    restart it).

    >>> server = RedisServer(tempfile.mkdtemp()).start()  # doctest: +SKIP
    >>> server.kill(); server.start()  # same port, same data  # doctest: +SKIP
    """

    def __init__(self, folder, port: int | None = None, *, durable: bool = True):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("redis-server is not on PATH; apt-get install redis-server")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.durable = durable
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, wait: float = 20.0) -> RedisServer:
        """Start it, and return once it answers PING."""
        persist = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", *persist, "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + wait
        while not answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; what a crash or an OOM kill does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def restart(self) -> RedisServer:
        """Kill it and start it again on the same port and folder."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> RedisServer:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Proxy:
    """A TCP proxy to a Redis port that can drop a connection in the middle of a request.

    After :meth:`cut` with ``marker``, the next request holding those bytes goes to Redis,
    which runs it; its answer is not passed on and both connections are closed: the
    request happened, and its client never hears so. ``then`` (a function) runs at that
    moment (e.g. kill Redis). Requests through a proxy are matched on the bytes they carry,
    so a marker should be something only the request aimed at holds.
    """

    def __init__(self, port: int):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.cuts = 0  # answers dropped so far
        self._marker: bytes | None = None
        self._then = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, marker: bytes, then=None) -> None:
        with self._lock:
            self._marker, self._then = marker, then

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=1)
                server.settimeout(None)
            except OSError:  # Redis is down: the client sees the connection closed
                client.close()
                continue
            marked = threading.Event()
            for args in ((client, server, marked, True), (server, client, marked, False)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source, sink, marked: threading.Event, to_redis: bool) -> None:
        try:
            while data := source.recv(65536):
                if to_redis:
                    with self._lock:
                        if self._marker is not None and self._marker in data:
                            self._marker = None
                            marked.set()
                elif marked.is_set():  # the answer to the marked request: dropped
                    with self._lock:
                        self.cuts += 1
                        then, self._then = self._then, None
                    if then is not None:  # before the client hears anything
                        then()
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.listener.close()
