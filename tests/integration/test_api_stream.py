"""The live tail against real services: logs produced to Kafka, written by the real worker,
streamed by a real API server (uvicorn) as server-sent events and on ``/ws``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest
import uvicorn
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.filters import LogFilter
from api.live import LiveHub
from api.routes.stream import _events
from api.server import config
from api.settings import ApiSettings
from api.store import LogStore
from api.stream import OPENED, StreamRequest
from ingest.worker import Worker
from shared.opensearch import make_client
from shared.settings import Secret
from tests.conftest import Services
from tests.support.ingest import create_topics, eventually, produce_located, running
from tests.support.ingest import worker_settings as make_worker_settings

pytestmark = pytest.mark.timeout(240)
WAIT = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def start_event(log_id: str, provider: str = "openai") -> bytes:
    """A gateway's first event of a log: processing, created_at == timestamp (a create)."""
    now = _now()
    return json.dumps(
        {
            "id": log_id,
            "provider": provider,
            "model": "gpt-4o",
            "object": "chat_completion",
            "status": "processing",
            "timestamp": now,
            "created_at": now,
        }
    ).encode()


def finish_event(log_id: str) -> bytes:
    return json.dumps({"id": log_id, "status": "success", "latency": 12.5}).encode()


@dataclass
class Live:
    base: str
    bootstrap: str
    topic: str
    settings: ApiSettings

    async def produce(self, *values: tuple[str, bytes]) -> None:
        ms = int(time.time() * 1000)
        await produce_located(self.bootstrap, self.topic, [(k.encode(), v, ms) for k, v in values])


@contextlib.asynccontextmanager
async def serve(settings: ApiSettings) -> AsyncIterator[str]:
    """The API as ``python -m api`` runs it, on a free port, in this event loop."""
    server = uvicorn.Server(config(create_app(settings), settings))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server), what="uvicorn started", within=10)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def _started(server: uvicorn.Server) -> bool:
    return server.started


@contextlib.asynccontextmanager
async def _live(services: Services, name: str, **api: Any) -> AsyncIterator[Live]:
    bootstrap = services.kafka_bootstrap
    await create_topics(bootstrap, name, f"{name}.dlq", partitions=2)
    settings = ApiSettings(
        opensearch_url=services.opensearch_url,
        index_alias=name,
        api_port=0,
        api_log_level="warning",
        **api,
    )
    worker = Worker(make_worker_settings(bootstrap, services.opensearch_url, name))
    async with running(worker), serve(settings) as base:
        await _until_index_exists(settings)
        yield Live(base=base, bootstrap=bootstrap, topic=name, settings=settings)


async def _until_index_exists(settings: ApiSettings) -> None:
    client = make_client(settings)
    try:

        async def exists() -> bool:
            return bool(await client.indices.exists_alias(name=settings.index_alias))

        await eventually(exists, what="the worker's index")
    finally:
        await client.close()


@pytest.fixture
async def live(services: Services, unique_name: str) -> AsyncIterator[Live]:
    async with _live(services, unique_name, api_stream_heartbeat_seconds=1.0) as value:
        yield value


@dataclass
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


