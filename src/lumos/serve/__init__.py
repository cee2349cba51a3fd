"""The HTTP API (FastAPI): recommendations, account insights, events, health and metrics;
and the web dashboard over them."""

from lumos.serve._app import COLD_START, ApiError, create_app, hash_key

__all__ = ["COLD_START", "ApiError", "create_app", "hash_key"]
