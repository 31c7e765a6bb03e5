"""Workers as real processes (``python -m ingest``): started from a settings object, their
JSON log lines read back, and every one of them killed when the block ends, however it ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from ingest.settings import WorkerSettings
from shared.settings import env_name

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: WorkerSettings) -> dict[str, str]:
    """This process's environment plus ``HEIMDALL_*`` for every field of ``settings``."""
    env = dict(os.environ)
    for field in settings.__struct_fields__:
        value = getattr(settings, field)
        env[env_name(field)] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


async def spawn_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """``python -m ingest`` with ``env``; its output is appended to ``log``."""
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ingest", cwd=ROOT, env=env, stdout=sink, stderr=sink
        )


def log_lines(log: Path) -> list[dict[str, Any]]:
    """The worker's JSON log lines (other output, e.g. a traceback, is skipped)."""
    out: list[dict[str, Any]] = []
    for line in log.read_bytes().splitlines():
        with contextlib.suppress(msgspec.DecodeError):
            entry = msgspec.json.decode(line)
            if isinstance(entry, dict):
                out.append(entry)
    return out


def assigned_now(log: Path) -> list[str]:
    """The partitions the worker logged as assigned last (empty before its first assignment)."""
    assigned = [e for e in log_lines(log) if e.get("msg") == "partitions assigned"]
    return list(assigned[-1].get("partitions", [])) if assigned else []


async def stop(process: asyncio.subprocess.Process) -> int:
    """SIGTERM (a clean drain), then the exit status (bounded wait)."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 60)


async def kill(process: asyncio.subprocess.Process) -> int:
    """SIGKILL (a crash), then the exit status."""
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    return await asyncio.wait_for(process.wait(), 30)


@contextlib.asynccontextmanager
async def reaped() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """A list to put started processes in; those still running at exit are SIGKILLed."""
    processes: list[asyncio.subprocess.Process] = []
    try:
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
