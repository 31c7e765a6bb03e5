"""The live tail's one poller per API process, shared by every stream and ``/ws`` client.

Every ``api_stream_poll_seconds`` it reads the positions of the changes (``indexed_at``,
:mod:`api.stream`) of the last ``api_stream_lookback_seconds`` before the newest marker seen,
keeps those it has not seen yet (bounded: only the lookback window is remembered), and then
asks OpenSearch, in one ``_msearch``, which of the changed logs match each distinct client
filter inside its caller's scope (``ids`` + the filter + the scope, :func:`api.scope.scoped_body`,
as a scoped store sends every query). Each client gets its matches, in change order, in a bounded
queue; a client whose queue is full is dropped and told to reset.

Re-reading the lookback window is what makes the stream exact despite the refresh race: a log
whose marker is older than one already streamed, but which became searchable later, is still
found (and sent once). The poller runs only while a client is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

import msgspec

from api.filters import LogFilter
from api.scope import UNSCOPED, Scope, scoped_body
from api.settings import ApiSettings
from api.store import LogStore
from api.stream import (
    Change,
    build_changes,
    build_latest,
    build_matching,
    current_window,
    filter_key,
    parse_changes,
    parse_matching,
)

log = logging.getLogger(__name__)

#: Positions (sort values only) read per page of one poll: one page holds the window of
#: 1,000 logs/s at the default lookback.
PAGE: Final = 5000
#: Changed ids matched per search.
MATCH_CHUNK: Final = 1000
#: Seconds a failed poll waits before the next one (OpenSearch unavailable).
RETRY_SECONDS: Final = 1.0

Item = tuple[Change, msgspec.Raw]


class Subscriber:
    """One client: its filter, its caller's scope and its bounded queue of (change, log)."""

    def __init__(self, f: LogFilter, capacity: int, scope: Scope = UNSCOPED) -> None:
        self.filter = f
        self.scope = scope
        self.key = filter_key(f) + b"\n" + msgspec.json.encode(scope)
        self.queue: asyncio.Queue[Item] = asyncio.Queue(capacity)
        self.overflowed = asyncio.Event()

    def offer(self, item: Item) -> bool:
        """Queue ``item``; False (and flagged) when the client is too far behind."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed.set()
            return False
        return True

    async def next(self, wait: float) -> Item | None:
        """The next item, or None after ``wait`` seconds or once the client overflowed."""
        if self.overflowed.is_set():
            return None
        getter = asyncio.ensure_future(self.queue.get())
        overflow = asyncio.ensure_future(self.overflowed.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, overflow}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            overflow.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done and not self.overflowed.is_set():
            return getter.result()
        return None


class LiveHub:
    """The shared poller (see the module docstring)."""

    def __init__(self, store: LogStore, settings: ApiSettings) -> None:
        self.store = store
        self.poll_seconds = settings.api_stream_poll_seconds
        self.lookback_ns = int(settings.api_stream_lookback_seconds * 1_000_000_000)
        self.capacity = settings.api_stream_queue
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._primed: asyncio.Future[None] | None = None
        self._seen: set[Change] = set()
        self._watermark = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def floor(self) -> int:
        """Changes with an older marker are never found again by the poller."""
        return self._watermark - self.lookback_ns

    def subscribe(self, f: LogFilter, scope: Scope = UNSCOPED) -> Subscriber:
        """A new client; once :meth:`ready`, every change found that matches ``f`` inside
        the caller's ``scope`` is queued for it."""
        subscriber = Subscriber(f, self.capacity, scope)
        self._subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._primed = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._primed))
        return subscriber

    async def ready(self, wait: float) -> bool:
        """Whether the poller has its starting point (waits up to ``wait`` seconds for it):
        from then on, a subscriber gets every change found after it subscribed."""
        if self._primed is None:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(self._primed), wait)
        except TimeoutError:
            return False
        return True

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if not self._subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, primed: asyncio.Future[None]) -> None:
        """Prime, then poll until cancelled; a failed round is logged and retried (the
        clients keep their streams, with heartbeats, meanwhile)."""
        while not primed.done():
            try:
                await self._prime()
                primed.set_result(None)
            except Exception as exc:  # OpenSearch unavailable (or refusing): retry
                log.warning("live tail cannot start yet: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll()
            except Exception as exc:
                log.warning("live tail poll failed: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def _prime(self) -> None:
        """Start at the newest marker: what is already there is not streamed."""
        latest = parse_changes(await self.store.query("stream start", build_latest()))
        self._watermark = latest[0].marker if latest else 0
        self._seen = set(await self._changes())

    async def _changes(self) -> list[Change]:
        """Every change of the lookback window, in change order (paged)."""
        since = self._watermark - self.lookback_ns
        out: list[Change] = []
        after: Change | None = None
        while True:
            page = parse_changes(
                await self.store.query("stream poll", build_changes(since, PAGE, after))
            )
            out.extend(page)
            if len(page) < PAGE:
                return out
            after = page[-1]

    async def poll(self) -> None:
        """One round: find the new changes and queue each client's matches. A change
        counts as seen (and moves the watermark) only once delivered: if matching fails
        (OpenSearch unavailable), the next round finds it again."""
        new = [change for change in await self._changes() if change not in self._seen]
        if not new:
            return
        if self._subscribers:
            await self._deliver(new)
        else:
            self._mark_seen(new)

    def _mark_seen(self, changes: list[Change]) -> None:
        """``changes`` (in change order) are delivered: never sent again."""
        self._seen.update(changes)
        self._watermark = max(self._watermark, changes[-1].marker)
        floor = self._watermark - self.lookback_ns
        self._seen = {change for change in self._seen if change.marker >= floor}

    async def _deliver(self, new: list[Change]) -> None:
        groups: dict[bytes, list[Subscriber]] = {}
        for subscriber in self._subscribers:
            groups.setdefault(subscriber.key, []).append(subscriber)
        now = time.time_ns()
        for start in range(0, len(new), MATCH_CHUNK):
            chunk = new[start : start + MATCH_CHUNK]
            ids = list(dict.fromkeys(change.id for change in chunk))
            members = list(groups.values())
            bodies = [
                scoped_body(build_matching(current_window(g[0].filter, now), ids), g[0].scope)
                for g in members
            ]
            answers = await self.store.multi_query("stream match", bodies)
            for group, answer in zip(members, answers, strict=True):
                matched = parse_matching(answer)
                for change in chunk:
                    found = matched.get(change.id)
                    if found is None:
                        continue
                    for subscriber in group:
                        if not subscriber.overflowed.is_set():
                            subscriber.offer((change, found))  # its stream ends if full
            self._mark_seen(chunk)
