"""The one adapter between the API and OpenSearch.

Bounded timeouts and no retries (``shared.opensearch.make_client``); responses are decoded
with typed msgspec decoders and every ``_source`` is passed on as raw bytes. Connection errors,
timeouts, 429 and 5xx become :class:`shared.errors.StoreUnavailable` (HTTP 503). A missing
alias means "no logs yet", not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from api.params import LogQuery
from api.query import (
    MgetFailed,
    Page,
    SearchResponse,
    build_get,
    build_mget,
    build_search,
    decode_search,
    parse_mget,
    parse_search,
    stored_log,
)
from api.settings import ApiSettings
from shared.errors import StoreUnavailable
from shared.opensearch import RawResponses, make_client

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Search over the alias even before it exists: an empty answer, not index_not_found.
_SEARCH_PARAMS = {"ignore_unavailable": "true", "allow_no_indices": "true"}


class LogStore:
    def __init__(self, settings: ApiSettings, client: AsyncOpenSearch | None = None) -> None:
        self.settings = settings
        self.alias = settings.index_alias
        self.client = (
            client if client is not None else make_client(settings, serializer=RawResponses())
        )

    async def close(self) -> None:
        await self.client.close()

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except OSConnectionError as exc:  # includes ConnectionTimeout
            log.warning("OpenSearch unreachable during %s: %s", what, type(exc).__name__)
            raise StoreUnavailable(f"OpenSearch unreachable ({type(exc).__name__})") from exc
        except TransportError as exc:
            status = exc.status_code
            if isinstance(status, int) and (status == 429 or status >= 500):
                log.warning("OpenSearch answered %s during %s", status, what)
                raise StoreUnavailable(f"OpenSearch answered {status}") from exc
            raise

    async def _search(self, what: str, body: dict[str, Any]) -> SearchResponse:
        text = await self._call(
            what, self.client.search(index=self.alias, body=body, params=_SEARCH_PARAMS)
        )
        response = decode_search(text)
        if response.partial:
            # A partial answer would be a silently wrong page.
            raise StoreUnavailable("OpenSearch returned a partial result")
        return response

    async def search(self, q: LogQuery) -> Page:
        return parse_search(q, await self._search("search", build_search(q)))

    async def get(self, log_id: str) -> msgspec.Raw | None:
        """One log by id, realtime (``_mget`` through the alias: visible as soon as the
        worker's write returned, before any refresh). If the alias spans several indices
        (during a reindex), a search finds it instead, once refreshed."""
        try:
            text = await self._call(
                "get", self.client.mget(index=self.alias, body=build_mget(log_id))
            )
        except NotFoundError:  # no index yet
            return None
        try:
            return parse_mget(text)
        except MgetFailed as exc:
            log.info("realtime get failed (%s); searching instead", exc)
        hits = (await self._search("get", build_get(log_id))).hits.hits
        return stored_log(hits[0].source) if hits else None

    async def ping(self, seconds: float) -> bool:
        try:
            await self.client.info(params={"request_timeout": seconds})
        except (OSConnectionError, TransportError):
            return False
        return True
