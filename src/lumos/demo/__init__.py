"""``lumos demo``: one generated population through every system, then served.

:func:`run_demo` writes everything into a folder; :func:`demo_config` is the
server configuration over that folder, and :func:`demo_app` the app ``lumos
demo`` serves (with its two first-pass rankers running as their own services).
"""

from lumos.demo._app import demo_app, demo_config
from lumos.demo._run import HEALTH_GROUPS, run_demo

__all__ = ["HEALTH_GROUPS", "demo_app", "demo_config", "run_demo"]
