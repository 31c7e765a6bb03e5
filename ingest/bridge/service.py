"""The bridge process: Bifrost's live-log WebSocket -> the log topic, with /health and /metrics.

Each ``log`` message is produced to the log topic unchanged (the envelope the worker
decodes), keyed by its log id, acknowledged by all in-sync replicas, idempotently and in
order per log. ``mcp_log`` and ``store_update`` messages are counted and dropped.

On any disconnect (Bifrost restart, network failure, a missed pong, a refused handshake) the
bridge reconnects with exponential backoff and jitter. Bifrost has no resume point, so
**what it broadcasts while the bridge is disconnected is lost**: the bridge logs each gap
(start, end) and counts its seconds in ``heimdall_bridge_disconnected_seconds_total``.
A log whose later update falls in a gap keeps the state of its last event received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from ingest.batch import backoff_delay
from ingest.bridge.protocol import Relay, classify, handshake_headers, ws_url
from ingest.bridge.settings import BridgeSettings
from ingest.health import HealthServer
from ingest.kafka import KafkaFailure, RelayProducer

log = logging.getLogger("heimdall.bridge")

#: Most produced records waiting for their acknowledgement at once.
MAX_IN_FLIGHT: Final = 1000
#: A connection open this long was working: the next reconnect backs off from the start.
STABLE_SECONDS: Final = 10.0
#: Seconds to open the TCP connection and finish the handshake.
CONNECT_TIMEOUT: Final = 10.0


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connected = Gauge(
            "heimdall_bridge_connected", "1 while the WebSocket to Bifrost is open.", registry=r
        )
        self.connects = Counter(
            "heimdall_bridge_connects", "WebSocket connections opened to Bifrost.", registry=r
        )
        self.failures = Counter(
            "heimdall_bridge_connection_failures",
            "Connections that failed or ended, by reason.",
            ["reason"],
            registry=r,
        )
        self.disconnected_seconds = Counter(
            "heimdall_bridge_disconnected_seconds",
            "Seconds without a connection after the first one: Bifrost's messages of those "
            "gaps are not replayed.",
            registry=r,
        )
        self.received = Counter(
            "heimdall_bridge_received",
            "Messages received, by type (log, mcp_log, store_update, other, undecodable, binary).",
            ["type"],
            registry=r,
        )
        self.produced = Counter(
            "heimdall_bridge_produced", "Log messages acknowledged by Kafka.", registry=r
        )
        self.produce_failures = Counter(
            "heimdall_bridge_produce_failures",
            "Log messages Kafka did not take (lost; see the bridge's error log).",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


def _handshake_reason(status: int, path: str) -> str:
    if status == 401:
        return "Bifrost refused the credentials (401): check HEIMDALL_BIFROST_*"
    if status == 403:
        return "Bifrost refused the Origin (403): set HEIMDALL_BIFROST_ORIGIN"
    if status == 404:
        return f"no WebSocket at {path} (404); older Bifrost releases serve /ws/logs"
    return f"handshake refused with HTTP {status}"


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        *,
        producer: RelayProducer | None = None,
        metrics: BridgeMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.producer = producer or RelayProducer(
            settings.kafka_bootstrap, max_request_size=settings.max_message_bytes
        )
        self.metrics = metrics or BridgeMetrics()
        self._stopping = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._producing = False
        self._kafka_error: str | None = None
        self._state = "starting"
        self._down_since: float | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._http = HealthServer(self.health, self.metrics.render, log)

    def stop(self) -> None:
        """Close the connection, wait for every acknowledgement, exit (signal-handler safe)."""
        self._stopping.set()
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    @property
    def http_port(self) -> int | None:
        """The port of ``/health`` and ``/metrics`` (see :mod:`ingest.health`)."""
        return self._http.port

    def health(self) -> tuple[bool, str]:
        """Healthy while connected to Bifrost and Kafka takes what is produced."""
        if self._ws is None or self._ws.closed or not self._producing:
            return False, self._state
        if self._kafka_error is not None:
            return False, f"Kafka refuses log messages: {self._kafka_error}"
        return True, "ok"

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        await self._http.start(self.settings.bridge_host, self.settings.bridge_port)
        try:
            if await self._start_producer():
                timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT)
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    await self._connect_loop(session)
        finally:
            await self._drain()
            with contextlib.suppress(Exception):
                await self.producer.stop()
            await self._http.close()
            log.info("stopped")

    async def _start_producer(self) -> bool:
        attempt = 0
        while not self._stopping.is_set():
            try:
                await self.producer.start()
            except KafkaFailure as exc:
                self._state = f"Kafka unavailable: {exc}"
                await self._wait(attempt, self._state)
                attempt += 1
                continue
            self._producing = True
            return True
        return False

    async def _connect_loop(self, session: aiohttp.ClientSession) -> None:
        attempt = 0
        while not self._stopping.is_set():
            reason, lasted = await self._session(session)
            if self._stopping.is_set():
                return
            if lasted >= STABLE_SECONDS:  # it was a working connection: back off afresh
                attempt = 0
            await self._wait(attempt, reason)
            attempt += 1

    async def _wait(self, attempt: int, reason: str) -> None:
        s = self.settings
        delay = backoff_delay(attempt, s.reconnect_initial_seconds, s.reconnect_max_seconds)
        log.warning("retrying", extra={"reason": reason, "retry_in_s": round(delay, 3)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    # -- one connection ----------------------------------------------------------------

    async def _session(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        """Connect and relay until the connection ends; returns why it ended and how long
        it was open (0 if it never opened)."""
        s = self.settings
        url = ws_url(s)
        self._state = f"connecting to {url}"
        try:
            ws = await session.ws_connect(
                url,
                headers=handshake_headers(s),
                heartbeat=s.heartbeat_seconds,
                max_msg_size=s.max_message_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            self.metrics.failures.labels(reason=f"http_{exc.status}").inc()
            self._state = _handshake_reason(exc.status, s.bifrost_ws_path)
            return self._state, 0.0
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.metrics.failures.labels(reason="connect").inc()
            self._state = f"cannot reach {url}: {exc!r}"
            return self._state, 0.0
        opened = time.monotonic()
        self._opened()
        try:
            await self._relay(ws)
        finally:
            await ws.close()
            self._closed(ws)
        return self._state, time.monotonic() - opened

    def _opened(self) -> None:
        self.metrics.connects.inc()
        self.metrics.connected.set(1)
        if self._down_since is not None:
            gap = time.time() - self._down_since
            self.metrics.disconnected_seconds.inc(gap)
            log.warning(
                "reconnected: what Bifrost broadcast in the gap is not replayed",
                extra={
                    "gap_from": datetime.fromtimestamp(self._down_since, UTC).isoformat(),
                    "gap_to": datetime.now(UTC).isoformat(),
                    "gap_seconds": round(gap, 3),
                },
            )
        else:
            log.info("connected", extra={"url": ws_url(self.settings)})
        self._down_since = None

    def _closed(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = None
        self.metrics.connected.set(0)
        if self._stopping.is_set():
            return
        self._down_since = time.time()
        error = ws.exception()
        reason = "closed by Bifrost" if error is None else f"lost: {error!r}"
        self.metrics.failures.labels(reason="closed" if error is None else "lost").inc()
        self._state = f"disconnected ({reason}, code {ws.close_code}); reconnecting"
        log.warning("disconnected", extra={"reason": reason, "code": ws.close_code})

    async def _relay(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        if self._stopping.is_set():
            return
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                decision = classify(message.data)
            else:
                decision = None
                self.metrics.received.labels(type="binary").inc()
            if isinstance(decision, Relay):
                self.metrics.received.labels(type="log").inc()
                await self._produce(decision)
            elif decision is not None:
                self.metrics.received.labels(type=decision.reason).inc()

    # -- Kafka -------------------------------------------------------------------------

    async def _produce(self, relay: Relay) -> None:
        try:
            acknowledged = await self.producer.send(self.settings.topic, relay.key, relay.value)
        except KafkaFailure as exc:
            self._lost(relay, exc)
            return
        task = asyncio.create_task(self._acknowledged(relay, acknowledged))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)

    async def _acknowledged(self, relay: Relay, acknowledged: Awaitable[Any]) -> None:
        try:
            await acknowledged
        except KafkaFailure as exc:
            self._lost(relay, exc)
        else:
            self._kafka_error = None
            self.metrics.produced.inc()

    def _lost(self, relay: Relay, error: BaseException) -> None:
        self._kafka_error = repr(error)
        self.metrics.produce_failures.inc()
        log.error(
            "Kafka did not take a log message; it is lost",
            extra={"key": (relay.key or b"").decode(errors="replace"), "error": repr(error)},
        )

    async def _drain(self) -> None:
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
