"""The served-events writer: what the server showed, written together every ``flush_ms``."""

from __future__ import annotations

import threading


class ServedWriter:
    """Served events, written together every ``flush_ms`` by one thread (one fsync for all).

    They record what the server showed, so the response does not wait for
    them; events clients send are durable before their answer.
    """

    def __init__(self, sink, flush_ms: float):
        self.sink, self.wait = sink, flush_ms / 1000
        self.pending, self.lock = [], threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="served-events")
        self.thread.start()

    def add(self, lines: list[str]) -> None:
        with self.lock:
            self.pending.extend(lines)

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if batch:
            self.sink.append_served(batch)

    def _run(self) -> None:
        while not self.stopped.wait(self.wait):
            try:
                self.flush()
            except ValueError:  # the sink was closed under a server that was never stopped
                if getattr(self.sink, "closed", False):
                    return
                raise

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.flush()
