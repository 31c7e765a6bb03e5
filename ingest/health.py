"""The ``/health`` and ``/metrics`` HTTP endpoints of a long-running process (aiohttp).

``/health`` answers 200 ``{"status": "ok", "reason": ...}`` while the process is healthy and
503 ``{"status": "unavailable", "reason": ...}`` otherwise; ``/metrics`` serves the
Prometheus text exposition.
"""

from __future__ import annotations

from collections.abc import Callable
from logging import Logger

import msgspec
from aiohttp import web


class HealthServer:
    """Serves ``health()`` (``(ok, reason)``) and ``metrics()`` (Prometheus text); says
    where it listens on ``log``."""

    def __init__(
        self, health: Callable[[], tuple[bool, str]], metrics: Callable[[], bytes], log: Logger
    ) -> None:
        self._health = health
        self._metrics = metrics
        self._log = log
        self._runner: web.AppRunner | None = None
        #: The port listened on (the one the OS chose when asked for port 0).
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health_handler)
        app.router.add_get("/metrics", self._metrics_handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        for address in self._runner.addresses:
            self.port = int(address[1])
            break
        self._log.info("http listening", extra={"host": host, "port": self.port})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _health_handler(self, request: web.Request) -> web.Response:
        ok, reason = self._health()
        body = {"status": "ok" if ok else "unavailable", "reason": reason}
        return web.Response(
            body=msgspec.json.encode(body),
            status=200 if ok else 503,
            content_type="application/json",
        )

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._metrics(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )
