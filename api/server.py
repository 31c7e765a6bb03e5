"""The HTTP server of ``python -m api``: uvicorn, with every answer it gives on its own (a
request it cannot parse, a request line or headers over the limits) a ``BifrostError``.

uvicorn answers a request its parser refuses with ``400 text/plain "Invalid HTTP request
received."`` before the app sees it, and its parser refuses any request target over 64 KiB.
:class:`BifrostHttpProtocol` (uvicorn's httptools protocol) instead counts the request target
and the header bytes as they arrive, stops reading at :data:`MAX_URL_BYTES` (414) or
:data:`MAX_HEADER_BYTES` (431), and sends every refusal as a JSON ``BifrostError``. The app
checks the same limits itself (:func:`oversize`), for any other ASGI server.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

import msgspec
import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import ApiSettings
from shared.errors import HeimdallError
from shared.schema import BifrostError, ErrorField

#: Longest request target (path and query string), in bytes: 414 past it.
MAX_URL_BYTES: Final = 32 * 1024
#: Most header bytes (every name and value) of one request: 431 past it.
MAX_HEADER_BYTES: Final = 64 * 1024
#: Seconds a refused connection keeps reading (and discarding) what the client still sends,
#: so closing it does not reset the connection before the client has read the refusal.
LINGER_SECONDS: Final = 2.0


class RequestRefused(HeimdallError):
    """A request the server refuses as a whole (``status``: 400, 414 or 431)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def oversize(url_bytes: int, header_bytes: int) -> RequestRefused | None:
    """The refusal of a request whose target or headers are over the limits, else ``None``."""
    if url_bytes > MAX_URL_BYTES:
        return RequestRefused(
            414,
            f"request URL is over {MAX_URL_BYTES} bytes; send fewer or shorter parameters",
        )
    if header_bytes > MAX_HEADER_BYTES:
        return RequestRefused(431, f"request headers are over {MAX_HEADER_BYTES} bytes in total")
    return None


def error_body(status: int, message: str) -> bytes:
    return msgspec.json.encode(BifrostError(status_code=status, error=ErrorField(message=message)))


class BifrostHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above and ``BifrostError`` refusals."""

    _refusal: RequestRefused | None = None
    _header_bytes: int = 0
    _draining: bool = False

    def data_received(self, data: bytes) -> None:
        if not self._draining:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._refusal = None
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._check(oversize(len(self.url), self._header_bytes))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._header_bytes += len(name) + len(value)
        self._check(oversize(len(self.url), self._header_bytes))

    def _check(self, refusal: RequestRefused | None) -> None:
        if refusal is not None:
            self._refusal = refusal
            raise refusal  # the parser stops and uvicorn calls send_400_response

    def send_400_response(self, msg: str) -> None:
        refusal = self._refusal or RequestRefused(400, "invalid HTTP request")
        body = error_body(refusal.status, refusal.message)
        status = HTTPStatus(refusal.status)
        content = [f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode()]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        # Lingering close: half-close, discard the rest of the request, then close.
        self._draining = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


#: Seconds between the server's WebSocket pings (and to answer one).
WS_PING_SECONDS: Final = 30.0
#: Largest WebSocket message read from a client.
WS_MAX_BYTES: Final = 50 * 1024 * 1024
#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE_SECONDS: Final = 75


def config(app: Litestar, settings: ApiSettings) -> uvicorn.Config:
    """The uvicorn configuration ``python -m api`` runs (tests run the same)."""
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        http=BifrostHttpProtocol,
        log_level=settings.api_log_level.lower(),
        proxy_headers=False,
        server_header=False,
        # Dashboards poll every 5 s (Bifrost's logs page): with uvicorn's default 5 s the
        # server closes an idle connection just as the next poll reuses it (a reset request).
        # Longer than the usual load balancer idle timeout (60 s), so the proxy closes first.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # /ws as Bifrost (dashboards.md section 5): a ping every 30 s, a client that has not
        # answered within 30 s more is dropped, frames up to 50 MiB.
        ws_ping_interval=WS_PING_SECONDS,
        ws_ping_timeout=WS_PING_SECONDS,
        ws_max_size=WS_MAX_BYTES,
    )
