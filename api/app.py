"""The HTTP layer: thin handlers, optional auth, and the ONE mapping of errors to HTTP.

Every error body is a ``shared.schema.BifrostError``: 400 invalid parameter (``error.param``
names it), 401 missing/wrong credentials, 404 unknown log or route, 405, 503 OpenSearch
unavailable, 500 anything unexpected (logged here, never a traceback in the body).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme
from litestar.params import Parameter

from api.docs import Health, LogEntryDoc, LogsBody, LogsResponse, Pagination
from api.params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ORDER_VALUES,
    SORT_BY_VALUES,
    STATUS_VALUES,
    InvalidParameter,
    parse_params,
)
from api.settings import ApiSettings
from api.store import LogStore
from shared.errors import HeimdallError, StoreUnavailable
from shared.schema import BifrostError, ErrorField

log = logging.getLogger("api")

DOCS_PATH: Final = "/docs"
OPENAPI_JSON: Final = f"{DOCS_PATH}/openapi.json"
_JSON: Final = "application/json"
_WWW_AUTHENTICATE: Final = 'Bearer realm="heimdall", Basic realm="heimdall"'


class LogNotFound(HeimdallError):
    """No log has this id (HTTP 404)."""


class Unauthorized(HeimdallError):
    """Credentials missing or wrong (HTTP 401)."""


# ---------------------------------------------------------------- errors -> HTTP (one place)


def _error(
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
    return _error(400, exc.message, exc.param)


def _on_unauthorized(_: Request[Any, Any, Any], exc: Unauthorized) -> Response[bytes]:
    return _error(401, str(exc), headers={"WWW-Authenticate": _WWW_AUTHENTICATE})


def _on_not_found(_: Request[Any, Any, Any], exc: LogNotFound) -> Response[bytes]:
    return _error(404, "log not found")


def _on_unavailable(_: Request[Any, Any, Any], exc: StoreUnavailable) -> Response[bytes]:
    return _error(
        503,
        "the log store (OpenSearch) is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


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
        return _error(status, "internal server error")
    return _error(status, message, param, headers=exc.headers)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "internal server error")


EXCEPTION_HANDLERS: Final[dict[type[Exception] | int, Any]] = {
    InvalidParameter: _on_invalid,
    Unauthorized: _on_unauthorized,
    LogNotFound: _on_not_found,
    StoreUnavailable: _on_unavailable,
    HTTPException: _on_http,
    Exception: _on_unexpected,
}


# ---------------------------------------------------------------- authentication


class Authenticator:
    """Bearer / x-api-key tokens and Basic credentials, compared in constant time."""

    def __init__(self, settings: ApiSettings) -> None:
        self.tokens = settings.tokens()
        self.basic: tuple[bytes, bytes] | None = None
        if settings.basic_enabled():
            self.basic = (
                settings.api_basic_username.encode(),
                settings.api_basic_password.reveal().encode(),
            )
        self.enabled = bool(self.tokens) or self.basic is not None

    def _token_ok(self, presented: str) -> bool:
        candidate = presented.strip().encode()
        ok = False
        for token in self.tokens:  # no early exit: time does not depend on which token
            ok |= hmac.compare_digest(candidate, token)
        return ok and bool(candidate)

    def _basic_ok(self, encoded: str) -> bool:
        if self.basic is None:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(user, self.basic[0])
        password_ok = hmac.compare_digest(password, self.basic[1])
        return bool(sep) and user_ok and password_ok

    def check(self, headers: Mapping[str, str]) -> None:
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        api_key = headers.get("x-api-key")
        if api_key is not None and self.tokens and self._token_ok(api_key):
            return
        if scheme.lower() == "bearer" and self.tokens and self._token_ok(credentials):
            return
        if scheme.lower() == "basic" and self._basic_ok(credentials):
            return
        if api_key is None and not authorization:
            raise Unauthorized(
                "authentication required: send 'Authorization: Bearer <token>', "
                "'x-api-key: <token>' or HTTP Basic credentials"
            )
        raise Unauthorized("invalid credentials")


# ---------------------------------------------------------------- handlers


def _p(description: str, **schema: Any) -> Any:
    """A documented query parameter. Values arrive as raw strings and are validated by
    :func:`api.params.parse_params` (400 BifrostError naming the parameter); ``schema`` is
    the contract's type for the generated OpenAPI document."""
    extra: dict[str, Any] = {"type": "string", **schema, "oneOf": None}
    return Parameter(description=description, required=False, schema_extra=extra)


