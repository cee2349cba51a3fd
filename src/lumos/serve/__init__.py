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
]


def run_server(app, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` with uvicorn, without what serving behind no proxy needs (a few % of CPU)."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
