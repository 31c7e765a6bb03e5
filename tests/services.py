"""Real Kafka and OpenSearch for the integration tests.

:func:`kafka_and_opensearch` returns ``(kafka_bootstrap, opensearch_url)``, found in this order:

1. ``HEIMDALL_KAFKA_BOOTSTRAP`` and ``HEIMDALL_OPENSEARCH_URL`` both set: those services
   (checked to answer; a dead address is an error naming the variable).
2. A Docker engine answers: testcontainers starts ``apache/kafka`` and
   ``opensearchproject/opensearch`` at the versions of ``deploy/versions.env``; they are
   stopped when the Python process exits.
3. Otherwise the local stack: ``bin/stack up`` (idempotent: reuses a running stack), and the
   addresses ``bin/stack env`` prints.

Nothing here skips: when no way works a :class:`RuntimeError` says why, and the tests fail.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.core.container import DockerContainer

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "bin" / "stack"
VERSIONS_FILE = REPO / "deploy" / "versions.env"

KAFKA_VAR = "HEIMDALL_KAFKA_BOOTSTRAP"
OPENSEARCH_VAR = "HEIMDALL_OPENSEARCH_URL"

# cold `bin/stack up` downloads ~120 MB from Maven Central, then starts two JVMs
STACK_UP_TIMEOUT_S = 900.0
CONTAINER_START_TIMEOUT_S = 180

_resolved: tuple[str, str] | None = None


def kafka_and_opensearch() -> tuple[str, str]:
    """``(kafka_bootstrap, opensearch_url)`` of running services (resolved once per process)."""
    global _resolved
    if _resolved is None:
        _resolved = _resolve()
    return _resolved


def versions() -> dict[str, str]:
    """``KEY=VALUE`` lines of ``deploy/versions.env`` (KAFKA_VERSION, OPENSEARCH_VERSION, ...)."""
    out: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _resolve() -> tuple[str, str]:
    bootstrap = os.environ.get(KAFKA_VAR, "").strip()
    url = os.environ.get(OPENSEARCH_VAR, "").strip()
    if bootstrap or url:
        if not (bootstrap and url):
            missing = KAFKA_VAR if not bootstrap else OPENSEARCH_VAR
            raise RuntimeError(
                f"{missing} is not set: set both {KAFKA_VAR} and {OPENSEARCH_VAR} to use your own "
                "services, or neither to let the tests start them (Docker or bin/stack)"
            )
        _check_or_fail(bootstrap, url, f"(from {KAFKA_VAR} / {OPENSEARCH_VAR})")
        return bootstrap, url

    docker_error = _docker_unavailable()
    if docker_error is None:
        return _start_containers()

    try:
        bootstrap, url = _local_stack()
    except RuntimeError as exc:
        raise RuntimeError(
            "no Kafka/OpenSearch for the integration tests: "
            f"{KAFKA_VAR}/{OPENSEARCH_VAR} are not set, no Docker engine ({docker_error}), "
            f"and the local stack failed: {exc}"
        ) from exc
    _check_or_fail(bootstrap, url, "(from bin/stack env)")
    return bootstrap, url


# ---------------------------------------------------------------------------- reachability


def _check_or_fail(bootstrap: str, url: str, origin: str) -> None:
    problems = [p for p in (_kafka_problem(bootstrap), _opensearch_problem(url)) if p]
    if problems:
        raise RuntimeError(f"services not reachable {origin}: " + "; ".join(problems))


def _kafka_problem(bootstrap: str) -> str | None:
    errors: list[str] = []
    for server in (s.strip() for s in bootstrap.split(",")):
        host, sep, port = server.rpartition(":")
        if not sep or not port.isdigit():
            return f"{KAFKA_VAR}={bootstrap!r} is not host:port[,host:port...]"
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
                return None
        except OSError as exc:
            errors.append(f"{server}: {exc}")
    return f"Kafka {KAFKA_VAR}={bootstrap} does not answer ({'; '.join(errors)})"


def _opensearch_problem(url: str) -> str | None:
    health = url.rstrip("/") + "/_cluster/health?wait_for_status=yellow&timeout=10s"
    try:
        with urllib.request.urlopen(health, timeout=15) as resp:  # noqa: S310 - test services
            status = json.load(resp).get("status")
    except urllib.error.HTTPError as exc:
        return f"OpenSearch {OPENSEARCH_VAR}={url} answered HTTP {exc.code} to {health}"
    except (OSError, ValueError) as exc:
        return f"OpenSearch {OPENSEARCH_VAR}={url} does not answer ({exc})"
    if status not in ("yellow", "green"):
        return f"OpenSearch {OPENSEARCH_VAR}={url} cluster status is {status}"
    return None


# ---------------------------------------------------------------------------- Docker


def _docker_unavailable() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        docker = importlib.import_module("docker")  # installed with testcontainers
        client = docker.from_env(timeout=10)
        try:
            client.ping()
        finally:
            client.close()
        return None
    except ImportError:
        pass
    except Exception as exc:  # docker.errors.DockerException, requests errors, ...
        return f"docker engine: {type(exc).__name__}"
    if shutil.which("docker") is None:
        return "no docker CLI or SDK"
    try:
        done = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=20, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info: {exc}"
    return None if done.returncode == 0 else "docker info failed"


def _start_containers() -> tuple[str, str]:
    from testcontainers.community.opensearch import OpenSearchContainer

    ver = versions()
    started: list[DockerContainer] = []

    def stop_all() -> None:
        for container in reversed(started):
            with contextlib.suppress(Exception):  # best effort at interpreter exit
                container.stop()

    atexit.register(stop_all)
    try:
        kafka = _apache_kafka_container(f"apache/kafka:{ver['KAFKA_VERSION']}")
        started.append(kafka)
        kafka.start(timeout=CONTAINER_START_TIMEOUT_S)
        bootstrap = kafka.get_bootstrap_server()

        opensearch = OpenSearchContainer(
            image=f"opensearchproject/opensearch:{ver['OPENSEARCH_VERSION']}",
            security_enabled=False,
        ).with_env("OPENSEARCH_JAVA_OPTS", "-Xms1g -Xmx1g")
        started.append(opensearch)
        opensearch.start()
        config = opensearch.get_config()
        url = f"http://{config['host']}:{config['port']}"
    except Exception as exc:
        stop_all()
        raise RuntimeError(f"Docker engine found, but the containers did not start: {exc}") from exc
    _check_or_fail(bootstrap, url, "(testcontainers)")
    return bootstrap, url


def _apache_kafka_container(image: str) -> KafkaContainer:
    """testcontainers' KafkaContainer drives Confluent's image; this runs the official
    ``apache/kafka`` image (the one docker-compose.yml uses) in KRaft mode instead."""
    from testcontainers.community.kafka import KafkaContainer

    class ApacheKafkaContainer(KafkaContainer):
        def configure(self) -> None:
            # apache/kafka takes its whole config from KAFKA_* when any is set
            self.with_env("CLUSTER_ID", self.cluster_id)
            self.with_env("KAFKA_NODE_ID", "1")
            self.with_env("KAFKA_PROCESS_ROLES", "broker,controller")
            self.with_env("KAFKA_LISTENERS", f"{self.listeners},CONTROLLER://0.0.0.0:9094")
            self.with_env(
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                f"{self.security_protocol_map},CONTROLLER:PLAINTEXT",
            )
            self.with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9094")
            self.with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            self.with_env("KAFKA_NUM_PARTITIONS", "1")
            self.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
            self.with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            self.with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            self.with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
            self.with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
            self.with_env("KAFKA_HEAP_OPTS", "-Xmx512m")
            self.env.pop("KAFKA_BROKER_ID", None)  # node.id only in KRaft
            self.wait_for = re.compile(r".*Kafka Server started.*")

        def tc_start(self) -> None:
            # the advertised host port is known only once the container runs
            host = self.get_container_host_ip()
            port = self.get_exposed_port(self.port)
            broker = "BROKER://$(hostname -i | cut -d' ' -f1):9092"
            script = (
                f"export KAFKA_ADVERTISED_LISTENERS={self.listener_name}://{host}:{port},{broker}\n"
                "exec /etc/kafka/docker/run\n"
            )
            self.create_file(script.encode(), self.TC_START_SCRIPT)

    return ApacheKafkaContainer(image=image)


# ---------------------------------------------------------------------------- local stack


def _local_stack() -> tuple[str, str]:
    if not STACK.is_file():
        raise RuntimeError(f"{STACK} is missing")
    try:
        up = subprocess.run(
            [str(STACK), "up"],
            capture_output=True,
            text=True,
            timeout=STACK_UP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"'bin/stack up' did not finish in {STACK_UP_TIMEOUT_S:.0f}s") from exc
    if up.returncode != 0:
        tail = "\n".join((up.stdout + up.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"'bin/stack up' exited {up.returncode}:\n{tail}")
    env = subprocess.run(
        [str(STACK), "env"], capture_output=True, text=True, timeout=60, check=False
    )
    found = dict(re.findall(r"^export (HEIMDALL_[A-Z_]+)=(\S+)$", env.stdout, re.MULTILINE))
    if env.returncode != 0 or KAFKA_VAR not in found or OPENSEARCH_VAR not in found:
        raise RuntimeError(f"'bin/stack env' printed no addresses: {env.stdout}{env.stderr}")
    return found[KAFKA_VAR], found[OPENSEARCH_VAR]
