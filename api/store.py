"""The one adapter between the API and OpenSearch.

Bounded timeouts and no retries (``shared.opensearch.make_client``); responses are decoded
with typed msgspec decoders and every ``_source`` is passed on as raw bytes. Connection errors,
timeouts, 429 and 5xx become :class:`shared.errors.StoreUnavailable` (HTTP 503). A missing
alias means "no logs yet", not an error.

Scopes: :meth:`LogStore.scoped` gives the view of one caller; every method of that view ANDs
the caller's scope into the query it sends (:mod:`api.scope`), so no route, present or
future, can forget it. A new method that sends a query must do the same (a unit test lists
the methods and checks each).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any, Final, TypeVar

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from api import timepage
from api.params import LogQuery, fingerprint
from api.query import (
    ANY_LOG,
    MgetFailed,
    Page,
    SearchResponse,
    alias_indices,
    build_get,
    build_mget,
    build_search,
    decode_search,
    parse_mget,
    parse_search,
    stored_log,
)
from api.scope import UNSCOPED, Scope, scoped_body, scoped_query
from api.settings import ApiSettings
from shared.errors import StoreUnavailable
from shared.opensearch import RawResponses, make_client
from shared.ops_index import AUDIT_MAPPING, audit_index, ensure_side_index

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Search over the alias even before it exists: an empty answer, not index_not_found.
_SEARCH_PARAMS = {"ignore_unavailable": "true", "allow_no_indices": "true"}


class _Shards(msgspec.Struct):
    failed: int = 0


class _Partial(msgspec.Struct):
    """What says whether a search answer is whole."""

    timed_out: bool = False
    shards: _Shards = msgspec.field(name="_shards", default_factory=_Shards)
    error: Any = None
    status: int | None = None

    @property
    def partial(self) -> bool:
        return self.timed_out or self.shards.failed > 0


class _Pit(msgspec.Struct):
    pit_id: str


class _Multi(msgspec.Struct):
    responses: list[msgspec.Raw]


_PARTIAL: Final = msgspec.json.Decoder(_Partial)
#: Seconds a ``DELETE /api/logs`` waits for OpenSearch (``_delete_by_query``).
DELETE_TIMEOUT: Final = 300
_MULTI: Final = msgspec.json.Decoder(_Multi)
_PIT: Final = msgspec.json.Decoder(_Pit)


def _raw(text: str | bytes) -> bytes:
    return text.encode() if isinstance(text, str) else bytes(text)


class LogStore:
    def __init__(self, settings: ApiSettings, client: AsyncOpenSearch | None = None) -> None:
        self.settings = settings
        self.alias = settings.index_alias
        self.client = (
            client if client is not None else make_client(settings, serializer=RawResponses())
        )
        self._audit_ready = False
        self.scope: Scope = UNSCOPED
        #: Shared by the scoped views (copies), keyed by scope: it only sizes windows.
        self._recent = timepage.RecentBounds()

    def scoped(self, scope: Scope) -> LogStore:
        """This store as seen by a caller limited to ``scope`` (itself when unscoped)."""
        if scope.unscoped:
            return self
        view = copy.copy(self)
        view.scope = scope
        return view

    def scope_query(self, query: dict[str, Any]) -> dict[str, Any]:
        """``query`` as this store sends it: AND the caller's scope."""
        return scoped_query(query, self.scope)

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
            what,
            self.client.search(
                index=self.alias, body=scoped_body(body, self.scope), params=_SEARCH_PARAMS
            ),
        )
        response = decode_search(text)
        if response.partial:
            # A partial answer would be a silently wrong page.
            raise StoreUnavailable("OpenSearch returned a partial result")
        return response

    async def query(self, what: str, body: dict[str, Any], index: str | None = None) -> bytes:
        """Any search body over the log alias (or ``index``: a side index of
        :mod:`shared.ops_index`); the raw response, for a pure parser. A partial answer
        (timed out, failed shards) is :class:`StoreUnavailable`. A scoped view scopes
        side indices too: a scoped caller sees nothing of what has no log fields."""
        text = await self._call(
            what,
            self.client.search(
                index=index or self.alias, body=scoped_body(body, self.scope), params=_SEARCH_PARAMS
            ),
        )
        raw = text.encode() if isinstance(text, str) else bytes(text)
        if _PARTIAL.decode(raw).partial:
            raise StoreUnavailable("OpenSearch returned a partial result")
        return raw

    async def multi_query(self, what: str, bodies: Sequence[dict[str, Any]]) -> list[bytes]:
        """Several search bodies in one ``_msearch`` round trip; one raw response each.
        Any failed or partial answer is :class:`StoreUnavailable`."""
        header = msgspec.json.encode({"index": self.alias, **_SEARCH_PARAMS})
        lines = bytearray()
        for body in bodies:
            lines += header + b"\n" + msgspec.json.encode(scoped_body(body, self.scope)) + b"\n"
        text = await self._call(what, self.client.msearch(body=bytes(lines)))
        responses = _MULTI.decode(text).responses
        out: list[bytes] = []
        for response in responses:
            raw = bytes(response)
            part = _PARTIAL.decode(raw)
            if part.error is not None:
                status = part.status or 500
                log.warning("OpenSearch answered %s to one search of %s", status, what)
                raise StoreUnavailable(f"OpenSearch answered {status} in _msearch")
            if part.partial:
                raise StoreUnavailable("OpenSearch returned a partial result")
            out.append(raw)
        return out

    async def count(self, what: str, query: dict[str, Any]) -> bytes:
        """``_count`` of the logs ``query`` matches (raw response)."""
        text = await self._call(
            what,
            self.client.count(
                index=self.alias, body={"query": self.scope_query(query)}, params=_SEARCH_PARAMS
            ),
        )
        return _raw(text)

    async def delete_by_query(self, query: dict[str, Any]) -> bytes:
        """``_delete_by_query`` on the log alias, refreshed, conflicts counted not fatal; the
        raw response. Waits up to :data:`DELETE_TIMEOUT` seconds (deletes can be large)."""
        params = {
            **_SEARCH_PARAMS,
            "refresh": "true",
            "conflicts": "proceed",
            "request_timeout": DELETE_TIMEOUT,
        }
        text = await self._call(
            "delete",
            self.client.delete_by_query(
                index=self.alias, body={"query": self.scope_query(query)}, params=params
            ),
        )
        return _raw(text)

    async def write_audit(self, doc_id: str, record: msgspec.Struct) -> None:
        """Index one ``<alias>-audit`` document (the index is created on first use)."""
        index = audit_index(self.alias)
        if not self._audit_ready:
            await self._call("audit index", ensure_side_index(self.client, index, AUDIT_MAPPING))
            self._audit_ready = True
        await self._call(
            "audit",
            self.client.index(
                index=index, id=doc_id, body=msgspec.json.encode(record), params={"refresh": "true"}
            ),
        )

    async def open_pit(self, keep_alive: str) -> str | None:
        """A point in time over the log alias (None: no log index yet)."""
        try:
            text = await self._call(
                "export",
                self.client.create_pit(index=self.alias, params={"keep_alive": keep_alive}),
            )
        except NotFoundError:
            return None
        return _PIT.decode(_raw(text)).pit_id

    async def search_pit(self, body: dict[str, Any]) -> bytes:
        """One search through a point in time (the body names it), scoped like every
        search of this view; the raw response."""
        text = await self._call("export", self.client.search(body=scoped_body(body, self.scope)))
        raw = _raw(text)
        if _PARTIAL.decode(raw).partial:
            raise StoreUnavailable("OpenSearch returned a partial result")
        return raw

    async def close_pit(self, pit_id: str) -> None:
        """Free a point in time; a failure is only logged (it expires by itself)."""
        try:
            await self.client.delete_pit(body={"pit_id": [pit_id]})
        except (OSConnectionError, TransportError) as exc:
            log.info("closing a point in time failed (%s); it expires", type(exc).__name__)

    async def search(self, q: LogQuery) -> Page:
        """One list page. Sorted by time, it is read through a window of time
        (:mod:`api.timepage`: the total and the time range first, then the page from the
        partitions that can hold it); any other sort, or a window that cannot prove its
        page exact, is one search over the whole alias."""
        page = await self._time_page(q) if timepage.applies(q) else None
        if page is None:
            page = parse_search(q, await self._search("search", build_search(q)))
        if not page.has_logs:
            # Nothing matched: tell "no logs yet" from "no match" (rare, and cheap).
            anything = await self._search("has_logs", ANY_LOG)
            page = msgspec.structs.replace(page, has_logs=anything.total > 0)
        return page

    def bounds_key(self, q: LogQuery) -> str:
        """Where :attr:`_recent` keeps ``q``'s bounds: per query and per scope (one
        caller's bounds never size another's windows)."""
        return fingerprint(q) + msgspec.json.encode(sorted(self.scope.params.items())).decode()

    async def _time_page(self, q: LogQuery) -> Page | None:
        """The page of ``q`` through a window of time, or None: no window narrows it, or
        no windowed page is provably the page (:func:`api.timepage.exact`)."""
        key = self.bounds_key(q)
        first = timepage.guess(q, self._recent.get(key, time.monotonic()))
        if first is not None:
            count, answer = await self.multi_query(
                "search", [timepage.build_count(q), timepage.build_windowed(q, first)]
            )
            total, response = timepage.parse_count(count), decode_search(answer)
            if timepage.exact(q, len(response.hits.hits), total):
                return parse_search(q, response, total=total)
        count, time_range = await self.multi_query("search", timepage.build_bounds(q))
        bounds = timepage.parse_bounds(q, count, time_range)
        self._recent.put(key, bounds, time.monotonic())
        if bounds.total == 0:
            return parse_search(q, timepage.NOTHING, total=0)
        for clause in timepage.windows(q, bounds):
            response = await self._search("search", timepage.build_windowed(q, clause))
            if timepage.exact(q, len(response.hits.hits), bounds.total):
                return parse_search(q, response, total=bounds.total)
        return None

    async def get(self, log_id: str) -> msgspec.Raw | None:
        """One log by id, realtime: the alias's indices (its partitions) are listed
        (``GET /<alias>/_alias``; an index of that name lists itself), then one ``_mget``
        asks each of them for the id, so the log is visible as soon as the worker's write
        returned, before any refresh. Should that fail, a search finds it, once refreshed.

        A scoped view always searches (``_mget`` takes no query): a log outside the scope is
        not found, exactly like a missing one; a new log is found once refreshed (1 s)."""
        if not self.scope.unscoped:
            hits = (await self._search("get", build_get(log_id))).hits.hits
            return stored_log(hits[0].source) if hits else None
        try:
            listing = await self._call("get", self.client.indices.get_alias(index=self.alias))
            body = build_mget(log_id, alias_indices(_raw(listing)))
            text = await self._call("get", self.client.mget(body=body))
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
