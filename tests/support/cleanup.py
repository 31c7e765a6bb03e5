"""Every test removes the topics and indices it creates: names come from the ``unique_name``
fixture, which deletes ``<name>*`` indices and ``<name>``/``<name>.*``/``<name>-*`` topics at
teardown; at session end, :func:`leftovers` checks that none of them is left."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient

from shared.opensearch import make_client
from shared.settings import OpenSearchSettings


def _ours(topic: str, names: Iterable[str]) -> bool:
    return any(topic == n or topic.startswith((f"{n}.", f"{n}-")) for n in names)


async def _topics(bootstrap: str, names: list[str]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if _ours(t, names))
    finally:
        await admin.close()


async def _indices(opensearch_url: str, names: list[str]) -> list[str]:
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # no request line at exit
    client = make_client(OpenSearchSettings(opensearch_url=opensearch_url))
    try:
        found = await client.indices.get(
            index=",".join(f"{n}*" for n in names), params={"expand_wildcards": "all"}
        )
        return sorted(found)
    finally:
        await client.close()


async def remove(bootstrap: str, opensearch_url: str, names: list[str]) -> None:
    """Delete the indices and topics of ``names`` (absent ones are fine)."""
    client = make_client(OpenSearchSettings(opensearch_url=opensearch_url))
    try:
        for name in names:
            await client.indices.delete(index=f"{name}*", params={"expand_wildcards": "all"})
    finally:
        await client.close()
    topics = await _topics(bootstrap, names)
    if topics:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()


async def leftovers(bootstrap: str, opensearch_url: str, names: list[str]) -> list[str]:
    """The indices and topics of ``names`` that still exist."""
    if not names:
        return []
    indices = await _indices(opensearch_url, names)
    return [
        *(f"index {i}" for i in indices),
        *(f"topic {t}" for t in await _topics(bootstrap, names)),
    ]
