"""The Bifrost bridge, end to end: a local server speaking Bifrost's live-log protocol, streams
interrupted mid-way (a broken connection, then a restart with a close frame) -> the bridge ->
real Kafka -> the worker -> ``GET /api/logs``."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
from opensearchpy import AsyncOpenSearch

from ingest.bridge.service import Bridge
from ingest.bridge.settings import BridgeSettings
from ingest.worker import Worker
from shared.settings import Secret
from tests.conftest import Services
from tests.integration.test_smoke import api_url  # noqa: F401 (fixture)
from tests.support.bifrost_ws import FakeBifrost, bridge_running, log_message
from tests.support.cleanup import created
from tests.support.ingest import (
    create_topics,
    eventually,
    read_topic,
    running,
    worker_settings,
)

T = "2026-11-21T10:00:00.000000Z"


def start(log_id: str) -> dict[str, Any]:
    return {
        "id": log_id,
        "status": "processing",
        "timestamp": T,
        "created_at": T,
        "provider": "openai",
        "model": "gpt-4o",
        "input_history": [{"role": "user", "content": f"question {log_id}"}],
    }


def finish(log_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": log_id, "status": "success", "timestamp": T, "created_at": T, **fields}


async def test_bridge_relays_across_disconnects_to_the_api(
    services: Services,
    opensearch: AsyncOpenSearch,
    unique_name: str,
    api_url: str,  # noqa: F811
) -> None:
    name, dlq = unique_name, f"{unique_name}.dlq"
    server = FakeBifrost(username="admin", password="pw", ping_seconds=1.0)
    await server.start()
    settings = BridgeSettings(
        bifrost_url=server.url,
        bifrost_username="admin",
        bifrost_password=Secret("pw"),
        kafka_bootstrap=services.kafka_bootstrap,
        topic=name,
        bridge_port=0,
        heartbeat_seconds=1.0,
        reconnect_initial_seconds=0.05,
        reconnect_max_seconds=0.5,
    )
    bridge = Bridge(settings)
    sent: list[bytes] = []

    async def broadcast(payload: dict[str, Any]) -> None:
        message = log_message(payload)
        if await server.broadcast(message):
            sent.append(message)

    async def produced(count: int) -> None:
        async def check() -> bool:
            return bridge.metrics.value("heimdall_bridge_produced_total") == count

        await eventually(check, what=f"{count} messages produced")

    async def connected() -> None:
        async def check() -> bool:
            return len(server.clients) == 1 and bridge.health()[0]

        await eventually(check, what="the bridge connected")

    async with created(services.kafka_bootstrap, opensearch, name, name, dlq):
        await create_topics(services.kafka_bootstrap, name, dlq)
        async with bridge_running(bridge):
            await connected()
            # Stream 1: log a starts and finishes; log b starts...
            await broadcast(start("a"))
            await broadcast(finish("a", latency=120.0))
            await broadcast(start("b"))
            await server.broadcast(b'{"type":"store_update","tags":["Logs"]}')
            await produced(3)
            # ...the network breaks and Bifrost is unreachable: b's finish is lost.
            server.offline = True
            await server.drop("abort")
            assert await server.broadcast(log_message(finish("b", latency=99.0))) == 0
            server.offline = False
            await connected()
            # Stream 2: a later update of b (its cost), and log c.
            await broadcast(finish("b", cost=0.5))
            await broadcast(start("c"))
            await produced(5)
            # Bifrost restarts (close frame); c finishes after the reconnect.
            await server.drop("close")
            await connected()
            await broadcast(finish("c", latency=42.0))
            await produced(6)
            assert bridge.metrics.value("heimdall_bridge_connects_total") == 3
            assert bridge.metrics.value("heimdall_bridge_received_total", type="store_update")
        await server.close()

        records = await read_topic(services.kafka_bootstrap, name, len(sent))
        assert sorted(r.value for r in records) == sorted(sent)  # exactly what was received
        for record in records:  # keyed by log id
            assert record.key == msgspec.json.decode(record.value)["payload"]["id"].encode()
        by_key: dict[bytes, list[bytes]] = {}
        for record in sorted(records, key=lambda r: r.offset):
            by_key.setdefault(record.key, []).append(record.value)
        assert by_key[b"c"] == [m for m in sent if b'"id":"c"' in m]  # in order per log

        worker = Worker(worker_settings(services.kafka_bootstrap, services.opensearch_url, name))
        async with httpx.AsyncClient(base_url=api_url, timeout=5) as http, running(worker):

            async def all_three() -> dict[str, Any] | None:
                body: dict[str, Any] = (await http.get("/api/logs", params={"limit": 10})).json()
                return body if body.get("total") == 3 else None

            page = await eventually(all_three, what="logs a, b, c via GET /api/logs")
        logs = {log["id"]: log for log in page["logs"]}
        assert (logs["a"]["status"], logs["a"]["latency"]) == ("success", 120.0)
        assert (logs["c"]["status"], logs["c"]["latency"]) == ("success", 42.0)
        # b's first finish fell in the gap: its later update arrived, its latency did not.
        assert (logs["b"]["status"], logs["b"]["cost"]) == ("success", 0.5)
        assert "latency" not in logs["b"]
