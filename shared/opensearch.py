"""The one place that builds an OpenSearch client."""

from __future__ import annotations

from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.serializer import JSONSerializer, Serializer

from shared.settings import OpenSearchSettings


class MsgspecSerializer(JSONSerializer):
    """opensearch-py serializer backed by msgspec: faster, and it encodes Structs and Raw."""

    mimetype = "application/json"

    def dumps(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, bytes):
            return data.decode()
        return msgspec.json.encode(data).decode()

    def loads(self, s: str) -> Any:
        return msgspec.json.decode(s)


class RawResponses(MsgspecSerializer):
    """Sends ``bytes`` bodies as they are and hands response bodies back undecoded, for
    callers that decode responses with their own typed msgspec decoders (big ``_source``
    blobs then stay :class:`msgspec.Raw` instead of becoming Python objects)."""

    def dumps(self, data: Any) -> str:
        if isinstance(data, bytes):
            return data  # type: ignore[return-value]  # the transport accepts bytes
        return super().dumps(data)

    def loads(self, s: str) -> Any:
        return s


def make_client(
    settings: OpenSearchSettings, *, max_retries: int = 0, serializer: Serializer | None = None
) -> AsyncOpenSearch:
    """An async client with bounded timeouts. Retries are the caller's decision
    (``max_retries`` defaults to 0 so failures surface at once). ``serializer`` replaces
    :class:`MsgspecSerializer`, e.g. to receive response bodies undecoded."""
    http_auth = None
    if settings.opensearch_username:
        http_auth = (settings.opensearch_username, settings.opensearch_password.reveal())
    return AsyncOpenSearch(
        hosts=[settings.opensearch_url],
        http_auth=http_auth,
        verify_certs=settings.opensearch_verify_certs,
        timeout=settings.opensearch_timeout,
        max_retries=max_retries,
        retry_on_timeout=False,
        serializer=serializer or MsgspecSerializer(),
        http_compress=False,
    )
