"""The API's errors and the ONE mapping of errors to HTTP responses.

Every error body is a ``shared.schema.BifrostError``: 400 invalid parameter (``error.param``
names it), 401 missing/wrong credentials, 403 a role
that does not allow the route, 404 unknown log or route, 405, 414/431 request
too large (:mod:`api.server`), 503 OpenSearch unavailable, 500 anything unexpected (logged
here, never a traceback in the body).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from api.auth import WWW_AUTHENTICATE, Forbidden, Unauthorized
from api.parsing import InvalidParameter
from api.server import RequestRefused
from shared.errors import HeimdallError, StoreUnavailable
from shared.schema import BifrostError, ErrorField

log = logging.getLogger("api")

_JSON: Final = "application/json"


class NotFound(HeimdallError):
    """No such resource (HTTP 404); the message is the response's."""


class LogNotFound(NotFound):
    """No log has this id (HTTP 404 ``log not found``)."""

    def __str__(self) -> str:
        return "log not found"


def error_response(
    status: int, message: str, param: str | None = None, headers: Mapping[str, str] | None = None
) -> Response[bytes]:
    body = BifrostError(status_code=status, error=ErrorField(message=message, param=param))
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=_JSON,
        headers=dict(headers or {}),
    )


def _on_invalid(_: Request[Any, Any, Any], exc: InvalidParameter) -> Response[bytes]:
    return error_response(400, exc.message, exc.param)


def _on_unauthorized(_: Request[Any, Any, Any], exc: Unauthorized) -> Response[bytes]:
    return error_response(401, str(exc), headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def _on_forbidden(_: Request[Any, Any, Any], exc: Forbidden) -> Response[bytes]:
    return error_response(403, str(exc))


def _on_not_found(_: Request[Any, Any, Any], exc: NotFound) -> Response[bytes]:
    return error_response(404, str(exc))


def _on_unavailable(_: Request[Any, Any, Any], exc: StoreUnavailable) -> Response[bytes]:
    return error_response(
        503,
        "the log store (OpenSearch) is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


def _on_refused(_: Request[Any, Any, Any], exc: RequestRefused) -> Response[bytes]:
    return error_response(exc.status, exc.message)


def _on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors: routing 404, 405, request validation."""
    param = None
    message = exc.detail
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        first = exc.extra[0]
        if isinstance(first, dict):
            param = str(first.get("key")) if first.get("key") else None
            message = str(first.get("message") or message)
            if param:
                message = f"{param}: {message}"
    status = exc.status_code
    if status >= 500:
        log.error("HTTP %s: %s", status, exc.detail)
        return error_response(status, "internal server error")
    return error_response(status, message, param, headers=exc.headers)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error")


EXCEPTION_HANDLERS: Final[dict[type[Exception] | int, Any]] = {
    InvalidParameter: _on_invalid,
    Unauthorized: _on_unauthorized,
    Forbidden: _on_forbidden,
    NotFound: _on_not_found,
    StoreUnavailable: _on_unavailable,
    RequestRefused: _on_refused,
    HTTPException: _on_http,
    Exception: _on_unexpected,
}
