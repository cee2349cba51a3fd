"""The HTTP layer: one router per resource (recommendations, cohorts, offers, insights,
events, the dashboard's pages) over one services object; the server's config and loaders."""

from lumos.errors import ApiError
from lumos.serve._access import SCOPES, read_keys_file
from lumos.serve._app import create_app
from lumos.serve._config import (
    ServeConfig,
    app_from_config,
    check_binding,
    is_loopback,
    load_course_skills,
    load_course_titles,
    load_health,
    load_insights,
    load_offer_log,
    load_prioritizer_report,
    open_to_all,
)
from lumos.serve._services import Lazy, Services, hash_key
from lumos.serve._workers import UVICORN, check_config, run_workers
from lumos.store import COLD_START

__all__ = [
    "COLD_START",
    "SCOPES",
    "ApiError",
    "Lazy",
    "ServeConfig",
    "Services",
    "app_from_config",
    "check_binding",
    "check_config",
    "check_port",
    "create_app",
    "hash_key",
    "is_loopback",
    "load_course_skills",
    "load_course_titles",
    "load_health",
    "load_insights",
    "load_offer_log",
    "load_prioritizer_report",
    "open_to_all",
    "read_keys_file",
    "run_server",
    "run_workers",
]


def run_server(app, host: str = "127.0.0.1", port: int = 8000, *, grace: float = 10.0) -> None:
    """Serve ``app`` with uvicorn, without what serving behind no proxy needs (a few % of CPU).

    SIGTERM and SIGINT stop it cleanly: requests under way get ``grace`` seconds to
    finish, then the app shuts down (the logs flushed and synced, the offer policy saved),
    and the signal ends this process as an exception — ``SystemExit`` for SIGTERM — so
    every ``with`` block around the call (child services, stores) is left in order.
    """
    import signal

    import uvicorn

    def terminated(signum, frame):  # uvicorn raises the signal again once it has stopped
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=grace, **UVICORN)
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_port(host: str, port: int, option: str = "--port") -> None:
    """Fail at once, with ``error [port_in_use]``, when ``host:port`` is taken — before a
    command computes anything."""
    import socket

    from lumos.errors import LumosUserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host, port))
        except OSError as exc:
            raise LumosUserError(
                f"port {port} on {host} is taken ({exc.strerror}): another server is there. "
                f"Give {option} with a free one, or stop the other server.",
                code="port_in_use",
            ) from None
