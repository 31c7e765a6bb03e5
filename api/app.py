"""The application factory: routes by resource (``api/routes``), optional auth, the error
mapping (:mod:`api.errors`), ``/health`` and the OpenAPI document.

Access control (docs/security.md) happens here, once for every route: a guard on the whole
app authenticates the caller (:class:`api.auth.Authenticator`), checks the role the route
asks for in its ``opt`` (``/api`` routes: ``read`` unless they say otherwise; a route that
says nothing elsewhere: ``admin``; ``public`` routes: no check) and records the caller's
:class:`api.tokens.Access` on the connection. Handlers receive it as the ``access``
dependency and the log store as ``store``: a view limited to the caller's scope
(:meth:`api.store.LogStore.scoped`), so every query a route sends is scoped."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Final, cast

from litestar import Litestar, Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme
from litestar.types import Scope

from api.auth import Authenticator, Unauthorized, require_role
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
from api.routes.common import JSON, PROVIDE_QUERY, PUBLIC_OPT, QUERY, ROLE_OPT
from api.routes.logs import is_misrouted_log, misrouted_log
from api.routes.stream import WS_ROUTES
from api.server import oversize
from api.settings import ApiSettings
from api.store import LogStore
from api.tokens import Access
from api.web import swagger_plugin, web_routes
from shared.ops_index import progress_index

log = logging.getLogger("api")
DOCS_PATH: Final = "/docs"
OPENAPI_JSON: Final = f"{DOCS_PATH}/openapi.json"
#: Where the guard records the caller's :class:`Access` in the ASGI scope.
ACCESS_KEY: Final = "heimdall.access"


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


def access_in(scope: Mapping[str, Any]) -> Access | None:
    """The caller the guard admitted (from the ASGI scope); ``None`` on a public route."""
    return cast("Access | None", scope.get(ACCESS_KEY))


def store_for(scope: Mapping[str, Any], store: LogStore) -> LogStore:
    """``store`` as the caller may see it (public routes: unscoped, they have no caller)."""
    access = access_in(scope)
    return store if access is None else store.scoped(access.scope)


def watch_sighup(callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGHUP, where the running loop can take signals (the server's
    main thread; not on Windows, nor in a test client's thread)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, callback)
    except (AttributeError, NotImplementedError, RuntimeError, ValueError):
        log.info("SIGHUP is not watched here; the tokens file is still checked for changes")


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

    def authorize(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if handler.opt.get(PUBLIC_OPT):
            return
        peer = connection.client.host if connection.client is not None else None
        access = authenticator.authenticate(connection.headers, peer)
        role = handler.opt.get(ROLE_OPT, "admin")
        if is_misrouted_log(connection.scope, handler):
            role = "read"  # answered as GET /api/logs/{id} by ``before_request``
        require_role(access, role)
        connection.scope[ACCESS_KEY] = access  # type: ignore[typeddict-unknown-key]

    async def provide_store(scope: Scope) -> LogStore:
        return store_for(cast("Mapping[str, Any]", scope), log_store)

    async def provide_access(scope: Scope) -> Access:
        access = access_in(cast("Mapping[str, Any]", scope))
        if access is None:  # a public route asked who the caller is: nobody was checked
            raise Unauthorized("authentication required")
        return access

    security: list[dict[str, list[str]]] = [
        {"BearerAuth": []},
        {"BasicAuth": []},
        {"ApiKeyAuth": []},
    ]
    api = Router(
        path="/api",
        route_handlers=ROUTES,
        opt={ROLE_OPT: "read"},
        dependencies={QUERY: PROVIDE_QUERY},
        after_request=add_freshness,
        security=security if authenticator.enabled else None,
    )

    async def before_request(request: Request[Any, Any, Any]) -> Response[bytes] | None:
        _check_size(request)
        return await misrouted_log(request, store_for(request.scope, log_store))

    async def close_store() -> None:
        await hub.close()
        await log_store.close()

    async def reread_tokens_on_sighup() -> None:
        if authenticator.file is not None:
            watch_sighup(authenticator.file.check_soon)

    return Litestar(
        # /health and the page in a public router, so that their OPTIONS handlers are public too.
        route_handlers=[
            api,
            Router(path="/", route_handlers=[health, *web_routes()], opt={PUBLIC_OPT: True}),
            *WS_ROUTES,
        ],
        dependencies={
            "store": Provide(provide_store),
            "access": Provide(provide_access),
            "settings": _constant(settings),
            "freshness": _constant(freshness),
            "hub": _constant(hub),
        },
        guards=[authorize],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=before_request,
        after_request=_errors_are_json,
        on_startup=[reread_tokens_on_sighup],
        on_shutdown=[close_store],
        openapi_config=OpenAPIConfig(
            title="Heimdall log search API",
            version="1.0.0",
            description=(
                "Bifrost-compatible log search over OpenSearch. See docs/api.md. "
                "Authentication (Bearer, Basic or x-api-key) applies to /api/* when configured."
            ),
            openapi_router=Router(path=DOCS_PATH, route_handlers=[], opt={PUBLIC_OPT: True}),
            render_plugins=[JsonRenderPlugin(path="/openapi.json"), swagger_plugin("/")],
            components=Components(security_schemes=_SECURITY_SCHEMES),
        ),
        debug=False,
    )


def _constant(value: Any) -> Provide:
    async def provide() -> Any:
        return value

    return Provide(provide, use_cache=True)
