"""What the benchmarks share: the worker and the API as real processes (``python -m ingest``,
``python -m api``) on free ports, their memory, their metrics, and cleanup of the topics and
indices a run creates. Services come from the usual ``HEIMDALL_*`` settings (``bin/stack``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from ingest.settings import WorkerSettings
from shared.opensearch import make_client

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) of a process, KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/<pid>/stat``), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


class Process:
    """A service started as ``python -m <module>`` with extra ``HEIMDALL_*`` variables."""

    def __init__(self, module: str, env: Mapping[str, str], port: int) -> None:
        self.module = module
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{module}-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def log_tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def memory(self) -> dict[str, int]:
        return rss_kib(self.proc.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    async def wait_healthy(self, path: str = "/health", within: float = 60.0) -> bytes:
        deadline = time.monotonic() + within
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"python -m {self.module} exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, body = await asyncio.to_thread(http_get, self.url + path)
                if status == 200:
                    return body
            if time.monotonic() > deadline:
                raise RuntimeError(f"python -m {self.module} not healthy within {within:.0f}s")
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def worker(settings: WorkerSettings, **extra: str) -> Process:
    port = free_port()
    env = {
        "HEIMDALL_TOPIC": settings.topic,
        "HEIMDALL_DLQ_TOPIC": settings.dlq_topic,
        "HEIMDALL_CONSUMER_GROUP": settings.consumer_group,
        "HEIMDALL_INDEX_ALIAS": settings.index_alias,
        "HEIMDALL_WORKER_PORT": str(port),
        "HEIMDALL_LOG_LEVEL": "WARNING",
        **extra,
    }
    return Process("ingest", env, port)


def api(alias: str, **extra: str) -> Process:
    port = free_port()
    env = {
        "HEIMDALL_INDEX_ALIAS": alias,
        "HEIMDALL_API_PORT": str(port),
        "HEIMDALL_API_LOG_LEVEL": "warning",
        **extra,
    }
    return Process("api", env, port)


async def assigned(worker: Process) -> None:
    """Wait until the worker is healthy with partitions (not an idle standby)."""
    for _ in range(60_000):
        if b"idle" not in await worker.wait_healthy():
            return
        await asyncio.sleep(0.001)
    raise RuntimeError("the worker got no partition")


def stage_seconds(metrics_text: str) -> dict[str, tuple[float, int]]:
    """``stage -> (total seconds, count)`` from a worker's ``/metrics``."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "heimdall_ingest_stage_seconds":
            continue
        for sample in family.samples:
            stage = sample.labels.get("stage", "")
            if sample.name.endswith("_sum"):
                sums[stage] = sample.value
            elif sample.name.endswith("_count"):
                counts[stage] = int(sample.value)
    return {stage: (sums[stage], counts.get(stage, 0)) for stage in sums}


def counter(metrics_text: str, name: str) -> float:
    """The value of an unlabelled counter (``name`` without ``_total``) in ``/metrics``."""
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            return sum(s.value for s in family.samples if s.name == name + "_total")
    return 0.0


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


async def committed_total(admin: AIOKafkaAdminClient, group: str) -> int:
    """Sum over partitions of the group's committed offsets (= records committed, from 0)."""
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for meta in offsets.values() if meta.offset > 0)


@contextlib.asynccontextmanager
async def cleaned_up(
    settings: WorkerSettings, aliases: Sequence[str], topics: Sequence[str]
) -> AsyncIterator[None]:
    """Delete the given indices (by alias) and topics at exit, whatever happened."""
    try:
        yield
    finally:
        client = make_client(settings)
        try:
            templates = await client.transport.perform_request("GET", "/_index_template")
            for alias in aliases:
                # The partitions' index template, the log index and partitions, the
                # worker's side indices (-ids, -dropped, -progress, -lifecycle).
                for template in templates.get("index_templates", []):
                    if template["name"].startswith(f"{alias}-v"):
                        await client.transport.perform_request(
                            "DELETE", f"/_index_template/{template['name']}"
                        )
                await client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
        finally:
            await client.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(list(topics))
        except Exception as exc:  # a topic that was never created
            print(f"deleting topics {topics}: {exc!r}", file=sys.stderr)
        finally:
            await admin.close()
