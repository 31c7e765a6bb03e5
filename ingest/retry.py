"""Retrying a worker operation while it fails transiently, with consumption paused.

While OpenSearch (or Kafka, for the dead-letter topic) fails transiently, every assigned
partition is paused, the operation is retried after an exponential back-off with jitter
(:func:`ingest.batch.backoff_delay`), and the consumer keeps polling (with everything
paused) so the group keeps this member. Once the operation succeeds, consumption resumes.
A stop request during the back-off abandons the operation (:class:`Abandoned`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ingest.batch import backoff_delay
from ingest.kafka import CommitRefused, Consumer, KafkaFailure
from ingest.metrics import Metrics
from ingest.settings import WorkerSettings
from shared.errors import HeimdallError, StoreUnavailable

log = logging.getLogger("heimdall.ingest")

T = TypeVar("T")


class Abandoned(Exception):
    """Stop was requested while an operation kept failing."""


class PausingRetry:
    """Runs operations until they succeed, pausing consumption while they fail."""

    def __init__(
        self,
        settings: WorkerSettings,
        consumer: Consumer,
        metrics: Metrics,
        stopping: asyncio.Event,
        running: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.metrics = metrics
        self._stopping = stopping
        self._running = running
        #: Consumption is paused because an operation fails.
        self.paused = False
        #: What fails now (for ``/health``), or None.
        self.failing: str | None = None

    async def __call__(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` until it succeeds, pausing consumption while it fails
        transiently. Raises :class:`Abandoned` if stop is requested meanwhile."""
        attempt = 0
        while True:
            try:
                result = await operation()
            except HeimdallError as exc:
                if not exc.retriable:
                    raise
                error: BaseException = exc
            except KafkaFailure as exc:
                if isinstance(exc, CommitRefused):
                    if attempt:
                        self._resume(what)
                    raise
                error = exc
            else:
                if attempt:
                    self._resume(what)
                return result
            await self._back_off(what, error, attempt)
            attempt += 1

    async def _back_off(self, what: str, error: BaseException, attempt: int) -> None:
        s = self.settings
        delay = backoff_delay(attempt, s.backoff_initial_seconds, s.backoff_max_seconds)
        self.failing = f"{what}: {error}"
        self.metrics.retries.inc()
        if isinstance(error, StoreUnavailable):
            self.failing = f"OpenSearch unavailable: {error}"
        log.warning(
            "%s failed, retrying",
            what,
            extra={"error": str(error), "attempt": attempt + 1, "retry_in_s": round(delay, 3)},
        )
        if not self.paused and self._running():
            self.paused = True
            self.metrics.paused.set(1)
            partitions = sorted(map(str, self.consumer.assignment()))
            log.warning("consumption paused", extra={"partitions": partitions})
        deadline = time.monotonic() + delay
        while True:
            if self._stopping.is_set():
                raise Abandoned(what)
            if self._running():
                await self._poll_paused()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=min(remaining, 1.0))

    async def _poll_paused(self) -> None:
        """Poll with every partition paused so the group keeps this member; a record that
        slips through (a partition assigned meanwhile) is rewound, never skipped."""
        self.consumer.pause(self.consumer.assignment())
        stray = await self.consumer.getmany(timeout_ms=0, max_records=self.settings.max_batch)
        for tp, records in stray.items():
            if records:
                self.consumer.seek(tp, records[0].offset)

    def _resume(self, what: str) -> None:
        self.failing = None
        if self.paused:
            self.paused = False
            self.metrics.paused.set(0)
            self.consumer.resume(self.consumer.assignment())
            log.info("consumption resumed", extra={"after": what})
