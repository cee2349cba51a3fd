"""``/healthz``, ``/readyz`` and ``/metrics``: whether the server lives, can answer, and its
counters."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from lumos.errors import ApiError
from lumos.serve._services import services

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request):
    """200 with the live version; 503 with the reason while the server cannot answer: no
    version published, served events that cannot be written, a store that does not answer
    (``store_unavailable``, with ``Retry-After``)."""
    s = services(request)
    live = s.store.version
    if live is None:
        raise ApiError(503, "not_ready", "the store has no published version yet")
    if s.served is not None and s.served.problem is not None:  # it cannot record what it shows
        raise ApiError(
            503,
            "not_ready",
            f"served events cannot be written to the event log ({s.served.problem}); "
            f"{len(s.served.pending):,} wait, {s.served.dropped:,} dropped so far",
        )
    s.metrics.live(live)
    return {"status": "ready", "version": live}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> str:
    s = services(request)
    for table, size in s.held().items():
        s.metrics.held.labels(table).set(size)
    s.metrics.key_reload_errors.set(s.keys.reload_errors)
    s.metrics.quarantined.set(getattr(s.events, "quarantined", 0))
    s.metrics.log_faults.set(getattr(s.events, "write_faults", 0))
    s.metrics.store_faults.set(getattr(s.store, "faults", 0))
    if s.served is not None:
        s.metrics.served_dropped.set(s.served.dropped)
        s.metrics.served_faults.set(s.served.faults)
    return s.metrics.text()
