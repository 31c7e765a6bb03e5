"""One lifecycle runner at a time, across every worker: a lease in ``<alias>-lifecycle``.

The lease is one document (id ``lease``: ``holder``, ``expires_at`` in ms). A runner takes
it by creating it, or by replacing it when it expired or is its own, always guarded by
``if_seq_no``/``if_primary_term``: of two runners racing for it, OpenSearch lets exactly one
write win (the other gets 409 and does not run). The holder renews it during a long run and
gives it back at the end; a runner that died holds it until it expires. The same index keeps
the run's state (document ``state``: the partitions whose content was dropped).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from opensearchpy import AsyncOpenSearch, ConflictError, NotFoundError, TransportError

from shared.ops_index import LIFECYCLE_MAPPING, ensure_side_index, lifecycle_index

_READ_ATTEMPTS: Final = 25


class LeaseLost(Exception):
    """Another runner took the lease over (this one was too slow to renew it)."""


def free(doc: dict[str, Any] | None, holder: str, now_ms: int) -> bool:
    """Whether ``holder`` may take a lease whose document is ``doc`` (None: none yet)."""
    if doc is None:
        return True
    return doc.get("holder") == holder or int(doc.get("expires_at", 0)) <= now_ms


class Lease:
    def __init__(
        self,
        client: AsyncOpenSearch,
        alias: str,
        *,
        seconds: float,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.index = lifecycle_index(alias)
        self.seconds = seconds
        self.holder = holder or uuid.uuid4().hex
        self._clock = clock
        self._token: tuple[int, int] | None = None
        self._ready = False

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _ensure(self) -> None:
        if not self._ready:
            await ensure_side_index(self.client, self.index, LIFECYCLE_MAPPING)
            # Another runner may have created it a moment ago: wait for its primary.
            await self.client.cluster.health(index=self.index, params={"wait_for_status": "yellow"})
            self._ready = True

    async def _read(self, doc_id: str) -> tuple[dict[str, Any] | None, tuple[int, int] | None]:
        for attempt in range(_READ_ATTEMPTS):
            try:
                found = await self.client.get(index=self.index, id=doc_id)
            except NotFoundError:
                return None, None
            except TransportError as exc:
                # A lifecycle index created a moment ago may still be starting its shard.
                if exc.status_code != 503 or attempt == _READ_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2)
                continue
            return found["_source"], (found["_seq_no"], found["_primary_term"])
        raise AssertionError("unreachable")

    async def _write(self, expires_at: int, token: tuple[int, int] | None) -> bool:
        body = {"holder": self.holder, "expires_at": expires_at}
        params: dict[str, Any] = {"refresh": "false"}
        if token is None:
            params["op_type"] = "create"
        else:
            params["if_seq_no"], params["if_primary_term"] = token
        try:
            written = await self.client.index(
                index=self.index, id="lease", body=body, params=params
            )
        except ConflictError:
            self._token = None
            return False
        self._token = (written["_seq_no"], written["_primary_term"])
        return True

    async def acquire(self) -> bool:
        """Take the lease if it is free (or ours); False if another runner holds it."""
        await self._ensure()
        doc, token = await self._read("lease")
        now = self._now_ms()
        if not free(doc, self.holder, now):
            return False
        return await self._write(now + int(self.seconds * 1000), token)

    async def renew(self) -> None:
        """Extend the lease held; :class:`LeaseLost` if another runner took it over."""
        if self._token is None or not await self._write(
            self._now_ms() + int(self.seconds * 1000), self._token
        ):
            raise LeaseLost(self.holder)

    async def release(self) -> None:
        if self._token is not None:
            await self._write(0, self._token)
            self._token = None

    async def stripped(self) -> set[str]:
        """The partitions whose content was dropped already."""
        await self._ensure()
        doc, _ = await self._read("state")
        return set(doc.get("stripped", [])) if doc else set()

    async def mark_stripped(self, index: str) -> None:
        """Record ``index`` as stripped (only the lease holder writes this document)."""
        done = await self.stripped()
        done.add(index)
        await self.client.index(
            index=self.index, id="state", body={"stripped": sorted(done)}, params={}
        )
