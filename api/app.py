"""The application factory: routes by resource (``api/routes``), optional auth, the error
mapping (:mod:`api.errors`), ``/health`` and the OpenAPI document."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from litestar import Litestar, Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme

from api.auth import Authenticator
from api.docs import Health
from api.errors import EXCEPTION_HANDLERS, error_response
from api.freshness import (
    PROGRESS_QUERY,
    Freshness,
    FreshnessCache,
    freshness_headers,
    parse_progress,
)
from api.live import LiveHub
from api.routes import ROUTES
from api.routes.common import JSON, PROVIDE_QUERY, QUERY
from api.routes.logs import misrouted_log
from api.routes.stream import WS_ROUTES
from api.server import oversize
from api.settings import ApiSettings
from api.store import LogStore
from api.web import swagger_plugin, web_routes
from shared.ops_index import progress_index

DOCS_PATH: Final = "/docs"
OPENAPI_JSON: Final = f"{DOCS_PATH}/openapi.json"


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


_SECURITY_SCHEMES: Final[dict[str, SecurityScheme | Reference]] = {
    "BearerAuth": SecurityScheme(type="http", scheme="bearer", description="API token."),
    "BasicAuth": SecurityScheme(type="http", scheme="basic", description="Username/password."),
    "ApiKeyAuth": SecurityScheme(
        type="apiKey", name="x-api-key", security_scheme_in="header", description="API token."
    ),
}


def _check_size(request: Request[Any, Any, Any]) -> None:
    """The server's request limits (:mod:`api.server`), also under another ASGI server."""
    scope = request.scope
    path = (scope.get("raw_path") or b"").split(b"?", 1)[0]  # some clients' raw_path has it
    url = len(path) + len(scope.get("query_string") or b"")
    headers = sum(len(name) + len(value) for name, value in scope["headers"])
    refusal = oversize(url, headers)
    if refusal is not None:
        raise refusal


def _errors_are_json(response: Response[Any]) -> Response[Any]:
    """A handler's own non-JSON error (the OpenAPI router's HTML 404 for an unknown page
    under /docs) becomes a ``BifrostError`` like every other error."""
    status = response.status_code or 200
    if status >= 400 and (response.media_type or JSON).startswith("text/"):
        return error_response(status, HTTPStatus(status).phrase)
    return response


def create_app(settings: ApiSettings | None = None, store: LogStore | None = None) -> Litestar:
    """Build the app. ``store`` defaults to a :class:`LogStore` over ``settings``."""
    settings = settings if settings is not None else ApiSettings()
    log_store = store if store is not None else LogStore(settings)
    authenticator = Authenticator(settings)
    hub = LiveHub(log_store, settings)

    async def read_progress() -> Freshness:
        index = progress_index(log_store.alias)
        return parse_progress(await log_store.query("freshness", PROGRESS_QUERY, index=index))

    freshness = FreshnessCache(read_progress)

    async def add_freshness(response: Response[Any]) -> Response[Any]:
        for name, value in freshness_headers(await freshness.get()).items():
            response.headers[name] = value
        return response

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
        route_handlers=ROUTES,
        guards=[require_credentials],
        dependencies={QUERY: PROVIDE_QUERY},
        after_request=add_freshness,
        security=security if authenticator.enabled else None,
    )

    async def before_request(request: Request[Any, Any, Any]) -> Response[bytes] | None:
        _check_size(request)
        return await misrouted_log(request, log_store)

    async def close_store() -> None:
        await hub.close()
        await log_store.close()

    return Litestar(
        route_handlers=[api, health, *WS_ROUTES, *web_routes()],
        dependencies={
            "store": _constant(log_store),
            "settings": _constant(settings),
            "authenticator": _constant(authenticator),
            "freshness": _constant(freshness),
            "hub": _constant(hub),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=before_request,
        after_request=_errors_are_json,
        on_shutdown=[close_store],
        openapi_config=OpenAPIConfig(
            title="Heimdall log search API",
            version="1.0.0",
            description=(
                "Bifrost-compatible log search over OpenSearch. See docs/api.md. "
                "Authentication (Bearer, Basic or x-api-key) applies to /api/* when configured."
            ),
            path=DOCS_PATH,
            render_plugins=[JsonRenderPlugin(path="/openapi.json"), swagger_plugin("/")],
            components=Components(security_schemes=_SECURITY_SCHEMES),
        ),
        debug=False,
    )


def _constant(value: Any) -> Provide:
    async def provide() -> Any:
        return value

    return Provide(provide, use_cache=True)
