"""What the server counts for ``/metrics``: requests, latency, events, rankers and the store."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The server's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self):
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "lumos_requests", "Requests by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "lumos_request_seconds",
            "Request latency",
            ["route"],
            registry=r,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.accepted = Counter("lumos_events_accepted", "Events accepted", registry=r)
        self.live_version = Gauge(
            "lumos_store_version", "1 for the store's live version", ["version"], registry=r
        )
        self.fpr_failures = Counter(
            "lumos_fpr_failures",
            "First-pass rankers left out of a page, by cohort and reason",
            ["cohort", "reason"],
            registry=r,
        )
        self.fpr_seconds = Histogram(
            "lumos_fpr_seconds",
            "First-pass ranker fetch time",
            ["cohort"],
            registry=r,
            buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 1.0),
        )

        self.refused_requests = Counter(
            "lumos_refused", "Requests refused for want of a key, by scope", ["scope"], registry=r
        )
        self.held = Gauge(
            "lumos_held_entries",
            "Entries the server holds per caller, by table (each bounded)",
            ["table"],
            registry=r,
        )
        self.quarantined = Gauge(
            "lumos_events_quarantined",
            "Lines of the event log set aside as unreadable (see the log's quarantine.jsonl)",
            registry=r,
        )
        self.log_faults = Gauge(
            "lumos_event_log_write_faults",
            "Batches the event log refused (disk full, read-only), each written not at all",
            registry=r,
        )
        self.served_dropped = Gauge(
            "lumos_served_dropped",
            "Served events dropped because the event log could not take them in time",
            registry=r,
        )
        self.served_faults = Gauge(
            "lumos_served_write_faults", "Rounds of served events the log refused", registry=r
        )
        self.store_faults = Gauge(
            "lumos_store_faults",
            "Store reads and writes that failed because the store (Redis) did not answer",
            registry=r,
        )
        self.key_reload_errors = Gauge(
            "lumos_keys_file_errors", "Times the keys file could not be read again", registry=r
        )

    def refused(self, scope: str) -> None:
        self.refused_requests.labels(scope).inc()

    def ranker_failed(self, cohort_id: str, reason: str) -> None:
        self.fpr_failures.labels(cohort_id, reason).inc()

    def ranker_fetched(self, cohort_id: str, seconds: float) -> None:
        self.fpr_seconds.labels(cohort_id).observe(seconds)

    def live(self, version: str) -> None:
        self.live_version.clear()
        self.live_version.labels(str(version)).set(1)

    def text(self) -> str:
        return generate_latest(self.registry).decode()


class Measure:
    """Pure ASGI middleware: a latency histogram and a request counter per route."""

    def __init__(self, app, *, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
            self.metrics.requests.labels(path, str(status[0])).inc()
