"""Removing what a test created: its topics and its index (never anything else)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch, NotFoundError


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


async def delete_index(client: AsyncOpenSearch, alias: str) -> None:
    """Delete the index behind ``alias`` (``<alias>-v<n>``)."""
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
