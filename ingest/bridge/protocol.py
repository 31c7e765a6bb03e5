"""Bifrost's live-log WebSocket protocol, as the bridge speaks it (pure).

Facts from Bifrost's ``transports/bifrost-http/handlers/websocket.go`` and its auth
middleware (see ``../shared/spec/dashboards.md`` section 5):

- ``GET /ws`` (older releases ``/ws/logs``), upgraded to a WebSocket;
- with auth enabled, the handshake carries ``Authorization: Basic <admin user:password>`` or
  ``Authorization: Bearer <session token>`` (a browser, which cannot set headers, sends
  ``?token=<session token>`` instead);
- Origin: none is accepted only if the Host is localhost; otherwise it must be localhost or
  one of ``allowed_origins``;
- the server pings every 30 s and drops a client that has not answered within 60 s; it sends
  JSON text frames ``{"type": "log", "operation": "create" | "update", "payload": <Log>}``,
  ``{"type": "mcp_log", ...}`` and ``{"type": "store_update", "tags": [...]}``, and discards
  whatever the client sends;
- there is no resume point: what is broadcast while a client is away is not sent again.
"""

from __future__ import annotations

import base64
from typing import Final, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import msgspec

from ingest.bridge.settings import BridgeSettings

LOG: Final = "log"
#: The other message types Bifrost sends (anything else is counted as ``other``).
OTHER_TYPES: Final = frozenset({"mcp_log", "store_update"})


def ws_url(settings: BridgeSettings) -> str:
    scheme, netloc, path, _, _ = urlsplit(settings.bifrost_url)
    scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return urlunsplit((scheme, netloc, path.rstrip("/") + settings.bifrost_ws_path, "", ""))


def handshake_headers(settings: BridgeSettings) -> dict[str, str]:
    headers: dict[str, str] = {}
    if settings.bifrost_token:
        headers["Authorization"] = f"Bearer {settings.bifrost_token.reveal()}"
    elif settings.bifrost_username:
        pair = f"{settings.bifrost_username}:{settings.bifrost_password.reveal()}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    if settings.bifrost_origin:
        headers["Origin"] = settings.bifrost_origin
    return headers


class _Payload(msgspec.Struct):
    id: str | None = None


class _Envelope(msgspec.Struct):
    type: str | None = None
    payload: _Payload | None = None


_DECODER: Final = msgspec.json.Decoder(_Envelope)


class Relay(NamedTuple):
    """A message to produce: its key (the log id; ``None`` when it has none, so the worker
    dead-letters it with its reason) and the frame's bytes, unchanged."""

    key: bytes | None
    value: bytes


class Skip(NamedTuple):
    """A message that is not a gateway log: ``reason`` is its type, or why it is unreadable."""

    reason: str


def classify(frame: str) -> Relay | Skip:
    """What to do with one text frame."""
    value = frame.encode()
    try:
        envelope = _DECODER.decode(value)
    except msgspec.DecodeError:
        return Skip("undecodable")
    if envelope.type != LOG:
        return Skip(envelope.type if envelope.type in OTHER_TYPES else "other")
    log_id = envelope.payload.id if envelope.payload is not None else None
    return Relay(log_id.encode() if log_id else None, value)
