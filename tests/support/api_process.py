"""``python -m api`` as a real process on a free port, for tests that need a live server
(the smoke test, the browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def api_process(env: Mapping[str, str]) -> Iterator[str]:
    """Runs the API with ``env`` added to this process's environment; yields its base URL
    once ``/health`` answers 200, and stops it on exit."""
    port = free_port()
    full_env = {**os.environ, **env, "HEIMDALL_API_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "api"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0].decode()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "python -m api did not become healthy in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)
