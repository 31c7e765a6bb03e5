"""An isolated stack for failure tests: its own Kafka broker and an OpenSearch cluster of
several nodes (``HEIMDALL_STACK_NAME=<name> bin/stack up --nodes N``) on free loopback ports,
with its own run directory. The shared stack other tests use is never touched: every
``bin/stack`` call here carries the stack's name, and the stack is deleted (``reset``) at the
end, however the tests end."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from dataclasses import dataclass, field

from tests.services import STACK

#: A cold start of Kafka and three OpenSearch nodes takes ~30 s on a quiet 2-core machine.
UP_TIMEOUT_S = 420.0
#: Ports from base: Kafka, its controller, then OpenSearch HTTP and transport per node.
_KAFKA, _CONTROLLER, _HTTP, _TRANSPORT = 0, 1, 10, 20


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_base(nodes: int) -> int:
    wanted = [_KAFKA, _CONTROLLER, *(o + i for o in (_HTTP, _TRANSPORT) for i in range(nodes))]
    for _ in range(50):
        base = random.randrange(20_000, 40_000, 100)
        if all(_free(base + offset) for offset in wanted):
            return base
    raise RuntimeError("no free loopback port range for an isolated stack")


@dataclass
class IsolatedStack:
    """Addresses of an isolated stack, and the ``bin/stack`` commands for it."""

    nodes: int
    name: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")
    base: int = 0

    def __post_init__(self) -> None:
        self.base = self.base or _port_base(self.nodes)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.base + _KAFKA}"

    def opensearch_url(self, node: int = 1) -> str:
        return f"http://127.0.0.1:{self.base + _HTTP + node - 1}"

    def node_name(self, node: int) -> str:
        """OpenSearch's name of node ``node`` (bin/stack: heimdall-<stack>-<node>)."""
        return f"heimdall-{self.name}-{node}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for inherited in [k for k in env if k.startswith("HEIMDALL_")]:
            del env[inherited]
        env.update(
            HEIMDALL_STACK_NAME=self.name,
            HEIMDALL_OPENSEARCH_NODES=str(self.nodes),
            HEIMDALL_KAFKA_PORT=str(self.base + _KAFKA),
            HEIMDALL_KAFKA_CONTROLLER_PORT=str(self.base + _CONTROLLER),
            HEIMDALL_OPENSEARCH_PORT=str(self.base + _HTTP),
            HEIMDALL_OPENSEARCH_TRANSPORT_PORT=str(self.base + _TRANSPORT),
            HEIMDALL_OPENSEARCH_HEAP_OPTS="-Xms512m -Xmx512m",
            HEIMDALL_KAFKA_HEAP_OPTS="-Xmx384m",
            HEIMDALL_STOP_TIMEOUT="20",
        )
        if "HEIMDALL_CACHE" in os.environ:
            env["HEIMDALL_CACHE"] = os.environ["HEIMDALL_CACHE"]
        return env

    async def run(self, *args: str, seconds: float = 120.0) -> str:
        """``bin/stack <args>`` for this stack; its output, or RuntimeError when it fails."""
        env = self.env()
        assert env["HEIMDALL_STACK_NAME"] == self.name  # never the shared stack
        process = await asyncio.create_subprocess_exec(
            str(STACK),
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"bin/stack {' '.join(args)} took over {seconds:.0f}s") from None
        text = out.decode(errors="replace")
        if process.returncode != 0:
            tail = "\n".join(text.strip().splitlines()[-20:])
            raise RuntimeError(f"bin/stack {' '.join(args)} exited {process.returncode}:\n{tail}")
        return text

    async def up(self) -> None:
        await self.run("up", "--nodes", str(self.nodes), seconds=UP_TIMEOUT_S)

    async def reset(self) -> None:
        """Stop every process of this stack and delete its run directory."""
        await self.run("reset", seconds=180)
