#!/usr/bin/env python3
"""Health probes for the Heimdall local stack (stdlib only; used by bin/stack).

    health.py kafka HOST:PORT        ApiVersions, Metadata and FindCoordinator on the broker
    health.py opensearch URL [NODES] GET /_cluster/health, status yellow or green (and at
                                     least NODES nodes in the cluster, default 1)

Prints one line; exit 0 when healthy, 1 otherwise.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import urllib.error
import urllib.request

CLIENT_ID = b"heimdall-stack-health"


def _kafka_call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _read(sock, 4))[0]
    resp = _read(sock, size)
    (got_corr,) = struct.unpack(">i", resp[:4])
    if got_corr != corr:
        raise RuntimeError(f"correlation id mismatch {got_corr} != {corr}")
    return resp[4:]


def _read(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def _string(data: bytes, pos: int) -> tuple[str | None, int]:
    (n,) = struct.unpack(">h", data[pos : pos + 2])
    pos += 2
    if n < 0:
        return None, pos
    return data[pos : pos + n].decode(), pos + n


def check_kafka(addr: str, timeout: float = 3.0) -> str:
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        # ApiVersions v0 (key 18): error_code int16, [api_key, min, max]
        resp = _kafka_call(sock, 18, 0, 1, b"")
        (err,) = struct.unpack(">h", resp[:2])
        if err != 0:
            raise RuntimeError(f"ApiVersions error_code={err}")
        # Metadata v4 (key 3): no topics, no auto-create.
        resp = _kafka_call(sock, 3, 4, 2, struct.pack(">ib", 0, 0))
        pos = 4  # throttle_time_ms
        (nbrokers,) = struct.unpack(">i", resp[pos : pos + 4])
        pos += 4
        brokers = []
        for _ in range(nbrokers):
            (node_id,) = struct.unpack(">i", resp[pos : pos + 4])
            bhost, pos = _string(resp, pos + 4)
            (bport,) = struct.unpack(">i", resp[pos : pos + 4])
            _rack, pos = _string(resp, pos + 4)
            brokers.append(f"{node_id}@{bhost}:{bport}")
        cluster_id, pos = _string(resp, pos)
        if not brokers:
            raise RuntimeError("metadata lists no broker yet")
        # FindCoordinator v1 (key 10) for a group: on a fresh broker this creates
        # __consumer_offsets; until it is ready consumer groups would get
        # COORDINATOR_NOT_AVAILABLE (15), so that counts as not healthy yet.
        group = b"heimdall-stack-health"
        resp = _kafka_call(sock, 10, 1, 3, struct.pack(">h", len(group)) + group + b"\x00")
        (err,) = struct.unpack(">h", resp[4:6])
        if err != 0:
            raise RuntimeError(f"group coordinator not available yet (error_code={err})")
        return f"kafka ok: cluster {cluster_id}, brokers {','.join(brokers)}, group coordinator up"


def check_opensearch(url: str, nodes: int = 1, timeout: float = 3.0) -> str:
    full = url.rstrip("/") + "/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(full, timeout=timeout) as resp:  # noqa: S310 (loopback)
            body = json.load(resp)
    except urllib.error.HTTPError as exc:  # 408 when yellow is not reached in time
        body = json.load(exc)
    status = body.get("status")
    if status not in ("yellow", "green"):
        raise RuntimeError(f"cluster status {status}")
    joined = int(body.get("number_of_nodes", 0))
    if joined < nodes:
        raise RuntimeError(f"{joined} of {nodes} nodes joined")
    return f"opensearch ok: cluster {body.get('cluster_name')}, status {status}, nodes {joined}"


def main(argv: list[str]) -> int:
    if not 3 <= len(argv) <= (4 if argv[1:2] == ["opensearch"] else 3) or argv[1] not in (
        "kafka",
        "opensearch",
    ):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        if argv[1] == "kafka":
            print(check_kafka(argv[2]))
        else:
            print(check_opensearch(argv[2], int(argv[3]) if len(argv) == 4 else 1))
    except Exception as exc:  # any failure: one line for the shell
        print(f"{argv[1]} not healthy at {argv[2]}: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
