"""Removing what a test created: its topics and its indices (never anything else).

Names come from the ``unique_name`` fixture, which deletes ``<name>*`` indices and
``<name>``/``<name>.*``/``<name>-*`` topics at teardown; at session end, :func:`leftovers`
checks that none of them is left. :func:`created` cleans up a block's own topics and index.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch, NotFoundError

from shared.opensearch import make_client
from shared.settings import OpenSearchSettings


async def delete_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        mine = [n for n in names if n in existing]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def delete_templates(client: AsyncOpenSearch, prefix: str) -> None:
    """Delete the index templates named ``<prefix>*`` (the worker's partition templates)."""
    try:
        found = await client.transport.perform_request("GET", f"/_index_template/{prefix}*")
    except NotFoundError:
        return
    for template in found.get("index_templates", []):
        with contextlib.suppress(NotFoundError):
            await client.transport.perform_request("DELETE", f"/_index_template/{template['name']}")


async def delete_index(client: AsyncOpenSearch, alias: str) -> None:
    """Delete the indices behind ``alias`` (``<alias>-v<n>``, its partitions ``<alias>-v<n>-*``,
    its directory ``<alias>-ids``) and its partition templates."""
    await delete_templates(client, f"{alias}-v")
    with contextlib.suppress(NotFoundError):
        await client.indices.delete(index=f"{alias}-ids", ignore_unavailable=True)
    try:
        indices = await client.indices.get_alias(name=alias)
    except NotFoundError:
        return
    for index in indices:
        if index.startswith(f"{alias}-v"):
            await client.indices.delete(index=index, ignore_unavailable=True)


@contextlib.asynccontextmanager
async def created(
    bootstrap: str, client: AsyncOpenSearch, alias: str, *topics: str
) -> AsyncIterator[None]:
    """Delete ``topics`` and the index of ``alias`` when the block ends, however it ends."""
    try:
        yield
    finally:
        await delete_topics(bootstrap, *topics)
        await delete_index(client, alias)


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
            await delete_templates(client, name)
            await client.indices.delete(index=f"{name}*", params={"expand_wildcards": "all"})
    finally:
        await client.close()
    await delete_topics(bootstrap, *await _topics(bootstrap, names))


async def _templates(opensearch_url: str, names: list[str]) -> list[str]:
    client = make_client(OpenSearchSettings(opensearch_url=opensearch_url))
    try:
        found = await client.transport.perform_request("GET", "/_index_template")
        return sorted(
            t["name"]
            for t in found.get("index_templates", [])
            if t["name"].startswith(tuple(names))
        )
    finally:
        await client.close()


async def leftovers(bootstrap: str, opensearch_url: str, names: list[str]) -> list[str]:
    """The indices and topics of ``names`` that still exist."""
    if not names:
        return []
    indices = await _indices(opensearch_url, names)
    return [
        *(f"index {i}" for i in indices),
        *(f"index template {t}" for t in await _templates(opensearch_url, names)),
        *(f"topic {t}" for t in await _topics(bootstrap, names)),
    ]
