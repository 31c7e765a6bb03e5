"""The lifecycle's schedule in the worker, and one run for ``python -m ingest lifecycle``.

Every worker runs the schedule; the lease (:mod:`ingest.lease`) lets one run at a time,
so adding workers never multiplies the work. The first attempt comes shortly after start
(at most :data:`FIRST_DELAY` seconds), then one every ``lifecycle_interval_seconds``. A run
that fails is logged and tried again at the next tick; ingest never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, date, datetime
from typing import Final

import msgspec

from ingest.lease import Lease
from ingest.lifecycle import Lifecycle, Report
from ingest.settings import WorkerSettings
from shared.opensearch import make_client

log = logging.getLogger("heimdall.ingest")

FIRST_DELAY: Final = 30.0


async def run_lifecycle(
    settings: WorkerSettings, *, today: date | None = None, holder: str | None = None
) -> Report:
    """One lifecycle run for the configured alias (a no-op without the lease)."""
    client = make_client(settings)
    try:
        lease = Lease(
            client,
            settings.index_alias,
            seconds=settings.lifecycle_lease_seconds,
            holder=holder,
        )
        lifecycle = Lifecycle(
            client,
            settings.index_alias,
            partition_days=settings.partition_days,
            retention_days=settings.retention_days,
            content_retention_days=settings.content_retention_days,
            lease=lease,
        )
        return await lifecycle.run(today or datetime.now(UTC).date())
    finally:
        await client.close()


class LifecycleSchedule:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        s = self.settings
        return s.lifecycle_interval_seconds > 0 and bool(
            s.retention_days or s.content_retention_days
        )

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        interval = self.settings.lifecycle_interval_seconds
        delay = min(interval, FIRST_DELAY)
        while True:
            await asyncio.sleep(delay)
            delay = interval
            try:
                report = await run_lifecycle(self.settings)
            except Exception:
                log.exception("lifecycle run failed (tried again in %.0f s)", interval)
                continue
            if report.ran:
                log.info("lifecycle run done", extra=msgspec.structs.asdict(report))
