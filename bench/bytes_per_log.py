"""What a log costs on disk: realistic ~4 KB logs (``bench.corpus``) written as the worker
writes them into a fresh index with the worker's index settings, then ``_stats``.

    .venv/bin/python -m bench.bytes_per_log                  # 100,000 logs
    .venv/bin/python -m bench.bytes_per_log --logs 20000 --shards 3

Prints the primary store size per log as written (after a refresh, segments not merged yet)
and after ``_forcemerge`` to one segment per shard (what an old, read-only partition costs),
with the event bytes per log as published for comparison. A replica costs the same again.
The index is deleted at the end. Services come from the usual ``HEIMDALL_*`` settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import msgspec

from bench.corpus import Log, generate
from bench.heimdall import sources
from ingest.settings import WorkerSettings
from ingest.store import Store
from shared.opensearch import make_client
from shared.settings import load


class Size(msgspec.Struct, kw_only=True):
    logs: int
    event_bytes: int
    written_bytes: int
    merged_bytes: int
    seconds: float


async def _primaries(settings: WorkerSettings) -> tuple[int, int]:
    client = make_client(settings)
    try:
        await client.indices.refresh(index=settings.index_alias)
        stats = await client.indices.stats(index=settings.index_alias, metric="store,docs")
        primaries = stats["_all"]["primaries"]
        return int(primaries["store"]["size_in_bytes"]), int(primaries["docs"]["count"])
    finally:
        await client.close()


async def measure(base: WorkerSettings, count: int, shards: int, batch: int) -> Size:
    settings = msgspec.structs.replace(
        base, index_alias=f"bench-{uuid.uuid4().hex[:8]}", opensearch_timeout=300.0
    )
    store = Store(settings)
    event_bytes = 0
    try:
        await store.ensure_index(
            shards=shards, replicas=0, refresh_interval=settings.index_refresh_interval
        )
        started = time.perf_counter()
        pending: list[Log] = []
        for log in generate(count):
            pending.append(log)
            event_bytes += sum(len(value) for value, _ in log.events)
            if len(pending) == batch:
                await store.write(sources(pending))
                pending.clear()
        if pending:
            await store.write(sources(pending))
        seconds = time.perf_counter() - started
        written, docs = await _primaries(settings)
        if docs != count:
            raise RuntimeError(f"{docs} logs in the index, expected {count}")
        client = make_client(settings)
        try:
            await client.indices.forcemerge(
                index=settings.index_alias, params={"max_num_segments": "1"}, request_timeout=900
            )
        finally:
            await client.close()
        merged, _ = await _primaries(settings)
    finally:
        await store.close()
        client = make_client(settings)
        try:
            await client.indices.delete(index=f"{settings.index_alias}-*", ignore_unavailable=True)
        finally:
            await client.close()
    return Size(
        logs=count,
        event_bytes=event_bytes,
        written_bytes=written,
        merged_bytes=merged,
        seconds=seconds,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bytes_per_log")
    parser.add_argument("--logs", type=int, default=100_000, help="logs (default 100,000)")
    parser.add_argument("--shards", type=int, default=1, help="primary shards (default 1)")
    parser.add_argument("--batch", type=int, default=1000, help="logs per _bulk (default 1000)")
    args = parser.parse_args(argv)
    size = asyncio.run(measure(load(WorkerSettings), args.logs, args.shards, args.batch))
    n = size.logs
    print(
        f"| logs | shards | events as published, bytes per log | primary store as written "
        f"| after _forcemerge to 1 segment | load logs/s |\n| --- | --- | --- | --- | --- | --- |\n"
        f"| {n:,} | {args.shards} | {size.event_bytes / n:,.0f} | {size.written_bytes / n:,.0f} "
        f"| {size.merged_bytes / n:,.0f} | {n / size.seconds:,.0f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