_ERROR_DESCRIPTIONS: Final = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Log not found",
    500: "Internal server error",
    503: "Log store unavailable",
}


def _error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries of the ``BifrostError`` answers a route can give."""
    return {
        code: ResponseSpec(
            data_container=BifrostError,
            description=_ERROR_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in codes
    }


@get(
    "/logs",
    summary="Get logs",
    description=(
        "Filter, search, sort and page request logs. Comma lists are OR within a parameter "
        "and AND across parameters; ranges are inclusive. Also accepts metadata_<key>=<value> "
        "(exact match on metadata). List items leave out the heavy payloads (raw_request, "
        "raw_response, histories, outputs, embeddings, tools, params, cache_debug, ...); "
        "GET /api/logs/{id} returns everything. Pages past offset+limit=10000 need cursor."
    ),
    operation_id="getLogs",
    tags=["Logging"],
    responses={
        200: ResponseSpec(
            data_container=LogsResponse, description="Successful response", generate_examples=False
        ),
        **_error_responses(400, 401, 500, 503),
    },
)
async def list_logs(
    request: Request[Any, Any, Any],
    store: NamedDependency[LogStore],
    providers: Annotated[str | None, _p("Comma-separated list of providers to filter by")] = None,
    models: Annotated[str | None, _p("Comma-separated list of models to filter by")] = None,
    status: Annotated[
        str | None,
        _p(
            "Comma-separated list of statuses to filter by (" + ", ".join(STATUS_VALUES) + ")",
            type="string",
        ),
    ] = None,
    objects: Annotated[str | None, _p("Comma-separated list of object types to filter by")] = None,
    selected_key_ids: Annotated[
        str | None, _p("Comma-separated list of selected key IDs to filter by")
    ] = None,
    virtual_key_ids: Annotated[
        str | None, _p("Comma-separated list of virtual key IDs to filter by")
    ] = None,
    routing_rule_ids: Annotated[
        str | None, _p("Comma-separated list of routing rule IDs to filter by")
    ] = None,
    parent_request_id: Annotated[
        str | None, _p("Fallback attempts of these original request ids (comma-separated)")
    ] = None,
    request_id: Annotated[str | None, _p("Logs with these ids (comma-separated)")] = None,
    start_time: Annotated[
        str | None,
        _p("Start time filter, inclusive (RFC3339 format)", type="string", format="date-time"),
    ] = None,
    end_time: Annotated[
        str | None,
        _p("End time filter, inclusive (RFC3339 format)", type="string", format="date-time"),
    ] = None,
    min_latency: Annotated[
        str | None, _p("Minimum latency filter (ms, inclusive)", type="number")
    ] = None,
    max_latency: Annotated[
        str | None, _p("Maximum latency filter (ms, inclusive)", type="number")
    ] = None,
    min_tokens: Annotated[
        str | None, _p("Minimum tokens filter (total_tokens, inclusive)", type="integer")
    ] = None,
    max_tokens: Annotated[
        str | None, _p("Maximum tokens filter (total_tokens, inclusive)", type="integer")
    ] = None,
    min_cost: Annotated[str | None, _p("Minimum cost filter (USD, inclusive)", type="number")] = (
        None
    ),
    max_cost: Annotated[str | None, _p("Maximum cost filter (USD, inclusive)", type="number")] = (
        None
    ),
    missing_cost_only: Annotated[
        str | None,
        _p("Only show logs with missing cost (absent or <= 0, status not error)", type="boolean"),
    ] = None,
    content_search: Annotated[
        str | None,
        _p(
            "Search in request/response content: every word must match (case-insensitive); "
            '"quoted phrases" match as phrases. Always literal text.',
            type="string",
            maxLength=1000,
        ),
    ] = None,
    limit: Annotated[
        str | None,
        _p(
            "Number of logs to return (default 50, max 1000)",
            type="integer",
            default=DEFAULT_LIMIT,
            minimum=1,
            maximum=MAX_LIMIT,
        ),
    ] = None,
    offset: Annotated[
        str | None,
        _p(
            "Number of logs to skip (offset + limit <= 10000)", type="integer", default=0, minimum=0
        ),
    ] = None,
    sort_by: Annotated[
        str | None,
        _p("Field to sort by", type="string", enum=list(SORT_BY_VALUES), default="timestamp"),
    ] = None,
    order: Annotated[
        str | None,
        _p("Sort order", type="string", enum=list(ORDER_VALUES), default="desc"),
    ] = None,
    cursor: Annotated[
        str | None,
        _p(
            "Opaque cursor: next_cursor of the previous page (same filters and sort); "
            "pages past the 10000 result window",
            type="string",
        ),
    ] = None,
) -> Response[bytes]:
    q = parse_params(request.query_params.dict())
    page = await store.search(q)
    body = LogsBody(
        logs=page.logs,
        total=page.total,
        offset=page.offset,
        limit=q.limit,
        pagination=Pagination(
            limit=q.limit,
            offset=page.offset,
            sort_by=q.sort_by,
            order=q.order,
            total_count=page.total,
        ),
        stats=page.stats,
        has_logs=page.has_logs,
        next_cursor=page.next_cursor,
    )
    return Response(content=msgspec.json.encode(body), media_type=_JSON)


@get(
    # ``path``, not ``str``: a log id may contain "/" (sent as %2F).
    "/logs/{id:path}",
    summary="Get a single log entry",
    description="Retrieves a single log entry by its ID, with every field as ingested.",
    operation_id="getLogById",
    tags=["Logging"],
    responses={
        200: ResponseSpec(
            data_container=LogEntryDoc, description="Successful response", generate_examples=False
        ),
        **_error_responses(400, 401, 404, 500, 503),
    },
)
async def get_log(
    store: NamedDependency[LogStore], id: Annotated[str, Parameter(description="Log entry ID")]
) -> Response[bytes]:
    log_id = id.removeprefix("/")  # a path parameter starts with its separator
    source = await store.get(log_id)
    if source is None:
        raise LogNotFound(log_id)
    return Response(content=bytes(source), media_type=_JSON)


@get(
    "/health",
    summary="Health check",
    description="200 when OpenSearch answers, 503 when it does not. Never needs credentials.",
    tags=["Health"],
    responses={
        503: ResponseSpec(
            data_container=Health, description="OpenSearch unreachable", generate_examples=False
        )
    },
)
async def health(
    store: NamedDependency[LogStore], settings: NamedDependency[ApiSettings]
) -> Response[Health]:
    if await store.ping(settings.api_health_timeout):
        return Response(Health(status="ok", opensearch="reachable"))
    return Response(Health(status="unavailable", opensearch="unreachable"), status_code=503)


# ---------------------------------------------------------------- app factory

_SECURITY_SCHEMES: Final[dict[str, SecurityScheme | Reference]] = {
    "BearerAuth": SecurityScheme(type="http", scheme="bearer", description="API token."),
    "BasicAuth": SecurityScheme(type="http", scheme="basic", description="Username/password."),
    "ApiKeyAuth": SecurityScheme(
        type="apiKey", name="x-api-key", security_scheme_in="header", description="API token."
    ),
}


def create_app(settings: ApiSettings | None = None, store: LogStore | None = None) -> Litestar:
    """Build the app. ``store`` defaults to a :class:`LogStore` over ``settings``."""
    settings = settings if settings is not None else ApiSettings()
    log_store = store if store is not None else LogStore(settings)
    authenticator = Authenticator(settings)

    def require_credentials(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        if authenticator.enabled:
            authenticator.check(connection.headers)

    security: list[dict[str, list[str]]] = [
        {"BearerAuth": []},
        {"BasicAuth": []},
        {"ApiKeyAuth": []},
    ]
    api = Router(
        path="/api",
        route_handlers=[list_logs, get_log],
        guards=[require_credentials],
        security=security if authenticator.enabled else None,
    )

    async def close_store() -> None:
        await log_store.close()

    return Litestar(
        route_handlers=[api, health],
        dependencies={
            "store": _constant(log_store),
            "settings": _constant(settings),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        on_shutdown=[close_store],
        openapi_config=OpenAPIConfig(
            title="Heimdall log search API",
            version="1.0.0",
            description=(
                "Bifrost-compatible log search over OpenSearch. See docs/api.md. "
                "Authentication (Bearer, Basic or x-api-key) applies to /api/* when configured."
            ),
            path=DOCS_PATH,
            render_plugins=[JsonRenderPlugin(path="/openapi.json"), SwaggerRenderPlugin(path="/")],
            components=Components(security_schemes=_SECURITY_SCHEMES),
        ),
        debug=False,
    )


def _constant(value: Any) -> Provide:
    async def provide() -> Any:
        return value

    return Provide(provide, use_cache=True)
