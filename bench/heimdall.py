"""Heimdall under the query benchmark: a fresh alias filled as the worker fills it, the API
served by ``python -m api`` in its own process, and the same searches sent to OpenSearch.

The layout is the product's (issue 12): ``shared.index.ensure_index`` (the empty legacy
index ``<alias>-v<N>``, the alias's write index) and ``ensure_partitions`` (the partition
template and the id directory ``<alias>-ids``), then every log in the daily partition
``<alias>-v<N>-YYYY.MM.DD`` of its ``timestamp``, as the worker homes it
(``ingest.router.wanted_key``; the directory's claims are not written, they are ingest's
cost, not the queries'). Logs go through the worker's pure functions (``decode_event`` ->
``merge_all`` -> ``to_source``) and its ``Store.write`` (one ``_bulk`` of ``create`` actions
per batch). :meth:`HeimdallTarget.close` deletes the partitions, the legacy index, the
directory and the template it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from typing import Any, Final

import httpx
import msgspec
from opensearchpy import NotFoundError

from bench.corpus import Log
from bench.services import free_port, rss_kib
from ingest.decode import decode_event
from ingest.merge import merge_all, to_source
from ingest.plan import Action
from ingest.store import Store
from shared.index import MAPPING_VERSION, ensure_index, ensure_partitions, versioned_index
from shared.opensearch import RawResponses, make_client
from shared.partitions import (
    day_of_timestamp,
    directory_index,
    key_of_day,
    partition_index,
    partition_pattern,
    template_name,
)
from shared.settings import OpenSearchSettings, load

_MAX_EVENT_BYTES = 4 * 1024 * 1024


def sources(logs: list[Log]) -> list[Action]:
    """What the worker writes for these logs: one ``create`` per log, its merged source."""
    actions = []
    for log in logs:
        events = [
            decode_event(v, timestamp_ms=ts, max_bytes=_MAX_EVENT_BYTES) for v, ts in log.events
        ]
        state = merge_all(None, events)
        assert state is not None
        actions.append(Action(op="create", id=log.id, source=to_source(state)))
    return actions


#: Days per partition: the product's default (``HEIMDALL_PARTITION_DAYS``).
PARTITION_DAYS = 1


def home(alias: str, log: Log, days: int = PARTITION_DAYS) -> str:
    """The partition a log is homed in: the bucket of its ``timestamp``'s UTC day (the corpus
    has no broken clocks, so ``wanted_key``'s record-time fallback never applies)."""
    day = day_of_timestamp(log.final["timestamp"])
    assert day is not None, log.final["timestamp"]
    return partition_index(alias, key_of_day(day, days), MAPPING_VERSION)


def homed(alias: str, logs: list[Log]) -> list[Action]:
    """:func:`sources` of ``logs``, each written to its home partition."""
    return [
        msgspec.structs.replace(action, index=home(alias, log))
        for log, action in zip(logs, sources(logs), strict=True)
    ]


#: Repeated identical aggregations would otherwise be answered from OpenSearch's shard request
#: cache, which the SQL stores do not have (a request's ``request_cache=true`` overrides it).
NO_REQUEST_CACHE: Final = {"index": {"requests": {"cache": {"enable": False}}}}


class HeimdallTarget:
    """The bench's own index, the API over it, and a raw client for direct searches."""

    def __init__(self, alias: str | None = None, *, owned: bool = True) -> None:
        #: False for an alias the bench did not create: it is never written or deleted.
        self.owned = owned
        base = load(OpenSearchSettings)
        self.alias = alias or f"bench-q-{uuid.uuid4().hex[:8]}"
        self.settings = msgspec.structs.replace(
            base, index_alias=self.alias, opensearch_timeout=300
        )
        self.client = make_client(self.settings, serializer=RawResponses())
        self.store = Store(self.settings, self.client)
        self.api: subprocess.Popen[bytes] | None = None
        self.http: httpx.AsyncClient | None = None

    async def create(self) -> None:
        """The product's layout, empty: legacy write index, partition template, directory."""
        admin = make_client(self.settings)
        try:
            await ensure_index(admin, self.alias)
            await ensure_partitions(admin, self.alias)
        finally:
            await admin.close()

    async def insert(self, logs: list[Log]) -> None:
        result = await self.store.write(homed(self.alias, logs))
        if result.conflicts or result.rejected:
            raise RuntimeError(f"bulk load failed: {result.rejected or result.conflicts}")

    async def finish_load(self) -> None:
        indices = f"{versioned_index(self.alias)}*"
        await self.client.indices.refresh(index=indices)
        await self.client.indices.put_settings(index=indices, body=NO_REQUEST_CACHE)

    async def bytes_used(self) -> int:
        stats = msgspec.json.decode(
            await self.client.indices.stats(index=self.alias, metric="store")
        )
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])

    async def start_api(self) -> None:
        port = free_port()
        env = {
            **os.environ,
            "HEIMDALL_INDEX_ALIAS": self.alias,
            "HEIMDALL_API_PORT": str(port),
            "HEIMDALL_API_LOG_LEVEL": "warning",
            "HEIMDALL_OPENSEARCH_TIMEOUT": "120",
        }
        for name in (
            "HEIMDALL_API_TOKENS",
            "HEIMDALL_API_BASIC_USERNAME",
            "HEIMDALL_API_BASIC_PASSWORD",
        ):
            env.pop(name, None)
        self.api = subprocess.Popen([sys.executable, "-m", "api"], env=env)  # noqa: ASYNC220
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300)
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await self.http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            await asyncio.sleep(0.2)

    def api_peak_mib(self) -> float:
        """The API process's peak resident memory so far (``VmHWM``), MiB."""
        assert self.api is not None
        return rss_kib(self.api.pid)["VmHWM"] / 1024

    async def get(self, path: str, params: dict[str, str]) -> bytes:
        assert self.http is not None
        response = await self.http.get(path, params=params)
        if response.status_code != 200:
            raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")
        return response.content

    async def search(self, body: dict[str, Any]) -> bytes:
        """The request the API would send, sent to OpenSearch directly (no cache)."""
        text = await self.client.search(
            index=self.alias, body=body, params={"request_cache": "false"}
        )
        return text.encode() if isinstance(text, str) else bytes(text)

    async def count(self) -> int:
        await self.client.indices.refresh(index=self.alias, ignore_unavailable=True)
        answer = await self.client.count(index=self.alias, ignore_unavailable=True)
        return int(msgspec.json.decode(answer)["count"])

    async def close(self, *, delete: bool = True) -> None:
        """Stop the API; delete the index unless it is kept for a later run."""
        if self.http is not None:
            await self.http.aclose()
        if self.api is not None:
            self.api.terminate()
            self.api.wait(10)
        try:
            if delete and self.owned:
                await self.client.indices.delete(
                    index=f"{partition_pattern(self.alias, MAPPING_VERSION)},"
                    f"{versioned_index(self.alias)},{directory_index(self.alias)}",
                    ignore_unavailable=True,
                    params={"expand_wildcards": "all"},
                )
                with contextlib.suppress(NotFoundError):
                    await self.client.transport.perform_request(
                        "DELETE", f"/_index_template/{template_name(self.alias, MAPPING_VERSION)}"
                    )
        finally:
            await self.client.close()
