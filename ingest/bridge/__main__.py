"""Command line of the bridge: ``python -m ingest.bridge``.

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

from ingest.bridge.settings import BridgeSettings
from ingest.logs import configure, safe_settings
from shared.errors import ConfigError
from shared.settings import describe, load

log = logging.getLogger("heimdall.bridge")

DESCRIPTION = """\
Heimdall's Bifrost bridge: connects to a Bifrost server's live-log WebSocket and produces
each log message to the log topic (keyed by log id, acks=all), reconnecting with backoff.
Messages Bifrost sends while the bridge is disconnected are NOT replayed: this feed has gaps
across restarts and network failures. /health and /metrics are served over HTTP.
"""


async def _run(settings: BridgeSettings) -> None:
    from ingest.bridge.service import Bridge

    bridge = Bridge(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, bridge.stop)
    await bridge.run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.bridge",
        description=DESCRIPTION,
        epilog="settings (environment variables):\n" + describe(BridgeSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        settings = load(BridgeSettings)
    except ConfigError as exc:
        print(f"heimdall-bridge: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level.upper())
    log.info("starting", extra={"settings": safe_settings(settings)})
    try:
        asyncio.run(_run(settings))
    except Exception:
        log.exception("fatal: unexpected error")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