@dataclass
class SseClient:
    """Reads a server-sent event stream into a queue (events and heartbeats)."""

    response: aiohttp.ClientResponse
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    heartbeats: int = 0
    opened: bool = False

    async def pump(self) -> None:
        fields: dict[str, str] = {}
        async for raw in self.response.content:
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if fields:
                    data = json.loads(fields.get("data", "null"))
                    self.events.put_nowait(Event(fields.get("id"), fields["event"], data))
                fields = {}
            elif line == ": heartbeat":
                self.heartbeats += 1
            elif line == ": open":
                self.opened = True
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value

    async def next(self, within: float = WAIT) -> Event:
        return await asyncio.wait_for(self.events.get(), within)

    async def nothing_more(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        assert self.events.empty(), self.events.get_nowait()


@contextlib.asynccontextmanager
async def sse(
    base: str, query: str = "", headers: dict[str, str] | None = None
) -> AsyncIterator[SseClient]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/api/logs/stream{query}", headers=headers or {}) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["content-type"].startswith("text/event-stream")
        client = SseClient(response)
        task = asyncio.create_task(client.pump())
        try:
            await eventually(lambda: _opened(client), what="the stream opened", within=10)
            yield client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task


async def _opened(client: SseClient) -> bool:
    return client.opened


async def test_a_produced_log_arrives_filtered_then_its_update(live: Live) -> None:
    async with sse(live.base, "?providers=openai") as stream:
        started = time.monotonic()
        await live.produce(("other", start_event("other", provider="anthropic")))
        await live.produce(("mine", start_event("mine")))
        created = await stream.next()
        latency = time.monotonic() - started
        assert created.event == "log", created.data
        assert created.data["operation"] == "create"
        assert created.data["log"]["id"] == "mine"
        assert created.data["log"]["status"] == "processing"
        assert created.id
        await live.produce(("mine", finish_event("mine")))
        updated = await stream.next()
        assert updated.data["operation"] == "update"
        assert updated.data["log"]["id"] == "mine"
        assert updated.data["log"]["status"] == "success"
        assert updated.id != created.id
        # The anthropic log was written (before the update): the filter kept it out.
        await stream.nothing_more(1.0)
        print(f"produce -> event: {latency:.2f} s")


async def test_resume_with_last_event_id_loses_nothing_and_repeats_nothing(live: Live) -> None:
    ids = [f"r{i}" for i in range(3)]
    async with sse(live.base) as stream:
        await live.produce(*[(i, start_event(i)) for i in ids])
        first = [await stream.next() for _ in ids]
        assert {e.data["log"]["id"] for e in first} == set(ids)
    token = first[0].id
    assert token is not None
    # While nobody listens: one more log and an update.
    await live.produce(("r9", start_event("r9")), ("r1", finish_event("r1")))
    await eventually(lambda: _stored(live, "r9", "r1"), what="the writes")
    # Every log whose newest change comes after the token, once, in its newest state (r1's
    # first version was superseded by its update: the store holds only the newest).
    expected = {e.data["log"]["id"] for e in first[1:]} | {"r1", "r9"}
    for how in ({"Last-Event-ID": token}, None):
        query = "" if how else f"?last_event_id={token}"
        async with sse(live.base, query, headers=how) as resumed:
            got = [await resumed.next() for _ in expected]
            await resumed.nothing_more(1.5)
        assert sorted(e.data["log"]["id"] for e in got) == sorted(expected)
        assert next(e for e in got if e.data["log"]["id"] == "r1").data["operation"] == "update"
        assert got[-1].data["log"]["id"] in ("r1", "r9")  # the newest changes come last
        assert token not in {e.id for e in got}


async def _stored(live: Live, new_id: str, updated_id: str) -> bool:
    client = make_client(live.settings)
    try:
        # Searchable (refreshed), as the replay reads them, not only written.
        await client.indices.refresh(index=live.topic)
        body = {"query": {"ids": {"values": [new_id, updated_id]}}}
        found = await client.search(index=live.topic, body=body)
        docs = {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}
        return new_id in docs and docs.get(updated_id, {}).get("status") == "success"
    finally:
        await client.close()


async def test_heartbeats_keep_an_idle_stream_open(live: Live) -> None:
    async with sse(live.base, "?providers=nobody") as stream:
        await eventually(lambda: _heartbeats(stream, 2), what="two heartbeats", within=10)


async def _heartbeats(stream: SseClient, count: int) -> bool:
    return stream.heartbeats >= count


async def test_a_slow_client_is_reset_with_bounded_memory(
    services: Services, unique_name: str
) -> None:
    """The client reads nothing while logs arrive: its queue holds at most
    ``api_stream_queue`` events, then its stream ends with ``event: reset``."""
    async with _live(services, unique_name, api_stream_queue=2) as live:
        store = LogStore(live.settings)
        hub = LiveHub(store, live.settings)
        try:
            events = _events(hub, store, StreamRequest(filter=LogFilter()), 30.0)
            assert await anext(events) == OPENED
            first = asyncio.create_task(_next(events))  # subscribes, waits for an event
            await eventually(lambda: _subscribed(hub), what="the subscription")
            await live.produce(*[(f"s{i}", start_event(f"s{i}")) for i in range(6)])
            subscriber = next(iter(hub._subscribers))  # the one client
            await asyncio.wait_for(subscriber.overflowed.wait(), WAIT)
            assert subscriber.queue.qsize() <= 2  # never more than api_stream_queue
            chunks = [await asyncio.wait_for(first, WAIT)]
            chunks += [chunk async for chunk in events]  # the stream ends
            assert all(chunk.startswith(b"id: ") for chunk in chunks[:-1])
            assert len(chunks) <= 3
            assert chunks[-1].startswith(b"event: reset\ndata: ")
            assert b"too far behind" in chunks[-1]
            assert hub.subscribers == 0
        finally:
            await hub.close()
            await store.close()


async def _next(events: AsyncIterator[bytes]) -> bytes:
    return await anext(events)


async def _subscribed(hub: LiveHub) -> bool:
    return hub.subscribers == 1


async def test_credentials_are_required_when_configured(
    services: Services, unique_name: str
) -> None:
    async with _live(services, unique_name, api_tokens=Secret("s3cret")) as live:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{live.base}/api/logs/stream") as refused:
                assert refused.status == 401
                body = await refused.json()
                assert body["status_code"] == 401
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(f"{live.base}/ws")
            ws = await session.ws_connect(
                f"{live.base}/ws", headers={"Authorization": "Bearer s3cret"}
            )
            await ws.close()
        async with sse(live.base, headers={"x-api-key": "s3cret"}) as stream:
            await live.produce(("a1", start_event("a1")))
            assert (await stream.next()).data["log"]["id"] == "a1"


async def test_ws_sends_bifrost_frames_and_checks_the_origin(
    services: Services, unique_name: str
) -> None:
    allowed = "https://*.example.com"
    async with _live(services, unique_name, api_ws_allowed_origins=allowed) as live:
        url = f"{live.base.replace('http', 'ws', 1)}/ws"
        async with aiohttp.ClientSession() as session:
            for origin in ("https://evil.test", "https://example.com.evil.test"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(url, headers={"Origin": origin})
                assert refused.value.status == 403
        async with aiohttp.ClientSession() as session:
            # No Origin with a non-local Host: refused.
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(url, headers={"Host": "heimdall.example.org"})
            async with (
                session.ws_connect(url, headers={"Origin": "https://ui.example.com"}) as ws,
                session.ws_connect(url) as local,
            ):
                await ws.send_str("ignored")  # client messages are read and discarded
                await asyncio.sleep(0.5)
                await live.produce(("w1", start_event("w1")))
                for socket in (ws, local):
                    frame = await socket.receive(timeout=WAIT)
                    assert frame.type == aiohttp.WSMsgType.TEXT
                    body = msgspec.json.decode(frame.data)
                    assert body["type"] == "log"
                    assert body["operation"] == "create"
                    assert body["payload"]["id"] == "w1"


async def test_bad_parameters_are_400_before_streaming(live: Live) -> None:
    async with AsyncTestClient(create_app(live.settings)) as client:
        for query, name in (
            ({"limit": "5"}, "limit"),
            ({"status": "nope"}, "status"),
            ({"last_event_id": "garbage"}, "last_event_id"),
        ):
            response = await client.get("/api/logs/stream", params=query)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == name
