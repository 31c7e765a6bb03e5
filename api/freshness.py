"""Freshness: how far ingestion has come, from the worker's ``<alias>-progress`` documents
(:mod:`ingest.progress`). The parser is pure; :class:`FreshnessCache` reads them at most once
per ``ttl`` whatever the request rate, and :func:`freshness_headers` turns the answer into the
``X-Heimdall-*`` headers of every ``/api/*`` response."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec

from api.query import format_nanos
from shared.errors import StoreUnavailable

log = logging.getLogger("api")

INDEXED_THROUGH: Final = "X-Heimdall-Indexed-Through"
CONSUMER_LAG: Final = "X-Heimdall-Consumer-Lag"
#: More partitions than any deployment has; the answer lists each.
MAX_PARTITIONS: Final = 10_000

PROGRESS_QUERY: Final[dict[str, Any]] = {
    "size": MAX_PARTITIONS,
    "query": {"match_all": {}},
    "sort": [{"topic": "asc"}, {"partition": "asc"}],
}


class PartitionFreshness(msgspec.Struct, kw_only=True):
    topic: str
    partition: int
    consumer_group: str
    committed_offset: int
    """Next offset the consumer group reads (everything before it is indexed or dropped)."""
    high_watermark: int | None
    lag: int | None
    """high_watermark - committed_offset when the worker last committed."""
    newest_event_time: str | None
    """Newest log ``timestamp`` indexed from this partition (RFC 3339, UTC)."""
    updated_at: str
    """When the worker last committed on this partition."""


class Freshness(msgspec.Struct, kw_only=True):
    """How far ingestion has come. ``null`` values: not known yet (no worker progress)."""

    indexed_through: str | None
    """Newest log ``timestamp`` indexed from any partition."""
    consumer_lag: int | None
    """Records not yet indexed, summed over the partitions (as of each one's last commit)."""
    updated_at: str | None
    """The most recent progress update of any partition."""
    partitions: list[PartitionFreshness]


class _Doc(msgspec.Struct):
    topic: str
    partition: int
    committed_offset: int
    updated_at: int
    consumer_group: str = ""
    high_watermark: int | None = None
    lag: int | None = None
    newest_event_ns: int | None = None


class _Hit(msgspec.Struct):
    source: _Doc = msgspec.field(name="_source")


class _Hits(msgspec.Struct):
    hits: list[_Hit] = msgspec.field(default_factory=list)


class _Response(msgspec.Struct):
    hits: _Hits = msgspec.field(default_factory=_Hits)


_DECODER: Final = msgspec.json.Decoder(_Response)
UNKNOWN: Final = Freshness(indexed_through=None, consumer_lag=None, updated_at=None, partitions=[])


def parse_progress(raw: bytes) -> Freshness:
    docs = [hit.source for hit in _DECODER.decode(raw).hits.hits]
    newest = [d.newest_event_ns for d in docs if d.newest_event_ns is not None]
    lags = [d.lag for d in docs if d.lag is not None]
    return Freshness(
        indexed_through=format_nanos(max(newest)) if newest else None,
        consumer_lag=sum(lags) if lags else None,
        updated_at=format_nanos(max(d.updated_at for d in docs) * 1_000_000) if docs else None,
        partitions=[
            PartitionFreshness(
                topic=d.topic,
                partition=d.partition,
                consumer_group=d.consumer_group,
                committed_offset=d.committed_offset,
                high_watermark=d.high_watermark,
                lag=d.lag,
                newest_event_time=(
                    None if d.newest_event_ns is None else format_nanos(d.newest_event_ns)
                ),
                updated_at=format_nanos(d.updated_at * 1_000_000),
            )
            for d in docs
        ],
    )


def freshness_headers(f: Freshness) -> dict[str, str]:
    """The response headers (a value not known yet is left out)."""
    headers: dict[str, str] = {}
    if f.indexed_through is not None:
        headers[INDEXED_THROUGH] = f.indexed_through
    if f.consumer_lag is not None:
        headers[CONSUMER_LAG] = str(f.consumer_lag)
    return headers


class FreshnessCache:
    """The last :class:`Freshness`, re-read at most once per ``ttl`` seconds (one reader at a
    time; concurrent requests wait for it). While OpenSearch fails, :data:`UNKNOWN` is
    cached for ``ttl`` too, so an outage never adds a request per API call."""

    def __init__(
        self,
        read: Callable[[], Awaitable[Freshness]],
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._value = UNKNOWN
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> Freshness:
        if self._clock() - self._at < self._ttl:
            return self._value
        async with self._lock:
            if self._clock() - self._at < self._ttl:
                return self._value
            try:
                self._value = await self._read()
            except Exception as exc:  # headers must never fail a response
                if not isinstance(exc, StoreUnavailable):
                    log.warning("reading the ingest progress failed: %r", exc)
                self._value = UNKNOWN
            self._at = self._clock()
            return self._value
