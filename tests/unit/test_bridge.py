"""The Bifrost bridge: its protocol (pure), and the process against a local server that speaks
Bifrost's live-log protocol, with a fake of our own Kafka adapter."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import msgspec
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from ingest.bridge.protocol import Relay, Skip, classify, handshake_headers, ws_url
from ingest.bridge.service import Bridge
from ingest.bridge.settings import BridgeSettings
from ingest.kafka import RelayProducer
from shared.settings import Secret
from tests.support.bifrost_ws import FakeBifrost, bridge_running, log_message
from tests.support.ingest import eventually

CREATE = {
    "id": "log-1",
    "status": "processing",
    "timestamp": "2026-11-21T10:00:00Z",
    "created_at": "2026-11-21T10:00:00Z",
}


# -- protocol ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path", "expected"),
    [
        ("http://127.0.0.1:8080", "/ws", "ws://127.0.0.1:8080/ws"),
        ("https://bifrost.example/", "/ws/logs", "wss://bifrost.example/ws/logs"),
        ("https://gw.example/bifrost", "/ws", "wss://gw.example/bifrost/ws"),
        ("wss://gw.example", "/ws", "wss://gw.example/ws"),
    ],
)
def test_ws_url(url: str, path: str, expected: str) -> None:
    assert ws_url(BridgeSettings(bifrost_url=url, bifrost_ws_path=path)) == expected


def test_handshake_headers() -> None:
    basic = BridgeSettings(bifrost_username="admin", bifrost_password=Secret("pw"))
    assert handshake_headers(basic) == {
        "Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()
    }
    bearer = BridgeSettings(bifrost_token=Secret("s3"), bifrost_origin="https://ui.example")
    assert handshake_headers(bearer) == {
        "Authorization": "Bearer s3",
        "Origin": "https://ui.example",
    }
    assert handshake_headers(BridgeSettings()) == {}


@pytest.mark.parametrize(
    "values",
    [
        {"bifrost_token": "t", "bifrost_username": "admin", "bifrost_password": "pw"},
        {"bifrost_username": "admin"},
        {"bifrost_url": "127.0.0.1:8080"},
        {"bifrost_ws_path": "ws"},
    ],
)
def test_inconsistent_settings_fail_fast(values: dict[str, str]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(values, BridgeSettings, dec_hook=lambda t, v: Secret(v))


def test_classify() -> None:
    message = log_message(CREATE)
    assert classify(message.decode()) == Relay(b"log-1", message)
    no_id = '{"type":"log","operation":"update","payload":{"status":"success"}}'
    assert classify(no_id) == Relay(None, no_id.encode())  # the worker dead-letters it
    assert classify('{"type":"store_update","tags":["Logs"]}') == Skip("store_update")
    assert classify('{"type":"mcp_log","operation":"create","payload":{"id":"m"}}') == Skip(
        "mcp_log"
    )
    assert classify('{"type":"surprise"}') == Skip("other")
    assert classify("not json") == Skip("undecodable")


# -- the process ---------------------------------------------------------------------------


class FakeProducer(RelayProducer):
    def __init__(self, *, fail_start: int = 0, refuse: bytes | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.fail_start = fail_start
        self.refuse = refuse
        self.stopped = False

    async def start(self) -> None:
        if self.fail_start:
            self.fail_start -= 1
            raise KafkaConnectionError("no broker")

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        if key == self.refuse:
            raise MessageSizeTooLargeError("too large")
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def settings_for(server: FakeBifrost, **overrides: Any) -> BridgeSettings:
    values: dict[str, Any] = {
        "bifrost_url": server.url,
        "bifrost_ws_path": server.path,
        "topic": "logs",
        "bridge_port": 0,
        "reconnect_initial_seconds": 0.02,
        "reconnect_max_seconds": 0.2,
        **overrides,
    }
    return msgspec.convert(values, BridgeSettings, dec_hook=lambda t, v: Secret(v))


@contextlib.asynccontextmanager
async def bifrost(**options: Any) -> AsyncIterator[FakeBifrost]:
    server = FakeBifrost(**options)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def connected(server: FakeBifrost, clients: int = 1) -> None:
    async def check() -> bool:
        return len(server.clients) == clients

    await eventually(check, what=f"{clients} client(s) connected", within=10)


async def health(bridge: Bridge) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{bridge.http_port}/health")
    return response.status_code, response.json()


async def test_relays_log_messages_keyed_by_id_and_skips_the_others() -> None:
    producer = FakeProducer()
    async with (
        bifrost(username="admin", password="pw") as server,
        bridge_running(
            Bridge(
                settings_for(server, bifrost_username="admin", bifrost_password="pw"),
                producer=producer,
            )
        ) as bridge,
    ):
        await connected(server)
        assert await health(bridge) == (200, {"status": "ok", "reason": "ok"})
        create, update = log_message(CREATE), log_message({"id": "log-1", "status": "success"})
        for message in (
            create,
            b'{"type":"store_update","tags":["Logs"]}',
            b'{"type":"mcp_log","operation":"create","payload":{"id":"m"}}',
            update,
        ):
            assert await server.broadcast(message) == 1

        async def relayed() -> bool:
            return bridge.metrics.value("heimdall_bridge_produced_total") == 2

        await eventually(relayed, what="two log messages produced", within=10)
    assert producer.sent == [("logs", b"log-1", create), ("logs", b"log-1", update)]
    assert bridge.metrics.value("heimdall_bridge_received_total", type="store_update") == 1
    assert bridge.metrics.value("heimdall_bridge_received_total", type="mcp_log") == 1
    assert producer.stopped
    assert "Basic" in server.handshakes[0]["Authorization"]


@pytest.mark.parametrize("how", ["abort", "close"])
async def test_reconnects_after_a_drop_and_the_gap_is_not_replayed(how: str) -> None:
    producer = FakeProducer()
    async with (
        bifrost() as server,
        bridge_running(Bridge(settings_for(server), producer=producer)) as bridge,
    ):
        await connected(server)
        await server.broadcast(log_message(CREATE))
        server.offline = True  # Bifrost restarting: handshakes refused
        await server.drop(how)  # type: ignore[arg-type]

        async def down() -> bool:
            status, body = await health(bridge)
            refused = bridge.metrics.value(
                "heimdall_bridge_connection_failures_total", reason="http_503"
            )
            return status == 503 and refused >= 1 and "HTTP 503" in body["reason"]

        await eventually(down, what="/health reporting the refused reconnect", within=10)
        assert await server.broadcast(log_message({"id": "lost", "status": "success"})) == 0
        server.offline = False
        await connected(server)
        await server.broadcast(log_message({"id": "log-1", "status": "success"}))

        async def both() -> bool:
            return len(producer.sent) == 2

        await eventually(both, what="the message after the reconnect", within=10)
        assert await health(bridge) == (200, {"status": "ok", "reason": "ok"})
    assert [key for _, key, _ in producer.sent] == [b"log-1", b"log-1"]
    assert bridge.metrics.value("heimdall_bridge_connects_total") == 2
    assert bridge.metrics.value("heimdall_bridge_disconnected_seconds_total") > 0


@pytest.mark.parametrize(
    ("server_options", "bridge_options", "reason"),
    [
        ({"username": "admin", "password": "pw"}, {}, "refused the credentials (401)"),
        (
            {"username": "admin", "password": "pw"},
            {"bifrost_username": "admin", "bifrost_password": "wrong"},
            "refused the credentials (401)",
        ),
        ({}, {"bifrost_origin": "https://evil.example"}, "refused the Origin (403)"),
        ({"path": "/ws/logs"}, {"bifrost_ws_path": "/ws"}, "older Bifrost releases serve /ws/logs"),
    ],
)
async def test_a_refused_handshake_is_retried_and_reported(
    server_options: dict[str, Any], bridge_options: dict[str, Any], reason: str
) -> None:
    async with bifrost(**server_options) as server:
        settings = settings_for(server, **bridge_options)
        async with bridge_running(Bridge(settings, producer=FakeProducer())) as bridge:

            async def retried() -> bool:
                failures = sum(
                    bridge.metrics.value(
                        "heimdall_bridge_connection_failures_total", reason=f"http_{status}"
                    )
                    for status in (401, 403, 404)
                )
                return failures >= 3

            await eventually(retried, what="three refused handshakes", within=10)
            status, body = await health(bridge)
    assert status == 503
    assert reason in body["reason"]


async def test_session_token_and_allowed_origin_are_accepted() -> None:
    producer = FakeProducer()
    async with (
        bifrost(sessions=("s3",), allowed_origins=("https://ui.example",)) as server,
        bridge_running(
            Bridge(
                settings_for(server, bifrost_token="s3", bifrost_origin="https://ui.example"),
                producer=producer,
            )
        ),
    ):
        await connected(server)
    assert server.handshakes[0]["Authorization"] == "Bearer s3"


async def test_waits_for_kafka_and_counts_what_kafka_refuses() -> None:
    producer = FakeProducer(fail_start=2, refuse=b"huge")
    async with (
        bifrost() as server,
        bridge_running(Bridge(settings_for(server), producer=producer)) as bridge,
    ):
        await connected(server)  # only once the producer has started
        await server.broadcast(log_message({"id": "huge", "status": "success"}))
        await server.broadcast(log_message(CREATE))

        async def counted() -> bool:
            return bridge.metrics.value("heimdall_bridge_produce_failures_total") == 1 and (
                len(producer.sent) == 1
            )

        await eventually(counted, what="one refused, one produced", within=10)
        assert await health(bridge) == (200, {"status": "ok", "reason": "ok"})  # recovered
        await server.broadcast(log_message({"id": "huge", "status": "error"}))

        async def refused_again() -> bool:
            status, body = await health(bridge)
            return status == 503 and "Kafka refuses" in body["reason"]

        await eventually(refused_again, what="/health reporting Kafka's refusal", within=10)
    assert producer.sent[0][1] == b"log-1"
