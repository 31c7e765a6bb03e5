"""The API through a real HTTP server (uvicorn on a free port, configured as ``python -m api``
configures it): every answer is a ``BifrostError``, including the server's own refusals, and
log ids keep every '/' they were sent with."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from litestar.testing import TestClient

from api.app import create_app
from api.server import MAX_HEADER_BYTES, MAX_URL_BYTES, config
from api.settings import ApiSettings
from tests.unit.test_api_app import FakeStore

ROOT = Path(__file__).resolve().parents[2]


class EchoStore(FakeStore):
    """Every id exists; the log is just its id, so a test sees which id was looked up."""

    async def get(self, log_id: str) -> msgspec.Raw | None:
        return msgspec.Raw(msgspec.json.encode({"id": log_id}))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1", api_port=0, api_log_level="error")
    uv = uvicorn.Server(config(create_app(settings, EchoStore(settings)), settings))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)


def raw_request(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client-side validation) and read the whole answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)  # the server drains what it refuses: no reset mid-send
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> str:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    decoded: dict[str, Any] = msgspec.json.decode(body)
    assert set(decoded) == {"status_code", "error", "is_bifrost_error", "extra_fields"}
    assert decoded["status_code"] == expected
    message: str = decoded["error"]["message"]
    return message


# ---------------------------------------------------------------- defect 3: ids with '/'


@pytest.mark.parametrize(
    ("path", "log_id"),
    [
        ("/api/logs/%2Fabc", "/abc"),
        ("/api/logs/%2F", "/"),
        ("/api/logs/%2F%2F", "//"),
        ("/api/logs/abc%2F", "abc/"),
        ("/api/logs/a%2F%2Fb", "a//b"),
        ("/api/logs/team%2Fa%20b", "team/a b"),
        ("/api/logs/a/b", "a/b"),
        ("/api/logs/plain", "plain"),
        ("/api/logs/%C3%A9t%C3%A9", "été"),
        ("/api/logs/%2Fabc?ignored=1", "/abc"),
    ],
)
def test_log_ids_keep_their_slashes(server: str, path: str, log_id: str) -> None:
    response = httpx.get(server + path)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": log_id}


def test_list_is_still_the_list(server: str) -> None:
    for path in ("/api/logs", "/api/logs/", "/api/logs?limit=1"):
        response = httpx.get(server + path)
        assert response.status_code == 200, (path, response.text)
        assert "logs" in response.json()


def test_id_that_is_not_utf8_is_a_400(server: str) -> None:
    status, headers, body = raw_request(
        server, b"GET /api/logs/%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert_error(status, headers, body, 400)
    assert msgspec.json.decode(body)["error"]["param"] == "id"


# ------------------------------------------- defect 2: the server's own errors are JSON


def test_long_query_string_is_a_414(server: str) -> None:
    for size in (MAX_URL_BYTES + 1, 100_000, 1_000_000):
        query = "models=" + "x" * size
        status, headers, body = raw_request(
            server, f"GET /api/logs?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert "over" in assert_error(status, headers, body, 414)


def test_the_app_enforces_the_limits_under_any_server() -> None:
    """In-process (no uvicorn): the app's own check answers the same refusals."""
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    with TestClient(create_app(settings, EchoStore(settings))) as client:
        long_url = client.get("/api/logs", params={"models": "x" * MAX_URL_BYTES})
        assert_error(long_url.status_code, dict(long_url.headers), long_url.content, 414)
        long_id = client.get("/api/logs/" + "x" * MAX_URL_BYTES)
        assert_error(long_id.status_code, dict(long_id.headers), long_id.content, 414)
        big = client.get("/api/logs", headers={"x-big": "y" * MAX_HEADER_BYTES})
        assert_error(big.status_code, dict(big.headers), big.content, 431)
        assert client.get("/api/logs", params={"models": "x" * 1000}).status_code == 200


def test_query_string_under_the_limit_reaches_the_app(server: str) -> None:
    query = "models=" + "x" * (MAX_URL_BYTES - 100)
    response = httpx.get(f"{server}/api/logs?{query}")
    assert response.status_code == 200


def test_long_headers_are_a_431(server: str) -> None:
    one_line = b"X-Big: " + b"y" * (MAX_HEADER_BYTES + 1) + b"\r\n"
    count = MAX_HEADER_BYTES // 1000 + 2
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"z" * 1000) for i in range(count))
    for headers_bytes in (one_line, many):
        status, headers, body = raw_request(
            server, b"GET /api/logs HTTP/1.1\r\nHost: x\r\n" + headers_bytes + b"\r\n"
        )
        assert_error(status, headers, body, 431)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /api/logs HTTP/9.9\r\n\r\n",
        b"GET /api/logs HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /api/logs HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET /api/\xfflogs HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_unparsable_requests_are_bifrost_errors(server: str, request_bytes: bytes) -> None:
    status, headers, body = raw_request(server, request_bytes)
    assert_error(status, headers, body, 400)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/docs/nope", 404),
        ("/docs/nope.json", 404),
        ("/docs/openapi.json/x", 404),
        ("/nope", 404),
        ("/api/nope", 404),
    ],
)
def test_unknown_routes_are_bifrost_errors(server: str, path: str, status: int) -> None:
    response = httpx.get(server + path)
    assert_error(response.status_code, dict(response.headers), response.content, status)


def test_docs_still_served(server: str) -> None:
    assert httpx.get(f"{server}/docs").headers["content-type"].startswith("text/html")
    assert httpx.get(f"{server}/docs/openapi.json").json()["openapi"].startswith("3.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_python_m_api_process_answers_bifrost_errors() -> None:
    """The real entry point: ``python -m api`` with no OpenSearch behind it."""
    port = free_port()
    env = {
        **os.environ,
        "HEIMDALL_OPENSEARCH_URL": "http://127.0.0.1:1",
        "HEIMDALL_API_PORT": str(port),
        "HEIMDALL_API_LOG_LEVEL": "error",
    }
    process = subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/health", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, "python -m api exited"
                assert time.monotonic() < deadline, "python -m api did not start"
                time.sleep(0.1)
        query = "models=" + "x" * 100_000
        assert_error(
            *raw_request(base, f"GET /api/logs?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
            expected=414,
        )
        big_header = b"X-Big: " + b"y" * 100_000 + b"\r\n"
        assert_error(
            *raw_request(base, b"GET /api/logs HTTP/1.1\r\nHost: x\r\n" + big_header + b"\r\n"),
            expected=431,
        )
        assert_error(*raw_request(base, b"GARBAGE\r\n\r\n"), expected=400)
        docs = httpx.get(f"{base}/docs/nope")
        assert_error(docs.status_code, dict(docs.headers), docs.content, 404)
        assert "server" not in docs.headers
    finally:
        process.terminate()
        process.wait(10)


def test_idle_connections_outlive_a_dashboards_poll_interval() -> None:
    """Bifrost's pages poll every 5 s; a 5 s keep-alive would close a connection just as the
    next poll reuses it."""
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1")
    assert config(create_app(settings), settings).timeout_keep_alive > 60
