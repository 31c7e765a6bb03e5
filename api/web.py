"""The logs explorer page and the offline assets of ``/docs``.

``web/`` holds the page's sources; ``web/build.mjs`` builds them into ``api/static`` (committed,
so the package serves the page without Node.js at run time): content-hashed bundles, an
``index.html`` pointing at them, Swagger UI's files from ``swagger-ui-dist`` and a
``manifest.json`` naming them. Every file under ``/static`` has a hashed or versioned name and
is cached for a year; ``/`` is revalidated on every load, so a new release shows at once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Final

import msgspec
from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

STATIC_DIR: Final = Path(__file__).parent / "static"
STATIC_PATH: Final = "/static"
FOREVER: Final = CacheControlHeader(max_age=365 * 24 * 3600, public=True, immutable=True)
REVALIDATE: Final = CacheControlHeader(no_cache=True)


class Manifest(msgspec.Struct, frozen=True):
    """``api/static/manifest.json``, written by ``web/build.mjs``: paths under ``/static``."""

    app_js: str
    app_css: str
    swagger_js: str
    swagger_css: str
    swagger_preset_js: str
    swagger_favicon: str


@cache
def manifest() -> Manifest:
    return msgspec.json.decode((STATIC_DIR / "manifest.json").read_bytes(), type=Manifest)


@cache
def _index_html() -> bytes:
    return (STATIC_DIR / "index.html").read_bytes()


@get(
    "/",
    summary="The logs explorer",
    description="The logs explorer page (HTML). Its state lives in the query string.",
    include_in_schema=False,
    cache_control=REVALIDATE,
)
async def index() -> Response[bytes]:
    return Response(_index_html(), media_type="text/html; charset=utf-8")


def web_routes() -> list[Router | HTTPRouteHandler]:
    """``GET /`` (the page) and ``/static/*`` (its assets and Swagger UI's)."""
    static = create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], cache_control=FOREVER, name="static"
    )
    return [index, static]


def swagger_plugin(path: str) -> SwaggerRenderPlugin:
    """Swagger UI at ``path`` with every asset served by this app (no CDN)."""
    m = manifest()
    favicon_url = json.dumps(f"{STATIC_PATH}/{m.swagger_favicon}")
    return SwaggerRenderPlugin(
        path=path,
        js_url=f"{STATIC_PATH}/{m.swagger_js}",
        css_url=f"{STATIC_PATH}/{m.swagger_css}",
        standalone_preset_js_url=f"{STATIC_PATH}/{m.swagger_preset_js}",
        favicon=f"<link rel='icon' type='image/png' href={favicon_url}>",
    )
