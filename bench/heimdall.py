"""Heimdall under the query benchmark: a fresh index filled as the worker fills it, the API
served by ``python -m api`` in its own process, and the same searches sent to OpenSearch.

The index is loaded through the worker's pure functions (``decode_event`` -> ``merge_all``
-> ``to_source``) and written with the worker's ``Store.write`` (one ``_bulk`` of ``create``
actions per batch) into ``<alias>-v<N>`` behind a fresh alias; :meth:`HeimdallTarget.close`
deletes it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import msgspec

from bench.corpus import Log
from ingest.decode import decode_event
from ingest.merge import merge_all, to_source
from ingest.plan import Action
from ingest.store import Store
from shared.index import ensure_index, versioned_index
from shared.opensearch import RawResponses, make_client
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HeimdallTarget:
    """The bench's own index, the API over it, and a raw client for direct searches."""

    def __init__(self, alias: str | None = None) -> None:
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
        admin = make_client(self.settings)
        try:
            index = await ensure_index(admin, self.alias)
            # Repeated identical aggregations would otherwise be answered from OpenSearch's
            # shard request cache, which the SQL stores do not have.
            await admin.indices.put_settings(
                index=index, body={"index": {"requests": {"cache": {"enable": False}}}}
            )
        finally:
            await admin.close()

    async def insert(self, actions: list[Action]) -> None:
        result = await self.store.write(actions)
        if result.conflicts or result.rejected:
            raise RuntimeError(f"bulk load failed: {result.rejected or result.conflicts}")

    async def finish_load(self) -> None:
        await self.client.indices.refresh(index=self.alias)

    async def bytes_used(self) -> int:
        stats = msgspec.json.decode(
            await self.client.indices.stats(index=self.alias, metric="store")
        )
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])

    async def start_api(self) -> None:
        port = _free_port()
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
            if delete:
                await self.client.indices.delete(
                    index=versioned_index(self.alias), ignore_unavailable=True
                )
        finally:
            await self.client.close()
