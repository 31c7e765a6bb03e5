"""The bridge's settings, each read from ``HEIMDALL_<FIELD>`` (see ``--help``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.settings import LogLevel, Secret


class BridgeSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything ``python -m ingest.bridge`` reads from the environment."""

    bifrost_url: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(http|https|ws|wss)://[^/]+",
            description="Base URL of the Bifrost server (http(s):// or ws(s)://).",
        ),
    ] = "http://127.0.0.1:8080"
    bifrost_ws_path: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^/",
            description="Path of Bifrost's live-log WebSocket: /ws (older releases: /ws/logs).",
        ),
    ] = "/ws"
    bifrost_username: Annotated[
        str,
        msgspec.Meta(description="Bifrost admin user, sent as HTTP Basic auth; empty: none."),
    ] = ""
    bifrost_password: Annotated[
        Secret, msgspec.Meta(description="Password of HEIMDALL_BIFROST_USERNAME.")
    ] = Secret("")
    bifrost_token: Annotated[
        Secret,
        msgspec.Meta(
            description="A Bifrost dashboard session token, sent as Authorization: Bearer "
            "(instead of a user and password); empty: none.",
        ),
    ] = Secret("")
    bifrost_origin: Annotated[
        str,
        msgspec.Meta(
            description="Origin header of the handshake. Bifrost accepts no Origin only when "
            "it is reached as localhost; otherwise set one of its allowed_origins.",
        ),
    ] = ""
    kafka_bootstrap: Annotated[
        str, msgspec.Meta(min_length=1, description="Kafka bootstrap servers, host:port[,...].")
    ] = "127.0.0.1:9092"
    topic: Annotated[
        str, msgspec.Meta(min_length=1, description="Log topic the bridge produces to.")
    ] = "bifrost.logs"
    max_message_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=1024,
            description="Largest WebSocket message accepted and produced (Bifrost allows "
            "50 MiB; the topic's max.message.bytes must allow it too).",
        ),
    ] = 4 * 1024 * 1024
    heartbeat_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Ping Bifrost this often; no pong within half of it means the "
            "connection is dead and is reopened.",
        ),
    ] = 30.0
    reconnect_initial_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0, description="First wait before reconnecting; doubles (with jitter) per failure."
        ),
    ] = 0.5
    reconnect_max_seconds: Annotated[
        float, msgspec.Meta(gt=0, description="Cap of the reconnect wait, seconds.")
    ] = 30.0
    bridge_host: Annotated[
        str, msgspec.Meta(description="Address of the bridge's /health and /metrics.")
    ] = "127.0.0.1"
    bridge_port: Annotated[
        int,
        msgspec.Meta(ge=0, le=65535, description="Port of /health and /metrics (0: any free)."),
    ] = 9101
    log_level: Annotated[
        LogLevel, msgspec.Meta(description="DEBUG, INFO, WARNING or ERROR (any case).")
    ] = "INFO"

    def __post_init__(self) -> None:
        if self.bifrost_token and (self.bifrost_username or self.bifrost_password):
            raise ValueError(
                "set either HEIMDALL_BIFROST_TOKEN or HEIMDALL_BIFROST_USERNAME/PASSWORD, not both"
            )
        if bool(self.bifrost_username) != bool(self.bifrost_password):
            raise ValueError("HEIMDALL_BIFROST_USERNAME and HEIMDALL_BIFROST_PASSWORD go together")
