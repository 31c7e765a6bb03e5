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


_COMMANDS = {"run": _run, "init-index": _init_index, "backfill": _backfill}


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
