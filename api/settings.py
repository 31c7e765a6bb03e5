"""API settings, read from ``HEIMDALL_*`` environment variables (``python -m api --help``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.errors import ConfigError
from shared.settings import LogLevel, OpenSearchSettings, Secret, env_name


def _doc(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


class ApiSettings(OpenSearchSettings, kw_only=True, frozen=True):
    """Everything the search API reads from the environment."""

    # Redeclared with a shorter default: an API request must fail fast (503), not hang.
    opensearch_timeout: Annotated[
        float,
        msgspec.Meta(gt=0, description="Seconds before one OpenSearch request fails (then 503)."),
    ] = 5.0
    api_host: Annotated[str, _doc("Interface the HTTP server binds to.")] = "127.0.0.1"
    api_port: Annotated[
        int, msgspec.Meta(ge=0, le=65535, description="TCP port of the HTTP server.")
    ] = 8080
    api_health_timeout: Annotated[
        float, msgspec.Meta(gt=0, description="Seconds /health waits for OpenSearch.")
    ] = 2.0
    api_tokens: Annotated[
        Secret,
        _doc(
            "Comma-separated API tokens, accepted as 'Authorization: Bearer <token>' or "
            "'x-api-key: <token>'. Setting any credential turns authentication on for /api/*."
        ),
    ] = Secret("")
    api_basic_username: Annotated[
        str,
        _doc(
            "Username for HTTP Basic authentication; set it and HEIMDALL_API_BASIC_PASSWORD "
            "together or neither (no ':')."
        ),
    ] = ""
    api_basic_password: Annotated[
        Secret, _doc("Password for HTTP Basic authentication (with the username).")
    ] = Secret("")
    api_stream_poll_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=60,
            description=(
                "Seconds between two polls of the live tail for changed logs (one poller per "
                "API process, shared by every /api/logs/stream and /ws client)."
            ),
        ),
    ] = 0.25
    api_stream_lookback_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=600,
            description=(
                "Seconds of change markers every poll reads again, so a log written with an "
                "earlier marker that became searchable late (refresh, a slow bulk, workers' "
                "clocks apart) is still streamed; each change is sent once."
            ),
        ),
    ] = 5.0
    api_stream_heartbeat_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=15, description="Seconds between heartbeat comments on an idle stream."
        ),
    ] = 15.0
    api_stream_queue: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=100_000,
            description=(
                "Events one stream client may have waiting; a client further behind gets "
                "'event: reset' and its stream ends (bounded memory per client)."
            ),
        ),
    ] = 1000
    api_stream_resume_seconds: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            description=(
                "How old (seconds) a resume token (Last-Event-ID) may be; an older one is a 400."
            ),
        ),
    ] = 3600
    api_export_page: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=10_000,
            description="Logs per OpenSearch page of an export (memory is bounded by one page).",
        ),
    ] = 500
    api_ws_allowed_origins: Annotated[
        str,
        _doc(
            "Comma-separated Origins allowed on /ws besides localhost: exact origins "
            "(https://ui.example.com), '*' (any) or wildcard subdomains "
            "(https://*.example.com)."
        ),
    ] = ""
    api_log_level: Annotated[
        LogLevel, _doc("Log level of the server: debug, info, warning or error (any case).")
    ] = "info"

    def __post_init__(self) -> None:
        """HTTP Basic needs both halves: a lone username would accept an empty password, a
        lone password an empty user. Refused here, at start-up (``python -m api`` exits 2)."""
        user, password = self.api_basic_username, self.api_basic_password.reveal()
        if user and not password:
            raise ConfigError(
                f"invalid setting: {env_name('api_basic_password')} must be set when "
                f"{env_name('api_basic_username')} is (HTTP Basic needs both)"
            )
        if password and not user:
            raise ConfigError(
                f"invalid setting: {env_name('api_basic_username')} must be set when "
                f"{env_name('api_basic_password')} is (HTTP Basic needs both)"
            )
        if ":" in user:
            raise ConfigError(
                f"invalid setting: {env_name('api_basic_username')} cannot contain ':' "
                "(HTTP Basic separates user and password with it)"
            )

    def tokens(self) -> list[bytes]:
        """Configured API tokens (empty items dropped), as bytes for constant-time compare."""
        return [t.strip().encode() for t in self.api_tokens.reveal().split(",") if t.strip()]

    def ws_origins(self) -> list[str]:
        """The configured extra ``/ws`` origins (empty items dropped)."""
        return [o.strip() for o in self.api_ws_allowed_origins.split(",") if o.strip()]

    def basic_enabled(self) -> bool:
        return bool(self.api_basic_username)  # __post_init__: both set or neither

    def auth_enabled(self) -> bool:
        return bool(self.tokens()) or self.basic_enabled()
