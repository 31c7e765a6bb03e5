"""The index lifecycle: retention and content retention of the time partitions.

One run (``python -m ingest lifecycle``, or the worker's schedule, :mod:`ingest.schedule`):

1. take the lease (:mod:`ingest.lease`): one runner at a time across every worker;
2. **retention**: delete every partition whose whole bucket is older than
   ``retention_days`` (:func:`shared.partitions.cutoff_key`), then the directory entries
   of partitions older than twice that: an entry outlives its partition by one retention
   period, so a late event of a deleted log is refused (``expired``), not turned into a
   partial log;
3. **content retention**: in every partition older than ``content_retention_days`` and not
   stripped yet, an ``_update_by_query`` removes :data:`CONTENT_FIELDS` (payloads, search
   text) from every log, keeping every field filters, sorts, stats and histograms use;
   then the partition is recorded as stripped. A run cut short strips it again next time:
   a log already stripped is a no-op (idempotent, resumable).

The plan (:func:`plan`) is pure; :class:`Lifecycle` carries it out against OpenSearch.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any, Final

import msgspec
from opensearchpy import AsyncOpenSearch, NotFoundError

from ingest.lease import Lease
from shared.index import MAPPING_VERSION, SEARCH_TEXT, ensure_current_partitions
from shared.ops_index import lifecycle_index
from shared.partitions import cutoff_key, directory_index, parse_partition, partition_pattern
from shared.schema import HEAVY_FIELDS

log = logging.getLogger("heimdall.ingest")

#: What content retention removes: the payloads (``cache_debug`` stays: ``cache_hit_type``
#: is derived from it) and the analysed search text.
CONTENT_FIELDS: Final = tuple(sorted((HEAVY_FIELDS - {"cache_debug"}) | {SEARCH_TEXT}))

STRIP_SCRIPT: Final = (
    "boolean changed = false;"
    "for (String f : params.fields) {"
    " if (ctx._source.containsKey(f)) { ctx._source.remove(f); changed = true; } }"
    "if (!changed) { ctx.op = 'noop'; }"
)


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    delete: list[str]
    strip: list[str]
    #: Directory entries of partitions below this key are purged (None: none).
    purge_below: str | None


class Report(msgspec.Struct, kw_only=True):
    ran: bool
    deleted: list[str] = msgspec.field(default_factory=list)
    stripped: list[str] = msgspec.field(default_factory=list)
    purged: int = 0


def plan(
    partitions: list[str],
    *,
    alias: str,
    today: date,
    partition_days: int,
    retention_days: int,
    content_retention_days: int,
    stripped: set[str],
) -> Plan:
    """What one run does to the partitions of ``alias`` (any mapping version)."""
    keys = {p: parsed[1] for p in partitions if (parsed := parse_partition(alias, p))}
    delete: list[str] = []
    purge_below: str | None = None
    if retention_days > 0:
        cutoff = cutoff_key(today, retention_days, partition_days)
        delete = sorted(p for p, key in keys.items() if key < cutoff)
        purge_below = cutoff_key(today, 2 * retention_days, partition_days)
    strip: list[str] = []
    if content_retention_days > 0:
        cutoff = cutoff_key(today, content_retention_days, partition_days)
        strip = sorted(
            p for p, key in keys.items() if key < cutoff and p not in delete and p not in stripped
        )
    return Plan(delete=delete, strip=strip, purge_below=purge_below)


class Lifecycle:
    """Runs :func:`plan` for one alias; ``client`` decodes JSON (``make_client``)."""

    def __init__(
        self,
        client: AsyncOpenSearch,
        alias: str,
        *,
        partition_days: int,
        retention_days: int,
        content_retention_days: int,
        lease: Lease,
        poll_seconds: float = 1.0,
    ) -> None:
        self.client = client
        self.alias = alias
        self.partition_days = partition_days
        self.retention_days = retention_days
        self.content_retention_days = content_retention_days
        self.lease = lease
        self.poll_seconds = poll_seconds

    async def partitions(self) -> list[str]:
        try:
            found = await self.client.indices.get(
                index=f"{self.alias}-v*-*", params={"ignore_unavailable": "true"}
            )
        except NotFoundError:
            return []
        return sorted(found)

    async def run(self, today: date) -> Report:
        """One run, if this runner gets the lease (else ``ran=False``)."""
        if not (self.retention_days or self.content_retention_days):
            return Report(ran=False)
        if not await self.lease.acquire():
            log.info("lifecycle: another runner holds the lease")
            return Report(ran=False)
        try:
            todo = plan(
                await self.partitions(),
                alias=self.alias,
                today=today,
                partition_days=self.partition_days,
                retention_days=self.retention_days,
                content_retention_days=self.content_retention_days,
                stripped=await self.lease.stripped(),
            )
            report = Report(ran=True)
            # Tomorrow's partition exists before midnight (workers may run for days).
            await ensure_current_partitions(
                self.client, self.alias, await self._version(), self.partition_days
            )
            for index in todo.delete:
                await self.lease.renew()
                await self.client.indices.delete(index=index, ignore_unavailable=True)
                report.deleted.append(index)
                log.info("lifecycle: partition deleted", extra={"index": index})
            if todo.purge_below is not None:
                report.purged = await self._purge(todo.purge_below)
            for index in todo.strip:
                await self.lease.renew()
                await self._strip(index)
                await self.lease.mark_stripped(index)
                report.stripped.append(index)
                log.info("lifecycle: content dropped", extra={"index": index})
            return report
        finally:
            await self.lease.release()

    async def _version(self) -> int:
        """The mapping version the workers write (see :mod:`ingest.migrate`)."""
        try:
            found = await self.client.get(index=lifecycle_index(self.alias), id="version")
        except NotFoundError:
            return MAPPING_VERSION
        return int(found["_source"]["version"])

    async def _purge(self, below: str) -> int:
        response = await self.client.delete_by_query(
            index=directory_index(self.alias),
            body={"query": {"range": {"partition": {"lt": below}}}},
            params={"conflicts": "proceed", "ignore_unavailable": "true", "request_timeout": 600},
        )
        return int(response.get("deleted", 0))

    async def _strip(self, index: str) -> None:
        """Remove :data:`CONTENT_FIELDS` from every log of ``index`` (a background task,
        polled, so a big partition never hits a request timeout)."""
        body: dict[str, Any] = {
            "script": {
                "lang": "painless",
                "source": STRIP_SCRIPT,
                "params": {"fields": list(CONTENT_FIELDS)},
            },
            "query": {"match_all": {}},
        }
        started = await self.client.update_by_query(
            index=index,
            body=body,
            params={
                "conflicts": "proceed",
                "wait_for_completion": "false",
                "slices": "auto",
                "refresh": "true",
            },
        )
        task = started["task"]
        while True:
            status = await self.client.tasks.get(task_id=task)
            if status.get("completed"):
                failures = status.get("response", {}).get("failures") or status.get("error")
                if failures:
                    raise RuntimeError(f"content retention of {index} failed: {failures}")
                return
            await self.lease.renew()
            await asyncio.sleep(self.poll_seconds)


def ism_policy(
    *, alias: str, partition_days: int, retention_days: int, content_retention_days: int
) -> dict[str, Any]:
    """The same retention as an Index State Management policy, for clusters that have the
    plugin (the Docker image does). ISM judges a partition by its creation time, not by the
    day in its name, and cannot run content retention or purge the directory: those stay
    with :class:`Lifecycle` (run it with ``HEIMDALL_RETENTION_DAYS=0`` then)."""
    states: list[dict[str, Any]] = [{"name": "hot", "actions": [], "transitions": []}]
    if retention_days > 0:
        states[0]["transitions"].append(
            {
                "state_name": "delete",
                "conditions": {"min_index_age": f"{retention_days + partition_days}d"},
            }
        )
        states.append({"name": "delete", "actions": [{"delete": {}}], "transitions": []})
    description = f"Heimdall log partitions of {alias}: delete after {retention_days} days"
    if content_retention_days:
        description += " (content retention runs from python -m ingest lifecycle)"
    return {
        "policy": {
            "description": description,
            "default_state": "hot",
            "states": states,
            "ism_template": [
                {"index_patterns": [partition_pattern(alias, MAPPING_VERSION)], "priority": 100}
            ],
        }
    }
