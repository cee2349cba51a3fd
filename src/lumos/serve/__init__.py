"""The HTTP API (FastAPI): recommendations, account insights, events, health and metrics."""

from lumos.serve._app import COLD_START, ApiError, create_app, hash_key

__all__ = ["COLD_START", "ApiError", "create_app", "hash_key"]
