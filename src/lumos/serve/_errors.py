"""Every error the API answers is JSON ``{"code", "message", "field"}`` with its status."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumos.errors import ApiError, LumosError, Unavailable


def error_response(exc: ApiError, headers: dict | None = None) -> JSONResponse:
    body = {"code": exc.code, "message": exc.message, "field": exc.field}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def unavailable_response(exc: Unavailable) -> JSONResponse:
    """503 with ``Retry-After``: the event log or the store cannot answer now (nothing of
    the request was done, or it is safe to send again), and the client tries again later."""
    retry = {"Retry-After": str(int(exc.retry_after))}
    return error_response(ApiError(503, exc.code, exc.message), retry)


def add_error_handlers(app: FastAPI) -> None:
    """Answer Lumos's errors, invalid requests and HTTP errors in the one JSON shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return error_response(exc)

    @app.exception_handler(Unavailable)
    async def _unavailable(request, exc: Unavailable):
        return unavailable_response(exc)

    @app.exception_handler(LumosError)
    async def _lumos_error(request, exc: LumosError):
        field = getattr(exc, "column", None)
        return error_response(ApiError(400, exc.code, exc.message, field))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = first.get("msg", "invalid request")
        return error_response(ApiError(422, "invalid_request", message, field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        status, detail = exc.status_code, str(exc.detail)
        if status == 404:
            return error_response(ApiError(404, "not_found", detail))
        if status == 405:
            return error_response(ApiError(405, "method_not_allowed", detail))
        return error_response(ApiError(status, "http_error", detail))
