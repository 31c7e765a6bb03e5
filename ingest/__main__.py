"""Command line of the ingest worker: ``python -m ingest [run|init-index|backfill]``.

Every setting comes from the environment (``HEIMDALL_<SETTING>``); ``--help`` lists them.
Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a fatal error, 2 on bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import msgspec

from ingest.logs import configure, safe_settings
from ingest.settings import WorkerSettings
from ingest.store import Store
from shared.errors import ConfigError, HeimdallError
from shared.settings import describe, load

log = logging.getLogger("heimdall.ingest")

DESCRIPTION = """\
Heimdall ingest worker: consumes gateway log events from Kafka, merges every log's events
(in any order, redelivered or not) and writes them to OpenSearch with bulk requests.
Bad events go to the dead-letter topic. /health and /metrics are served over HTTP.

commands:
  run         consume until SIGTERM/SIGINT (default)
  init-index  create the index and its alias if missing, then exit
  backfill    after an upgrade: rewrite older logs with the current derived fields (token
              counts, cache hit type, owners), and redacted if HEIMDALL_REDACTION is on,
              safely while ingesting; then exit
  lifecycle   run retention and content retention once (if no other runner holds the
              lease; workers also run it every HEIMDALL_LIFECYCLE_INTERVAL_SECONDS)
  migrate     move every log to the next mapping version while ingesting (resumable:
              run it again after a crash), then swap the read alias atomically
  ism-policy  print the retention as an Index State Management policy (JSON), for
              clusters with the ISM plugin
"""


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python -m ingest",
        description=DESCRIPTION,
        epilog="settings (environment variables):\n" + describe(WorkerSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


async def _run(settings: WorkerSettings) -> None:
    from ingest.worker import Worker

    worker = Worker(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    await worker.run()


async def _init_index(settings: WorkerSettings) -> None:
    store = Store(settings)
    try:
        index = await store.ensure_index(
            shards=settings.index_shards,
            replicas=settings.index_replicas,
            refresh_interval=settings.index_refresh_interval,
            partition_days=settings.partition_days,
        )
    finally:
        await store.close()
    log.info("index ready", extra={"alias": settings.index_alias, "index": index})


async def _backfill(settings: WorkerSettings) -> None:
    from ingest.backfill import backfill
    from ingest.feeds import redactor_of

    await _init_index(settings)
    store = Store(settings)
    try:
        progress = await backfill(store, redactor=redactor_of(settings))
    finally:
        await store.close()
    log.info("backfill done", extra=msgspec.structs.asdict(progress))


async def _lifecycle(settings: WorkerSettings) -> None:
    from ingest.schedule import run_lifecycle

    await _init_index(settings)
    report = await run_lifecycle(settings)
    log.info("lifecycle done", extra=msgspec.structs.asdict(report))


async def _migrate(settings: WorkerSettings) -> None:
    from ingest.demo import Progress
    from ingest.migrate import Migration, State
    from shared.index import index_settings
    from shared.opensearch import make_client

    await _init_index(settings)
    store = Store(settings)
    client = make_client(settings)
    bars: dict[str, Progress] = {}

    def on_page(state: State, total: int) -> None:
        """One progress bar per pass (copy, then catch-up), on stderr."""
        if state.phase not in bars:
            sys.stderr.write(f"{state.phase} {state.source} -> {state.target}\n")
            bars[state.phase] = Progress(total, "logs")
        bars[state.phase].update(state.copied, final=state.copied >= total)

    try:
        migration = Migration(
            store,
            client,
            partition_days=settings.partition_days,
            grace_seconds=settings.migrate_grace_seconds,
            settings=index_settings(
                shards=settings.index_shards,
                replicas=settings.index_replicas,
                refresh_interval=settings.index_refresh_interval,
            ),
            on_page=on_page,
        )
        state = await migration.run()
    finally:
        await client.close()
        await store.close()
    log.info("migrate done", extra=msgspec.structs.asdict(state))


async def _ism_policy(settings: WorkerSettings) -> None:
    from ingest.lifecycle import ism_policy

    policy = ism_policy(
        alias=settings.index_alias,
        partition_days=settings.partition_days,
        retention_days=settings.retention_days,
        content_retention_days=settings.content_retention_days,
    )
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(policy)).decode() + "\n")


_COMMANDS = {
    "run": _run,
    "init-index": _init_index,
    "backfill": _backfill,
    "lifecycle": _lifecycle,
    "migrate": _migrate,
    "ism-policy": _ism_policy,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    parser.add_argument("command", nargs="?", choices=tuple(_COMMANDS), default="run")
    args = parser.parse_args(argv)
    try:
        settings = load(WorkerSettings)
    except ConfigError as exc:
        print(f"heimdall-ingest: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level.upper())
    log.info("starting", extra={"command": args.command, "settings": safe_settings(settings)})
    try:
        asyncio.run(_COMMANDS[args.command](settings))
    except HeimdallError as exc:
        log.error("fatal: %s", exc, extra={"error": type(exc).__name__})
        return 1
    except Exception:
        log.exception("fatal: unexpected error")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
