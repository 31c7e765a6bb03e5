"""The ``/ws`` Origin check (``dashboards.md`` section 5, Bifrost's ``IsOriginAllowed``). Pure.

- No ``Origin`` (not a browser): accepted only when the ``Host`` is local (``localhost``,
  ``127.0.0.1``, ``::1``) or empty.
- A local Origin (``http(s)://localhost|127.0.0.1|[::1]`` on any port) is always accepted.
- Otherwise the Origin must be in ``HEIMDALL_API_WS_ALLOWED_ORIGINS``: an exact origin, ``*``
  (any), or a wildcard subdomain (``https://*.example.com`` accepts ``https://a.example.com``,
  not ``https://example.com``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", ""})


def _host_of_header(host: str) -> str:
    """``Host`` header -> host name (no port; ``[::1]:8080`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _split(origin: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(origin.strip().lower())
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a bad port raises)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    return parts.scheme, host


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    if origin is None or origin == "":
        return _host_of_header(host or "") in LOCAL_HOSTS
    split = _split(origin)
    if split is None:
        return False
    scheme, name = split
    if name in LOCAL_HOSTS:
        return True
    normalised = origin.strip().lower().rstrip("/")
    for entry in (a.strip().lower().rstrip("/") for a in allowed):
        if entry == "*" or entry == normalised:
            return True
        if "://*." in entry:
            want_scheme, domain = entry.split("://*.", 1)
            if scheme == want_scheme and name.endswith("." + domain.split(":", 1)[0]):
                # the port, if the entry names one, must match too
                port = domain.split(":", 1)[1] if ":" in domain else None
                if port is None or normalised.endswith(":" + port):
                    return True
    return False
