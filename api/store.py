"""The one adapter between the API and OpenSearch.

Bounded timeouts and no retries (``shared.opensearch.make_client``); connection errors,
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
from opensearchpy.exceptions import TransportError

from api.params import LogQuery
from api.query import Page, build_get, build_search, parse_search
from api.settings import ApiSettings
from shared.errors import StoreUnavailable
from shared.opensearch import make_client

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Search over the alias even before it exists: an empty answer, not index_not_found.
_SEARCH_PARAMS = {"ignore_unavailable": "true", "allow_no_indices": "true"}


class LogStore:
    def __init__(self, settings: ApiSettings, client: AsyncOpenSearch | None = None) -> None:
        self.settings = settings
        self.alias = settings.index_alias
        self.client = client if client is not None else make_client(settings, max_retries=0)

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

    async def search(self, q: LogQuery) -> Page:
        response: dict[str, Any] = await self._call(
            "search",
            self.client.search(index=self.alias, body=build_search(q), params=_SEARCH_PARAMS),
        )
        if response.get("timed_out") or response.get("_shards", {}).get("failed", 0):
            # A partial answer would be a silently wrong page.
            raise StoreUnavailable("OpenSearch returned a partial result")
        return parse_search(q, response)

    async def get(self, log_id: str) -> msgspec.Raw | None:
        response: dict[str, Any] = await self._call(
            "get",
            self.client.search(index=self.alias, body=build_get(log_id), params=_SEARCH_PARAMS),
        )
        hits = response["hits"]["hits"]
        if not hits:
            return None
        return msgspec.Raw(msgspec.json.encode(hits[0]["_source"]))

    async def ping(self, seconds: float) -> bool:
        try:
            await self.client.info(params={"request_timeout": seconds})
        except (OSConnectionError, TransportError):
            return False
        return True
