"""A local WebSocket server that speaks Bifrost's live-log protocol, for the bridge's tests.

It follows Bifrost's ``transports/bifrost-http/handlers/websocket.go`` and auth middleware:
``GET /ws`` (or ``/ws/logs``); with credentials set, ``Authorization: Basic`` (admin user),
``Authorization: Bearer <session>`` or ``?token=<session>`` on the upgrade, else 401; the
Origin check (none only from localhost, else localhost or an allowed origin, else 403);
server pings; client messages read and discarded; every message broadcast to every client
connected at that moment, never replayed. Tests can make it drop its clients (a network
failure, or a close frame as on a restart) and refuse handshakes for a while (Bifrost down).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec
from aiohttp import WSMsgType, web

from ingest.bridge.service import Bridge

_LOCAL = ("localhost", "127.0.0.1", "::1", "")


def _local(host: str) -> bool:
    return (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).strip("[]") in _LOCAL


def log_message(payload: dict[str, Any]) -> bytes:
    """Bifrost's envelope: ``create`` iff processing and ``created_at == timestamp``."""
    create = payload.get("status") == "processing" and payload.get("created_at") == payload.get(
        "timestamp"
    )
    operation = "create" if create else "update"
    return msgspec.json.encode({"type": "log", "operation": operation, "payload": payload})


class FakeBifrost:
    def __init__(
        self,
        *,
        path: str = "/ws",
        username: str = "",
        password: str = "",
        sessions: tuple[str, ...] = (),
        allowed_origins: tuple[str, ...] = (),
        ping_seconds: float = 30.0,
    ) -> None:
        self.path = path
        self.username = username
        self.password = password
        self.sessions = sessions
        self.allowed_origins = allowed_origins
        self.ping_seconds = ping_seconds
        self.clients: set[web.WebSocketResponse] = set()
        self._transports: dict[web.WebSocketResponse, asyncio.BaseTransport | None] = {}
        self.handshakes: list[dict[str, str]] = []
        self.offline = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        await self.drop("close")
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorized(self, request: web.Request) -> bool:
        if not (self.username or self.sessions):
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Basic":
            try:
                user, _, password = base64.b64decode(token).decode().partition(":")
            except ValueError:
                return False
            return bool(self.username) and (user, password) == (self.username, self.password)
        if scheme == "Bearer":
            return token in self.sessions
        if not scheme and request.headers.get("Upgrade", "").lower() == "websocket":
            return request.query.get("token", "") in self.sessions
        return False

    def _origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin", "")
        if not origin:
            return _local(request.headers.get("Host", ""))
        return _local(urlsplit(origin).netloc) or origin in self.allowed_origins

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.handshakes.append(dict(request.headers))
        if self.offline:
            return web.Response(status=503, text="restarting")
        if not self._authorized(request):
            return web.json_response({"error": {"message": "Unauthorized"}}, status=401)
        if not self._origin_allowed(request):
            return web.Response(status=403, text="Forbidden")
        ws = web.WebSocketResponse(heartbeat=self.ping_seconds, max_msg_size=50 << 20)
        await ws.prepare(request)
        self.clients.add(ws)
        self._transports[ws] = request.transport
        try:
            async for message in ws:  # read and discard, as Bifrost does
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(ws)
            self._transports.pop(ws, None)
        return ws

    async def broadcast(self, message: bytes) -> int:
        """Send to every connected client; returns how many it reached."""
        reached = 0
        for ws in list(self.clients):
            try:
                await ws.send_str(message.decode())
                reached += 1
            except (ConnectionError, RuntimeError):
                self.clients.discard(ws)
        return reached

    async def drop(self, how: Literal["abort", "close"]) -> None:
        """``abort``: the TCP connections just break (network failure); ``close``: a close
        frame (1001, going away), as when Bifrost shuts down."""
        for ws in list(self.clients):
            if how == "close":
                await ws.close(code=1001, message=b"shutting down")
            else:
                transport = self._transports.get(ws)
                if isinstance(transport, asyncio.Transport):
                    transport.abort()
            self.clients.discard(ws)
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def bridge_running(bridge: Bridge) -> AsyncIterator[Bridge]:
    """Run ``bridge`` as a task; stop it (and wait for its acknowledgements) at exit."""
    task = asyncio.create_task(bridge.run())
    try:
        yield bridge
    finally:
        bridge.stop()
        await asyncio.wait_for(task, 30)
