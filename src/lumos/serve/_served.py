"""The served-events writer: what the server showed, written together every ``flush_ms``."""

from __future__ import annotations

import threading

#: The most served events kept waiting for the log (past it, new ones are dropped and counted).
MAX_PENDING = 200_000


class ServedWriter:
    """Served events, written together every ``flush_ms`` by one thread (one fsync for all).

    They record what the server showed, so the response does not wait for
    them; events clients send are durable before their answer. The thread
    survives every error of the sink: a batch that could not be written waits
    for the next round (the log keeps nothing of a failed batch), the waiting
    events are bounded by ``max_pending`` (events past it are dropped and
    counted in ``dropped``, never silently), and ``problem`` says why it cannot
    write while it cannot (the server is not ready meanwhile).
    """

    def __init__(self, sink, flush_ms: float, *, max_pending: int = MAX_PENDING):
        self.sink, self.wait = sink, flush_ms / 1000
        self.max_pending = int(max_pending)
        self.pending, self.lock = [], threading.Lock()
        self.dropped = 0  # served events given up for want of room while the log failed
        self.faults = 0  # rounds whose write failed
        self.problem: str | None = None  # why the last round failed; None once one succeeds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="served-events")
        self.thread.start()

    def add(self, lines: list[str]) -> None:
        with self.lock:
            room = self.max_pending - len(self.pending)
            if len(lines) > room:
                self.dropped += len(lines) - max(room, 0)
                lines = lines[: max(room, 0)]
            self.pending.extend(lines)

    def flush(self) -> bool:
        """Write what waits; False (and the batch kept for the next round) when the sink
        fails."""
        with self.lock:
            batch, self.pending = self.pending, []
        if not batch:
            return True
        try:
            self.sink.append_served(batch)
        except Exception as exc:  # any fault of the sink: keep the batch, say why, go on
            with self.lock:
                self.pending[:0] = batch
                over = len(self.pending) - self.max_pending
                if over > 0:  # the oldest stay (they were shown first); the newest go
                    del self.pending[self.max_pending :]
                    self.dropped += over
            self.faults += 1
            self.problem = f"{type(exc).__name__}: {exc}"
            return False
        self.problem = None
        return True

    def _run(self) -> None:
        while not self.stopped.wait(self.wait):
            if getattr(self.sink, "closed", False):
                return  # the sink was closed under a server that was never stopped
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what waits (a last failure leaves ``problem`` set)."""
        self.stopped.set()
        self.thread.join()
        if not getattr(self.sink, "closed", False):
            self.flush()
