"""``lumos serve --workers N``: N processes serving one port, each with an app of its own.

uvicorn's supervisor starts the workers (a worker that dies is started again), hands
each the listening socket, and on SIGTERM or SIGINT stops them all, each draining its
requests for the grace period and closing its parts (the logs synced, the offer
policy saved). A worker builds its app from the :class:`ServeConfig` the command
checked, passed down in the environment; a folder event log is opened by each as one
of its writers (:class:`~lumos.events.WorkerEventLog`): client events written once
across all, each worker's served events in a series of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os

from lumos.serve._config import ServeConfig, app_from_config

#: The environment variable that carries the configuration to the workers.
CONFIG_ENV = "LUMOS_SERVE_CONFIG"

#: uvicorn without what serving behind no proxy needs (a few % of CPU).
UVICORN = {"log_level": "warning", "access_log": False, "proxy_headers": False,
           "server_header": False}  # fmt: skip


def run_workers(config: ServeConfig, host: str, port: int, *, grace: float = 10.0) -> None:
    """Serve ``config`` with ``config.workers`` processes on ``host:port`` until SIGTERM or
    SIGINT. Check it first (:func:`check_config`): a bad part fails here, once, not in
    every worker."""
    import uvicorn

    given = dataclasses.asdict(config)
    if config.events_horizon is not None:
        given["events_horizon"] = config.events_horizon.isoformat()
    os.environ[CONFIG_ENV] = json.dumps(given)
    uvicorn.run(
        "lumos.serve._workers:worker_app",
        factory=True,
        workers=config.workers,
        host=host,
        port=port,
        timeout_graceful_shutdown=grace,
        **UVICORN,
    )


def check_config(config: ServeConfig):
    """Build the app of ``config`` once, as a worker would, and close it: every file read
    and checked. Returns the app, closed (its keys say who may do what)."""
    app = app_from_config(config)
    try:
        return app
    finally:
        asyncio.run(app.state.services.close())


def worker_app():
    """A worker's app: the configuration the command checked, from the environment."""
    given = json.loads(os.environ[CONFIG_ENV])
    return app_from_config(ServeConfig(**given))
